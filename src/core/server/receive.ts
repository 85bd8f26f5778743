import { authorize, type Capability, type Principal } from '../access.js';
import { isKnockEnvError } from '../errors.js';
import { CLOCK_SKEW_SECONDS, isAncestor, parseTrailers, readCommit, type ParsedCommit } from '../git/commit.js';
import { EMPTY_TREE_OID, readObject, type GitStore } from '../git/objects.js';
import { listRefs, readRef } from '../git/refs.js';
import { diffTrees, entryAt, isTreeMode, type TreeDifference, type TreeEntry } from '../git/tree.js';
import { ACCOUNT, OwnershipJudge } from '../ownership.js';
import { AUDIT_REF, branchRef, environmentSlugs, HIGHEST_ENVIRONMENT, loadConfigAt, type Project } from '../project.js';
import { CONFIG_FILE, ENVIRONMENTS_DIR, resourceOfPath, resourceRef, type ResourceKind } from '../resources.js';
import { validateConfigText, type KnockEnvConfig } from '../validate/config.js';
import { validateEnvironmentFile } from '../validate/environment.js';
import { validateResource } from '../validate/resource.js';
import { treeReader } from '../worktree.js';
import type { ValidationIssue } from '../validate/types.js';
import { originOf } from '../ops/analyse.js';
import { identifyPusher, type PusherEnvironment } from './identity.js';
import { TRAILER, shortOid } from '../ops/shared.js';

/**
 * What a knock-env server accepts in a push (the pre-receive hook's verdict):
 * the rules every knock-env command follows locally, held against whatever a
 * plain git client sends. The account (roles, environments, settings) is read
 * from knock-env.yaml on the server's production branch as it stands before
 * the push, so nobody grants themselves a role in the push that uses it.
 */

export const ZERO_OID = '0000000000000000000000000000000000000000';

/** One line of a pre-receive hook's input; null stands for git's all-zero id (created or deleted). */
export interface PushedRef {
  ref: string;
  old: string | null;
  new: string | null;
}

export interface PushRejection {
  ref: string;
  message: string;
  commit?: string;
  path?: string;
  /** The environment owning the path, or the one the rule is about. */
  environment?: string;
  /** What to do instead. */
  hint?: string;
}

export interface PushVerdict {
  accepted: boolean;
  rejections: PushRejection[];
  /** Who pushed, when the server could tell. */
  principal: Principal | null;
}

export interface CheckPushOptions {
  /** The server's repository; objectDirs holds the push's quarantine while the hook runs. */
  store: GitStore;
  updates: PushedRef[];
  /** The member's email the server authenticated (REMOTE_USER). */
  remoteUser?: string;
  /** An API key's secret the server authenticated. */
  apiKey?: string;
  /** The hook's environment and the server's identity mappings (forges' variables for the pusher): identity.ts. */
  pusher?: PusherEnvironment;
}

const OID = /^[0-9a-f]{40}$/;

/** Parses "<old> <new> <ref>" lines as git gives them to a pre-receive hook. */
export function parseHookInput(text: string): PushedRef[] {
  const out: PushedRef[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const [old, next, ref] = line.split(/\s+/, 3);
    if (!old || !next || !ref || !OID.test(old) || !OID.test(next)) continue;
    out.push({ ref, old: old === ZERO_OID ? null : old, new: next === ZERO_OID ? null : next });
  }
  return out;
}

/** One rejection as the pusher reads it (git prefixes every line with "remote: "). */
export function formatRejection(r: PushRejection): string {
  const facts = [r.commit ? `commit ${shortOid(r.commit)}` : '', r.path ? `path ${r.path}` : '', r.environment ? `environment ${r.environment}` : ''].filter((f) => f !== '');
  const lines = [`  - ${r.ref}: ${r.message}`];
  if (facts.length > 0) lines.push(`      (${facts.join(', ')})`);
  if (r.hint) lines.push(`      hint: ${r.hint}`);
  return lines.join('\n');
}

/** Judges a push; never throws (a failure to read the push refuses it). */
export async function checkPush(options: CheckPushOptions): Promise<PushVerdict> {
  const updates = options.updates.filter((u) => u.old !== u.new);
  if (updates.length === 0) return { accepted: true, rejections: [], principal: null };
  const refuseAll = (message: string, hint?: string): PushVerdict => ({
    accepted: false,
    rejections: updates.map((u) => ({ ref: u.ref, message, ...(hint ? { hint } : {}) })),
    principal: null,
  });
  const { store } = options;
  const productionHead = await readRef(store, branchRef(HIGHEST_ENVIRONMENT)).catch(() => null);
  if (productionHead === null) {
    return refuseAll(`the server's repository has no ${HIGHEST_ENVIRONMENT} branch, so it cannot tell who may do what.`, 'Ask the server\'s administrator to push the project\'s branches (`git push --all`) before anyone else pushes.');
  }
  let config: KnockEnvConfig;
  try {
    config = await loadConfigAt(store, productionHead);
  } catch (error) {
    return refuseAll(`${CONFIG_FILE} on the server's ${HIGHEST_ENVIRONMENT} branch cannot be read: ${error instanceof Error ? error.message : String(error)}`, 'The server\'s administrator has to repair it.');
  }
  const identified = identifyPusher(config, options);
  if ('refusal' in identified) return refuseAll(identified.refusal.message, identified.refusal.hint);
  const who = identified.principal;
  // One object for every read, so parsed packs and trees are shared; the directory is never used.
  const project: Project = Object.assign(Object.create(null) as object, store, { dir: store.gitdir });
  const check = new PushCheck(project, config, who, updates);
  try {
    await check.run();
  } catch (error) {
    const rejections = [...check.rejections, ...updates.map((u) => ({ ref: u.ref, message: `the server could not check this push: ${error instanceof Error ? error.message : String(error)}`, hint: 'Run `git fsck` on your clone and push again; if it persists, tell the server\'s administrator.' }))];
    return { accepted: false, rejections, principal: who };
  }
  return { accepted: check.rejections.length === 0, rejections: check.rejections, principal: who };
}

