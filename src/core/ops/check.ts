import type { CoreOptions } from '../context.js';
import { KnockEnvError } from '../errors.js';
import { readIfExists } from '../git/fs.js';
import { readCommit, type ParsedCommit } from '../git/commit.js';
import { readObject, type GitStore } from '../git/objects.js';
import { currentBranch, listRefs, readRef } from '../git/refs.js';
import { diffTrees, entryAt, isTreeMode, type TreeDifference } from '../git/tree.js';
import { OwnershipJudge } from '../ownership.js';
import { environmentSlugs, findGitdir, loadConfigAt, type Project } from '../project.js';
import { CONFIG_FILE, ENVIRONMENTS_DIR, kindsPhrase, PRODUCTION_WRITABLE_KINDS, RESOURCE_TYPES, resourceId, resourceOfPath, resourceRef, type ResourceKind } from '../resources.js';
import { validateConfigText } from '../validate/config.js';
import { validateEnvironmentFile } from '../validate/environment.js';
import { sortIssues, validateResource } from '../validate/resource.js';
import type { ValidationIssue } from '../validate/types.js';
import { treeReader } from '../worktree.js';
import { originOf } from './analyse.js';
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
  issues: ValidationIssue[];
}

export interface CheckedPath {
  path: string;
  status: ChangeStatus;
  scope: 'account' | 'environment' | 'invalid-path' | 'other';
  /** The environment owning the path, for scope "environment". */
  environment?: string;
  issues: ValidationIssue[];
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
  issues: ValidationIssue[];
}

