import { resolve } from 'node:path';
import type { CoreOptions } from '../context.js';
import { isKnockEnvError, KnockEnvError } from '../errors.js';
import { errnoCode } from '../git/fs.js';
import { describeKey, keyProblem } from '../keys.js';
import { knockResourceToFiles, KNOCK_MAIN_FILE } from '../knock-format/import.js';
import { openProject } from '../project.js';
import { RESOURCE_KINDS, RESOURCE_TYPES, resourceRef, type ResourceKind } from '../resources.js';
import { LIMITS } from '../validate/limits.js';

/** Folders of the Knock CLI's layout that knock-env does not manage (yet). */
export const UNMANAGED_KNOCK_DIRS: Record<string, string> = {
  partials: 'partials',
  'message-types': 'message types',
  message_types: 'message types',
  layouts: 'email layouts',
  'email-layouts': 'email layouts',
  translations: 'translations',
};

export interface ImportOptions extends Pick<CoreOptions, 'fs' | 'dir'> {
  /** The folder in the Knock CLI's layout (workflows/<key>/workflow.json, guides/<key>/guide.json); relative to `dir`. */
  source: string;
  /** Replace resource folders that already exist in the working tree. */
  force?: boolean;
}

/**
 * Why a resource was skipped: its folder name is not a valid key, it is not
 * a folder, its content cannot be converted (no main file, invalid JSON, a
 * file over the size limit), or it exists in the working tree (pass --force).
 */
export type ImportSkipCode = 'invalid-key' | 'not-a-folder' | 'invalid-resource' | 'exists';

export interface ImportedResource {
  kind: ResourceKind;
  /** The folder name in the source, as found (it may be an invalid key when skipped). */
  key: string;
  status: 'imported' | 'skipped';
  /** Why it was skipped: a stable code and a sentence. */
  code?: ImportSkipCode;
  reason?: string;
  /** Project folder written, e.g. workflows/welcome. */
  dir?: string;
  /** Files written, relative to the project root. */
  files: string[];
  /** Whether an existing folder was replaced (--force). */
  replaced?: boolean;
  /** What could not be carried over as it was: dropped fields, unreferenced or unreadable files. */
  notes: string[];
}

export interface ImportResult {
  /** Absolute path of the source folder. */
  source: string;
  /** Absolute path of the project the resources were written into. */
  project: string;
  resources: ImportedResource[];
  /** Entries of the source that are not workflows or guides. */
  notImported: { path: string; reason: string }[];
  imported: number;
  skipped: number;
}

interface SourceEntry {
  name: string;
  kind: 'dir' | 'file' | 'link' | 'other';
}

