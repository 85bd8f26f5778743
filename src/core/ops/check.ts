import type { CoreOptions } from '../context.js';
import { KnockEnvError } from '../errors.js';
import { readCommit } from '../git/commit.js';
import { commitByPrefix, mergeBase } from '../git/history.js';
import { readObject, type GitStore } from '../git/objects.js';
import { currentBranch, listRefs, readRef } from '../git/refs.js';
import { diffTrees } from '../git/tree.js';
import { classifyChanges, issuesOfResource, treeView, validateChanges } from '../policy/changes.js';
import { judgeChange, type VerdictCode } from '../policy/judge.js';
import { originLine } from '../policy/origin.js';
import { environmentSlugs, findGitdir, loadConfigAt, type Project } from '../project.js';
import { resourceId, type ResourceKind } from '../resources.js';
import { sortIssues } from '../validate/resource.js';
import type { ValidationIssue } from '../validate/types.js';
import { shortOid } from './shared.js';

export interface CheckOptions extends Pick<CoreOptions, 'fs' | 'dir'> {
  /** The revision the pull request targets: a branch (local or remote-tracking), a commit id, or HEAD. */
  base: string;
  /** The pull request's revision; default HEAD. */
  head?: string;
  /** The environment the pull request targets; default the one `base` names or points at. */
  environment?: string;
}

export type ChangeStatus = 'added' | 'modified' | 'deleted';

export interface CheckedResource {
  kind: ResourceKind;
  key: string;
  status: ChangeStatus;
  /** No validation issue (ownership aside). */
  valid: boolean;
  /** The owning environment, judged from the merge base; null for a new resource. */
  owner: string | null;
  files: { path: string; status: ChangeStatus }[];
  /** Validation and ownership issues of this resource. */
  issues: CheckIssue[];
}

export interface CheckedPath {
  path: string;
  status: ChangeStatus;
  scope: 'account' | 'environment' | 'invalid-path' | 'other';
  /** The environment owning the path, for scope "environment". */
  environment?: string;
  issues: CheckIssue[];
}

export interface CheckResult {
  base: string;
  head: string;
  /** The newest common ancestor of base and head; the range checked is mergeBase..head. */
  mergeBase: string;
  /** The refs base and head were resolved through (e.g. refs/remotes/origin/development), when they were refs. */
  baseRef: string | null;
  headRef: string | null;
  environment: string;
  environments: string[];
  resources: CheckedResource[];
  others: CheckedPath[];
  /** Every issue, validation and ownership, in a stable order. */
  issues: CheckIssue[];
}

/** An issue of check: a validation problem, or a verdict of the policy (with its rule, owner and hint). */
export interface CheckIssue extends ValidationIssue {
  rule?: VerdictCode;
  owner?: string;
  hint?: string;
}

/** Issues that say who may change what (exit 4), as opposed to validation issues (exit 3). */
export function isOwnershipIssue(issue: ValidationIssue): boolean {
  return (issue as CheckIssue).rule !== undefined || issue.code === 'ownership' || issue.code === 'account-change';
}

/**
 * Checks what a pull request changes (the difference between the merge base
 * of `base` and `head`, and `head`) as the target environment would on
 * commit: every changed resource, environment file and the account file is
 * validated, and each change is held to the ownership rules. Reads only git
 * objects and refs: it works on a clone without local environment branches,
 * as a CI checkout is.
 */
