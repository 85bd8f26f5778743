import { CONFIG_FILE, ENVIRONMENTS_DIR, resourceOfPath, resourceRef, type ResourceKind } from '../resources.js';
import { validateConfigText } from '../validate/config.js';
import { validateEnvironmentFile } from '../validate/environment.js';
import { sortIssues, validateResource } from '../validate/resource.js';
import type { SourceReader, ValidationIssue } from '../validate/types.js';
import { readObject, type GitStore } from '../git/objects.js';
import { entryAt, isTreeMode } from '../git/tree.js';
import { originLine, originOf } from './origin.js';

export type ChangeStatus = 'added' | 'modified' | 'deleted';

/** One changed file, as a diff of two trees (or of a tree and a working tree) gives it. */
export interface PathChange {
  path: string;
  status: ChangeStatus;
  /** The new content's blob id and mode, where known (a rollback's restoration is compared by them). */
  newOid?: string;
  newMode?: string;
}

/** One side of a change: a git tree, a working tree, or several trees read in turn. */
export interface ContentView extends SourceReader {
  /** Whether a folder exists at the path. */
  hasFolder(path: string): Promise<boolean>;
  /** The blob id and mode of a file, for comparing content without reading it; null where there is no file. */
  entry?(path: string): Promise<{ oid: string; mode: string } | null>;
}

export interface ResourceChangeClass {
  class: 'resource';
  kind: ResourceKind;
  key: string;
  dir: string;
  /** The main file. */
  file: string;
  status: ChangeStatus;
  paths: PathChange[];
  /** Whether the state before the change (or the trees ownership is read from) holds the resource. */
  claimed: boolean;
  /** origin_environment in the state before the change (null: none, or the resource is new). */
  originBefore: string | null;
  /** origin_environment the change gives it (null: none, or deleted). */
  originAfter: string | null;
}

export type ClassifiedChange =
  | ResourceChangeClass
  | { class: 'environment-file'; path: string; status: ChangeStatus; change: PathChange; environment: string }
  | { class: 'account'; path: string; status: ChangeStatus; change: PathChange }
  | { class: 'other'; path: string; status: ChangeStatus; change: PathChange }
  | { class: 'invalid-key'; path: string; status: ChangeStatus; change: PathChange; kind: ResourceKind; problem: string };

export interface ClassifyInput {
  changes: PathChange[];
  before: ContentView;
  after: ContentView;
  /** Where the origin of an existing resource is read (default: `before`); a merge or rollback reads several trees in turn. */
  claims?: ContentView;
}

/**
 * The one classifier of changed paths: resources (grouped by folder, with
 * their status and origin on both sides), environment files, the account
 * file, other paths, and paths inside a resource folder with an invalid key.
 */
export async function classifyChanges(input: ClassifyInput): Promise<ClassifiedChange[]> {
  const { before, after } = input;
  const claims = input.claims ?? before;
  const out: ClassifiedChange[] = [];
  const groups = new Map<string, ResourceChangeClass>();
  for (const change of input.changes) {
    const resource = resourceOfPath(change.path);
    if (resource) {
      if (resource.keyProblem !== null) {
        out.push({ class: 'invalid-key', path: change.path, status: change.status, change, kind: resource.kind, problem: resource.keyProblem });
        continue;
      }
      let group = groups.get(resource.dir);
      if (!group) {
        const ref = resourceRef(resource.kind, resource.key);
        group = { class: 'resource', kind: resource.kind, key: resource.key, dir: ref.dir, file: ref.file, status: 'modified', paths: [], claimed: false, originBefore: null, originAfter: null };
        groups.set(resource.dir, group);
        out.push(group);
      }
      group.paths.push(change);
    } else if (change.path === CONFIG_FILE) {
      out.push({ class: 'account', path: change.path, status: change.status, change });
    } else if (change.path.startsWith(`${ENVIRONMENTS_DIR}/`)) {
      out.push({ class: 'environment-file', path: change.path, status: change.status, change, environment: change.path.split('/')[1] ?? '' });
    } else {
      out.push({ class: 'other', path: change.path, status: change.status, change });
    }
  }
  for (const group of groups.values()) {
    const existed = await before.hasFolder(group.dir);
    const exists = await after.hasFolder(group.dir);
    group.status = !existed ? 'added' : exists ? 'modified' : 'deleted';
    group.claimed = await claims.hasFolder(group.dir);
    group.originBefore = group.claimed ? originOf(await claims.read(group.file)) : null;
    group.originAfter = exists ? originOf(await after.read(group.file)) : null;
  }
  out.sort((a, b) => compare(sortKey(a), sortKey(b)));
  return out;
}

