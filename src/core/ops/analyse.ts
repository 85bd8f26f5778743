import { yamlLib } from '../yaml-lib.js';
import { authorizeRead } from '../access.js';
import type { CoreOptions } from '../context.js';
import { readCommit } from '../git/commit.js';
import { readIndex, type GitIndex } from '../git/gitindex.js';
import { readObject } from '../git/objects.js';
import { entryAt } from '../git/tree.js';
import {
  checkedOutEnvironment,
  environmentSlugs,
  headOf,
  loadConfig,
  openProject,
  type Project,
} from '../project.js';
import { CONFIG_FILE, ENVIRONMENTS_DIR, RESOURCE_TYPES, resourceOfPath, resourceId, type ResourceKind } from '../resources.js';
import { validateEnvironmentFile } from '../validate/environment.js';
import { validateResource } from '../validate/resource.js';
import type { ValidationIssue } from '../validate/types.js';
import type { KnockEnvConfig } from '../validate/config.js';
import { ValidationCache } from '../validation-cache.js';
import {
  cachedReader,
  diffAgainstIndex,
  diffWorkingTree,
  hashWorkingTree,
  indexStamp,
  readIndexStamp,
  scanWorkingTree,
  workingTreeReader,
  type WorkingChange,
  type WorkingFile,
  type WorkingTreeIds,
} from '../worktree.js';

export type ChangeStatus = 'added' | 'modified' | 'deleted';

export interface ResourceChange {
  kind: ResourceKind;
  key: string;
  status: ChangeStatus;
  paths: WorkingChange[];
  /** origin_environment of the committed version (null for a new resource). */
  committedOrigin: string | null;
  /** origin_environment as the working tree has it. */
  workingOrigin: string | null;
  issues: ValidationIssue[];
}

export interface OtherChange {
  scope: 'environment' | 'account' | 'invalid-path';
  /** The environment owning the path, for scope "environment". */
  environment?: string;
  change: WorkingChange;
  issues: ValidationIssue[];
}

export interface WorkingTreeAnalysis {
  project: Project;
  config: KnockEnvConfig;
  environments: string[];
  environment: string;
  head: string;
  headTree: string;
  index: GitIndex;
  files: Map<string, WorkingFile>;
  /** Verdicts of earlier validations, by resource tree id. */
  cache: ValidationCache;
  resources: ResourceChange[];
  others: OtherChange[];
}