export async function checkRange(options: CheckOptions): Promise<CheckResult> {
  const found = await findGitdir(options);
  if (found === null) {
    throw new KnockEnvError('NOT_A_PROJECT', `${options.dir} is not inside a git repository.`, {
      hint: 'Run it in a clone of the knock-env project (in CI, check the repository out first).',
    });
  }
  const project: Project = { fs: options.fs, dir: found.dir, gitdir: found.gitdir, cache: {} };
  const base = await resolveRevision(project, options.base);
  const head = await resolveRevision(project, options.head ?? 'HEAD');
  const config = await loadConfigAt(project, base.oid);
  const environments = environmentSlugs(config);
  const environment = await targetEnvironment(project, base, environments, options.environment);
  const common = await mergeBase(project, base.oid, head.oid);
  if (common === null) {
    throw new KnockEnvError('NOT_FOUND', `${options.base} (${shortOid(base.oid)}) and ${options.head ?? 'HEAD'} (${shortOid(head.oid)}) have no common history.`, {
      hint: 'Fetch the whole history (actions/checkout with `fetch-depth: 0`, or `git fetch --unshallow`), and check that both belong to this project.',
    });
  }
  const fromTree = (await readCommit(project, common)).tree;
  const toTree = (await readCommit(project, head.oid)).tree;
  const differences = await diffTrees(project, fromTree, toTree);

  const before = treeView(project, fromTree);
  const after = treeView(project, toTree);
  const classified = await classifyChanges({ changes: differences, before, after });
  const validation = await validateChanges(classified, after, { environments });
  const verdicts = await judgeChange({
    kind: environment === environments[0] ? 'commit' : 'direct-commit',
    environment,
    account: config,
    environments,
    // Who merges the pull request is not known yet: roles are judged when it lands (commit, or the server's hook).
    principal: null,
    changes: classified,
    keysIn: await keysOnBranches(project, environments),
  });
  const ruleIssues: CheckIssue[] = [];
  for (const v of verdicts) {
    ruleIssues.push({
      file: v.path,
      ...(v.code.startsWith('origin-') ? originLine(await after.read(v.path)) : {}),
      code: v.code === 'account-edit' ? 'account-change' : 'ownership',
      rule: v.code,
      ...(v.owner !== null ? { owner: v.owner } : {}),
      message: v.message,
      hint: v.hint,
    });
  }
  const all: CheckIssue[] = [...validation, ...ruleIssues];
  const resources: CheckedResource[] = [];
  const others: CheckedPath[] = [];
  for (const c of classified) {
    if (c.class === 'resource') {
      const own = issuesOfResource(all, c);
      resources.push({
        kind: c.kind,
        key: c.key,
        status: c.status,
        valid: issuesOfResource(validation, c).length === 0,
        owner: c.claimed ? (c.originBefore !== null && environments.includes(c.originBefore) ? c.originBefore : environments[0]!) : null,
        files: c.paths.map((p) => ({ path: p.path, status: p.status })),
        issues: sortIssues(own),
      });
    } else {
      const scope = c.class === 'environment-file' ? 'environment' : c.class === 'account' ? 'account' : c.class === 'invalid-key' ? 'invalid-path' : 'other';
      others.push({
        path: c.path,
        status: c.status,
        scope,
        ...(c.class === 'environment-file' && environments.includes(c.environment) ? { environment: c.environment } : {}),
        issues: sortIssues(all.filter((i) => i.file === c.path)),
      });
    }
  }
  resources.sort((a, b) => compare(resourceId(a), resourceId(b)));

  const issues = sortIssues(all);
  return {
    base: base.oid,
    head: head.oid,
    mergeBase: common,
    baseRef: base.ref,
    headRef: head.ref,
    environment,
    environments,
    resources,
    others,
    issues,
  };
}

/**
 * Where each environment's resource keys are read from: its local branch, or
 * a remote-tracking branch of it (a CI checkout has only those). An
 * environment with neither is left out.
 */