/** Issues that say who may change what (exit 4), as opposed to validation issues (exit 3). */
export function isOwnershipIssue(issue: ValidationIssue): boolean {
  return issue.code === 'ownership' || issue.code === 'account-change';
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

  const lowest = environments[0]!;
  const productionWriteAccess = Boolean(config.settings?.production_write_access);
  const judge = new OwnershipJudge(project, environments, [fromTree]);
  const reader = treeReader(project, toTree);
  const text = async (path: string): Promise<string | null> => {
    const bytes = await reader.read(path);
    return bytes === null ? null : Buffer.from(bytes).toString('utf8');
  };

  const grouped = new Map<string, { kind: ResourceKind; key: string; diffs: TreeDifference[] }>();
  const others: CheckedPath[] = [];
  for (const d of differences) {
    const r = resourceOfPath(d.path);
    if (r) {
      if (r.keyProblem !== null) {
        others.push({
          path: d.path,
          status: d.status,
          scope: 'invalid-path',
          issues: [{ file: d.path, code: 'invalid-key', message: `"${d.path}" is not inside a valid ${r.kind} folder: ${r.keyProblem}.` }],
        });
        continue;
      }
      const id = resourceId(r);
      let group = grouped.get(id);
      if (!group) grouped.set(id, (group = { kind: r.kind, key: r.key, diffs: [] }));
      group.diffs.push(d);
    } else if (d.path === CONFIG_FILE) {
      const issues: ValidationIssue[] = [
        {
          file: d.path,
          code: 'account-change',
          message: `${CONFIG_FILE} holds the account (environments, settings, members, API keys); it is changed only through knock-env's commands (\`knock-env env create\`, \`knock-env settings set\`), never in a pull request.`,
        },
      ];
      const after = d.status === 'deleted' ? null : await text(d.path);
      if (after === null) issues.push({ file: d.path, code: 'missing-main-file', message: `${CONFIG_FILE} is deleted: the repository would no longer be a knock-env project.` });
      else issues.push(...validateConfigText(after, CONFIG_FILE).issues);
      others.push({ path: d.path, status: d.status, scope: 'account', issues });
    } else if (d.path.startsWith(`${ENVIRONMENTS_DIR}/`)) {
      const owner = d.path.split('/')[1] ?? '';
      const issues: ValidationIssue[] = [];
      const known = environments.includes(owner);
      if (known && owner !== environment) {
        issues.push({
          file: d.path,
          code: 'ownership',
          message: `${d.path} belongs to the ${owner} environment; it cannot be changed in a pull request into ${environment}.`,
        });
      }
      const after = d.status === 'deleted' ? null : await text(d.path);
      if (after !== null) issues.push(...validateEnvironmentFile(d.path, after, environments));
      else if (!known) issues.push({ file: d.path, code: 'invalid-key', message: `"${owner}" is not an environment of this project.` });
      others.push({ path: d.path, status: d.status, scope: 'environment', ...(known ? { environment: owner } : {}), issues });
    } else {
      others.push({ path: d.path, status: d.status, scope: 'other', issues: [] });
    }
  }

  const resources: CheckedResource[] = [];
  for (const group of grouped.values()) {
    const ref = resourceRef(group.kind, group.key);
    const existed = await isFolder(project, fromTree, ref.dir);
    const exists = await isFolder(project, toTree, ref.dir);
    const status: ChangeStatus = !existed ? 'added' : exists ? 'modified' : 'deleted';
    const files = group.diffs.map((d) => ({ path: d.path, status: d.status }));
    const issues: ValidationIssue[] = [];
    let headOrigin: string | null = null;
    if (status !== 'deleted') {
      const validation = await validateResource({ kind: group.kind, key: group.key, read: reader });
      issues.push(...validation.issues);
      const origin = validation.data?.origin_environment;
      headOrigin = typeof origin === 'string' ? origin : originOf(await reader.read(ref.file));
    }
    const valid = issues.length === 0;
    const named = `${group.kind} "${group.key}"`;
    // The issue points at the main file when the pull request changes it, else at the first file it changes.
    const file = files.some((f) => f.path === ref.file) ? ref.file : files[0]!.path;
    let owner: string | null = null;
    if (status === 'added') {
      if (environment !== lowest && !RESOURCE_TYPES[group.kind].productionWriteAccess) {
        issues.push({
          file,
          code: 'ownership',
          message: `${named} cannot be created in ${environment}: ${RESOURCE_TYPES[group.kind].plural} are created in ${lowest} and promoted (production write access covers ${kindsPhrase(PRODUCTION_WRITABLE_KINDS)} only).`,
        });
      } else if (environment !== lowest && !productionWriteAccess) {
        issues.push({
          file,
          code: 'ownership',
          message: `${named} cannot be created in ${environment}: production write access is off, so workflows and guides are created in ${lowest} and promoted.`,
        });
      } else if (headOrigin !== null && headOrigin !== environment) {
        issues.push({
          file: ref.file,
          ...(await originLine(reader, ref.file)),
          code: 'ownership',
          message: `${named} says origin_environment: ${headOrigin}, but the pull request creates it in ${environment}.`,
        });
      }
    } else {
      owner = await judge.ownerOf(ref.file);
      const baseOrigin = await originAt(project, fromTree, ref.file);
      if (owner !== environment) {
        issues.push({
          file,
          code: 'ownership',
          message: `${named} belongs to ${owner} (its origin environment); it cannot be ${status === 'deleted' ? 'deleted' : 'changed'} in a pull request into ${environment}. Make the change in ${owner}${owner === lowest ? ' and promote it' : ''}.`,
        });
      } else if (status === 'modified' && headOrigin !== (baseOrigin ?? headOrigin)) {
        issues.push({
          file: ref.file,
          ...(await originLine(reader, ref.file)),
          code: 'ownership',
          message: `${named}: origin_environment cannot change (it is ${baseOrigin}, the pull request makes it ${headOrigin ?? 'absent'}).`,
        });
      }
    }
    resources.push({ kind: group.kind, key: group.key, status, valid, owner, files, issues: sortIssues(issues) });
  }
  resources.sort((a, b) => compare(resourceId(a), resourceId(b)));

  const issues = sortIssues([...resources.flatMap((r) => r.issues), ...others.flatMap((o) => o.issues)]);
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

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function isFolder(store: GitStore, tree: string, path: string): Promise<boolean> {
  const entry = await entryAt(store, tree, path);
  return entry !== null && isTreeMode(entry.mode);
}

async function originAt(store: GitStore, tree: string, path: string): Promise<string | null> {
  const entry = await entryAt(store, tree, path);
  return entry === null || isTreeMode(entry.mode) ? null : originOf((await readObject(store, entry.oid)).content);
}

/** Where origin_environment is written in a file, when it is a top-level line. */
async function originLine(reader: { read(path: string): Promise<Uint8Array | null> }, path: string): Promise<{ line?: number; column?: number }> {
  const bytes = await reader.read(path);
  if (bytes === null) return {};
  const index = Buffer.from(bytes).toString('utf8').split('\n').findIndex((l) => l.startsWith('origin_environment:'));
  return index < 0 ? {} : { line: index + 1, column: 1 };
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


/** The commit whose id starts with `prefix`, searched in the history of every ref and HEAD. */
async function commitByPrefix(store: GitStore, prefix: string, name: string): Promise<string> {
  const tips = new Set((await listRefs(store)).values());
  const head = await readRef(store, 'HEAD');
  if (head !== null) tips.add(head);
  const matches = new Set<string>();
  const seen = new Set<string>();
  const stack: string[] = [];
  for (const tip of tips) {
    const object = await readObject(store, tip).catch(() => null);
    if (object?.type === 'commit') stack.push(tip);
  }
  const shallow = await shallowCommits(store);
  while (stack.length > 0) {
    const oid = stack.pop()!;
    if (seen.has(oid)) continue;
    seen.add(oid);
    if (oid.startsWith(prefix)) matches.add(oid);
    if (!shallow.has(oid)) stack.push(...(await readCommit(store, oid)).parents);
  }
  if (matches.size === 1) return [...matches][0]!;
  if (matches.size > 1) throw new KnockEnvError('USAGE', `Commit id "${name}" is ambiguous.`, { hint: 'Give more characters of it.' });
  throw new KnockEnvError('USAGE', `No commit "${name}" in the history of this repository's branches.`, {
    hint: 'Check the id with `git log`, or fetch it first (in CI: actions/checkout with `fetch-depth: 0`).',
  });
}

/** Commits a shallow clone has without their parents. */
async function shallowCommits(store: GitStore): Promise<Set<string>> {
  const text = await readIfExists(store.fs, `${store.gitdir}/shallow`);
  return new Set(text === null ? [] : text.toString('utf8').split('\n').filter((l) => /^[0-9a-f]{40}$/.test(l)));
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

// ---------------------------------------------------------------------------
// Merge base

const FROM_A = 1;
const FROM_B = 2;
const STALE = 4;

/**
 * The best common ancestor of two commits, as `git merge-base` finds it:
 * both histories are walked newest first, each commit painted with the sides
 * it is reachable from; a commit painted by both is a candidate, and what lies
 * below a candidate is not. Null when they share no history (or a shallow
 * clone cuts it off). With several best candidates (criss-cross merges), the
 * newest is taken.
 */
export async function mergeBase(store: GitStore, a: string, b: string): Promise<string | null> {
  if (a === b) return a;
  const shallow = await shallowCommits(store);
  const commits = new Map<string, ParsedCommit>();
  const load = async (oid: string): Promise<ParsedCommit> => {
    let commit = commits.get(oid);
    if (!commit) commits.set(oid, (commit = await readCommit(store, oid)));
    return commit;
  };
  const flags = new Map<string, number>();
  const queue: ParsedCommit[] = [];
  const push = (commit: ParsedCommit): void => {
    let i = queue.length;
    while (i > 0 && queue[i - 1]!.committer.timestamp < commit.committer.timestamp) i--;
    queue.splice(i, 0, commit);
  };
  flags.set(a, FROM_A);
  flags.set(b, FROM_B);
  push(await load(a));
  push(await load(b));
  const candidates: string[] = [];
  while (queue.some((c) => !((flags.get(c.oid) ?? 0) & STALE))) {
    const commit = queue.shift()!;
    let paint = (flags.get(commit.oid) ?? 0) & (FROM_A | FROM_B | STALE);
    if (paint === (FROM_A | FROM_B)) {
      if (!candidates.includes(commit.oid)) candidates.push(commit.oid);
      paint |= STALE;
    }
    if (shallow.has(commit.oid)) continue;
    for (const parent of commit.parents) {
      const current = flags.get(parent) ?? 0;
      if ((current & paint) === paint) continue;
      flags.set(parent, current | paint);
      push(await load(parent));
    }
  }
  // A candidate painted stale afterwards lies below another one.
  const found = candidates.filter((oid) => !((flags.get(oid) ?? 0) & STALE));
  const best: string[] = [];
  for (const oid of found) {
    let redundant = false;
    for (const other of found) {
      if (other !== oid && (await reaches(other, oid, shallow, load))) {
        redundant = true;
        break;
      }
    }
    if (!redundant) best.push(oid);
  }
  best.sort((x, y) => commits.get(y)!.committer.timestamp - commits.get(x)!.committer.timestamp);
  return best[0] ?? null;
}

/** Whether `ancestor` is in the history of `descendant` (plain walk; used on a handful of candidates). */
async function reaches(descendant: string, ancestor: string, shallow: Set<string>, load: (oid: string) => Promise<ParsedCommit>): Promise<boolean> {
  const floor = (await load(ancestor)).committer.timestamp - 86_400;
  const seen = new Set<string>();
  const stack = [descendant];
  while (stack.length > 0) {
    const oid = stack.pop()!;
    if (oid === ancestor) return true;
    if (seen.has(oid)) continue;
    seen.add(oid);
    const commit = await load(oid);
    if (commit.committer.timestamp < floor || shallow.has(oid)) continue;
    stack.push(...commit.parents);
  }
  return false;
}
