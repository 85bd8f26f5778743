import type { CoreOptions } from '../context.js';
import { KnockEnvError } from '../errors.js';
import { CLOCK_SKEW_SECONDS, isAncestor, readCommit, writeCommit, type ParsedCommit } from '../git/commit.js';
import { readIfExists } from '../git/fs.js';
import type { GitStore } from '../git/objects.js';
import { currentBranch, readRef, updateRef } from '../git/refs.js';
import { PUSH_JOURNAL, RefTransaction, loadPlan, readPendingPush, storePlan, type StoredPlan, type WorktreePlan } from '../git/transaction.js';
import { AUDIT_REF, branchRef, environmentSlugs, loadConfigAt, openProject, openRepository, HIGHEST_ENVIRONMENT, type Project } from '../project.js';
import { followCheckedOutBranch } from '../ops/commit.js';
import { commitsBetween } from '../ops/plan.js';
import { diagnose, pushIncomplete, type DoctorOptions, type DoctorReport } from '../ops/doctor.js';
import { shortOid, signatureOf, withRepositoryLock } from '../ops/shared.js';
import { runLocalTransaction } from '../ops/transact.js';
import { RemoteSession, hasCommit, redact, type RemoteAccess } from './transport.js';

/** The audit trail's branch name (refs/heads/knock-env/audit). */
export const AUDIT_BRANCH = AUDIT_REF.slice('refs/heads/'.length);

/** Where an interrupted multi-branch push is remembered until it is completed. */
const JOURNAL = PUSH_JOURNAL;
const PENDING = 'refs/knock-env/pending';

function pendingRef(move: PlannedPush): string {
  return `${PENDING}/${move.branch.replace(/\//g, '-')}`;
}

export interface PlannedPush {
  branch: string;
  /** The remote's value the push expects (null: the branch is new on the remote). */
  old: string | null;
  new: string;
  /** The local value `new` replaces when it is not a descendant of it (audit events re-based onto the remote's). */
  replaces?: string | null;
}

interface Journal {
  remote: string;
  url: string;
  started: string;
  moves: PlannedPush[];
  /** What the working tree and index get once the moves are applied locally (the operation's plan). */
  worktree?: StoredPlan;
}

/** `hidden`: the remote's account lists the environment but the remote does not show its branch (an API key sees only some). */
export type BranchRelation = 'up-to-date' | 'behind' | 'ahead' | 'diverged' | 'local-only' | 'remote-only' | 'hidden';

export interface BranchState {
  branch: string;
  /** An environment's slug, or null for the audit trail. */
  environment: string | null;
  local: string | null;
  remote: string | null;
  relation: BranchRelation;
  /** Commits the local branch has that the remote's lacks, and the reverse (at most 1000 counted). */
  ahead: number;
  behind: number;
}

export interface SyncReport {
  remote: string;
  url: string;
  branches: BranchState[];
  /** Local branches moved to the remote's state. */
  updated: { branch: string; from: string | null; to: string }[];
  /** Branches pushed to the remote. */
  pushed: PlannedPush[];
  /** An interrupted earlier push this command completed. */
  resumed: PlannedPush[] | null;
}

// ---------------------------------------------------------------- state

async function countBetween(store: GitStore, from: string | null, to: string): Promise<number> {
  return (await commitsBetween(store, from, to, 1000)).length;
}

async function relate(store: GitStore, branch: string, environment: string | null, local: string | null, remote: string | null): Promise<BranchState> {
  const base = { branch, environment, local, remote, ahead: 0, behind: 0 };
  if (local === null && remote === null) return { ...base, relation: 'up-to-date' };
  if (remote === null) return { ...base, relation: 'local-only', ahead: await countBetween(store, null, local!) };
  if (local === null) return { ...base, relation: 'remote-only', behind: await countBetween(store, null, remote) };
  if (local === remote) return { ...base, relation: 'up-to-date' };
  if (await isAncestor(store, local, remote)) return { ...base, relation: 'behind', behind: await countBetween(store, local, remote) };
  if (await isAncestor(store, remote, local)) return { ...base, relation: 'ahead', ahead: await countBetween(store, remote, local) };
  return { ...base, relation: 'diverged', ahead: await countBetween(store, remote, local), behind: await countBetween(store, local, remote) };
}

/**
 * Environment slugs, lowest first: the remote's account (once fetched) is
 * authoritative; environments only the local account lists (created here,
 * not pushed yet) join it below production, where environments are created.
 */