async function keysOnBranches(store: GitStore, environments: string[]): Promise<(dir: string) => Promise<string[]>> {
  const refs = await listRefs(store);
  const trees = new Map<string, string>();
  for (const env of environments) {
    const oid = refs.get(`refs/heads/${env}`) ?? refs.get(`refs/remotes/origin/${env}`) ?? [...refs].find(([ref]) => branchNames(ref, env))?.[1];
    if (oid !== undefined) trees.set(env, (await readCommit(store, oid)).tree);
  }
  return async (dir) => {
    const found: string[] = [];
    for (const [env, tree] of trees) if (await treeView(store, tree).hasFolder(dir)) found.push(env);
    return found;
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---------------------------------------------------------------------------
// Revisions

export interface ResolvedRevision {
  oid: string;
  /** The full ref it was found through, or null for a commit id. */
  ref: string | null;
}

/** A ref name safe to turn into a path below the git directory. */
const REF_NAME = /^(?!\/)(?!.*\/\/)(?!.*\.\.)(?!.*\/$)(?!.*\.lock$)[A-Za-z0-9._/@+-]+$/;

/**
 * Resolves a revision the way `git rev-parse` does for the forms CI passes:
 * HEAD, a full ref, a branch, tag or remote-tracking branch (`origin/development`
 * is refs/remotes/origin/development), or a full or abbreviated commit id.
 */
export async function resolveRevision(store: GitStore, value: string): Promise<ResolvedRevision> {
  const name = value.trim();
  if (name === '') throw new KnockEnvError('USAGE', 'An empty revision was given.', { hint: 'Pass a branch name, a commit id or HEAD.' });
  if (name === 'HEAD' || name === '@') {
    const oid = await readRef(store, 'HEAD');
    if (oid === null) throw new KnockEnvError('NOT_FOUND', 'HEAD does not point at a commit yet.', { hint: 'Check out a branch or commit first.' });
    const branch = await currentBranch(store);
    return { oid: await peelToCommit(store, oid, name), ref: branch === null ? null : `refs/heads/${branch}` };
  }
  if (REF_NAME.test(name)) {
    const candidates = name.startsWith('refs/')
      ? [name]
      : [`refs/${name}`, `refs/tags/${name}`, `refs/heads/${name}`, `refs/remotes/${name}`, `refs/remotes/${name}/HEAD`];
    for (const ref of candidates) {
      const oid = await readRef(store, ref);
      if (oid !== null) return { oid: await peelToCommit(store, oid, name), ref };
    }
  }
  if (/^[0-9a-fA-F]{4,40}$/.test(name)) {
    const prefix = name.toLowerCase();
    if (prefix.length === 40) {
      await peelToCommit(store, prefix, name);
      return { oid: prefix, ref: null };
    }
    return { oid: await commitByPrefix(store, prefix, name), ref: null };
  }
  throw new KnockEnvError('USAGE', `"${value}" is not a branch, tag, remote-tracking branch or commit id of this repository.`, {
    hint: 'Pass a branch (development, origin/development), a commit id, or HEAD; in CI, fetch the base branch first.',
  });
}

async function peelToCommit(store: GitStore, oid: string, name: string): Promise<string> {
  let current = oid;
  for (let depth = 0; depth < 10; depth++) {
    let object;
    try {
      object = await readObject(store, current);
    } catch (error) {
      throw new KnockEnvError('NOT_FOUND', `${name} (${shortOid(current)}) is not in this repository's objects.`, {
        hint: 'Fetch it first (in CI: actions/checkout with `fetch-depth: 0`).',
        cause: error,
      });
    }
    if (object.type === 'commit') return current;
    const target = object.type === 'tag' ? /^object ([0-9a-f]{40})$/m.exec(object.content.toString('utf8'))?.[1] : undefined;
    if (target === undefined) throw new KnockEnvError('USAGE', `${name} is a ${object.type}, not a commit.`, { hint: 'Pass a branch or a commit id.' });
    current = target;
  }
  throw new KnockEnvError('USAGE', `${name} is a chain of tags too long to follow.`, { hint: 'Pass the commit id it points at.' });
}

/**
 * The environment a pull request targets: the one `base`'s branch is named
 * after (development, origin/development), else the one whose branch
 * (local or remote-tracking) points at the base commit.
 */
async function targetEnvironment(store: GitStore, base: ResolvedRevision, environments: string[], given: string | undefined): Promise<string> {
  if (given !== undefined) {
    if (!environments.includes(given)) {
      throw new KnockEnvError('UNKNOWN_ENVIRONMENT', `There is no environment "${given}".`, {
        hint: `Environments, lowest first: ${environments.join(' → ')}.`,
        data: { environment: given, environments },
      });
    }
    return given;
  }
  const named = base.ref === null ? undefined : environments.find((env) => branchNames(base.ref!, env));
  if (named !== undefined) return named;
  const pointing = new Set<string>();
  for (const [ref, oid] of await listRefs(store)) {
    if (oid !== base.oid) continue;
    for (const env of environments) if (branchNames(ref, env)) pointing.add(env);
  }
  if (pointing.size === 1) return [...pointing][0]!;
  const which = pointing.size > 1 ? `${[...environments].filter((e) => pointing.has(e)).join(', ')} all point at ${shortOid(base.oid)}` : `no environment's branch points at ${shortOid(base.oid)}`;
  throw new KnockEnvError('USAGE', `Cannot tell which environment the pull request targets: ${which}.`, {
    hint: `Pass --env <environment> (one of ${environments.join(', ')}).`,
    data: { base: base.oid, candidates: [...pointing] },
  });
}

/** Whether a ref is the branch of `env`, locally (refs/heads/env) or on a remote (refs/remotes/<remote>/env). */
function branchNames(ref: string, env: string): boolean {
  return ref === `refs/heads/${env}` || (ref.startsWith('refs/remotes/') && ref.endsWith(`/${env}`) && ref.split('/').length === 4);
}