/**
 * Which commits are reachable from a set of heads. Walks down from the heads
 * only as far as the commits asked about need (first not below a commit older
 * than the one asked about, less a day of clock skew, as isAncestor does; a
 * "no" then walks the rest), and keeps what it found for the next question.
 */
class Reachability {
  private readonly found = new Set<string>();
  private parked: ParsedCommit[] = [];
  private pendingHeads: string[];
  private floor = Infinity;

  constructor(
    private readonly load: (oid: string) => Promise<ParsedCommit>,
    heads: string[],
  ) {
    this.pendingHeads = [...new Set(heads)];
    for (const head of heads) this.found.add(head);
  }

  async has(commit: ParsedCommit): Promise<boolean> {
    if (this.found.has(commit.oid)) return true;
    await this.expand(commit.committer.timestamp - CLOCK_SKEW_SECONDS);
    if (this.found.has(commit.oid)) return true;
    // A "no" is confirmed below the bound too: a machine with a wrong clock writes commits older than their parents.
    await this.expand(-Infinity);
    return this.found.has(commit.oid);
  }

  private async expand(floor: number): Promise<void> {
    if (floor >= this.floor) return;
    this.floor = floor;
    const stack = this.parked;
    this.parked = [];
    for (const head of this.pendingHeads) stack.push(await this.load(head));
    this.pendingHeads = [];
    while (stack.length > 0) {
      const commit = stack.pop()!;
      if (commit.committer.timestamp < floor) {
        this.parked.push(commit);
        continue;
      }
      for (const parent of commit.parents) {
        if (this.found.has(parent)) continue;
        this.found.add(parent);
        stack.push(await this.load(parent));
      }
    }
  }
}

interface EnvUpdate extends PushedRef {
  env: string;
  new: string;
}

type Change = TreeDifference;

class PushCheck {
  readonly rejections: PushRejection[] = [];
  private readonly seenRejections = new Set<string>();
  private readonly commits = new Map<string, Promise<ParsedCommit>>();
  private readonly configs = new Map<string, Promise<KnockEnvConfig | null>>();
  private readonly validated = new Map<string, Promise<ValidationIssue[]>>();
  /** Environment branches as they are on the server before the push (from the current account). */
  private readonly before = new Map<string, string>();
  /** Every ref on the server before the push. */
  private refsBefore = new Map<string, string>();
  /** Where the push moves branches (deletions left out: they are refused). */
  private readonly pushed = new Map<string, string>();
  private readonly pending = new Map<string, Promise<ParsedCommit[]>>();
  private readonly updateChanges = new Map<string, Promise<Change[]>>();
  /** Environments, lowest first, after the push (the account as the pushed production head has it, when it keeps every environment in order). */
  private order: string[] = [];
  private envSet = new Set<string>();
  private readonly lowest: string;

  constructor(
    private readonly store: Project,
    private readonly config: KnockEnvConfig,
    private readonly who: Principal,
    private readonly updates: PushedRef[],
  ) {
    this.lowest = environmentSlugs(config)[0]!;
  }

  private load = (oid: string): Promise<ParsedCommit> => {
    let found = this.commits.get(oid);
    if (!found) {
      found = readCommit(this.store, oid);
      this.commits.set(oid, found);
    }
    return found;
  };

  private reject(r: PushRejection): void {
    const key = `${r.ref}\0${r.commit ?? ''}\0${r.path ?? ''}\0${r.message}`;
    if (this.seenRejections.has(key)) return;
    this.seenRejections.add(key);
    this.rejections.push(r);
  }

  /** knock-env.yaml as a commit has it, or null when it is missing or invalid. */
  private configAt(commit: string): Promise<KnockEnvConfig | null> {
    let found = this.configs.get(commit);
    if (!found) {
      found = loadConfigAt(this.store, commit).catch(() => null);
      this.configs.set(commit, found);
    }
    return found;
  }

  private async environmentsAt(commit: string): Promise<string[]> {
    const config = await this.configAt(commit);
    return config ? environmentSlugs(config) : environmentSlugs(this.config);
  }

  async run(): Promise<void> {
    const beforeSlugs = environmentSlugs(this.config);
    const refs = await listRefs(this.store);
    this.refsBefore = refs;
    for (const update of this.updates) if (update.new !== null) this.pushed.set(update.ref, update.new);
    for (const env of beforeSlugs) {
      const oid = refs.get(branchRef(env));
      if (oid !== undefined) this.before.set(env, oid);
    }
    // The order after the push: a pushed production head may add an environment (knock-env env create).
    this.order = beforeSlugs;
    const production = this.updates.find((u) => u.ref === branchRef(HIGHEST_ENVIRONMENT));
    if (production?.new) {
      const after = await this.configAt(production.new);
      if (after && keepsOrder(beforeSlugs, environmentSlugs(after))) this.order = environmentSlugs(after);
    }
    this.envSet = new Set([...beforeSlugs, ...this.order]);

    const envUpdates: EnvUpdate[] = [];
    const refused = new Set<string>();
    for (const update of this.updates) {
      const name = update.ref.startsWith('refs/heads/') ? update.ref.slice('refs/heads/'.length) : null;
      if (name !== null && this.envSet.has(name)) {
        if (await this.checkEnvironmentRef(update, name)) envUpdates.push({ ...update, env: name, new: update.new! });
        else refused.add(update.ref);
      } else if (update.ref === AUDIT_REF) {
        await this.checkAudit(update);
      } else if (name !== null && name.startsWith('knock-env/')) {
        this.reject({
          ref: update.ref,
          message: `refs/heads/knock-env/ is reserved for knock-env's own branches; only ${AUDIT_REF} exists there.`,
          hint: 'Push your work to a branch with another name.',
        });
      }
      // Other branches and tags are not environments: anything goes there, and what lands on an environment is judged then.
    }
    // A deletion or rewind is refused already; the chain is judged on the updates that could go through.
    await this.checkChain(refused);
    if (envUpdates.length === 0) return;
    await this.judgeNewCommits(envUpdates);
    for (const update of envUpdates) await this.checkPromotion(update);
    for (const update of envUpdates) await this.checkOwnedContent(update);
    for (const update of envUpdates) await this.validateUpdate(update);
  }