async function environmentsOf(project: Project, session: RemoteSession): Promise<string[]> {
  const lists: string[][] = [];
  for (const head of [await session.tracked(HIGHEST_ENVIRONMENT), await readRef(project, branchRef(HIGHEST_ENVIRONMENT))]) {
    if (head !== null) lists.push(environmentSlugs(await loadConfigAt(project, head)));
  }
  const slugs = [...(lists[0] ?? [])];
  for (const slug of lists[1] ?? []) if (!slugs.includes(slug)) slugs.splice(Math.max(0, slugs.length - 1), 0, slug);
  return slugs;
}

async function branchStates(project: Project, session: RemoteSession, slugs: string[]): Promise<BranchState[]> {
  const states: BranchState[] = [];
  const remoteProduction = await session.tracked(HIGHEST_ENVIRONMENT);
  const listedByRemote = remoteProduction === null ? [] : environmentSlugs(await loadConfigAt(project, remoteProduction));
  for (const slug of slugs) {
    const [local, remote] = [await readRef(project, branchRef(slug)), await session.tracked(slug)];
    if (remote === null && listedByRemote.includes(slug)) states.push({ branch: slug, environment: slug, local, remote, relation: 'hidden', ahead: 0, behind: 0 });
    else states.push(await relate(project, slug, slug, local, remote));
  }
  states.push(await relate(project, AUDIT_BRANCH, null, await readRef(project, AUDIT_REF), await session.tracked(AUDIT_BRANCH)));
  return states;
}

// ---------------------------------------------------------------- local moves

/** Moves a local branch forward to the remote's value, bringing the working tree along when it is checked out. */
async function fastForwardLocal(project: Project, options: CoreOptions, state: BranchState): Promise<void> {
  const target = state.remote!;
  if (state.local !== null && (await currentBranch(project)) === state.branch) {
    // Refuses before touching anything when local edits would be overwritten.
    await followCheckedOutBranch(project, state.local, target);
  }
  await updateRef(project, {
    ref: `refs/heads/${state.branch}`,
    oldOid: state.local,
    newOid: target,
    reflogMessage: `knock-env: fast-forward ${state.branch} to the remote's ${shortOid(target)}`,
    committer: signatureOf(options),
  });
}

/**
 * Rewrites the audit events `local` has and `base` lacks on top of `base`
 * (the audit trail is an append-only list of events: concurrent appends are
 * put one after the other, never merged). Returns the new head.
 */
async function rebaseAudit(store: GitStore, base: string | null, local: string): Promise<string> {
  const own = await Promise.all((await commitsBetween(store, base, local, Infinity)).reverse().map((summary) => readCommit(store, summary.oid)));
  if (own.length === 0) return base ?? local;
  // An event the remote's trail already holds (a copy an earlier push re-based there) is not added twice.
  const eventKey = (c: ParsedCommit) => `${c.author.name}\0${c.author.email}\0${c.author.timestamp}\0${c.message}`;
  const oldest = Math.min(...own.map((c) => c.author.timestamp)) - CLOCK_SKEW_SECONDS;
  const present = new Set<string>();
  for (let oid = base; oid !== null; ) {
    const commit = await readCommit(store, oid);
    if (commit.author.timestamp < oldest) break;
    present.add(eventKey(commit));
    oid = commit.parents[0] ?? null;
  }
  let head = base;
  for (const commit of own) {
    if (present.has(eventKey(commit))) continue;
    head = await writeCommit(store, { tree: commit.tree, parents: head ? [head] : [], author: commit.author, committer: commit.committer, message: commit.message });
  }
  return head ?? local;
}

/**
 * Makes the local branches equal to what was pushed, where they have not
 * moved elsewhere meanwhile. `followWorkingTree`: the checked-out branch
 * brings the working tree and index along (when completing an interrupted
 * push; an operation that just published does that itself).
 */
