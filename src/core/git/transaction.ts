import { hostname } from 'node:os';
import { KnockEnvError } from '../errors.js';
import { errnoCode, readIfExists, writeFileAtomic } from './fs.js';
import type { GitStore } from './objects.js';

/** One ref a transaction moves: from the value it had when first touched to its final value. */
export interface StagedMove {
  ref: string;
  /** The value before the transaction (null: the ref did not exist). */
  old: string | null;
  new: string;
  reflogMessage: string;
  committer: { name: string; email: string; timestamp: number; timezoneOffset: number };
}

/** A working-tree file a transaction sets once its refs have moved. */
export interface PlannedFile {
  /** The blob the file gets (null: the file is deleted). */
  oid: string | null;
  /** The blob the file holds now (null: absent); a file found with neither is left alone when an interrupted operation is finished. */
  from: string | null;
}

/**
 * What a transaction does to the working tree and the index after its refs
 * moved: data, not code, so that an interrupted operation can be finished
 * from its journal by another process.
 */
export interface WorktreePlan {
  files: Map<string, PlannedFile>;
  /** Index entries refreshed from the working tree afterwards (null: removed). */
  index: Map<string, string | null>;
  /** Record the index fingerprint for this branch and head (null: forget it; absent: leave it). */
  stamp?: { branch: string; head: string } | null;
}

/**
 * Ref moves held back instead of written: while a transaction is attached,
 * `updateRef` records the move (still checking the expected old value) and
 * `readRef` answers with the staged value, so an operation runs unchanged and
 * its moves land together at the end (`commitTransaction`), or are published
 * first to a remote and applied locally after. What the operation does to the
 * working tree and the index is planned the same way.
 */
export class RefTransaction {
  readonly moves = new Map<string, StagedMove>();
  readonly plan: WorktreePlan = { files: new Map(), index: new Map() };
  private readonly deferred: (() => Promise<void>)[] = [];
  private readonly undo: (() => Promise<void>)[] = [];

  stage(move: StagedMove): void {
    const earlier = this.moves.get(move.ref);
    this.moves.set(move.ref, earlier ? { ...move, old: earlier.old } : move);
  }

  /** The staged value of a ref; undefined when the transaction has not touched it. */
  valueOf(ref: string): string | undefined {
    return this.moves.get(ref)?.new;
  }

  /** Plans a working-tree file; a file planned twice keeps its first `from`. */
  planFile(path: string, oid: string | null, from: string | null): void {
    const earlier = this.plan.files.get(path);
    this.plan.files.set(path, { oid, from: earlier ? earlier.from : from });
  }

  /** Takes over another transaction's working-tree plan (published moves applied locally). */
  adoptPlan(plan: WorktreePlan): void {
    for (const [path, file] of plan.files) this.planFile(path, file.oid, file.from);
    for (const [path, oid] of plan.index) this.plan.index.set(path, oid);
    if (plan.stamp !== undefined) this.plan.stamp = plan.stamp;
  }

  /** Runs `work` once the moves are applied. */
  defer(work: () => Promise<void>): void {
    this.deferred.push(work);
  }

  async runDeferred(): Promise<void> {
    this.undo.length = 0;
    for (const work of this.deferred.splice(0)) await work();
  }

  /** Registers how to take back a change made before publishing (run by `abort`). */
  onAbort(work: () => Promise<void>): void {
    this.undo.push(work);
  }

  /** Nothing was published: take back the local changes made so far, newest first. */
  async abort(): Promise<void> {
    this.deferred.length = 0;
    for (const work of this.undo.splice(0).reverse()) await work().catch(() => undefined);
  }
}

const attached = new WeakMap<GitStore, RefTransaction>();
/** Local transactions by git directory: every store an operation opens on the repository shares it. */
const byRepository = new Map<string, RefTransaction>();

export function attachTransaction(store: GitStore, transaction: RefTransaction): void {
  attached.set(store, transaction);
}

export function detachTransaction(store: GitStore): void {
  attached.delete(store);
}

/** Attaches a transaction to every store of a repository (held under the repository lock). */
export function attachToRepository(gitdir: string, transaction: RefTransaction): void {
  byRepository.set(gitdir, transaction);
}

export function detachFromRepository(gitdir: string, transaction: RefTransaction): void {
  if (byRepository.get(gitdir) === transaction) byRepository.delete(gitdir);
}