const ORIGIN_LINE = /^origin_environment:[ \t]*(["']?)([a-z0-9][a-z0-9_-]*)\1[ \t]*(?:#.*)?$/m;

/**
 * Reads origin_environment without full validation; null when absent or
 * unreadable. A key at column 0 of a block mapping is a top-level key, so a
 * line match settles it without parsing; anything unusual is parsed.
 */
export function originOf(text: string | Uint8Array | null): string | null {
  if (text === null) return null;
  const source = typeof text === 'string' ? text : Buffer.from(text).toString('utf8');
  const match = ORIGIN_LINE.exec(source);
  if (match) return match[2]!;
  if (!source.includes('origin_environment')) return null;
  try {
    const data = yamlLib().parse(source, { maxAliasCount: 100 }) as unknown;
    const origin = (data as { origin_environment?: unknown } | null)?.origin_environment;
    return typeof origin === 'string' ? origin : null;
  } catch {
    return null;
  }
}

/** What the working tree changes against the checked-out environment's head, grouped by resource and validated. */
export async function analyseWorkingTree(options: Pick<CoreOptions, 'fs' | 'dir'> & Partial<Pick<CoreOptions, 'actor' | 'apiKey'>>, only?: (path: string) => boolean): Promise<WorkingTreeAnalysis> {
  const project = await openProject(options);
  const config = await loadConfig(project);
  const environment = await checkedOutEnvironment(project, config);
  authorizeRead(config, options.actor, options.apiKey, [environment]);
  const head = await headOf(project, environment);
  const headTree = (await readCommit(project, head)).tree;
  const index = await readIndex(project.fs, project.gitdir);
  const files = await scanWorkingTree(project, index);
  // When the index is known to match the head (knock-env made it so and nothing changed it since),
  // comparing with the index is enough; otherwise tree ids are computed and compared with the head's.
  const trusted = (await readIndexStamp(project)) === indexStamp(index, environment, head);
  let ids: WorkingTreeIds;
  let all: WorkingChange[];
  if (trusted) {
    all = diffAgainstIndex(files, index);
    ids = hashWorkingTree(files, new Set(all.map((c) => c.path.split('/', 2).join('/'))));
  } else {
    ids = hashWorkingTree(files);
    all = await diffWorkingTree(project, files, headTree, ids);
  }
  const cache = await ValidationCache.open(project.fs, project.gitdir);
  const changes = only ? all.filter((c) => only(c.path)) : all;

  const grouped = new Map<string, { kind: ResourceKind; key: string; paths: WorkingChange[] }>();
  const others: OtherChange[] = [];
  for (const change of changes) {
    const resource = resourceOfPath(change.path);
    if (resource) {
      if (resource.keyProblem !== null) {
        others.push({
          scope: 'invalid-path',
          change,
          issues: [{ file: change.path, code: 'invalid-key', message: `"${change.path}" is not inside a valid ${resource.kind} folder: ${resource.keyProblem}.` }],
        });
        continue;
      }
      const id = resourceId(resource);
      let group = grouped.get(id);
      if (!group) grouped.set(id, (group = { kind: resource.kind, key: resource.key, paths: [] }));
      group.paths.push(change);
    } else if (change.path === CONFIG_FILE) {
      others.push({ scope: 'account', change, issues: [] });
    } else if (change.path.startsWith(`${ENVIRONMENTS_DIR}/`)) {
      const env = change.path.split('/')[1] ?? '';
      const content = change.status === 'deleted' ? null : (change.file?.content ?? (await workingTreeReader(project).read(change.path)));
      const issues: ValidationIssue[] =
        content === null
          ? environmentSlugs(config).includes(env)
            ? []
            : [{ file: change.path, code: 'invalid-key', message: `"${env}" is not an environment of this project.` }]
          : validateEnvironmentFile(change.path, Buffer.from(content).toString('utf8'), environmentSlugs(config));
      others.push({ scope: 'environment', environment: env, change, issues });
    }
  }

  const reader = cachedReader(workingTreeReader(project), files);
  const presentDirs = new Set<string>();
  for (const path of files.keys()) {
    const second = path.indexOf('/', path.indexOf('/') + 1);
    if (second > 0) presentDirs.add(path.slice(0, second));
  }
  const groups = [...grouped.values()];
  const resources: ResourceChange[] = new Array(groups.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < groups.length) {
      const i = next++;
      const group = groups[i]!;
      const type = RESOURCE_TYPES[group.kind];
      const mainPath = `${type.dir}/${group.key}/${type.file}`;
      const committedEntry = await entryAt(project, headTree, `${type.dir}/${group.key}`);
      const existed = committedEntry !== null;
      const existsNow = presentDirs.has(`${type.dir}/${group.key}`);
      const status: ChangeStatus = !existed ? 'added' : existsNow ? 'modified' : 'deleted';
      const committedMain = existed ? await entryAt(project, headTree, mainPath) : null;
      const committedOrigin = committedMain ? originOf((await readObject(project, committedMain.oid)).content) : null;
      let issues: ValidationIssue[] = [];
      let workingOrigin: string | null = null;
      const treeOid = ids.treeOf(`${type.dir}/${group.key}`);
      if (status !== 'deleted' && treeOid !== undefined && cache.has(group.kind, treeOid)) {
        workingOrigin = originOf(await reader.read(mainPath));
      } else if (status !== 'deleted') {
        const validation = await validateResource({ kind: group.kind, key: group.key, read: reader });
        issues = validation.issues;
        if (issues.length === 0 && treeOid !== undefined) cache.add(group.kind, treeOid);
        const origin = validation.data?.origin_environment;
        workingOrigin = typeof origin === 'string' ? origin : validation.data ? null : files.has(mainPath) ? originOf(await reader.read(mainPath)) : null;
      }
      resources[i] = { kind: group.kind, key: group.key, status, paths: group.paths, committedOrigin, workingOrigin, issues };
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  await cache.save();
  resources.sort((a, b) => (resourceId(a) < resourceId(b) ? -1 : 1));
  return { project, config, environments: environmentSlugs(config), environment, head, headTree, index, files, cache, resources, others };
}
