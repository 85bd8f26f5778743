import { createHash } from 'node:crypto';
import { KnockEnvError } from '../errors.js';
import { errnoCode, readIfExists, type FileSystem } from './fs.js';
import { compareNames } from './tree.js';

/** One entry of git's index (the staging area), with the stat data git compares. */
export interface IndexEntry {
  path: string;
  oid: string;
  mode: number;
  ctimeSec: number;
  ctimeNsec: number;
  mtimeSec: number;
  mtimeNsec: number;
  dev: number;
  ino: number;
  uid: number;
  gid: number;
  size: number;
  /** 0 normally; 1-3 for unresolved merge conflicts. */
  stage: number;
  /** Extended flags (skip-worktree, intent-to-add): version 3 and above. */
  extended: number;
  assumeValid: boolean;
}

export interface GitIndex {
  entries: Map<string, IndexEntry>;
  /** Entries in conflict (stage > 0): committing is refused while there are any. */
  conflicts: string[];
  /** mtime of the index file in nanoseconds, for git's racy-clean rule. */
  mtimeNs: bigint;
}

const UNSUPPORTED_EXTENSIONS: Record<string, string> = {
  link: 'a split index (run `git update-index --no-split-index`)',
  sdir: 'a sparse index (run `git sparse-checkout disable`)',
};

export async function readIndex(fs: FileSystem, gitdir: string): Promise<GitIndex> {
  const path = `${gitdir}/index`;
  const buffer = await readIfExists(fs, path);
  if (buffer === null) return { entries: new Map(), conflicts: [], mtimeNs: 0n };
  const stat = await fs.promises.stat(path, { bigint: true });
  return { ...parseIndex(buffer), mtimeNs: stat.mtimeNs };
}

export function parseIndex(buffer: Buffer): Omit<GitIndex, 'mtimeNs'> {
  const fail = (why: string) =>
    new KnockEnvError('UNSUPPORTED_REPOSITORY', `The git index cannot be read: ${why}.`, {
      hint: 'Run `git status` to let git rewrite it, then retry.',
    });
  if (buffer.length < 32 || buffer.toString('latin1', 0, 4) !== 'DIRC') throw fail('bad signature');
  const version = buffer.readUInt32BE(4);
  if (version < 2 || version > 4) throw fail(`unknown version ${version}`);
  const count = buffer.readUInt32BE(8);
  const end = buffer.length - 20;
  const expected = createHash('sha1').update(buffer.subarray(0, end)).digest('hex');
  if (expected !== buffer.toString('hex', end)) throw fail('checksum mismatch');
  const entries = new Map<string, IndexEntry>();
  const conflicts: string[] = [];
  let offset = 12;
  let previousPath = '';
  for (let i = 0; i < count; i++) {
    const start = offset;
    const flags = buffer.readUInt16BE(start + 60);
    let extended = 0;
    offset = start + 62;
    if (flags & 0x4000) {
      extended = buffer.readUInt16BE(offset);
      offset += 2;
    }
    let path: string;
    if (version === 4) {
      let strip = 0;
      let byte: number;
      let first = true;
      do {
        byte = buffer[offset++]!;
        if (!first) strip += 1;
        strip = (strip << 7) | (byte & 0x7f);
        first = false;
      } while (byte & 0x80);
      const nul = buffer.indexOf(0, offset);
      const prefix = Buffer.from(previousPath, 'utf8');
      path = Buffer.concat([prefix.subarray(0, prefix.length - strip), buffer.subarray(offset, nul)]).toString('utf8');
      offset = nul + 1;
    } else {
      const nul = buffer.indexOf(0, offset);
      path = buffer.toString('utf8', offset, nul);
      const length = nul - start;
      offset = start + Math.ceil((length + 1) / 8) * 8;
    }
    previousPath = path;
    const stage = (flags >> 12) & 0x3;
    if (stage !== 0) {
      conflicts.push(path);
      continue;
    }
    entries.set(path, {
      path,
      ctimeSec: buffer.readUInt32BE(start),
      ctimeNsec: buffer.readUInt32BE(start + 4),
      mtimeSec: buffer.readUInt32BE(start + 8),
      mtimeNsec: buffer.readUInt32BE(start + 12),
      dev: buffer.readUInt32BE(start + 16),
      ino: buffer.readUInt32BE(start + 20),
      mode: buffer.readUInt32BE(start + 24),
      uid: buffer.readUInt32BE(start + 28),
      gid: buffer.readUInt32BE(start + 32),
      size: buffer.readUInt32BE(start + 36),
      oid: buffer.toString('hex', start + 40, start + 60),
      stage,
      extended,
      assumeValid: (flags & 0x8000) !== 0,
    });
  }
  while (offset + 8 <= end) {
    const signature = buffer.toString('latin1', offset, offset + 4);
    const size = buffer.readUInt32BE(offset + 4);
    const reason = UNSUPPORTED_EXTENSIONS[signature];
    if (reason) {
      throw new KnockEnvError('UNSUPPORTED_REPOSITORY', `The git index uses ${reason.split(' (')[0]}, which knock-env does not support.`, {
        hint: `Turn it off: ${reason.slice(reason.indexOf('(') + 1, -1)}.`,
      });
    }
    offset += 8 + size;
  }
  return { entries, conflicts: [...new Set(conflicts)] };
}

const comparePaths = compareNames;