export function transactionOf(store: GitStore): RefTransaction | undefined {
  return attached.get(store) ?? byRepository.get(store.gitdir);
}

// ---------------------------------------------------------------- landing locally

/** Where the moves of a local transaction are recorded until every one has landed. */
export const OPERATION_JOURNAL = 'knock-env/op-journal.json';

export interface OperationJournal {
  version: 1;
  /** prepared: the locks are being taken, nothing moved; committed: every lock is held, the moves are landing. */
  state: 'prepared' | 'committed';
  id: string;
  pid: number;
  host: string;
  started: string;
  moves: StagedMove[];
  /** Whether the transaction holds index.lock. */
  index: boolean;
  worktree: { files: [string, PlannedFile][]; index: [string, string | null][]; stamp?: { branch: string; head: string } | null };
}

export interface CommitHooks {
  /** Applies the working-tree plan (files, then the index, written while index.lock is held). */
  applyWorktree: (plan: WorktreePlan, recovering: boolean) => Promise<void>;
  /** Reads a ref on disk, ignoring any transaction. */
  readRef: (ref: string) => Promise<string | null>;
  /** Appends a reflog line for a move that landed. */
  appendReflog: (move: StagedMove) => Promise<void>;
  pid: number;
}

function planIsEmpty(plan: WorktreePlan): boolean {
  return plan.files.size === 0 && plan.index.size === 0 && plan.stamp === undefined;
}

function lockBody(move: StagedMove): string {
  return `${move.new}\n`;
}

function indexLockBody(id: string): string {
  return `knock-env ${id}\n`;
}

/**
 * Creates a lock file with its content in one step: the content is written to
 * a temporary file, then hard-linked to the lock's name, which fails if the
 * lock exists (as `open(..., 'wx')` does) and never leaves an empty lock.
 */
async function createLock(store: GitStore, path: string, body: string): Promise<boolean> {
  const fsp = store.fs.promises;
  const tmp = `${store.gitdir}/knock-env/tmp-lock-${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;
  await fsp.mkdir(`${store.gitdir}/knock-env`, { recursive: true });
  // Not synced: after a power cut a lock whose content is lost is not taken for this transaction's, and doctor reports it.
  await fsp.writeFile(tmp, body, { flag: 'wx' });
  try {
    await fsp.link(tmp, path);
    return true;
  } catch (error) {
    if (errnoCode(error) === 'EEXIST') return false;
    throw error;
  } finally {
    await fsp.unlink(tmp).catch(() => undefined);
  }
}

/** Removes a lock only when it still holds what this transaction put in it. */
async function removeOwnLock(store: GitStore, path: string, body: string): Promise<void> {
  const content = await readIfExists(store.fs, path);
  if (content !== null && content.toString('utf8') === body) await store.fs.promises.unlink(path).catch(() => undefined);
}

/**
 * Refuses, before any lock is taken, a ref whose name git cannot hold: a
 * folder of branches under that name (a branch `knock-env/audit/x` blocks
 * `knock-env/audit`), or a branch named like one of its parent folders.
 */
async function assertWritableName(store: GitStore, ref: string, readRef: (ref: string) => Promise<string | null>): Promise<void> {
  const stat = await store.fs.promises.lstat(`${store.gitdir}/${ref}`).catch(() => null);
  let blocker: string | null = stat?.isDirectory() ? `${ref}/…` : null;
  if (blocker === null) {
    const packed = (await readIfExists(store.fs, `${store.gitdir}/packed-refs`))?.toString('utf8') ?? '';
    const nested = packed.split('\n').find((line) => line.slice(41).startsWith(`${ref}/`));
    if (nested) blocker = nested.slice(41);
  }
  if (blocker === null) {
    const parts = ref.split('/');
    for (let i = 3; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if ((await readRef(parent)) !== null) blocker = parent;
    }
  }
  if (blocker === null) return;
  const name = (r: string) => r.replace(/^refs\/heads\//, '');
  throw new KnockEnvError('UNSUPPORTED_REPOSITORY', `${ref} cannot be written: ${blocker.endsWith('/…') ? `a folder of branches (${name(blocker)})` : `the ref ${name(blocker)}`} is in the way (git cannot keep a branch and branches below it under one name). Nothing was changed.`, {
    hint: `Rename the branch in the way (\`git branch -m <old> <new>\`, see \`git branch --list '${name(ref)}*'\`), then run the command again.`,
    data: { ref, blocker },
  });
}