  /** No deletion, no rewind. Returns whether the update is worth examining further. */
  private async checkEnvironmentRef(update: PushedRef, env: string): Promise<boolean> {
    if (update.new === null) {
      this.reject({
        ref: update.ref,
        environment: env,
        message: `${env} is an environment branch; it cannot be deleted.`,
        hint: 'Environments are never deleted through a push. To undo changes, use `knock-env rollback` (a new commit).',
      });
      return false;
    }
    if (update.old !== null && !(await isAncestor(this.store, update.old, update.new))) {
      this.reject({
        ref: update.ref,
        environment: env,
        commit: update.new,
        message: `not a fast-forward: ${env} is at ${shortOid(update.old)} on the server, which ${shortOid(update.new)} does not contain; environment history is never rewritten.`,
        hint: `Fetch, bring your work on top of the server's ${env} (\`git pull --rebase\`, or run the knock-env command again) and push again; never force-push an environment.`,
      });
      return false;
    }
    return true;
  }

  /** The audit trail only grows, with empty-tree commits. */
  private async checkAudit(update: PushedRef): Promise<void> {
    if (update.new === null) {
      this.reject({ ref: update.ref, message: 'the audit trail cannot be deleted.', hint: 'Leave knock-env/audit alone; knock-env appends to it.' });
      return;
    }
    if (update.old !== null && !(await isAncestor(this.store, update.old, update.new))) {
      this.reject({
        ref: update.ref,
        commit: update.new,
        message: `not a fast-forward: the audit trail on the server is at ${shortOid(update.old)}, which ${shortOid(update.new)} does not contain; audit history is never rewritten.`,
        hint: 'Fetch knock-env/audit and push your audit records on top of it (knock-env does this when it pushes).',
      });
      return;
    }
    const reach = new Reachability(this.load, update.old ? [update.old] : []);
    for (const commit of await this.commitsFrom(update.new, reach)) {
      if (commit.tree !== EMPTY_TREE_OID) {
        this.reject({
          ref: update.ref,
          commit: commit.oid,
          message: `audit commit ${shortOid(commit.oid)} has files; audit records are commits with an empty tree.`,
          hint: 'Only knock-env writes to knock-env/audit; push your changes to an environment or another branch.',
        });
      }
    }
  }

  /** Commits reachable from `tip` that `reach` does not reach, newest first as found. */
  private async commitsFrom(tip: string, reach: Reachability): Promise<ParsedCommit[]> {
    const out: ParsedCommit[] = [];
    const seen = new Set<string>();
    const stack = [tip];
    while (stack.length > 0) {
      const oid = stack.pop()!;
      if (seen.has(oid)) continue;
      seen.add(oid);
      const commit = await this.load(oid);
      if (await reach.has(commit)) continue;
      out.push(commit);
      for (let i = commit.parents.length - 1; i >= 0; i--) stack.push(commit.parents[i]!);
    }
    return out;
  }

  private rank(env: string): number {
    return this.order.indexOf(env);
  }

  /** After every update of the push, each environment's head must be an ancestor of the head below it. */
  private async checkChain(refused: Set<string>): Promise<void> {
    const after = new Map(this.before);
    const moved = new Map<string, PushedRef>();
    for (const update of this.updates) {
      const env = update.ref.startsWith('refs/heads/') ? update.ref.slice('refs/heads/'.length) : '';
      if (!this.envSet.has(env) || refused.has(update.ref)) continue;
      moved.set(env, update);
      if (update.new === null) after.delete(env);
      else after.set(env, update.new);
    }
    if (moved.size === 0) return;
    // An environment the push adds (env create) may already have a branch on the server.
    const refs = await listRefs(this.store);
    for (const env of this.order) if (!after.has(env) && !moved.has(env) && refs.has(branchRef(env))) after.set(env, refs.get(branchRef(env))!);
    const present = this.order.filter((env) => after.has(env));
    for (let i = 1; i < present.length; i++) {
      const lower = present[i - 1]!;
      const upper = present[i]!;
      const blame = moved.get(upper) ?? moved.get(lower);
      if (!blame || blame.new === null) continue;
      if (await isAncestor(this.store, after.get(upper)!, after.get(lower)!)) continue;
      const blamed = moved.has(upper) ? upper : lower;
      this.reject({
        ref: blame.ref,
        environment: blamed,
        commit: blame.new,
        message: `after this push ${upper} (${shortOid(after.get(upper))}) would not be an ancestor of ${lower} (${shortOid(after.get(lower))}): the chain ${this.order.join(' → ')} would break.`,
        hint: moved.has(upper)
          ? `Push the environments below ${upper} first (lowest first: ${present.slice(0, i).join(', ')}), or in the same push; promote ${upper} from ${lower} instead of committing to it with plain git.`
          : `${lower} must keep every commit of ${upper}: build on ${lower}'s current head (fetch, then rebase or merge) and push again.`,
      });
    }
  }

  /** The environment a commit names in its Knock-Env-Environment trailer, if any. */
  private trailerEnvironment(commit: ParsedCommit): string | null {
    const named = parseTrailers(commit.message)[TRAILER.environment]?.trim();
    return named !== undefined && named !== '' ? named : null;
  }