/** Serialises entries as index version 2 (3 when an entry carries extended flags); extensions are dropped, which git allows. */
export function serializeIndex(entries: Iterable<IndexEntry>): Buffer {
  const sorted = [...entries].sort((a, b) => comparePaths(a.path, b.path));
  const version = sorted.some((e) => e.extended !== 0) ? 3 : 2;
  const parts: Buffer[] = [];
  const header = Buffer.alloc(12);
  header.write('DIRC', 0, 'latin1');
  header.writeUInt32BE(version, 4);
  header.writeUInt32BE(sorted.length, 8);
  parts.push(header);
  for (const e of sorted) {
    const name = Buffer.from(e.path, 'utf8');
    const fixed = e.extended !== 0 ? 64 : 62;
    const length = Math.ceil((fixed + name.length + 1) / 8) * 8;
    const b = Buffer.alloc(length);
    const u32 = (v: number, at: number) => b.writeUInt32BE(v >>> 0, at);
    u32(e.ctimeSec, 0);
    u32(e.ctimeNsec, 4);
    u32(e.mtimeSec, 8);
    u32(e.mtimeNsec, 12);
    u32(e.dev, 16);
    u32(e.ino, 20);
    u32(e.mode, 24);
    u32(e.uid, 28);
    u32(e.gid, 32);
    u32(e.size, 36);
    b.write(e.oid, 40, 'hex');
    let flags = Math.min(name.length, 0xfff);
    if (e.assumeValid) flags |= 0x8000;
    if (e.extended !== 0) flags |= 0x4000;
    b.writeUInt16BE(flags, 60);
    if (e.extended !== 0) b.writeUInt16BE(e.extended, 62);
    name.copy(b, fixed);
    parts.push(b);
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([body, createHash('sha1').update(body).digest()]);
}

/** Writes the index through `index.lock`, the lock native git uses, so neither overwrites the other. */
export async function writeIndex(fs: FileSystem, gitdir: string, entries: Iterable<IndexEntry>): Promise<void> {
  const lockPath = `${gitdir}/index.lock`;
  let handle;
  try {
    handle = await fs.promises.open(lockPath, 'wx');
  } catch (error) {
    if (errnoCode(error) === 'EEXIST') {
      throw new KnockEnvError('CONCURRENT_UPDATE', `The git index is locked (${lockPath} exists).`, {
        hint: 'Another git command is running; wait and retry. If none is, remove the lock file.',
      });
    }
    throw error;
  }
  try {
    await handle.writeFile(serializeIndex(entries));
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.promises.rename(lockPath, `${gitdir}/index`);
  } catch (error) {
    if (handle) await handle.close().catch(() => undefined);
    await fs.promises.unlink(lockPath).catch(() => undefined);
    throw error;
  }
}

/**
 * Writes the index while the caller holds `index.lock` (a transaction took it
 * with its ref locks): temporary file, sync, rename over the index.
 */
export async function writeIndexUnderLock(fs: FileSystem, gitdir: string, entries: Iterable<IndexEntry>): Promise<void> {
  const tmp = `${gitdir}/knock-env/tmp-index-${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;
  await fs.promises.mkdir(`${gitdir}/knock-env`, { recursive: true });
  const handle = await fs.promises.open(tmp, 'wx');
  try {
    await handle.writeFile(serializeIndex(entries));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.promises.rename(tmp, `${gitdir}/index`);
}

export interface StatLike {
  ctimeNs: bigint;
  mtimeNs: bigint;
  dev: bigint;
  ino: bigint;
  uid: bigint;
  gid: bigint;
  size: bigint;
  mode: bigint;
}

const NS = 1_000_000_000n;

export function gitFileMode(mode: number): number {
  if ((mode & 0o170000) === 0o120000) return 0o120000;
  return mode & 0o111 ? 0o100755 : 0o100644;
}

export function entryFromStat(path: string, oid: string, stat: StatLike): IndexEntry {
  return {
    path,
    oid,
    mode: gitFileMode(Number(stat.mode)),
    ctimeSec: Number(stat.ctimeNs / NS),
    ctimeNsec: Number(stat.ctimeNs % NS),
    mtimeSec: Number(stat.mtimeNs / NS),
    mtimeNsec: Number(stat.mtimeNs % NS),
    dev: Number(stat.dev & 0xffffffffn),
    ino: Number(stat.ino & 0xffffffffn),
    uid: Number(stat.uid & 0xffffffffn),
    gid: Number(stat.gid & 0xffffffffn),
    size: Number(stat.size & 0xffffffffn),
    stage: 0,
    extended: 0,
    assumeValid: false,
  };
}

/** The plain (non-bigint) stat fields the scan compares; cheaper to get for thousands of files. */
export interface QuickStat {
  mtimeMs: number;
  size: number;
  ino: number;
  mode: number;
}

/**
 * Whether the file is unchanged since the entry was recorded, judged by stat
 * alone (mtime to the microsecond, size, inode, executable bit). Entries not
 * older than the index itself are "racily clean" and must be re-hashed, as git does.
 */
export function statMatches(entry: IndexEntry, stat: QuickStat, indexMtimeNs: bigint): boolean {
  const entryMicros = entry.mtimeSec * 1_000_000 + Math.floor(entry.mtimeNsec / 1000);
  // mtimeMs is a double: at today's epoch it resolves about a quarter of a microsecond.
  if (Math.abs(entryMicros - stat.mtimeMs * 1000) > 1.5) return false;
  if (entry.size !== stat.size % 2 ** 32) return false;
  if (entry.ino !== stat.ino % 2 ** 32) return false;
  if (entry.mode !== gitFileMode(stat.mode)) return false;
  if (indexMtimeNs !== 0n && BigInt(entryMicros) * 1000n >= indexMtimeNs - 1000n) return false;
  return true;
}