async function applyLocally(project: Project, options: CoreOptions, moves: PlannedPush[], followWorkingTree: boolean, plan?: WorktreePlan): Promise<void> {
  const checkedOut = followWorkingTree ? await currentBranch(project) : null;
  // The same local transaction as every operation's: all locks first, a journal, then the moves.
  await runLocalTransaction(project, options, async (transaction) => {
    if (plan) transaction.adoptPlan(plan);
    for (const move of moves) {
      const ref = `refs/heads/${move.branch}`;
      const local = await readRef(project, ref);
      if (local === move.new) continue;
      const replaceable = local === null || local === move.old || (move.replaces !== undefined && local === move.replaces) || (await isAncestor(project, local, move.new));
      if (!replaceable) continue;
      if (local !== null && move.branch === checkedOut) await followCheckedOutBranch(project, local, move.new);
      await updateRef(project, { ref, oldOid: local, newOid: move.new, reflogMessage: `knock-env: ${move.branch} as pushed to the remote`, committer: signatureOf(options) });
    }
  });
}

// ---------------------------------------------------------------- journal

async function readJournal(project: Project): Promise<Journal | null> {
  const raw = await readIfExists(project.fs, `${project.gitdir}/${JOURNAL}`);
  if (raw === null) return null;
  try {
    return JSON.parse(raw.toString('utf8')) as Journal;
  } catch {
    return null;
  }
}

async function writeJournal(project: Project, journal: Journal): Promise<void> {
  const path = `${project.gitdir}/${JOURNAL}`;
  await project.fs.promises.mkdir(path.slice(0, path.lastIndexOf('/')), { recursive: true });
  await project.fs.promises.writeFile(`${path}.tmp`, JSON.stringify(journal, null, 2));
  await project.fs.promises.rename(`${path}.tmp`, path);
  // The journal's commits must outlive `git gc` until the push is complete: a ref keeps each.
  await project.fs.promises.mkdir(`${project.gitdir}/${PENDING}`, { recursive: true });
  for (const move of journal.moves) await project.fs.promises.writeFile(`${project.gitdir}/${pendingRef(move)}`, `${move.new}\n`);
}

async function deleteJournal(project: Project, journal: Journal): Promise<void> {
  for (const move of journal.moves) await project.fs.promises.unlink(`${project.gitdir}/${pendingRef(move)}`).catch(() => undefined);
  await project.fs.promises.unlink(`${project.gitdir}/${JOURNAL}`).catch(() => undefined);
}

/** Whether an interrupted push waits to be completed (a local check: no network). */
export async function pendingPush(project: Project): Promise<PlannedPush[] | null> {
  return readPendingPush(project);
}

// ---------------------------------------------------------------- publishing

/** Pushes one branch; the audit trail, an append-only list, is re-based and retried when someone appended first. */
async function pushOne(project: Project, session: RemoteSession, move: PlannedPush): Promise<void> {
  if (move.branch !== AUDIT_BRANCH) return session.push(move.branch, move.old, move.new);
  for (let attempt = 0; ; attempt++) {
    try {
      return await session.push(move.branch, move.old, move.new);
    } catch (error) {
      if (!(error instanceof KnockEnvError && error.code === 'CONCURRENT_UPDATE') || attempt >= 4) throw error;
      await session.fetch();
      const remote = await session.tracked(AUDIT_BRANCH);
      move.new = await rebaseAudit(project, remote, move.new);
      move.old = remote;
    }
  }
}

/**
 * Pushes the moves one branch at a time, lowest environment first, so the
 * remote keeps the chain at every moment (each lower head already contains
 * what the next push gives the branch above it). A journal records the moves
 * until all are pushed: if the push stops midway, the next command completes it.
 */
async function publish(project: Project, session: RemoteSession, options: CoreOptions, moves: PlannedPush[], plan?: WorktreePlan): Promise<void> {
  if (moves.length === 0) {
    if (plan) await applyLocally(project, options, [], false, plan);
    return;
  }
  const journal: Journal = { remote: session.remote.name, url: redact(session.remote.url), started: new Date().toISOString(), moves, ...(plan ? { worktree: storePlan(plan) } : {}) };
  await writeJournal(project, journal);
  const done: PlannedPush[] = [];
  for (const move of moves) {
    try {
      await pushOne(project, session, move);
    } catch (error) {
      // A refusal is certain to have changed nothing; a lost connection may have lost only the answer.
      const refused = error instanceof KnockEnvError && ['CONCURRENT_UPDATE', 'REMOTE_REJECTED', 'AUTH_FAILED', 'NOT_FAST_FORWARD'].includes(error.code);
      if (done.length === 0 && refused) {
        await deleteJournal(project, journal);
        throw error;
      }
      await writeJournal(project, journal);
      const reason = error instanceof Error ? error.message : String(error);
      const remaining = moves.slice(done.length).map((m) => m.branch).join(', ');
      throw new KnockEnvError(
        'PUSH_INCOMPLETE',
        done.length === 0
          ? `The push of ${remaining} to ${session.remote.name} did not finish, and may or may not have reached it.\n  ${reason}`
          : `The push stopped midway: ${done.map((m) => m.branch).join(', ')} ${done.length === 1 ? 'is' : 'are'} updated on ${session.remote.name}, ${remaining} ${moves.length - done.length === 1 ? 'is' : 'are'} not.\n  ${reason}`,
        {
          hint: `The remote's chain of environments still holds and nothing is lost. Run \`knock-env push\` (or \`knock-env doctor --fix\`) to complete it.`,
          data: { pushed: done, remaining: moves.slice(done.length), cause: error instanceof KnockEnvError ? error.code : undefined },
          cause: error,
        },
      );
    }
    done.push(move);
  }
  await applyLocally(project, options, moves, false, plan);
  await deleteJournal(project, journal);
}