  /** Every commit the push brings onto environment branches that no environment branch on the server has yet. */
  private async judgeNewCommits(envUpdates: EnvUpdate[]): Promise<void> {
    const known = new Reachability(this.load, [...this.before.values()]);
    const landing = new Map<string, { commit: ParsedCommit; updates: EnvUpdate[] }>();
    for (const update of envUpdates) {
      for (const commit of await this.commitsFrom(update.new, known)) {
        let entry = landing.get(commit.oid);
        if (!entry) landing.set(commit.oid, (entry = { commit, updates: [] }));
        entry.updates.push(update);
      }
    }
    this.newCommits = new Set(landing.keys());
    this.landingEnv = new Map();
    for (const { commit, updates } of landing.values()) this.landingEnv.set(commit.oid, await this.environmentOf(commit, updates));
    for (const { commit, updates } of landing.values()) await this.judgeCommit(commit, updates[0]!.ref, this.landingEnv.get(commit.oid)!);
  }

  /**
   * The environment a new commit is made for: the one its trailer names; else
   * the lowest environment it lands on whose current head it builds on (the
   * higher ones receive it by promotion); else the highest it lands on.
   */
  private async environmentOf(commit: ParsedCommit, updates: EnvUpdate[]): Promise<string> {
    const named = this.trailerEnvironment(commit);
    if (named !== null) return named;
    const landed = [...new Set(updates.map((u) => u.env))].sort((a, b) => this.rank(a) - this.rank(b));
    const base = commit.parents[0];
    if (base !== undefined) {
      for (const env of landed) {
        const head = this.before.get(env);
        if (head === undefined || (await isAncestor(this.store, head, base))) return env;
      }
    }
    return landed[landed.length - 1]!;
  }

  private newCommits = new Set<string>();
  private landingEnv = new Map<string, string>();

  private async judgeCommit(commit: ParsedCommit, ref: string, env: string): Promise<void> {
    if (commit.parents.length === 0) {
      this.reject({ ref, commit: commit.oid, message: `commit ${shortOid(commit.oid)} has no parent: an environment branch cannot take history unrelated to the project.`, hint: 'Build your commits on the environment\'s current head.' });
      return;
    }
    if (commit.parents.length > 2) {
      this.reject({ ref, commit: commit.oid, message: `commit ${shortOid(commit.oid)} merges ${commit.parents.length} parents; environment branches take merges of two at most.`, hint: 'Merge one branch at a time.' });
      return;
    }
    if (commit.parents.length === 2) return this.judgeMerge(commit, ref, env);
    const parent = await this.load(commit.parents[0]!);
    const environments = await this.environmentsAt(parent.oid);
    if (!environments.includes(env)) {
      this.reject({
        ref,
        commit: commit.oid,
        environment: env,
        message: `commit ${shortOid(commit.oid)} is made for environment "${env}", which ${CONFIG_FILE} at its parent ${shortOid(parent.oid)} does not list (${environments.join(', ')}).`,
        hint: 'Create the environment first (`knock-env env create`), or commit to an existing one.',
      });
      return;
    }
    if (!(await this.extendsLine(env, parent.oid, ref, commit))) return;
    const changes = await diffTrees(this.store, parent.tree, commit.tree);
    if (changes.length === 0) return;
    if (parseTrailers(commit.message)[TRAILER.operation] === 'rollback') return this.judgeRollback(commit, parent, env, environments, changes, ref);
    await this.judgeEdits({ ref, commit, env, environments, baseTree: parent.tree, changes, claimTrees: [parent.tree] });
  }

  /** A commit made for `env` must build on env's current head on the server (when it has a branch there). */
  private async extendsLine(env: string, base: string, ref: string, commit: ParsedCommit): Promise<boolean> {
    const head = this.before.get(env);
    if (head === undefined || (await isAncestor(this.store, head, base))) return true;
    this.reject({
      ref,
      commit: commit.oid,
      environment: env,
      message: `commit ${shortOid(commit.oid)} is made for ${env} but does not build on ${env}'s current head ${shortOid(head)} on the server.`,
      hint: `Fetch, redo the change on top of ${env} (\`git pull --rebase\`, or run the knock-env command again) and push again.`,
    });
    return false;
  }

