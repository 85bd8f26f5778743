import { resolve } from 'node:path';
import type { CoreOptions } from '../context.js';
import { errnoCode, exists, readIfExists } from '../git/fs.js';
import { readIndex } from '../git/gitindex.js';
import { ValidationCache } from '../validation-cache.js';
import { findGitdir } from '../project.js';
import { CONFIG_FILE, ENVIRONMENTS_DIR, foldersPhrase, RESOURCE_KINDS, RESOURCE_MODULES, RESOURCE_TYPES, resourceKeyProblem, resourceOfPath, resourceId, resourceRef, resourceTypeOfDir, type ResourceKind } from '../resources.js';
import { validateConfigText } from '../validate/config.js';
import { validateEnvironmentFile } from '../validate/environment.js';
import { entryAt } from '../git/tree.js';
import { keyIndexOfPaths, referenceIssues, UsesCache, type ReferenceUser } from '../validate/references.js';
import type { WorkingTreeAnalysis } from './analyse.js';
import { USED_KINDS } from './plan.js';
import { validateResource } from '../validate/resource.js';
import type { ValidationIssue } from '../validate/types.js';
import { cachedReader, hashWorkingTree, scanWorkingTree, workingTreeReader } from '../worktree.js';

export interface ValidationReport {
  /** Resources checked, each with its issues (empty when valid). */
  resources: { kind: ResourceKind; key: string; valid: boolean; issues: ValidationIssue[] }[];
  /** Problems not tied to one resource (account file, stray files, bad folder names). */
  other: ValidationIssue[];
  issueCount: number;
}

export interface ValidateOptions extends Pick<CoreOptions, 'fs' | 'dir'> {
  /** Files or folders to check; default: the whole project. */
  paths?: string[];
  concurrency?: number;
}

/** Validates resources in the working tree, reporting every problem in every file. */
export async function validateWorkingTree(options: ValidateOptions): Promise<ValidationReport> {
  const found = await findGitdir(options);
  const root = found?.dir ?? resolve(options.dir);
  const project = { fs: options.fs, dir: root, gitdir: found?.gitdir ?? `${root}/.git`, cache: {} };
  const reader = workingTreeReader(project);
  const targets = new Map<string, { kind: ResourceKind; key: string }>();
  const other: ValidationIssue[] = [];
  let checkConfig = false;
  /** environments/ folders to check: '' for all of them. */
  const checkEnvironments = new Set<string>();

  const addTopFolder = async (kind: ResourceKind): Promise<void> => {
    const dir = RESOURCE_TYPES[kind].dir;
    let names: string[] = [];
    try {
      const dirents = await options.fs.promises.readdir(`${root}/${dir}`, { withFileTypes: true });
      for (const d of dirents) {
        const name = String(d.name);
        if (name.startsWith('.')) continue;
        if (!d.isDirectory()) {
          other.push({ file: `${dir}/${name}`, code: 'unexpected-file', message: `${dir}/ holds one folder per ${RESOURCE_TYPES[kind].noun}; "${name}" is a file.` });
          continue;
        }
        names.push(name);
      }
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT') throw error;
      names = [];
    }
    for (const key of names) targets.set(resourceId({ kind, key }), { kind, key });
  };

  const requested = options.paths && options.paths.length > 0 ? options.paths : ['.'];
  for (const raw of requested) {
    const abs = resolve(options.dir, raw);
    const rel = abs === root ? '' : abs.startsWith(`${root}/`) ? abs.slice(root.length + 1) : null;
    if (rel === null) {
      other.push({ file: raw, code: 'unexpected-file', message: `${raw} is outside the project at ${root}.` });
      continue;
    }
    if (rel === '') {
      checkConfig = true;
      checkEnvironments.add('');
      for (const kind of RESOURCE_KINDS) await addTopFolder(kind);
      continue;
    }
    if (rel === CONFIG_FILE) {
      checkConfig = true;
      continue;
    }
    if (rel === ENVIRONMENTS_DIR || rel.startsWith(`${ENVIRONMENTS_DIR}/`)) {
      checkEnvironments.add(rel === ENVIRONMENTS_DIR ? '' : rel);
      continue;
    }
    const type = resourceTypeOfDir(rel);
    if (type) {
      await addTopFolder(type.kind);
      continue;
    }
    const resource = resourceOfPath(rel.includes('/') ? rel : `${rel}/`);
    if (resource) {
      targets.set(resourceId(resource), { kind: resource.kind, key: resource.key });
      continue;
    }
    if ((await reader.size!(rel)) === null && (await options.fs.promises.lstat(abs).catch(() => null)) === null) {
      other.push({ file: rel, code: 'file-ref-missing', message: `${rel} does not exist.` });
    } else {
      other.push({ file: rel, code: 'unexpected-file', message: `${rel} is not a knock-env resource (expected ${foldersPhrase()}).` });
    }
  }

  if (checkEnvironments.size > 0) {
    const slugs = await environmentsOf(options.fs, root);
    for (const file of await listEnvironmentFiles(options.fs, root, [...checkEnvironments])) {
      const text = await readIfExists(options.fs, `${root}/${file}`);
      if (text !== null) other.push(...validateEnvironmentFile(file, text.toString('utf8'), slugs));
    }
  }

  if (checkConfig) {
    const text = await readIfExists(options.fs, `${root}/${CONFIG_FILE}`);
    if (text === null) other.push({ file: CONFIG_FILE, code: 'missing-main-file', message: `${CONFIG_FILE} is missing: this is not a knock-env project.` });
    else other.push(...validateConfigText(text.toString('utf8'), CONFIG_FILE).issues);
  }

  const list = [...targets.values()].sort((a, b) => (resourceId(a) < resourceId(b) ? -1 : 1));
  // In a repository, git's index tells most files' ids without reading them; folders whose
  // tree id passed before are not validated again.
  let read = reader;
  let treeOf: (path: string) => string | undefined = () => undefined;
  let cache: ValidationCache | undefined;
  if (found && (await exists(options.fs, found.gitdir))) {
    const index = await readIndex(options.fs, found.gitdir);
    const files = await scanWorkingTree(project, index);
    treeOf = hashWorkingTree(files).treeOf;
    read = cachedReader(reader, files);
    cache = await ValidationCache.open(options.fs, found.gitdir);
  }
  const results: ValidationReport['resources'] = new Array(list.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < list.length) {
      const i = next++;
      const { kind, key } = list[i]!;
      const treeOid = resourceKeyProblem(kind, key) === null ? treeOf(`${RESOURCE_TYPES[kind].dir}/${key}`) : undefined;
      if (treeOid !== undefined && cache?.has(kind, treeOid)) {
        results[i] = { kind, key, valid: true, issues: [] };
        continue;
      }
      const { issues } = await validateResource({ kind, key, read });
      if (issues.length === 0 && treeOid !== undefined) cache?.add(kind, treeOid);
      results[i] = { kind, key, valid: issues.length === 0, issues };
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 16 }, worker));
  await cache?.save();

  // References between resources, against the keys the whole working tree holds.
  const folders: string[] = [];
  for (const type of RESOURCE_MODULES) {
    const names = await options.fs.promises.readdir(`${root}/${type.dir}`).catch(() => [] as string[]);
    for (const name of names.map(String)) folders.push(`${type.dir}/${name}/`);
  }
  const index = keyIndexOfPaths(folders, read);
  const uses = found ? await UsesCache.open(options.fs, found.gitdir) : undefined;
  for (const result of results) {
    if (resourceKeyProblem(result.kind, result.key) !== null) continue;
    const treeOid = treeOf(resourceRef(result.kind, result.key).dir);
    const problems = await referenceIssues([{ kind: result.kind, key: result.key, read, ...(treeOid ? { treeOid } : {}) }], index, uses);
    if (problems.length === 0) continue;
    result.issues = [...result.issues, ...problems];
    result.valid = false;
  }
  await uses?.save();
  return { resources: results, other, issueCount: other.length + results.reduce((n, r) => n + r.issues.length, 0) };
}

