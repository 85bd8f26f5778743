import { authorize, type Capability } from '../access.js';
import { isKnockEnvError } from '../errors.js';
import { parseTrailers, type ParsedCommit } from '../git/commit.js';
import { isAncestor } from '../git/history.js';
import { EMPTY_TREE_OID } from '../git/objects.js';
import { listRefs } from '../git/refs.js';
import { diffTrees, entryAt } from '../git/tree.js';
import { classifyChanges, layeredView, treeView, validateChanges } from '../policy/changes.js';
import { ACCOUNT, judgeChange, keepsOrder, type Verdict } from '../policy/judge.js';
import { AUDIT_REF, branchRef, environmentSlugs, HIGHEST_ENVIRONMENT } from '../project.js';
import { CONFIG_FILE } from '../resources.js';
import { validateConfigText, type KnockEnvConfig } from '../validate/config.js';
import type { ValidationIssue } from '../validate/types.js';
import { TRAILER, shortOid } from '../ops/shared.js';
import type { PushedRef, PushRejection } from './push-types.js';
import { contentOf, PushGraph, Reachability, sameContent, type Change, type EnvUpdate } from './push-graph.js';

const OID = /^[0-9a-f]{40}$/;

/** Judges a push against the rules: refs, the chain, the audit trail, and each new commit and arrival through the policy. */
export class PushCheck extends PushGraph {
  readonly rejections: PushRejection[] = [];

  private readonly seenRejections = new Set<string>();

  private readonly validated = new Map<string, Promise<ValidationIssue[]>>();

