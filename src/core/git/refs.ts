import { hostname } from 'node:os';
import { KnockEnvError } from '../errors.js';
import { errnoCode, readIfExists, type FileSystem } from './fs.js';
import type { GitStore } from './objects.js';
import { movedError as movedRefError, transactionOf } from './transaction.js';

const OID = /^[0-9a-f]{40}$/;

/** The commit a ref points at, or null when the ref does not exist. Loose first, then packed-refs. */
export async function readRef(store: GitStore, ref: string): Promise<string | null> {
  const staged = transactionOf(store)?.valueOf(ref);
  if (staged !== undefined) return staged;
  return readRefOnDisk(store, ref);
}

/** The value of a ref on disk, whatever a transaction holds back. */
export async function readRefOnDisk(store: GitStore, ref: string): Promise<string | null> {
  const loose = await readIfExists(store.fs, `${store.gitdir}/${ref}`);
  if (loose !== null) {
    const text = loose.toString('utf8').trim();
    if (OID.test(text)) return text;
    if (text.startsWith('ref: ')) return readRef(store, text.slice(5).trim());
  }
  const packed = await readIfExists(store.fs, `${store.gitdir}/packed-refs`);
  if (packed !== null) {
    for (const line of packed.toString('utf8').split('\n')) {
      if (line.endsWith(` ${ref}`) && OID.test(line.slice(0, 40))) return line.slice(0, 40);
    }
  }
  return null;
}

/** Every ref with its value: loose refs below refs/ and packed-refs, loose ones winning. */
export async function listRefs(store: GitStore): Promise<Map<string, string>> {
  const refs = new Map<string, string>();
  const packed = await readIfExists(store.fs, `${store.gitdir}/packed-refs`);
  if (packed !== null) {
    for (const line of packed.toString('utf8').split('\n')) {
      const match = /^([0-9a-f]{40}) (refs\/\S+)$/.exec(line);
      if (match) refs.set(match[2]!, match[1]!);
    }
  }
  const walk = async (rel: string): Promise<void> => {
    let names: string[];
    try {
      names = (await store.fs.promises.readdir(`${store.gitdir}/${rel}`)).map(String);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return;
      throw error;
    }
    for (const name of names) {
      const path = `${rel}/${name}`;
      const stat = await store.fs.promises.lstat(`${store.gitdir}/${path}`).catch(() => null);
      if (stat === null) continue;
      if (stat.isDirectory()) await walk(path);
      else if (!name.endsWith('.lock')) {
        const oid = await readRef(store, path);
        if (oid !== null) refs.set(path, oid);
      }
    }
  };
  await walk('refs');
  return refs;
}

/** The branch HEAD points at (e.g. "development"), or null when HEAD is detached. */
export async function currentBranch(store: GitStore): Promise<string | null> {
  const head = await readIfExists(store.fs, `${store.gitdir}/HEAD`);
  const text = head?.toString('utf8').trim() ?? '';
  return text.startsWith('ref: refs/heads/') ? text.slice('ref: refs/heads/'.length) : null;
}