/** Environment slugs from the working tree's knock-env.yaml (empty when it is missing or unreadable). */
async function environmentsOf(fs: ValidateOptions['fs'], root: string): Promise<string[]> {
  const text = await readIfExists(fs, `${root}/${CONFIG_FILE}`);
  if (text === null) return [];
  return validateConfigText(text.toString('utf8'), CONFIG_FILE).data?.environments.map((e) => e.slug) ?? [];
}

/** Files under environments/ (or under the given sub-paths of it; '' means all), repository-relative. */
async function listEnvironmentFiles(fs: ValidateOptions['fs'], root: string, prefixes: string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const stat = await fs.promises.lstat(`${root}/${rel}`).catch(() => null);
    if (stat === null) return;
    if (!stat.isDirectory()) {
      out.push(rel);
      return;
    }
    for (const name of (await fs.promises.readdir(`${root}/${rel}`)).map(String).sort()) {
      if (!name.startsWith('.')) await walk(`${rel}/${name}`);
    }
  };
  for (const prefix of prefixes.includes('') ? [ENVIRONMENTS_DIR] : prefixes) await walk(prefix);
  return [...new Set(out)];
}

/**
 * References in the working tree a commit would write: what the changed
 * resources use, and when the change deletes a layout, partial, message type
 * or translation, what every resource of the tree uses (unchanged folders by
 * their committed tree id, read once and remembered).
 */
export async function workingTreeReferenceIssues(analysis: WorkingTreeAnalysis): Promise<ValidationIssue[]> {
  const { project, files, headTree } = analysis;
  const read = cachedReader(workingTreeReader(project), files);
  const index = keyIndexOfPaths(files.keys(), read);
  const changed = new Set(analysis.resources.map((r) => resourceId(r)));
  const users: ReferenceUser[] = analysis.resources.filter((r) => r.status !== 'deleted').map((r) => ({ kind: r.kind, key: r.key, read }));
  if (analysis.resources.some((r) => r.status === 'deleted' && USED_KINDS.has(r.kind))) {
    const seen = new Set<string>();
    for (const path of files.keys()) {
      const resource = resourceOfPath(path);
      if (resource === null || resource.keyProblem !== null || changed.has(resourceId(resource)) || seen.has(resource.dir)) continue;
      seen.add(resource.dir);
      const committed = await entryAt(project, headTree, resource.dir);
      users.push({ kind: resource.kind, key: resource.key, read, ...(committed ? { treeOid: committed.oid } : {}) });
    }
  }
  if (users.length === 0) return [];
  const cache = await UsesCache.open(project.fs, project.gitdir);
  const issues = await referenceIssues(users, index, cache);
  await cache.save();
  return issues;
}