function lockedError(ref: string, lock: string): KnockEnvError {
  return new KnockEnvError('CONCURRENT_UPDATE', `${ref} is locked by another git process (${lock} exists); nothing was changed.`, {
    hint: 'Wait for the other command to finish and retry; if no git process is running, remove the lock file (`knock-env doctor` tells whether it is stale).',
    data: { ref, lock },
  });
}

async function writeJournal(store: GitStore, journal: OperationJournal): Promise<void> {
  await store.fs.promises.mkdir(`${store.gitdir}/knock-env`, { recursive: true });
  const path = `${store.gitdir}/${OPERATION_JOURNAL}`;
  // The commit point is synced; a prepared journal lost to a power cut leaves only locks that moved nothing.
  if (journal.state === 'committed') return writeFileAtomic(store.fs, path, JSON.stringify(journal));
  await store.fs.promises.writeFile(`${path}.tmp`, JSON.stringify(journal));
  await store.fs.promises.rename(`${path}.tmp`, path);
}

async function deleteJournal(store: GitStore): Promise<void> {
  await store.fs.promises.unlink(`${store.gitdir}/${OPERATION_JOURNAL}`).catch(() => undefined);
}

export async function readOperationJournal(store: GitStore): Promise<OperationJournal | null> {
  const raw = await readIfExists(store.fs, `${store.gitdir}/${OPERATION_JOURNAL}`);
  if (raw === null) return null;
  try {
    const parsed = JSON.parse(raw.toString('utf8')) as OperationJournal;
    return parsed.version === 1 && Array.isArray(parsed.moves) ? parsed : null;
  } catch {
    return null;
  }
}

/** A working-tree plan as a journal stores it (JSON). */
export type StoredPlan = OperationJournal['worktree'];

export function storePlan(plan: WorktreePlan): StoredPlan {
  return { files: [...plan.files], index: [...plan.index], ...(plan.stamp !== undefined ? { stamp: plan.stamp } : {}) };
}

export function loadPlan(stored: StoredPlan): WorktreePlan {
  return { files: new Map(stored.files), index: new Map(stored.index), ...(stored.stamp !== undefined ? { stamp: stored.stamp } : {}) };
}

function planOf(journal: OperationJournal): WorktreePlan {
  return loadPlan(journal.worktree);
}

/** Lands the moves and renames: every lock is held and the journal says "committed". */
async function land(store: GitStore, journal: OperationJournal, hooks: CommitHooks, recovering: boolean): Promise<void> {
  const fsp = store.fs.promises;
  for (const move of journal.moves) {
    const path = `${store.gitdir}/${move.ref}`;
    const lock = `${path}.lock`;
    const content = await readIfExists(store.fs, lock);
    if (content !== null && content.toString('utf8') === lockBody(move)) {
      await fsp.rename(lock, path);
      await hooks.appendReflog(move).catch(() => undefined);
    }
  }
  const plan = planOf(journal);
  if (!planIsEmpty(plan)) await hooks.applyWorktree(plan, recovering);
  if (journal.index) await removeOwnLock(store, `${store.gitdir}/index.lock`, indexLockBody(journal.id));
  await deleteJournal(store);
}

/**
 * Lands a transaction locally, all or nothing, as `git update-ref --stdin`
 * does: a journal names the moves, every `<ref>.lock` (and `index.lock` when
 * the working tree follows) is taken, each old value is checked under its
 * lock; if any of that fails, the locks are released and nothing moved. Only
 * then is the journal marked committed and the locks renamed into place. A
 * process killed midway leaves the journal: the next command finishes it
 * (`finishInterruptedOperation`) before doing anything else.
 */
