import { createHash } from 'node:crypto';
import { deflateSync, inflateSync } from 'node:zlib';
import { KnockEnvError } from '../errors.js';
import { errnoCode, type FileSystem } from './fs.js';
import { PackReader } from './pack.js';

export type ObjectType = 'blob' | 'tree' | 'commit' | 'tag';

export interface GitStore {
  fs: FileSystem;
  gitdir: string;
  /** One isomorphic-git cache per command, so packs are read once. */
  cache: object;
  /**
   * Further object directories read after `${gitdir}/objects` (loose objects
   * and packs), as git's alternates are: a server hook reading a push still in
   * quarantine passes the quarantine directory here. Objects are always written
   * to the primary directory.
   */
  objectDirs?: string[];
}

export const EMPTY_TREE_OID = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

export function objectBytes(type: ObjectType, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${type} ${content.length}\0`), content]);
}

export function hashObject(type: ObjectType, content: Uint8Array): string {
  return createHash('sha1').update(`${type} ${content.length}\0`).update(content).digest('hex');
}

function loosePath(store: GitStore, oid: string): string {
  return `${store.gitdir}/objects/${oid.slice(0, 2)}/${oid.slice(2)}`;
}

const knownDirs = new WeakMap<GitStore, Set<string>>();

/** Writes a loose object (if absent) and returns its id. Temp file + rename, like git. */
export async function writeObject(store: GitStore, type: ObjectType, content: Uint8Array): Promise<string> {
  const oid = hashObject(type, content);
  const path = loosePath(store, oid);
  const { fs } = store;
  const dir = `${store.gitdir}/objects/${oid.slice(0, 2)}`;
  const tmp = `${dir}/tmp_obj_${process_unique()}`;
  let dirs = knownDirs.get(store);
  if (!dirs) knownDirs.set(store, (dirs = new Set()));
  // Thousands of small objects: the synchronous calls avoid a thread-pool round trip each.
  if (fs.lstatSync && fs.writeFileSync && fs.renameSync && fs.mkdirSync) {
    try {
      fs.lstatSync(path);
      return oid;
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT') throw error;
    }
    if (!dirs.has(dir)) {
      fs.mkdirSync(dir, { recursive: true });
      dirs.add(dir);
    }
    const bytes = deflateSync(objectBytes(type, content), { level: 1 });
    try {
      fs.writeFileSync(tmp, bytes);
      fs.renameSync(tmp, path);
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT') throw error;
      // The fan-out folder was removed since it was made (`git gc` prunes empty ones): make it again.
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(tmp, bytes);
      fs.renameSync(tmp, path);
    }
    return oid;
  }
  const fsp = fs.promises;
  try {
    await fsp.lstat(path);
    return oid;
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error;
  }
  if (!dirs.has(dir)) {
    await fsp.mkdir(dir, { recursive: true });
    dirs.add(dir);
  }
  const bytes = deflateSync(objectBytes(type, content), { level: 1 });
  try {
    await fsp.writeFile(tmp, bytes);
    await fsp.rename(tmp, path);
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error;
    await fsp.mkdir(dir, { recursive: true });
    await fsp.writeFile(tmp, bytes);
    await fsp.rename(tmp, path);
  }
  return oid;
}

let counter = 0;
function process_unique(): string {
  counter += 1;
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}${counter}`;
}

const packReaders = new WeakMap<GitStore, PackReader>();

export interface RawObject {
  type: ObjectType;
  content: Buffer;
}

function inflateLoose(deflated: Buffer): RawObject {
  const raw = inflateSync(deflated);
  const space = raw.indexOf(0x20);
  const nul = raw.indexOf(0, space);
  const type = raw.subarray(0, space).toString('latin1') as ObjectType;
  return { type, content: raw.subarray(nul + 1) };
}

async function readLoose(fs: FileSystem, path: string): Promise<Buffer | null> {
  try {
    return (fs.readFileSync ? fs.readFileSync(path) : await fs.promises.readFile(path)) as Buffer;
  } catch (error) {
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return null;
    throw error;
  }
}

/** One further object directory: its loose objects and its packs. */
interface ObjectDir {
  dir: string;
  packs: PackReader;
}