/**
 * Completes a push an earlier command left midway: each recorded move is
 * pushed if the remote still has the old value, skipped if the remote already
 * contains the new one; a remote that went elsewhere stops it with a clear error.
 */
async function resume(project: Project, session: RemoteSession, options: CoreOptions): Promise<PlannedPush[] | null> {
  const journal = await readJournal(project);
  if (journal === null) return null;
  if (journal.url !== redact(session.remote.url)) {
    throw new KnockEnvError('PUSH_INCOMPLETE', `A push to ${journal.remote} (${journal.url}) stopped midway and waits to be completed; this command uses ${session.remote.name} (${redact(session.remote.url)}).`, {
      hint: `Run \`knock-env push --remote ${journal.remote}\` first. If that push is no longer wanted, delete ${project.gitdir}/${JOURNAL}.`,
      data: { journal },
    });
  }
  await session.fetch();
  for (const move of journal.moves) {
    const now = await session.tracked(move.branch);
    if (now === move.new) continue;
    if (now !== null && (await hasCommit(project, now)) && (await isAncestor(project, move.new, now))) continue;
    if (now === move.old || move.branch === AUDIT_BRANCH) {
      if (move.branch === AUDIT_BRANCH && now !== move.old) {
        move.new = await rebaseAudit(project, now, move.new);
        move.old = now;
      }
      try {
        await pushOne(project, session, move);
      } catch (error) {
        if (!(error instanceof KnockEnvError && (error.code === 'REMOTE_REJECTED' || error.code === 'NOT_FAST_FORWARD'))) throw error;
        throw new KnockEnvError('PUSH_INCOMPLETE', `An earlier push stopped midway, and ${session.remote.name} now refuses the rest of it (${move.branch}): ${error.message}`, {
          hint: `The remote's chain still holds. To give that change up, delete ${project.gitdir}/${JOURNAL} and the refs under refs/knock-env/pending/ that keep its commits, then make the change again.`,
          data: { journal },
          cause: error,
        });
      }
      continue;
    }
    throw new KnockEnvError(
      'PUSH_INCOMPLETE',
      `An earlier push stopped midway and cannot be completed: ${move.branch} on ${session.remote.name} moved to ${shortOid(now)} (the push expected ${shortOid(move.old)}).`,
      {
        hint: `Run \`knock-env doctor\` to see the state; the commits are kept under refs/knock-env/pending/ and listed in ${project.gitdir}/${JOURNAL} (delete it to give that push up).`,
        data: { journal },
      },
    );
  }
  await applyLocally(project, options, journal.moves, true, journal.worktree ? loadPlan(journal.worktree) : undefined);
  await deleteJournal(project, journal);
  return journal.moves;
}

/** Orders moves for publishing: environments lowest first, then the audit trail. */
function ordered(moves: PlannedPush[], slugs: string[]): PlannedPush[] {
  const rank = (m: PlannedPush) => (m.branch === AUDIT_BRANCH ? slugs.length + 1 : slugs.includes(m.branch) ? slugs.indexOf(m.branch) : slugs.length);
  return [...moves].sort((a, b) => rank(a) - rank(b));
}

// ---------------------------------------------------------------- commands

function requireRemote(options: CoreOptions): RemoteAccess {
  if (!options.remote) {
    throw new KnockEnvError('USAGE', 'This repository has no remote.', {
      hint: 'Add one with `git remote add origin <url>` (an https:// or http:// URL), then run the command again.',
    });
  }
  return options.remote;
}

