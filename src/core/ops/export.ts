import { resolve } from 'node:path';
import type { CoreOptions } from '../context.js';
import { isKnockEnvError, KnockEnvError } from '../errors.js';
import { readCommit } from '../git/commit.js';
import { errnoCode } from '../git/fs.js';
import { readObject } from '../git/objects.js';
import { entryAt, isTreeMode, listFiles, MODE_EXEC, MODE_FILE, readTree } from '../git/tree.js';
import { describeKey } from '../keys.js';
import { copyFolderFiles, filesToKnockResource } from '../knock-format/export.js';
import { authorizeRead } from '../access.js';
import { checkedOutEnvironment, headOf, loadConfig, openProject, requireEnvironment } from '../project.js';
import { MANAGED_TOP_LEVEL, RESOURCE_KINDS, RESOURCE_TYPES, resourceKeyProblem, resourceRef, type ResourceKind } from '../resources.js';

export interface ExportOptions extends Pick<CoreOptions, 'fs' | 'dir'>, Partial<Pick<CoreOptions, 'actor' | 'apiKey'>> {
  /** The folder to write the Knock CLI's layout into; relative to `dir`. */
  target: string;
  /** Environment to export; default: the checked-out one. */
  environment?: string;
  /** Write into a folder that is not empty (resource folders written are replaced). */
  force?: boolean;
}

/** Why a committed resource was skipped: an invalid folder name, a file where a folder belongs, or content that does not convert. */
export type ExportSkipCode = 'invalid-key' | 'not-a-folder' | 'invalid-resource';

export interface ExportedResource {
  kind: ResourceKind;
  /** The folder name in the environment's tree (it may be an invalid key when skipped). */
  key: string;
  status: 'exported' | 'skipped';
  /** Why it was skipped: a stable code and a sentence. */
  code?: ExportSkipCode;
  reason?: string;
  /** Folder written, relative to the target, e.g. workflows/welcome. */
  dir?: string;
  /** Files written, relative to the target. */
  files: string[];
  /** What could not be carried over as it was: comments, files that are not regular files. */
  notes: string[];
}

export interface ExportResult {
  environment: string;
  /** The commit exported: the environment's head. */
  commit: string;
  /** Absolute path of the folder written. */
  target: string;
  resources: ExportedResource[];
  exported: number;
  skipped: number;
}

function isInside(path: string, folder: string): boolean {
  return path === folder || path.startsWith(`${folder}/`);
}

/**
 * Writes the resources of an environment, as committed at its head (never
 * the working tree), in the Knock CLI's layout each type module declares
 * (e.g. workflows/<key>/workflow.json) plus every file
 * they reference, byte for byte. Refuses a target that is not empty unless
 * `force`, and any target that overlaps the project's own managed files.
 */
export async function exportEnvironment(options: ExportOptions): Promise<ExportResult> {
  const project = await openProject(options);
  const config = await loadConfig(project);
  const environment = options.environment ?? (await checkedOutEnvironment(project, config));
  requireEnvironment(config, environment);
  authorizeRead(config, options.actor, options.apiKey, [environment]);
  const commit = await headOf(project, environment);
  const tree = (await readCommit(project, commit)).tree;

  const target = resolve(options.dir, options.target);
  const root = project.dir;
  const overlaps =
    isInside(root, target) ||
    isInside(target, project.gitdir) ||
    MANAGED_TOP_LEVEL.some((top) => isInside(target, `${root}/${top}`));
  if (overlaps) {
    throw new KnockEnvError('REFUSED', `${target} overlaps the project's own files; an export there could overwrite them.`, {
      hint: 'Export into a folder of its own, for example `knock-env export ../knock` or `knock-env export knock`.',
      data: { target },
    });
  }
  await prepareTarget(options, target);

  const resources: ExportedResource[] = [];
  for (const kind of RESOURCE_KINDS) {
    const type = RESOURCE_TYPES[kind];
    const folder = await entryAt(project, tree, type.dir);
    if (folder === null || !isTreeMode(folder.mode)) continue;
    for (const entry of await readTree(project, folder.oid)) {
      const key = entry.name;
      const notes: string[] = [];
      const skipped = (code: ExportSkipCode, reason: string): ExportedResource => ({ kind, key, status: 'skipped', code, reason, files: [], notes });
      // The name is judged before any path is built from it: plain git can commit anything.
      const problem = resourceKeyProblem(kind, key);
      if (problem !== null) {
        resources.push(skipped('invalid-key', `invalid ${type.noun} key ${describeKey(key)}: ${problem}`));
        continue;
      }
      if (!isTreeMode(entry.mode)) {
        resources.push(skipped('not-a-folder', `${type.dir}/${key} is a file; ${type.dir}/ holds one folder per ${type.noun}`));
        continue;
      }
      const files = new Map<string, Uint8Array>();
      for (const file of await listFiles(project, entry.oid)) {
        if (file.mode !== MODE_FILE && file.mode !== MODE_EXEC) {
          notes.push(`${file.path} is not a regular file (mode ${file.mode}); not exported.`);
          continue;
        }
        files.set(file.path, (await readObject(project, file.oid)).content);
      }
      let converted: { files: Map<string, Uint8Array>; notes: string[] };
      try {
        converted = type.knock.format === 'files' ? copyFolderFiles(kind, key, files) : filesToKnockResource(kind, key, files);
      } catch (error) {
        if (isKnockEnvError(error)) {
          resources.push(skipped('invalid-resource', error.message));
          continue;
        }
        throw error;
      }
      notes.push(...converted.notes);
      const ref = resourceRef(kind, key);
      const folderPath = `${target}/${ref.dir}`;
      // With --force, a resource folder ends up exactly as exported: stale files do not linger.
      await options.fs.promises.rm(folderPath, { recursive: true, force: true });
      const written: string[] = [];
      for (const [path, content] of converted.files) {
        const abs = `${folderPath}/${path}`;
        await options.fs.promises.mkdir(abs.slice(0, abs.lastIndexOf('/')), { recursive: true });
        await options.fs.promises.writeFile(abs, content);
        written.push(`${ref.dir}/${path}`);
      }
      resources.push({ kind, key, status: 'exported', dir: ref.dir, files: written, notes });
    }
  }
  const exported = resources.filter((r) => r.status === 'exported').length;
  return { environment, commit, target, resources, exported, skipped: resources.length - exported };
}

async function prepareTarget(options: ExportOptions, target: string): Promise<void> {
  let names: string[];
  try {
    names = (await options.fs.promises.readdir(target)).map(String);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') {
      await options.fs.promises.mkdir(target, { recursive: true });
      return;
    }
    if (errnoCode(error) === 'ENOTDIR') {
      throw new KnockEnvError('REFUSED', `${target} is a file, not a folder.`, {
        hint: 'Choose a folder to export into.',
        data: { target },
      });
    }
    throw error;
  }
  if (names.length > 0 && !options.force) {
    throw new KnockEnvError('REFUSED', `${target} is not empty.`, {
      hint: 'Choose an empty or new folder, or pass --force to write into it (the exported resource folders are replaced, nothing else is touched).',
      data: { target, entries: names.length },
    });
  }
}