  private reject(r: PushRejection): void {
    const key = `${r.ref}\0${r.commit ?? ''}\0${r.path ?? ''}\0${r.message}`;
    if (this.seenRejections.has(key)) return;
    this.seenRejections.add(key);
    this.rejections.push(r);
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
    for (const update of envUpdates) await this.checkArrival(update);
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
    await this.judgeEdits({ ref, commit, env, environments, baseTree: parent.tree, changes });
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

  /** Hands the policy's verdicts on a commit to the pusher. */
  private rejectVerdicts(ref: string, commit: string, verdicts: Verdict[]): void {
    for (const v of verdicts) {
      this.reject({
        ref,
        commit,
        ...(v.path !== '' ? { path: v.path } : {}),
        ...(v.owner !== null ? { environment: v.owner === ACCOUNT ? HIGHEST_ENVIRONMENT : v.owner } : {}),
        message: v.message,
        hint: v.hint,
        code: v.code,
      });
    }
  }

  /** The environments whose head on the server (before the push) holds a folder. */
  private keysIn = async (dir: string): Promise<string[]> => {
    const found: string[] = [];
    for (const [env, head] of this.before) if (await treeView(this.store, (await this.load(head)).tree).hasFolder(dir)) found.push(env);
    return found;
  };

  /**
   * Changes committed in `env` (a commit's own changes): the policy judges
   * them as a commit there, or, for a commit knock-env's account commands
   * made (its operation trailer says so), as an account change.
   */
  private async judgeEdits(input: { ref: string; commit: ParsedCommit; env: string; environments: string[]; baseTree: string; changes: Change[] }): Promise<void> {
    const { ref, commit, env, environments, baseTree } = input;
    const before = treeView(this.store, baseTree);
    const after = treeView(this.store, commit.tree);
    const classified = await classifyChanges({ changes: input.changes, before, after });
    const byCommand = parseTrailers(commit.message)[TRAILER.operation] !== undefined;
    const account = classified.some((c) => c.class === 'account') ? { accountBefore: await this.accountIn(baseTree), accountAfter: await this.accountIn(commit.tree) } : {};
    const verdicts = await judgeChange({
      kind: byCommand && account.accountBefore !== undefined ? 'account-command' : env === environments[0] ? 'commit' : 'direct-commit',
      environment: env,
      account: this.config,
      environments,
      principal: this.who,
      changes: classified,
      keysIn: this.keysIn,
      ...account,
    });
    this.rejectVerdicts(ref, commit.oid, verdicts);
  }

  /** knock-env.yaml as a tree has it, parsed; null when missing or invalid. */
  private async accountIn(tree: string): Promise<KnockEnvConfig | null> {
    const text = await this.fileText(tree, CONFIG_FILE);
    return text === null ? null : (validateConfigText(text, CONFIG_FILE).data ?? null);
  }

  private requireRole(ref: string, commit: string | undefined, capability: Capability, env: string, action: string): void {
    try {
      authorize(this.config, this.who, capability, env, action);
    } catch (error) {
      if (!isKnockEnvError(error)) throw error;
      this.reject({ ref, ...(commit ? { commit } : {}), environment: env, message: error.message, ...(error.hint ? { hint: error.hint } : {}), code: 'role' });
    }
  }

  /**
   * A rollback commit must name an earlier state of its environment; what it
   * may restore is the policy's to judge.
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
    const before = treeView(this.store, parent.tree);
    const then = treeView(this.store, restored.tree);
    const classified = await classifyChanges({ changes, before, after: treeView(this.store, commit.tree), claims: layeredView([before, then]) });
    this.rejectVerdicts(ref, commit.oid, await judgeChange({ kind: 'rollback', environment: env, account: this.config, environments, principal: this.who, changes: classified, restored: then }));
  }

  /**
   * A merge into `env` (parents: env's line, then what it merges): the
   * policy judges what it brings down, given what each owner has or is about
   * to get (ownersContent).
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
    const before = treeView(this.store, line.tree);
    const changes = await diffTrees(this.store, line.tree, commit.tree);
    const classified = await classifyChanges({ changes, before, after: treeView(this.store, commit.tree), claims: layeredView([before, treeView(this.store, merged.tree)]) });
    const verdicts = await judgeChange({
      kind: 'merge-down',
      environment: env,
      account: this.config,
      environments,
      principal: this.who,
      changes: classified,
      keysIn: this.keysIn,
      ownersContent: (change, owner) => this.ownersContent({ path: change.path, owner, env, environments, content: contentOf(change), tip: merged.oid }),
    });
    this.rejectVerdicts(ref, commit.oid, verdicts);
  }

  /**
   * Moving an environment onto commits made for a lower one (or onto commits
   * already on the server whose environment is unknown) is a promotion: the
   * pusher needs the promote capability there.
   */
  private async promotes(update: EnvUpdate): Promise<boolean> {
    const position = this.rank(update.env);
    const above = this.order.slice(position + 1).map((env) => this.before.get(env)).filter((oid): oid is string => oid !== undefined);
    const reach = new Reachability(this.load, [...(update.old ? [update.old] : []), ...above]);
    for (const commit of await this.commitsFrom(update.new, reach)) {
      const env = this.landingEnv.get(commit.oid) ?? this.trailerEnvironment(commit);
      // An environment the account does not list yet is being created in this push (its commits were judged above).
      if (env !== null && !this.envSet.has(env) && this.newCommits.has(commit.oid)) continue;
      if (env === null || this.rank(env) < position) return true;
    }
    return false;
  }

  /**
   * What an update brings onto an environment, whether a commit, a
   * merge-down arriving or a promotion, judged by the policy as a promotion:
   * paths the environment or a higher one owns must carry their owner's
   * content (see ownersContent). Moving a branch onto a change of
   * knock-env.yaml needs what the change itself needs, unless the account on
   * the server already reads so.
   */
  private async checkArrival(update: EnvUpdate): Promise<void> {
    const base = update.old ?? this.nearestHead(update.env);
    const from = base === null ? null : (await this.load(base)).tree;
    const to = (await this.load(update.new)).tree;
    let environments = await this.environmentsAt(update.new);
    if (!environments.includes(update.env)) environments = this.order;
    if (!environments.includes(update.env)) return;
    const changes = await this.changesOf(update);
    const before = treeView(this.store, from);
    const after = treeView(this.store, to);
    const classified = await classifyChanges({ changes, before, after, claims: layeredView([before, after]) });
    const account = changes.find((c) => c.path === CONFIG_FILE);
    const current = this.headBefore(HIGHEST_ENVIRONMENT);
    const now = current === undefined ? null : await entryAt(this.store, (await this.load(current)).tree, CONFIG_FILE);
    const verdicts = await judgeChange({
      kind: 'promotion',
      environment: update.env,
      account: this.config,
      environments,
      principal: this.who,
      changes: classified,
      promotes: await this.promotes(update),
      bringsAccountChange: account !== undefined && !sameContent(now, contentOf(account)),
      ownersContent: (change, owner) => this.ownersContent({ path: change.path, owner, env: update.env, environments, content: contentOf(change), tip: update.new }),
    });
    // A commit of this push that gave a path that content is refused already, with the reason.
    const fresh = verdicts.filter((v) => v.code !== 'owned-content' || !this.rejections.some((r) => r.ref === update.ref && r.path === v.path));
    this.rejectVerdicts(update.ref, update.new, fresh);
  }

  /** Every workflow, guide, environment file and knock-env.yaml an update changes must be valid. */
  private async validateUpdate(update: EnvUpdate): Promise<void> {
    const base = update.old ?? this.nearestHead(update.env);
    const after = treeView(this.store, (await this.load(update.new)).tree);
    const classified = await classifyChanges({ changes: await this.changesOf(update), before: treeView(this.store, base === null ? null : (await this.load(base)).tree), after });
    const to = (await this.load(update.new)).tree;
    const issues = await validateChanges(classified, after, {
      environments: await this.environmentsAt(update.new),
      memo: async (r, validate) => {
        const folder = await entryAt(this.store, to, r.dir);
        if (folder === null) return validate();
        const cacheKey = `${r.kind}:${folder.oid}`;
        let found = this.validated.get(cacheKey);
        if (!found) this.validated.set(cacheKey, (found = validate()));
        return found;
      },
    });
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
        code: issue.code,
      });
    }
    if (issues.length > shown.length) this.reject({ ref: update.ref, commit: update.new, environment: update.env, message: `and ${issues.length - shown.length} more validation problems.` });
  }
}