  /**
   * Changes committed in `env` (a commit's own changes, or what a merge into
   * `env` changes in paths `env` owns): every path must be owned by `env`,
   * new resources must say they come from it, origin_environment never
   * changes, and the pusher's role must allow each kind of change there.
   */
  private async judgeEdits(input: { ref: string; commit: ParsedCommit; env: string; environments: string[]; baseTree: string; changes: Change[]; claimTrees: string[] }): Promise<void> {
    const { ref, commit, env, environments, baseTree, changes } = input;
    const lowest = environments[0] ?? this.lowest;
    const highest = environments[environments.length - 1] ?? HIGHEST_ENVIRONMENT;
    const judge = new OwnershipJudge(this.store, environments, input.claimTrees);
    const needs = new Map<Capability, string>();
    const where = `commit ${shortOid(commit.oid)} on ${env}`;
    const resources = new Map<string, { kind: ResourceKind; key: string; paths: string[] }>();
    for (const change of changes) {
      const resource = resourceOfPath(change.path);
      if (resource && resource.keyProblem === null) {
        let group = resources.get(resource.dir);
        if (!group) resources.set(resource.dir, (group = { kind: resource.kind, key: resource.key, paths: [] }));
        group.paths.push(change.path);
        continue;
      }
      const owner = await judge.ownerOf(change.path);
      if (owner === ACCOUNT) {
        if (env !== highest) {
          this.reject({
            ref,
            commit: commit.oid,
            path: change.path,
            environment: highest,
            message: `${where} changes ${CONFIG_FILE}, which holds the account and is committed only on ${highest} (and merged down).`,
            hint: 'Change the account with knock-env (`knock-env members`, `keys`, `settings`, `env create`); they commit it on production and merge it down.',
          });
          continue;
        }
        await this.checkAccountChange(ref, commit, baseTree);
        needs.set('manage-account', `change the account (${CONFIG_FILE})`);
      } else if (owner !== env) {
        const environmentPath = change.path.startsWith(`${ENVIRONMENTS_DIR}/`);
        this.reject({
          ref,
          commit: commit.oid,
          path: change.path,
          environment: owner,
          message: `${where} changes ${change.path}, which belongs to ${owner}${environmentPath ? '' : ' (paths outside workflows/, guides/ and environments/ belong to the lowest environment)'}; it can be changed only there.`,
          hint: owner === lowest ? `Make the change in ${owner} and promote it.` : `Make the change in ${owner} (\`knock-env checkout ${owner}\`, edit, \`knock-env commit\`); it is merged down from there.`,
        });
      } else if (change.path.startsWith(`${ENVIRONMENTS_DIR}/`)) {
        needs.set('configure-environment', `change ${env}'s channels, variables or branding`);
      } else {
        needs.set('edit-resources', `commit files in ${env}`);
      }
    }
    for (const [dir, group] of resources) {
      const ref0 = resourceRef(group.kind, group.key);
      const named = `${group.kind} "${group.key}"`;
      const existed = await isFolder(this.store, baseTree, dir);
      const exists = await isFolder(this.store, commit.tree, dir);
      const path = ref0.file;
      if (!existed) {
        const origin = originOf(await this.fileText(commit.tree, ref0.file));
        if (origin === null ? env !== lowest : origin !== env) {
          this.reject({
            ref,
            commit: commit.oid,
            path,
            environment: env,
            message: origin === null ? `${where} creates ${named} without origin_environment; a resource created in ${env} must say origin_environment: ${env}.` : `${where} creates ${named} with origin_environment: ${origin}, but it is created in ${env}.`,
            hint: 'Create resources with `knock-env commit`, which sets origin_environment to the environment it commits to.',
          });
          continue;
        }
        if (env !== lowest && !this.config.settings?.production_write_access) {
          this.reject({
            ref,
            commit: commit.oid,
            path,
            environment: lowest,
            message: `${where} creates ${named}, but production write access is off: workflows and guides are created in ${lowest}.`,
            hint: `Create it in ${lowest} and promote it, or ask an owner to run \`knock-env settings set production-write-access on\` (and push that first).`,
          });
          continue;
        }
        const elsewhere: string[] = [];
        for (const [other, head] of this.before) {
          if (other !== env && (await isFolder(this.store, (await this.load(head)).tree, dir))) elsewhere.push(other);
        }
        if (elsewhere.length > 0) {
          this.reject({
            ref,
            commit: commit.oid,
            path,
            environment: elsewhere[0]!,
            message: `${where} creates ${named}, which already exists in ${elsewhere.join(', ')}; a key can be created only once.`,
            hint: `Choose another key, or edit it in ${elsewhere[0]} and promote.`,
          });
          continue;
        }
        needs.set('edit-resources', 'commit workflows and guides');
        continue;
      }
      const owner = await judge.ownerOf(ref0.file);
      if (owner !== env) {
        this.reject({
          ref,
          commit: commit.oid,
          path: group.paths[0]!,
          environment: owner,
          message: `${where} ${exists ? 'changes' : 'deletes'} ${named}, which belongs to ${owner} (its origin environment); it can be ${exists ? 'changed' : 'deleted'} only in ${owner}.`,
          hint: owner === lowest ? `Make the change in ${owner} (\`knock-env checkout ${owner}\`, edit, \`knock-env commit\`) and promote it.` : `Make the change in ${owner} directly (\`knock-env checkout ${owner}\`); it is merged down from there.`,
        });
        continue;
      }
      if (exists) {
        const before = originOf(await this.fileText(baseTree, ref0.file));
        const after = originOf(await this.fileText(commit.tree, ref0.file));
        if (before !== null && after !== before) {
          this.reject({
            ref,
            commit: commit.oid,
            path,
            environment: owner,
            message: `${where} changes the origin_environment of ${named} from ${before} to ${after ?? 'nothing'}; it never changes.`,
            hint: `Restore \`origin_environment: ${before}\` in ${path}.`,
          });
          continue;
        }
      }
      needs.set('edit-resources', 'commit workflows and guides');
    }
    for (const [capability, action] of needs) this.requireRole(ref, commit.oid, capability, env, action);
  }

  private requireRole(ref: string, commit: string | undefined, capability: Capability, env: string, action: string): void {
    try {
      authorize(this.config, this.who, capability, env, action);
    } catch (error) {
      if (!isKnockEnvError(error)) throw error;
      this.reject({ ref, ...(commit ? { commit } : {}), environment: env, message: error.message, ...(error.hint ? { hint: error.hint } : {}) });
    }
  }

  /** knock-env.yaml may change, but never so that an environment disappears or moves. */
  private async checkAccountChange(ref: string, commit: ParsedCommit, baseTree: string): Promise<void> {
    const before = await this.fileText(baseTree, CONFIG_FILE);
    const after = await this.fileText(commit.tree, CONFIG_FILE);
    if (after === null) {
      this.reject({ ref, commit: commit.oid, path: CONFIG_FILE, message: `commit ${shortOid(commit.oid)} deletes ${CONFIG_FILE}; the project would no longer be a knock-env project.`, hint: 'Restore it.' });
      return;
    }
    const parsed = validateConfigText(after, CONFIG_FILE).data;
    const previous = before === null ? undefined : validateConfigText(before, CONFIG_FILE).data;
    if (parsed && previous && !keepsOrder(environmentSlugs(previous), environmentSlugs(parsed))) {
      this.reject({
        ref,
        commit: commit.oid,
        path: CONFIG_FILE,
        message: `commit ${shortOid(commit.oid)} removes or reorders environments (${environmentSlugs(previous).join(' → ')} becomes ${environmentSlugs(parsed).join(' → ')}); environments are only ever added.`,
        hint: 'Add environments with `knock-env env create <slug>`.',
      });
    }
  }