function reportOf(session: RemoteSession, branches: BranchState[]): SyncReport {
  return { remote: session.remote.name, url: redact(session.remote.url), branches, updated: [], pushed: [], resumed: null };
}

/** Fetches the remote and tells, branch by branch, how the local environments stand against it. Moves no local branch. */
export async function fetchRemote(options: CoreOptions): Promise<SyncReport> {
  return withFetchedRemote(options, async ({ session, states }) => reportOf(session, states), { resume: false });
}

interface FetchedRemote {
  project: Project;
  session: RemoteSession;
  slugs: string[];
  states: BranchState[];
  resumed: PlannedPush[] | null;
}

/** Holding the repository lock: completes an interrupted push (unless told not to), fetches, and relates every branch to the remote's. */
async function withFetchedRemote<T>(options: CoreOptions, work: (fetched: FetchedRemote) => Promise<T>, how: { resume: boolean } = { resume: true }): Promise<T> {
  const remote = requireRemote(options);
  const project = await openRepository(options);
  return withRepositoryLock(project, options, async () => {
    const session = new RemoteSession(project, remote, () => signatureOf(options));
    const resumed = how.resume ? await resume(project, session, options) : null;
    await session.fetch();
    const slugs = await environmentsOf(project, session);
    return work({ project, session, slugs, states: await branchStates(project, session, slugs), resumed });
  }, { transaction: false });
}

/**
 * Brings every local environment branch (and the audit trail) up to the
 * remote's state where that is a fast-forward; the checked-out branch takes
 * the working tree along, refusing if local edits would be overwritten.
 * Branches with local commits are reported, never merged.
 */
export async function pullRemote(options: CoreOptions): Promise<SyncReport> {
  return withFetchedRemote(options, async ({ project, session, slugs, states, resumed }) => {
    const report = { ...reportOf(session, states), resumed };
    for (const state of report.branches) {
      if (state.relation !== 'behind' && state.relation !== 'remote-only') continue;
      await fastForwardLocal(project, options, state);
      report.updated.push({ branch: state.branch, from: state.local, to: state.remote! });
    }
    const audit = report.branches.at(-1)!;
    if (audit.relation === 'diverged') {
      const rebased = await rebaseAudit(project, audit.remote, audit.local!);
      await updateRef(project, { ref: AUDIT_REF, oldOid: audit.local, newOid: rebased, reflogMessage: 'knock-env pull: audit events after the remote\'s', committer: signatureOf(options) });
      report.updated.push({ branch: AUDIT_BRANCH, from: audit.local, to: rebased });
    }
    report.branches = await branchStates(project, session, slugs);
    return report;
  });
}

/**
 * Pushes every environment branch with commits the remote lacks, lowest
 * environment first, and the audit trail last, each as a compare-and-swap.
 * A branch that has diverged from the remote stops the push before anything moves.
 */
export async function pushRemote(options: CoreOptions): Promise<SyncReport> {
  return withFetchedRemote(options, async ({ project, session, slugs, states, resumed }) => {
    const remote = session.remote;
    const moves: PlannedPush[] = [];
    for (const state of states) {
      if (state.environment !== null && state.relation === 'diverged') {
        throw new KnockEnvError('NOT_FAST_FORWARD', `${state.branch} and ${remote.name}/${state.branch} have diverged (${state.ahead} local, ${state.behind} remote commit${state.behind === 1 ? '' : 's'}); nothing was pushed.`, {
          hint: `Environment branches only move forward. Keep the remote's history: \`git branch -f ${state.branch} ${remote.name}/${state.branch}\` after saving your commits, or run \`knock-env doctor\`.`,
          data: { branch: state },
        });
      }
      if (state.local === null) continue;
      if (state.relation === 'ahead' || state.relation === 'local-only') moves.push({ branch: state.branch, old: state.remote, new: state.local });
      if (state.environment === null && state.relation === 'diverged') moves.push({ branch: state.branch, old: state.remote, new: await rebaseAudit(project, state.remote, state.local), replaces: state.local });
    }
    const report = { ...reportOf(session, states), resumed };
    await publish(project, session, options, ordered(moves, slugs));
    report.pushed = moves;
    report.branches = await branchStates(project, session, slugs);
    return report;
  });
}