async function listEntries(options: Pick<CoreOptions, 'fs'>, dir: string): Promise<SourceEntry[]> {
  const dirents = await options.fs.promises.readdir(dir, { withFileTypes: true });
  return dirents
    .map((d) => ({
      name: String(d.name),
      kind: d.isSymbolicLink() ? ('link' as const) : d.isDirectory() ? ('dir' as const) : d.isFile() ? ('file' as const) : ('other' as const),
    }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** A file or folder name that can be used as a path segment as it is. */
function unsafeName(name: string): boolean {
  return name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\\') || name.includes('\0');
}

/**
 * Reads every regular file of a resource folder, relative to it. Symbolic
 * links are not followed (an import must not pull in files from elsewhere),
 * and hidden files (.DS_Store) are left out; both are noted.
 */
async function readResourceFolder(
  options: Pick<CoreOptions, 'fs'>,
  root: string,
  notes: string[],
): Promise<{ files: Map<string, Uint8Array> } | { problem: string }> {
  const files = new Map<string, Uint8Array>();
  const walk = async (relative: string): Promise<string | null> => {
    for (const entry of await listEntries(options, relative === '' ? root : `${root}/${relative}`)) {
      const path = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (unsafeName(entry.name)) {
        notes.push(`${JSON.stringify(path)} has a name that cannot be a path; not imported.`);
        continue;
      }
      if (entry.name.startsWith('.')) {
        notes.push(`${path} is a hidden file; not imported.`);
        continue;
      }
      if (entry.kind === 'link') {
        notes.push(`${path} is a symbolic link; not followed, not imported.`);
        continue;
      }
      if (entry.kind === 'other') {
        notes.push(`${path} is not a regular file; not imported.`);
        continue;
      }
      if (entry.kind === 'dir') {
        const problem = await walk(path);
        if (problem !== null) return problem;
        continue;
      }
      const abs = `${root}/${path}`;
      const stat = await options.fs.promises.lstat(abs);
      if (stat.size > LIMITS.maxReferencedFileBytes) {
        return `${path} is ${stat.size} bytes, over the limit of ${LIMITS.maxReferencedFileBytes} for a resource file`;
      }
      files.set(path, (await options.fs.promises.readFile(abs)) as Uint8Array);
    }
    return null;
  };
  const problem = await walk('');
  return problem === null ? { files } : { problem };
}

async function pathKind(options: Pick<CoreOptions, 'fs'>, path: string): Promise<'dir' | 'other' | null> {
  try {
    const stat = await options.fs.promises.lstat(path);
    return stat.isDirectory() ? 'dir' : 'other';
  } catch (error) {
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return null;
    throw error;
  }
}

/**
 * Imports a folder in the Knock CLI's layout into the working tree of the
 * project: each workflow and guide becomes a knock-env resource folder
 * (workflow.yaml or guide.yaml plus the files its `@` fields reference).
 * Nothing is committed; `knock-env commit` does that. Every source folder
 * name is checked as a key before any path is built from it; a resource
 * folder that already exists in the working tree is skipped unless `force`.
 */
export async function importKnockDirectory(options: ImportOptions): Promise<ImportResult> {
  const project = await openProject(options);
  const root = project.dir;
  const source = resolve(options.dir, options.source);
  const sourceKind = await pathKind(options, source);
  if (sourceKind !== 'dir') {
    throw new KnockEnvError('NOT_FOUND', `${source} ${sourceKind === null ? 'does not exist' : 'is not a folder'}.`, {
      hint: 'Point the import at the folder the Knock CLI pulled into: the one holding workflows/ and guides/.',
      data: { source },
    });
  }
  const insideManaged = RESOURCE_KINDS.some((k) => {
    const managed = `${root}/${RESOURCE_TYPES[k].dir}`;
    return source === managed || source.startsWith(`${managed}/`);
  });
  if (source === root || insideManaged) {
    throw new KnockEnvError('REFUSED', `${source} is this project's own resource folders; there is nothing to import from it.`, {
      hint: 'Point the import at a folder in the Knock CLI\'s layout (pulled with `knock pull --all`), outside workflows/ and guides/.',
      data: { source },
    });
  }

  const top = await listEntries(options, source);
  const kindDirs = new Map<ResourceKind, string>();
  const notImported: ImportResult['notImported'] = [];
  for (const entry of top) {
    const kind = RESOURCE_KINDS.find((k) => RESOURCE_TYPES[k].dir === entry.name);
    if (kind !== undefined && entry.kind === 'dir') {
      kindDirs.set(kind, entry.name);
      continue;
    }
    // .git, .DS_Store and the like are not part of what the Knock CLI writes.
    if (entry.name.startsWith('.')) continue;
    const unmanaged = UNMANAGED_KNOCK_DIRS[entry.name];
    let reason: string;
    if (kind !== undefined) reason = entry.kind === 'link' ? 'a symbolic link; not followed' : 'not a folder';
    else if (unmanaged !== undefined && entry.kind === 'dir') reason = `knock-env does not manage ${unmanaged} yet`;
    else reason = entry.kind === 'dir' ? 'not a folder of workflows or guides' : 'not a Knock resource folder';
    notImported.push({ path: entry.kind === 'dir' ? `${entry.name}/` : entry.name, reason });
  }
  if (kindDirs.size === 0) {
    const looksLikeResource = top.some((e) => Object.values(KNOCK_MAIN_FILE).includes(e.name));
    throw new KnockEnvError('NOT_FOUND', `${source} has no workflows/ or guides/ folder.`, {
      hint: looksLikeResource
        ? 'That is one resource folder; point the import at the folder two levels up, the one holding workflows/ and guides/.'
        : 'Point the import at the folder the Knock CLI pulled into: workflows/<key>/workflow.json, guides/<key>/guide.json.',
      data: { source, notImported },
    });
  }

  const resources: ImportedResource[] = [];
  for (const kind of RESOURCE_KINDS) {
    const folder = kindDirs.get(kind);
    if (folder === undefined) continue;
    for (const entry of await listEntries(options, `${source}/${folder}`)) {
      resources.push(await importOne(options, root, source, kind, folder, entry));
    }
  }
  const imported = resources.filter((r) => r.status === 'imported').length;
  return { source, project: root, resources, notImported, imported, skipped: resources.length - imported };
}

async function importOne(
  options: ImportOptions,
  root: string,
  source: string,
  kind: ResourceKind,
  folder: string,
  entry: SourceEntry,
): Promise<ImportedResource> {
  const key = entry.name;
  const notes: string[] = [];
  const skipped = (code: ImportSkipCode, reason: string): ImportedResource => ({ kind, key, status: 'skipped', code, reason, files: [], notes });
  // The name is judged before any path is built from it.
  const problem = keyProblem(key);
  if (problem !== null) return skipped('invalid-key', `invalid ${kind} key ${describeKey(key)}: ${problem}; keys match ^[a-z0-9][a-z0-9_-]{2,254}$`);
  if (entry.kind === 'link') return skipped('not-a-folder', `${folder}/${key} is a symbolic link; not followed`);
  if (entry.kind !== 'dir') return skipped('not-a-folder', `${folder}/${key} is a file; ${folder}/ holds one folder per ${kind}`);

  const read = await readResourceFolder(options, `${source}/${folder}/${key}`, notes);
  if ('problem' in read) return skipped('invalid-resource', read.problem);
  let converted: { files: Map<string, Uint8Array>; notes: string[] };
  try {
    converted = knockResourceToFiles(kind, key, read.files);
  } catch (error) {
    if (isKnockEnvError(error)) return skipped('invalid-resource', error.message);
    throw error;
  }
  notes.push(...converted.notes);

  const ref = resourceRef(kind, key);
  const target = `${root}/${ref.dir}`;
  const existing = await pathKind(options, target);
  if (existing !== null && !options.force) {
    return skipped('exists', `${ref.dir} already exists in the working tree; pass --force to replace it`);
  }
  // Replacing means the folder ends up as the source has it: files it no longer has do not linger.
  if (existing !== null) await options.fs.promises.rm(target, { recursive: true, force: true });
  const files: string[] = [];
  for (const [path, content] of converted.files) {
    const abs = `${target}/${path}`;
    await options.fs.promises.mkdir(abs.slice(0, abs.lastIndexOf('/')), { recursive: true });
    await options.fs.promises.writeFile(abs, content);
    files.push(`${ref.dir}/${path}`);
  }
  return { kind, key, status: 'imported', dir: ref.dir, files, ...(existing !== null ? { replaced: true } : {}), notes };
}