  /**
   * A rollback commit restores, in paths lower environments own, the content
   * of an earlier state of its environment; what the environment (or one above
   * it) owns stays as it is.
   */
  private async judgeRollback(commit: ParsedCommit, parent: ParsedCommit, env: string, environments: string[], changes: Change[], ref: string): Promise<void> {
    const to = parseTrailers(commit.message)[TRAILER.to] ?? '';
    const hint = `Roll back with \`knock-env rollback ${env}\`.`;
    if (!OID.test(to)) {
      this.reject({ ref, commit: commit.oid, environment: env, message: `rollback commit ${shortOid(commit.oid)} does not name the state it restores (${TRAILER.to}: <commit>).`, hint });
      return;
    }
    let restored: ParsedCommit;
    try {
      restored = await this.load(to);
    } catch {
      this.reject({ ref, commit: commit.oid, environment: env, message: `rollback commit ${shortOid(commit.oid)} restores ${shortOid(to)}, which is not in the repository.`, hint });
      return;
    }
    if (!(await isAncestor(this.store, to, parent.oid))) {
      this.reject({ ref, commit: commit.oid, environment: env, message: `rollback commit ${shortOid(commit.oid)} restores ${shortOid(to)}, which is not an earlier state of ${env}.`, hint });
      return;
    }
    const judge = new OwnershipJudge(this.store, environments, [parent.tree, restored.tree]);
    const position = environments.indexOf(env);
    for (const change of changes) {
      const owner = await judge.ownerOf(change.path);
      if (judge.rank(owner) >= position) {
        this.reject({
          ref,
          commit: commit.oid,
          path: change.path,
          environment: owner === ACCOUNT ? HIGHEST_ENVIRONMENT : owner,
          message: `rollback commit ${shortOid(commit.oid)} changes ${change.path}, which ${owner === ACCOUNT ? 'holds the account' : `belongs to ${owner}`}; a rollback of ${env} restores only what lower environments promoted into it.`,
          hint,
        });
        continue;
      }
      const then = await entryAt(this.store, restored.tree, change.path);
      const same = change.newOid === undefined ? then === null || isTreeMode(then.mode) : then !== null && then.oid === change.newOid && then.mode === (change.newMode ?? then.mode);
      if (!same) {
        this.reject({
          ref,
          commit: commit.oid,
          path: change.path,
          environment: owner,
          message: `rollback commit ${shortOid(commit.oid)} gives ${change.path} content it did not have in the state it restores (${shortOid(to)}).`,
          hint,
        });
      }
    }
    this.requireRole(ref, commit.oid, 'promote', env, `roll back ${env}`);
  }

  /**
   * A merge into `env` (parents: env's line, then what it merges) may give
   * paths environments above `env` own only their owner's content (see
   * ownersContent: knock-env's merge-downs bring down just that); changes in
   * paths `env` owns are judged as edits made in `env`; paths of lower
   * environments stay as they were.
   */
  private async judgeMerge(commit: ParsedCommit, ref: string, env: string): Promise<void> {
    const [line, merged] = [await this.load(commit.parents[0]!), await this.load(commit.parents[1]!)];
    // The environments the merge ends up with (its knock-env.yaml, judged below when it changes), so an earlier account cannot hide one.
    const environments = await this.environmentsAt((await this.configAt(commit.oid)) ? commit.oid : (await this.configAt(merged.oid)) ? merged.oid : line.oid);
    if (!environments.includes(env)) {
      this.reject({ ref, commit: commit.oid, environment: env, message: `merge ${shortOid(commit.oid)} is made for environment "${env}", which ${CONFIG_FILE} does not list.`, hint: 'Merge into an existing environment.' });
      return;
    }
    if (!(await this.extendsLine(env, line.oid, ref, commit))) return;
    const judge = new OwnershipJudge(this.store, environments, [line.tree, merged.tree]);
    const position = environments.indexOf(env);
    const own: Change[] = [];
    for (const change of await diffTrees(this.store, line.tree, commit.tree)) {
      const owner = await judge.ownerOf(change.path);
      const rank = judge.rank(owner);
      if (rank > position) {
        const holder = owner === ACCOUNT ? HIGHEST_ENVIRONMENT : owner;
        if (!(await this.ownersContent({ path: change.path, owner: holder, env, environments, content: contentOf(change), tip: merged.oid }))) {
          const named = owner === ACCOUNT ? `the account, committed on ${HIGHEST_ENVIRONMENT}` : owner;
          this.reject({
            ref,
            commit: commit.oid,
            path: change.path,
            environment: holder,
            message: `merge ${shortOid(commit.oid)} into ${env} gives ${change.path} (owned by ${named}) content that is neither ${holder}'s current content nor that of a commit made for ${holder} on top of its current head; a merge may only bring down what ${holder} has or is about to get, never an earlier state.`,
            hint:
              owner === ACCOUNT
                ? `Change the account in ${HIGHEST_ENVIRONMENT} with knock-env (\`knock-env members\`, \`keys\`, \`settings\`), which merges it down; to merge by hand, merge ${HIGHEST_ENVIRONMENT}'s current head.`
                : `Change it in ${holder} with knock-env, which merges it down; to merge by hand, merge ${holder}'s current head.`,
          });
        }
      } else if (owner === env || (owner === ACCOUNT && rank === position)) {
        own.push(change);
      } else {
        this.reject({
          ref,
          commit: commit.oid,
          path: change.path,
          environment: owner,
          message: `merge ${shortOid(commit.oid)} into ${env} changes ${change.path}, which belongs to ${owner}, an environment below ${env}.`,
          hint: `Changes of ${owner} reach ${env} by promotion (\`knock-env promote\`), never by a merge.`,
        });
      }
    }
    if (own.length > 0) await this.judgeEdits({ ref, commit, env, environments, baseTree: line.tree, changes: own, claimTrees: [line.tree, merged.tree] });
  }

