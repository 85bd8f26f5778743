import { classifyChanges, issuesOfResource, treeView, validateChanges, type ClassifiedChange, type ContentView } from '../policy/changes.js';
import { authorizeRead } from '../access.js';
import type { CoreOptions } from '../context.js';
import { readCommit } from '../git/commit.js';
import { readIndex, type GitIndex } from '../git/gitindex.js';
import {
  checkedOutEnvironment,
  environmentSlugs,
  headOf,
  loadConfig,
  openProject,
  type Project,
} from '../project.js';
import { resourceId, type ResourceKind } from '../resources.js';
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
  /** The same changes as the policy classifies them, and the working tree as the side they lead to. */
  classified: ClassifiedChange[];
  after: ContentView;
}

export { originOf } from '../policy/origin.js';

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

  const reader = cachedReader(workingTreeReader(project), files);
  const presentDirs = new Set<string>();
  for (const path of files.keys()) {
    const second = path.indexOf('/', path.indexOf('/') + 1);
    if (second > 0) presentDirs.add(path.slice(0, second));
  }
  const after: ContentView = { read: (path) => reader.read(path), hasFolder: async (path) => presentDirs.has(path) };
  // Only the managed areas are compared with the head, so nothing of class "other" turns up.
  const classified = (await classifyChanges({ changes, before: treeView(project, headTree), after })).filter((c) => c.class !== 'other');
  const environments = environmentSlugs(config);
  const issues = await validateChanges(classified, after, {
    environments,
    concurrency: 16,
    knownValid: async (kind, dir) => {
      const treeOid = ids.treeOf(dir);
      return treeOid !== undefined && cache.has(kind, treeOid);
    },
    onValid: (kind, dir) => {
      const treeOid = ids.treeOf(dir);
      if (treeOid !== undefined) cache.add(kind, treeOid);
    },
  });
  const byPath = new Map(changes.map((c) => [c.path, c]));
  const resources: ResourceChange[] = [];
  const others: OtherChange[] = [];
  for (const c of classified) {
    if (c.class === 'resource') {
      resources.push({
        kind: c.kind,
        key: c.key,
        status: c.status,
        paths: c.paths.map((p) => byPath.get(p.path)!),
        committedOrigin: c.originBefore,
        workingOrigin: c.originAfter,
        issues: issuesOfResource(issues, c),
      });
    } else {
      const scope = c.class === 'environment-file' ? 'environment' : c.class === 'account' ? 'account' : 'invalid-path';
      others.push({ scope, ...(c.class === 'environment-file' ? { environment: c.environment } : {}), change: byPath.get(c.path)!, issues: issues.filter((i) => i.file === c.path) });
    }
  }
  await cache.save();
  resources.sort((a, b) => (resourceId(a) < resourceId(b) ? -1 : 1));
  return { project, config, environments, environment, head, headTree, index, files, cache, resources, others, classified, after };
}