/**
 * Runs an operation against the remote's current state: completes an
 * interrupted push, fetches, brings local branches forward to the remote's
 * heads, runs the operation with its ref moves held back, pushes them
 * (compare-and-swap, lowest environment first) and only then moves the local
 * branches and the working tree. If the remote moved first, the command stops
 * and nothing changes locally; running it again re-checks from the new state.
 */
export async function withRemote<O extends CoreOptions, T>(options: O, work: (options: O) => Promise<T>): Promise<T> {
  const remote = options.remote;
  if (!remote || options.transaction) return work(options);
  const project = await openProject(options);
  return withRepositoryLock(project, options, async () => {
    const session = new RemoteSession(project, remote, () => signatureOf(options));
    await resume(project, session, options);
    await session.fetch();
    const slugs = await environmentsOf(project, session);
    const states = await branchStates(project, session, slugs);
    for (const state of states) {
      if (state.relation === 'up-to-date' || state.relation === 'hidden') continue;
      if (state.relation === 'behind' || state.relation === 'remote-only') {
        await fastForwardLocal(project, options, state);
        continue;
      }
      if (state.environment === null) continue; // local audit events not on the remote yet: pushed with the next move of the trail
      throw branchNotPushed(remote, state);
    }
    const transaction = new RefTransaction();
    let result: T;
    try {
      result = await work({ ...options, transaction });
    } catch (error) {
      await transaction.abort();
      throw error;
    }
    const finalProduction = transaction.valueOf(branchRef(HIGHEST_ENVIRONMENT)) ?? (await readRef(project, branchRef(HIGHEST_ENVIRONMENT)))!;
    const finalSlugs = environmentSlugs(await loadConfigAt(project, finalProduction));
    const moves: PlannedPush[] = [];
    for (const move of transaction.moves.values()) {
      const branch = move.ref.slice('refs/heads/'.length);
      if (states.some((state) => state.branch === branch && state.relation === 'hidden')) {
        await transaction.abort();
        throw new KnockEnvError('FORBIDDEN', `This change also moves ${branch}, which ${remote.name} does not show to these credentials; nothing was changed.`, {
          hint: 'Run it as a member (or with an API key) that can see every environment it touches.',
        });
      }
      const remoteValue = await session.tracked(branch);
      let value = move.new;
      if (branch === AUDIT_BRANCH && remoteValue !== null && !(await isAncestor(project, remoteValue, value))) value = await rebaseAudit(project, remoteValue, value);
      moves.push({ branch, old: remoteValue, new: value, replaces: move.old });
    }
    try {
      await publish(project, session, options, ordered(moves, finalSlugs), transaction.plan);
    } catch (error) {
      if (!(error instanceof KnockEnvError && error.code === 'PUSH_INCOMPLETE')) await transaction.abort();
      throw error;
    }
    return result;
  }, { transaction: false });
}

function branchNotPushed(remote: RemoteAccess, state: BranchState): KnockEnvError {
  if (state.relation === 'local-only') {
    return new KnockEnvError('REFUSED', `${remote.name} has no ${state.branch} branch yet; nothing was changed.`, {
      hint: 'Publish the environments first with `knock-env push`, then run the command again.',
      data: { branch: state },
    });
  }
  if (state.relation === 'ahead') {
    return new KnockEnvError('REFUSED', `${state.branch} has ${state.ahead} commit${state.ahead === 1 ? '' : 's'} that ${remote.name} lacks; nothing was changed.`, {
      hint: 'Push them first with `knock-env push` (the remote checks them), then run the command again.',
      data: { branch: state },
    });
  }
  return new KnockEnvError('NOT_FAST_FORWARD', `${state.branch} and ${remote.name}/${state.branch} have diverged (${state.ahead} local, ${state.behind} remote commit${state.behind === 1 ? '' : 's'}); nothing was changed.`, {
    hint: 'Environment branches only move forward: run `knock-env doctor`, and keep the remote\'s history.',
    data: { branch: state },
  });
}


/**
 * `doctor`, and with `--fix` against a remote: completes an interrupted push
 * first, then repairs from the remote's state and pushes the repairs.
 */
export async function diagnoseWithRemote(options: DoctorOptions): Promise<DoctorReport> {
  if (!options.fix || !options.remote || options.transaction) return diagnose(options);
  const pending = await pendingPush(await openProject(options));
  const report = await withRemote(options, diagnose);
  if (pending) {
    report.findings.unshift({ ...pushIncomplete(pending), fixed: true });
    report.fixed += 1;
  }
  return report;
}