export async function commitTransaction(store: GitStore, transaction: RefTransaction, hooks: CommitHooks): Promise<void> {
  const moves = [...transaction.moves.values()].filter((m) => m.old !== m.new);
  const plan = transaction.plan;
  if (moves.length === 0 && planIsEmpty(plan)) return;
  for (const move of moves) await assertWritableName(store, move.ref, hooks.readRef);
  const id = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  const withIndex = plan.index.size > 0 || plan.files.size > 0 || plan.stamp !== undefined;
  const journal: OperationJournal = {
    version: 1,
    state: 'prepared',
    id,
    pid: hooks.pid,
    host: hostname(),
    started: new Date().toISOString(),
    moves,
    index: withIndex,
    worktree: storePlan(plan),
  };
  await writeJournal(store, journal);
  const taken: { path: string; body: string }[] = [];
  const release = async () => {
    for (const lock of taken.reverse()) await removeOwnLock(store, lock.path, lock.body);
    await deleteJournal(store);
  };
  try {
    const locks = moves.map((move) => ({ ref: move.ref, path: `${store.gitdir}/${move.ref}.lock`, body: lockBody(move) }));
    if (withIndex) locks.push({ ref: 'the git index', path: `${store.gitdir}/index.lock`, body: indexLockBody(id) });
    for (const lock of locks) {
      await store.fs.promises.mkdir(lock.path.slice(0, lock.path.lastIndexOf('/')), { recursive: true });
      if (!(await createLock(store, lock.path, lock.body))) throw lockedError(lock.ref, lock.path);
      taken.push(lock);
    }
    for (const move of moves) {
      const current = await hooks.readRef(move.ref);
      if (current !== move.old) throw movedError(move.ref, move.old, current);
    }
    journal.state = 'committed';
    await writeJournal(store, journal);
  } catch (error) {
    await release();
    throw error;
  }
  await land(store, journal, hooks, false);
}

export function movedError(ref: string, expected: string | null, found: string | null): KnockEnvError {
  return new KnockEnvError('CONCURRENT_UPDATE', `${ref} moved while this command ran (expected ${expected ?? 'nothing'}, found ${found ?? 'nothing'}).`, {
    hint: 'Nothing was changed. Run the command again: it will start from the new state.',
    data: { ref, expected, found },
  });
}

export interface FinishedOperation {
  /** rolled-forward: the moves landed; rolled-back: it had not reached its commit point, nothing moved. */
  outcome: 'rolled-forward' | 'rolled-back';
  refs: string[];
  started: string;
}

/**
 * Finishes a local transaction a killed process left (call holding the
 * repository lock, so its writer is gone): one that had taken all its locks
 * is rolled forward (its objects were written before), one that had not is
 * rolled back by releasing the locks it took.
 */
export async function finishInterruptedOperation(store: GitStore, hooks: CommitHooks): Promise<FinishedOperation | null> {
  const journal = await readOperationJournal(store);
  if (journal === null) {
    // An unreadable journal (cut short before its rename cannot happen; hand-edited) is left for doctor.
    return null;
  }
  const refs = journal.moves.map((m) => m.ref);
  // Temporary files the killed process was writing (lock contents, the index, working-tree files) are its alone.
  for (const name of await store.fs.promises.readdir(`${store.gitdir}/knock-env`).catch(() => [] as string[])) {
    if (/^tmp-(lock|index|file)-[0-9a-z]+$/.test(String(name))) await store.fs.promises.unlink(`${store.gitdir}/knock-env/${String(name)}`).catch(() => undefined);
  }
  if (journal.state === 'prepared') {
    for (const move of journal.moves) await removeOwnLock(store, `${store.gitdir}/${move.ref}.lock`, lockBody(move));
    if (journal.index) await removeOwnLock(store, `${store.gitdir}/index.lock`, indexLockBody(journal.id));
    await deleteJournal(store);
    return { outcome: 'rolled-back', refs, started: journal.started };
  }
  await land(store, journal, hooks, true);
  return { outcome: 'rolled-forward', refs, started: journal.started };
}

// ---------------------------------------------------------------- the push journal

/** Where the remote layer remembers an interrupted multi-branch push until it is completed. */
export const PUSH_JOURNAL = 'knock-env/push-journal.json';

/** One branch of a recorded push: the remote's expected value and the new one. */
export interface RecordedPush {
  branch: string;
  old: string | null;
  new: string;
}

/** The branches of a push that stopped midway, or null (a local read: `doctor` reports it without the remote layer). */
export async function readPendingPush(store: GitStore): Promise<RecordedPush[] | null> {
  const raw = await readIfExists(store.fs, `${store.gitdir}/${PUSH_JOURNAL}`);
  if (raw === null) return null;
  try {
    const moves = (JSON.parse(raw.toString('utf8')) as { moves?: RecordedPush[] }).moves;
    return Array.isArray(moves) ? moves : null;
  } catch {
    return null;
  }
}