  /**
   * Moving an environment onto commits made for a lower one (or onto commits
   * already on the server whose environment is unknown) is a promotion: the
   * pusher needs the promote capability there.
   */
  private async checkPromotion(update: EnvUpdate): Promise<void> {
    const position = this.rank(update.env);
    const above = this.order.slice(position + 1).map((env) => this.before.get(env)).filter((oid): oid is string => oid !== undefined);
    const reach = new Reachability(this.load, [...(update.old ? [update.old] : []), ...above]);
    let promoted: ParsedCommit | undefined;
    for (const commit of await this.commitsFrom(update.new, reach)) {
      const env = this.landingEnv.get(commit.oid) ?? this.trailerEnvironment(commit);
      // An environment the account does not list yet is being created in this push (its commits were judged above).
      if (env !== null && !this.envSet.has(env) && this.newCommits.has(commit.oid)) continue;
      if (env === null || this.rank(env) < position) {
        promoted = commit;
        break;
      }
    }
    if (promoted) this.requireRole(update.ref, update.new, 'promote', update.env, 'promote');
  }

  /**
   * What an update brings onto an environment in paths that environment or a
   * higher one owns must be its owner's content (see ownersContent), whether
   * the update is a commit, a merge-down arriving or a promotion: content its
   * owner no longer has never comes back by a fast-forward. Moving a branch
   * onto a change of knock-env.yaml needs what the change itself needs, unless
   * the account on the server already reads so.
   */
  private async checkOwnedContent(update: EnvUpdate): Promise<void> {
    const base = update.old ?? this.nearestHead(update.env);
    const from = base === null ? null : (await this.load(base)).tree;
    const to = (await this.load(update.new)).tree;
    let environments = await this.environmentsAt(update.new);
    if (!environments.includes(update.env)) environments = this.order;
    const position = environments.indexOf(update.env);
    if (position < 0) return;
    const judge = new OwnershipJudge(this.store, environments, from === null ? [to] : [from, to]);
    for (const change of await this.changesOf(update)) {
      const owner = await judge.ownerOf(change.path);
      if (judge.rank(owner) < position) continue;
      const holder = owner === ACCOUNT ? HIGHEST_ENVIRONMENT : owner;
      if (owner === ACCOUNT) {
        const current = this.headBefore(HIGHEST_ENVIRONMENT);
        const now = current === undefined ? null : await entryAt(this.store, (await this.load(current)).tree, CONFIG_FILE);
        if (!sameContent(now, contentOf(change))) {
          this.requireRole(update.ref, update.new, 'manage-account', HIGHEST_ENVIRONMENT, `move ${update.env} onto a change of the account (${CONFIG_FILE})`);
        }
      }
      if (await this.ownersContent({ path: change.path, owner: holder, env: update.env, environments, content: contentOf(change), tip: update.new })) continue;
      // A commit of this push that gave it that content is refused already, with the reason.
      if (this.rejections.some((r) => r.ref === update.ref && r.path === change.path)) continue;
      const named = owner === ACCOUNT ? `the account, committed on ${HIGHEST_ENVIRONMENT}` : holder;
      this.reject({
        ref: update.ref,
        commit: update.new,
        path: change.path,
        environment: holder,
        message: `${update.env} would get ${change.path} (owned by ${named}) with content that is neither ${holder}'s current content nor that of a commit made for ${holder} on top of its current head; ${update.env} takes it only as ${holder} has it or is about to get it.`,
        hint: `Make the change in ${holder} with knock-env (it merges it down into the lower environments), fetch, and promote again; content ${holder} no longer has never comes back by a promotion.`,
      });
    }
  }

  /**
   * Whether `content` (null: no file) is what the owner of `path` gives it:
   * the content of the owner's branch after the push (when the owner is not
   * the environment being judged), or the content of a commit reachable from
   * `tip` that was made for the owner (its Knock-Env-Environment trailer, or
   * for a commit new to the server the environment it was judged for) and
   * builds on the owner's current head: the owner's pending commits, which
   * knock-env's client pushes after the lower environments they are merged
   * down into. An earlier state of the owner is an ancestor of its head, not
   * a descendant, so it never qualifies.
   */
  private async ownersContent(input: { path: string; owner: string; env: string; environments: string[]; content: FileContent | null; tip: string }): Promise<boolean> {
    const { path, owner, env, content } = input;
    if (owner !== env) {
      const head = this.headAfter(owner);
      if (head !== undefined && sameContent(await entryAt(this.store, (await this.load(head)).tree, path), content)) return true;
    }
    for (const commit of await this.pendingCommits(owner, this.anchorOf(owner, env, input.environments), input.tip)) {
      if (sameContent(await entryAt(this.store, commit.tree, path), content)) return true;
    }
    return false;
  }

  /**
   * The head the owner's pending commits must build on: for the environment
   * being moved, its head before the push; for another, its head after the
   * push. An environment without a branch yet (env create, pushed lowest
   * first) is anchored at the head of the nearest environment below it that
   * has one on the server.
   */
  private anchorOf(owner: string, env: string, environments: string[]): string | null {
    const head = owner === env ? this.headBefore(owner) : this.headAfter(owner);
    if (head !== undefined) return head;
    for (let i = environments.indexOf(owner) - 1; i >= 0; i--) {
      const below = this.headBefore(environments[i]!);
      if (below !== undefined) return below;
    }
    return null;
  }

  private headBefore(env: string): string | undefined {
    return this.refsBefore.get(branchRef(env));
  }

  private headAfter(env: string): string | undefined {
    return this.pushed.get(branchRef(env)) ?? this.refsBefore.get(branchRef(env));
  }

  /** The environment a commit was made for: the one it was judged for when new in this push, else the one its trailer names. */
  private madeFor(commit: ParsedCommit): string | null {
    return this.landingEnv.get(commit.oid) ?? this.trailerEnvironment(commit);
  }