/** Points HEAD at a branch, through HEAD.lock as git does. */
export async function setHead(store: GitStore, branch: string): Promise<void> {
  const lockPath = `${store.gitdir}/HEAD.lock`;
  const handle = await store.fs.promises.open(lockPath, 'wx').catch((error: unknown) => {
    if (errnoCode(error) === 'EEXIST') {
      throw new KnockEnvError('CONCURRENT_UPDATE', `HEAD is locked (${lockPath} exists).`, { hint: 'Wait for the other git command to finish, then retry.' });
    }
    throw error;
  });
  try {
    await handle.writeFile(`ref: refs/heads/${branch}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await store.fs.promises.rename(lockPath, `${store.gitdir}/HEAD`);
}

export interface RefUpdate {
  ref: string;
  /** Expected current value: null means the ref must not exist yet. */
  oldOid: string | null;
  newOid: string;
  /** Reflog line, as native git writes it. */
  reflogMessage: string;
  committer: { name: string; email: string; timestamp: number; timezoneOffset: number };
}

/**
 * Compare-and-swap of one ref, the way native git does it: create `<ref>.lock`
 * exclusively (this also respects a lock git itself holds), check the old
 * value, write and sync the new value, rename it into place.
 */
export async function updateRef(store: GitStore, update: RefUpdate): Promise<void> {
  const transaction = transactionOf(store);
  if (transaction) {
    const current = await readRef(store, update.ref);
    if (current !== update.oldOid) throw movedError(update, current);
    transaction.stage({ ref: update.ref, old: current, new: update.newOid, reflogMessage: update.reflogMessage, committer: update.committer });
    return;
  }
  const { fs, gitdir } = store;
  const path = `${gitdir}/${update.ref}`;
  const lockPath = `${path}.lock`;
  await fs.promises.mkdir(path.slice(0, path.lastIndexOf('/')), { recursive: true });
  let handle;
  try {
    handle = await fs.promises.open(lockPath, 'wx');
  } catch (error) {
    if (errnoCode(error) === 'EEXIST') {
      throw new KnockEnvError('CONCURRENT_UPDATE', `${update.ref} is locked by another git process (${lockPath} exists).`, {
        hint: 'Wait for the other command to finish and retry; if no git process is running, remove the lock file.',
        data: { ref: update.ref, lock: lockPath },
      });
    }
    throw error;
  }
  let renamed = false;
  try {
    const current = await readRef(store, update.ref);
    if (current !== update.oldOid) throw movedError(update, current);
    await handle.writeFile(`${update.newOid}\n`);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.promises.rename(lockPath, path);
    renamed = true;
  } finally {
    if (handle) await handle.close().catch(() => undefined);
    if (!renamed) await fs.promises.unlink(lockPath).catch(() => undefined);
  }
  await appendReflog(store, update).catch(() => undefined);
}

function movedError(update: Pick<RefUpdate, 'ref' | 'oldOid'>, current: string | null): KnockEnvError {
  return movedRefError(update.ref, update.oldOid, current);
}

/** Appends the reflog line of a ref move, as native git writes it. */
export async function appendReflog(store: GitStore, update: RefUpdate): Promise<void> {
  const logPath = `${store.gitdir}/logs/${update.ref}`;
  await store.fs.promises.mkdir(logPath.slice(0, logPath.lastIndexOf('/')), { recursive: true });
  const c = update.committer;
  const tz = `${c.timezoneOffset < 0 ? '-' : '+'}${String(Math.floor(Math.abs(c.timezoneOffset) / 60)).padStart(2, '0')}${String(Math.abs(c.timezoneOffset) % 60).padStart(2, '0')}`;
  const line = `${update.oldOid ?? '0'.repeat(40)} ${update.newOid} ${c.name} <${c.email}> ${c.timestamp} ${tz}\t${update.reflogMessage.replace(/\n/g, ' ')}\n`;
  await store.fs.promises.appendFile(logPath, line);
}

/**
 * Deletes a ref if it still has `oldOid`, under `<ref>.lock` as `updateRef`
 * moves one; a packed value goes under `packed-refs.lock` (the file rewritten
 * without it and renamed into place). Nothing happens when the ref is gone already.
 */
export async function deleteRef(store: GitStore, ref: string, oldOid: string): Promise<void> {
  const { fs, gitdir } = store;
  const path = `${gitdir}/${ref}`;
  const held: string[] = [];
  const lock = async (lockPath: string): Promise<void> => {
    try {
      await (await fs.promises.open(lockPath, 'wx')).close();
      held.push(lockPath);
    } catch (error) {
      if (errnoCode(error) === 'EEXIST') {
        throw new KnockEnvError('CONCURRENT_UPDATE', `${ref} is locked by another git process (${lockPath} exists).`, {
          hint: 'Wait for the other command to finish and retry; if no git process is running, remove the lock file.',
          data: { ref, lock: lockPath },
        });
      }
      if (errnoCode(error) === 'ENOENT') return; // no folder: no loose ref to lock
      throw error;
    }
  };
  try {
    await lock(`${path}.lock`);
    const current = await readRef(store, ref);
    if (current === null) return;
    if (current !== oldOid) throw movedError({ ref, oldOid }, current);
    const packed = await readIfExists(fs, `${gitdir}/packed-refs`);
    const lines = packed?.toString('utf8').split('\n') ?? [];
    const at = lines.findIndex((line) => line.endsWith(` ${ref}`));
    if (at >= 0) {
      await lock(`${gitdir}/packed-refs.lock`);
      // A peeled line ("^<oid>") belongs to the ref above it.
      lines.splice(at, lines[at + 1]?.startsWith('^') ? 2 : 1);
      const handle = await fs.promises.open(`${gitdir}/packed-refs.lock`, 'w');
      try {
        await handle.writeFile(lines.join('\n'));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.promises.rename(`${gitdir}/packed-refs.lock`, `${gitdir}/packed-refs`);
      held.splice(held.indexOf(`${gitdir}/packed-refs.lock`), 1);
    }
    await fs.promises.unlink(path).catch((error: unknown) => {
      if (errnoCode(error) !== 'ENOENT') throw error;
    });
  } finally {
    for (const lockPath of held) await fs.promises.unlink(lockPath).catch(() => undefined);
  }
}

export interface LockOptions {
  /** How long to wait for another knock-env command before giving up. */
  timeoutMs?: number;
  pid: number;
  /** Whether a process id is alive on this host (injected so tests can simulate a crash). */
  isAlive?: (pid: number) => boolean;
}

export interface RepositoryLock {
  release(): Promise<void>;
}

/**
 * One knock-env command at a time per repository. The lock records pid and
 * host; a lock whose process is gone (killed, crashed) is taken over.
 */
export async function acquireRepositoryLock(fs: FileSystem, gitdir: string, options: LockOptions): Promise<RepositoryLock> {
  const path = `${gitdir}/knock-env.lock`;
  const timeoutMs = options.timeoutMs ?? 30_000;
  // Without a liveness probe no lock is ever judged stale.
  const isAlive = options.isAlive ?? (() => true);
  const host = hostname();
  const started = Date.now();
  const body = JSON.stringify({ pid: options.pid, host, since: new Date().toISOString() });
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await fs.promises.open(path, 'wx');
      await handle.writeFile(body);
      await handle.close();
      return {
        release: async () => {
          await fs.promises.unlink(path).catch(() => undefined);
        },
      };
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') throw error;
    }
    const holder = await readLockHolder(fs, path);
    if (holder && holder.host === host && !isAlive(holder.pid)) {
      await takeOverStaleLock(fs, path, holder.raw);
      continue;
    }
    if (holder === null) {
      // A lock with no readable content is being written right now, or was left empty by a
      // crash between create and write; give its writer a moment before judging it.
      const stat = await fs.promises.stat(path).catch(() => null);
      if (stat && Date.now() - stat.mtimeMs > 5_000) {
        await takeOverStaleLock(fs, path, '');
        continue;
      }
    }
    if (Date.now() - started > timeoutMs) {
      throw new KnockEnvError('LOCKED', `Another knock-env command is running in this repository${holder ? ` (pid ${holder.pid} on ${holder.host})` : ''}.`, {
        hint: `Wait for it to finish. If it is not running any more, remove ${path}.`,
        data: { lock: path, holder },
      });
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(200, 10 + attempt * 10) + Math.random() * 20));
  }
}

async function readLockHolder(fs: FileSystem, path: string): Promise<{ pid: number; host: string; raw: string } | null> {
  const raw = (await readIfExists(fs, path))?.toString('utf8') ?? '';
  try {
    const parsed = JSON.parse(raw) as { pid?: unknown; host?: unknown };
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string') return { pid: parsed.pid, host: parsed.host, raw };
  } catch {
    // incomplete: treated as unreadable
  }
  return null;
}

/**
 * Move the stale lock aside atomically, then make sure what we moved is the
 * stale lock we judged; if another process had replaced it meanwhile, put it back.
 */
async function takeOverStaleLock(fs: FileSystem, path: string, staleContent: string): Promise<void> {
  const aside = `${path}.stale-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  try {
    await fs.promises.rename(path, aside);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return;
    throw error;
  }
  const moved = (await readIfExists(fs, aside))?.toString('utf8') ?? '';
  if (moved !== staleContent) {
    await fs.promises.link(aside, path).catch(() => undefined);
  }
  await fs.promises.unlink(aside).catch(() => undefined);
}
