import type * as NodeFs from 'node:fs';

/**
 * The file-system surface the engine needs: node's `fs` or memfs's volume
 * both satisfy it, so the same core runs on disk and in memory.
 */
export type FsPromises = typeof NodeFs.promises;

export interface FileSystem {
  promises: FsPromises;
  /**
   * Synchronous stat and directory listing, when the file system has them
   * (node's and memfs's do). Scanning thousands of small files is several
   * times faster with them than through the promise API's thread pool.
   */
  lstatSync?: typeof NodeFs.lstatSync;
  readdirSync?: typeof NodeFs.readdirSync;
  readFileSync?: typeof NodeFs.readFileSync;
  writeFileSync?: typeof NodeFs.writeFileSync;
  renameSync?: typeof NodeFs.renameSync;
  mkdirSync?: typeof NodeFs.mkdirSync;
}

export function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error
    ? String((error as { code: unknown }).code)
    : undefined;
}

export async function exists(fs: FileSystem, path: string): Promise<boolean> {
  try {
    await fs.promises.lstat(path);
    return true;
  } catch (error) {
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return false;
    throw error;
  }
}

export async function readIfExists(fs: FileSystem, path: string): Promise<Buffer | null> {
  try {
    return (await fs.promises.readFile(path)) as Buffer;
  } catch (error) {
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR' || errnoCode(error) === 'EISDIR') return null;
    throw error;
  }
}

/** Write a file so that a crash leaves either the old or the new content: temp file, sync, rename. */
export async function writeFileAtomic(fs: FileSystem, path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${Math.random().toString(36).slice(2)}`;
  const handle = await fs.promises.open(tmp, 'wx');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.promises.rename(tmp, path);
}