  /** Commits reachable from `tip`, made for `owner`, that descend from `anchor` (any, without one), newest first as found. */
  private pendingCommits(owner: string, anchor: string | null, tip: string): Promise<ParsedCommit[]> {
    const key = `${owner}\0${anchor ?? ''}\0${tip}`;
    let found = this.pending.get(key);
    if (!found) {
      found = (async () => {
        const between = await this.commitsFrom(tip, new Reachability(this.load, anchor === null ? [] : [anchor]));
        if (anchor === null) return between.filter((c) => this.madeFor(c) === owner);
        // Every commit between a descendant of the anchor and the anchor is itself outside the anchor's history, so `between` holds the whole path.
        const inside = new Map(between.map((c) => [c.oid, c]));
        const descends = new Map<string, boolean>();
        for (const start of between) {
          const stack: [ParsedCommit, boolean][] = [[start, false]];
          while (stack.length > 0) {
            const [commit, expanded] = stack.pop()!;
            if (descends.has(commit.oid)) continue;
            if (expanded) {
              descends.set(commit.oid, commit.parents.some((p) => p === anchor || descends.get(p) === true));
              continue;
            }
            stack.push([commit, true]);
            for (const parent of commit.parents) {
              const next = inside.get(parent);
              if (next && !descends.has(parent)) stack.push([next, false]);
            }
          }
        }
        return between.filter((c) => descends.get(c.oid) === true && this.madeFor(c) === owner);
      })();
      this.pending.set(key, found);
    }
    return found;
  }

  /** The files an update changes, against its old head (for a new branch, the nearest environment's head). */
  private changesOf(update: EnvUpdate): Promise<Change[]> {
    let found = this.updateChanges.get(update.ref);
    if (!found) {
      found = (async () => {
        const base = update.old ?? this.nearestHead(update.env);
        const from = base === null ? null : (await this.load(base)).tree;
        return diffTrees(this.store, from, (await this.load(update.new)).tree);
      })();
      this.updateChanges.set(update.ref, found);
    }
    return found;
  }

  /** Every workflow, guide, environment file and knock-env.yaml an update changes must be valid. */
  private async validateUpdate(update: EnvUpdate): Promise<void> {
    const to = (await this.load(update.new)).tree;
    const changes = await this.changesOf(update);
    const environments = await this.environmentsAt(update.new);
    const folders = new Map<string, { kind: ResourceKind; key: string }>();
    const issues: ValidationIssue[] = [];
    for (const change of changes) {
      const resource = resourceOfPath(change.path);
      if (resource) {
        if (resource.keyProblem !== null) {
          issues.push({ file: change.path, code: 'invalid-key', message: `"${change.path}" is not inside a valid ${resource.kind} folder: ${resource.keyProblem}.` });
        } else if (change.status !== 'deleted' || (await isFolder(this.store, to, resource.dir))) {
          folders.set(resource.dir, { kind: resource.kind, key: resource.key });
        }
        continue;
      }
      if (change.status === 'deleted') {
        if (change.path === CONFIG_FILE) issues.push({ file: CONFIG_FILE, code: 'missing-main-file', message: `${CONFIG_FILE} is deleted.` });
        continue;
      }
      if (change.path === CONFIG_FILE) issues.push(...validateConfigText((await this.fileText(to, CONFIG_FILE)) ?? '', CONFIG_FILE).issues);
      else if (change.path.startsWith(`${ENVIRONMENTS_DIR}/`)) issues.push(...validateEnvironmentFile(change.path, (await this.fileText(to, change.path)) ?? '', environments));
    }
    for (const [dir, { kind, key }] of folders) {
      const folder = await entryAt(this.store, to, dir);
      if (folder === null) continue;
      const cacheKey = `${kind}:${folder.oid}`;
      let found = this.validated.get(cacheKey);
      if (!found) {
        found = validateResource({ kind, key, read: treeReader(this.store, to) }).then((v) => v.issues);
        this.validated.set(cacheKey, found);
      }
      issues.push(...(await found));
    }
    const shown = issues.slice(0, 20);
    for (const issue of shown) {
      const at = issue.line !== undefined ? `:${issue.line}${issue.column !== undefined ? `:${issue.column}` : ''}` : '';
      this.reject({
        ref: update.ref,
        commit: update.new,
        path: issue.file,
        environment: update.env,
        message: `invalid: ${issue.file}${at}: ${issue.message}`,
        hint: 'Run `knock-env validate` in your clone, fix it, commit and push again.',
      });
    }
    if (issues.length > shown.length) this.reject({ ref: update.ref, commit: update.new, environment: update.env, message: `and ${issues.length - shown.length} more validation problems.` });
  }

  /** For a new environment branch: the head of the nearest environment on the server, below first. */
  private nearestHead(env: string): string | null {
    const position = this.rank(env);
    for (let i = position - 1; i >= 0; i--) {
      const head = this.before.get(this.order[i]!);
      if (head) return head;
    }
    for (let i = position + 1; i < this.order.length; i++) {
      const head = this.before.get(this.order[i]!);
      if (head) return head;
    }
    return null;
  }

  private async fileText(tree: string, path: string): Promise<string | null> {
    const entry = await entryAt(this.store, tree, path);
    if (entry === null || isTreeMode(entry.mode)) return null;
    return (await readObject(this.store, entry.oid)).content.toString('utf8');
  }
}

async function isFolder(store: GitStore, tree: string, path: string): Promise<boolean> {
  const entry = await entryAt(store, tree, path);
  return entry !== null && isTreeMode(entry.mode);
}

/** Whether `after` keeps every environment of `before`, in the same order, first and last included. */
function keepsOrder(before: string[], after: string[]): boolean {
  if (after[0] !== before[0] || after[after.length - 1] !== before[before.length - 1]) return false;
  let at = -1;
  for (const env of before) {
    const found = after.indexOf(env);
    if (found <= at) return false;
    at = found;
  }
  return true;
}

/** A file's content as a tree has it; null where there is no file. */
interface FileContent {
  oid: string;
  mode?: string;
}

function contentOf(change: Change): FileContent | null {
  return change.newOid === undefined ? null : { oid: change.newOid, ...(change.newMode ? { mode: change.newMode } : {}) };
}

/** Whether a tree entry (a folder counting as no file) holds `content`. */
function sameContent(entry: TreeEntry | null, content: FileContent | null): boolean {
  if (entry === null || isTreeMode(entry.mode)) return content === null;
  return content !== null && entry.oid === content.oid && (content.mode === undefined || entry.mode === content.mode);
}