const extraDirs = new WeakMap<GitStore, Promise<ObjectDir[]>>();

/**
 * The further object directories of a store: `objectDirs`, then what each
 * directory (the primary included) lists in `info/alternates`, once each.
 */
function alternatesOf(store: GitStore): Promise<ObjectDir[]> {
  let found = extraDirs.get(store);
  if (!found) {
    found = (async () => {
      const primary = `${store.gitdir}/objects`;
      const seen = new Set<string>([primary]);
      const out: ObjectDir[] = [];
      const lookup = (oid: string) => readObject(store, oid).catch(() => null);
      const add = async (dir: string, depth: number): Promise<void> => {
        const clean = dir.replace(/\/+$/, '');
        if (depth > 0 && seen.has(clean)) return;
        seen.add(clean);
        if (depth > 0) out.push({ dir: clean, packs: new PackReader(store.fs, store.gitdir, clean, lookup) });
        if (depth >= 5) return;
        const listed = await readLoose(store.fs, `${clean}/info/alternates`).catch(() => null);
        for (const line of listed?.toString('utf8').split('\n') ?? []) {
          const entry = line.trim();
          if (entry === '' || entry.startsWith('#')) continue;
          await add(entry.startsWith('/') ? entry : `${clean}/${entry}`, depth + 1);
        }
      };
      for (const dir of store.objectDirs ?? []) await add(dir, 1);
      await add(primary, 0);
      return out;
    })();
    extraDirs.set(store, found);
  }
  return found;
}

/**
 * Reads an object: loose objects and packs of the primary directory, then of
 * any further object directories (`objectDirs`, alternates), and last
 * isomorphic-git with the shared cache for a pack this reader does not handle.
 */
export async function readObject(store: GitStore, oid: string): Promise<RawObject> {
  const deflated = await readLoose(store.fs, loosePath(store, oid));
  if (deflated !== null) return inflateLoose(deflated);
  let packs = packReaders.get(store);
  if (!packs) packReaders.set(store, (packs = new PackReader(store.fs, store.gitdir)));
  let unreadable: unknown;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const packed = await packs.read(oid);
      if (packed) return packed;
    } catch (error) {
      // A pack this reader cannot make sense of: the alternates, then isomorphic-git below get the final word.
      unreadable = error;
    }
    // A miss may be a `git gc` that ran since the pack list was read: it moved the loose object into a new pack.
    if (attempt > 0 || !(await packs.refresh())) break;
    unreadable = undefined;
    const again = await readLoose(store.fs, loosePath(store, oid));
    if (again !== null) return inflateLoose(again);
  }
  for (const alternate of await alternatesOf(store)) {
    const loose = await readLoose(store.fs, `${alternate.dir}/${oid.slice(0, 2)}/${oid.slice(2)}`);
    if (loose !== null) return inflateLoose(loose);
    try {
      const packed = await alternate.packs.read(oid);
      if (packed) return packed;
    } catch (error) {
      unreadable ??= error;
    }
  }
  let fallback: RawObject | null = null;
  try {
    // isomorphic-git reads what the pack reader does not; loaded only then (it costs ~100 ms to load).
    const { default: git } = await import('isomorphic-git');
    const result = await git.readObject({ fs: store.fs, gitdir: store.gitdir, oid, cache: store.cache, format: 'content' });
    fallback = { type: result.type as ObjectType, content: Buffer.from(result.object as Uint8Array) };
  } catch (error) {
    unreadable ??= error;
  }
  // Whatever answered, the content must hash to the id asked for: a miss never passes for a hit.
  if (fallback !== null && hashObject(fallback.type, fallback.content) === oid) return fallback;
  throw new KnockEnvError('NOT_FOUND', `Git object ${oid} is missing from the repository.`, {
    hint: 'Run `git fsck` to check the repository.',
    ...(unreadable !== undefined ? { cause: unreadable } : {}),
  });
}

export async function readTyped(store: GitStore, oid: string, type: ObjectType): Promise<Buffer> {
  const object = await readObject(store, oid);
  if (object.type !== type) {
    throw new KnockEnvError('NOT_FOUND', `Git object ${oid} is a ${object.type}, expected a ${type}.`);
  }
  return object.content;
}