function sortKey(c: ClassifiedChange): string {
  return c.class === 'resource' ? c.file : c.path;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface ValidateChangesOptions {
  /** The environments of the account the content is checked against, lowest first. */
  environments: string[];
  /** A verdict already known for a resource folder (e.g. from the validation cache): true skips validating it. */
  knownValid?(kind: ResourceKind, dir: string): Promise<boolean>;
  /** Told of every resource folder found valid. */
  onValid?(kind: ResourceKind, dir: string): void;
  /** Validations running at once (default 8). */
  concurrency?: number;
  /** Validates a resource through a memo (e.g. by folder id, across the refs of one push); default: validate it. */
  memo?(r: ResourceChangeClass, validate: () => Promise<ValidationIssue[]>): Promise<ValidationIssue[]>;
}

/** origin_environment must name an environment of the account (DESIGN.md §3). */
export function unknownOriginIssue(file: string, origin: string | null, environments: string[], text: Uint8Array | null): ValidationIssue | null {
  if (origin === null || environments.includes(origin)) return null;
  return {
    file,
    ...originLine(text),
    code: 'unknown-origin',
    message: `origin_environment: ${origin} names no environment of this project (${environments.join(', ')}).`,
  };
}

/**
 * The one "validate these changes" loop: every changed resource that still
 * exists (its whole folder), every changed environment file and the account
 * file, and every path with an invalid resource key. Returns every issue, sorted.
 */
export async function validateChanges(changes: ClassifiedChange[], after: ContentView, options: ValidateChangesOptions): Promise<ValidationIssue[]> {
  const issues: ValidationIssue[] = [];
  const text = async (path: string): Promise<string | null> => {
    const bytes = await after.read(path);
    return bytes === null ? null : Buffer.from(bytes).toString('utf8');
  };
  const resources: ResourceChangeClass[] = [];
  for (const c of changes) {
    switch (c.class) {
      case 'resource':
        if (c.status !== 'deleted') resources.push(c);
        break;
      case 'invalid-key':
        issues.push({ file: c.path, code: 'invalid-key', message: `"${c.path}" is not inside a valid ${c.kind} folder: ${c.problem}.` });
        break;
      case 'account': {
        const content = c.status === 'deleted' ? null : await text(c.path);
        if (content === null) issues.push({ file: c.path, code: 'missing-main-file', message: `${CONFIG_FILE} is deleted: the repository would no longer be a knock-env project.` });
        else issues.push(...validateConfigText(content, CONFIG_FILE).issues);
        break;
      }
      case 'environment-file': {
        const content = c.status === 'deleted' ? null : await text(c.path);
        if (content !== null) issues.push(...validateEnvironmentFile(c.path, content, options.environments));
        else if (!options.environments.includes(c.environment)) issues.push({ file: c.path, code: 'invalid-key', message: `"${c.environment}" is not an environment of this project.` });
        break;
      }
      case 'other':
        break;
    }
  }
  const found: ValidationIssue[][] = new Array(resources.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < resources.length) {
      const i = next++;
      const r = resources[i]!;
      const own: ValidationIssue[] = [];
      if (!(await options.knownValid?.(r.kind, r.dir))) {
        const validate = async () => (await validateResource({ kind: r.kind, key: r.key, read: after })).issues;
        own.push(...(options.memo ? await options.memo(r, validate) : await validate()));
        if (own.length === 0) options.onValid?.(r.kind, r.dir);
      }
      const unknown = unknownOriginIssue(r.file, r.originAfter, options.environments, r.originAfter === null ? null : await after.read(r.file));
      if (unknown) own.push(unknown);
      found[i] = own;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 8) }, worker));
  issues.push(...found.flat());
  return sortIssues(issues);
}

/** The issues of one resource, from a list of issues of many. */
export function issuesOfResource(issues: ValidationIssue[], r: { dir: string }): ValidationIssue[] {
  return issues.filter((i) => i.file === r.dir || i.file.startsWith(`${r.dir}/`));
}

/** A git tree as one side of a change; null stands for no tree (nothing exists). */
export function treeView(store: GitStore, tree: string | null): ContentView {
  const at = (path: string) => (tree === null ? Promise.resolve(null) : entryAt(store, tree, path));
  return {
    read: async (path) => {
      const entry = await at(path);
      return entry && !isTreeMode(entry.mode) ? (await readObject(store, entry.oid)).content : null;
    },
    hasFolder: async (path) => {
      const entry = await at(path);
      return entry !== null && isTreeMode(entry.mode);
    },
    entry: async (path) => {
      const entry = await at(path);
      return entry && !isTreeMode(entry.mode) ? { oid: entry.oid, mode: entry.mode } : null;
    },
  };
}

/**
 * Several trees read in turn: a folder comes from the first that has it
 * (ownership is judged by the first tree that holds the resource).
 */
export function layeredView(views: ContentView[]): ContentView {
  const first = async (dir: string): Promise<ContentView | null> => {
    for (const view of views) if (await view.hasFolder(dir)) return view;
    return null;
  };
  const folderOf = (path: string) => path.split('/').slice(0, 2).join('/');
  return {
    read: async (path) => (await first(folderOf(path)))?.read(path) ?? views[0]?.read(path) ?? null,
    hasFolder: async (path) => (await first(path)) !== null,
  };
}
