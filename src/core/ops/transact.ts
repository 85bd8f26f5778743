import type { CoreOptions } from '../context.js';
import { compareNames } from '../git/tree.js';
import { errnoCode, readIfExists } from '../git/fs.js';
import { entryFromStat, readIndex, writeIndexUnderLock, type IndexEntry } from '../git/gitindex.js';
import { hashObject, readObject } from '../git/objects.js';
import { acquireRepositoryLock, appendReflog, readRefOnDisk } from '../git/refs.js';
import {
  RefTransaction,
  attachToRepository,
  commitTransaction,
  detachFromRepository,
  finishInterruptedOperation,
  readOperationJournal,
  type CommitHooks,
  type FinishedOperation,
  type WorktreePlan,
} from '../git/transaction.js';
import { findGitdir, type Project } from '../project.js';
import { indexStamp, removeEmptyParents, statFile, writeIndexStamp } from '../worktree.js';

/**
 * Sets the planned working-tree files from their blobs, then refreshes the
 * index entries from them (index.lock is held by the transaction). When an
 * interrupted operation is finished, a file that holds neither its old nor its
 * new content was edited since, and is left alone.
 */
export async function applyWorktreePlan(project: Project, plan: WorktreePlan, recovering: boolean): Promise<void> {
  const fsp = project.fs.promises;
  for (const [path, file] of plan.files) {
    const abs = `${project.dir}/${path}`;
    const current = await readIfExists(project.fs, abs);
    const currentOid = current === null ? null : hashObject('blob', current);
    if (currentOid === file.oid || (recovering && currentOid !== file.from)) continue;
    if (file.oid === null) {
      await fsp.unlink(abs).catch((error: unknown) => {
        if (errnoCode(error) !== 'ENOENT') throw error;
      });
      await removeEmptyParents(project, path);
    } else {
      await fsp.mkdir(abs.slice(0, abs.lastIndexOf('/')), { recursive: true });
      await replaceFile(project, abs, (await readObject(project, file.oid)).content);
    }
  }
  const index = await readIndex(project.fs, project.gitdir);
  const entries = new Map<string, IndexEntry>(index.entries);
  for (const [path, oid] of plan.index) {
    const stat = oid === null ? null : await statFile(project, path).catch(() => null);
    if (oid === null || stat === null) entries.delete(path);
    else entries.set(path, entryFromStat(path, oid, stat));
  }
  await writeIndexUnderLock(project.fs, project.gitdir, entries.values());
  if (plan.stamp === undefined) return;
  const sorted = new Map([...entries].sort(([a], [b]) => compareNames(a, b)));
  await writeIndexStamp(project, plan.stamp ? indexStamp({ entries: sorted, conflicts: index.conflicts, mtimeNs: 0n }, plan.stamp.branch, plan.stamp.head) : null);
}

/**
 * Writes a working-tree file whole or not at all: the content goes to a
 * temporary file in the git directory (nothing stray in the working tree if
 * the process dies), then is renamed over the file.
 */
async function replaceFile(project: Project, abs: string, content: Buffer): Promise<void> {
  const fsp = project.fs.promises;
  const tmp = `${project.gitdir}/knock-env/tmp-file-${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;
  await fsp.mkdir(`${project.gitdir}/knock-env`, { recursive: true });
  await fsp.writeFile(tmp, content);
  try {
    await fsp.rename(tmp, abs);
  } catch (error) {
    await fsp.unlink(tmp).catch(() => undefined);
    // A git directory on another device than the working tree: write in place.
    if (errnoCode(error) !== 'EXDEV') throw error;
    await fsp.writeFile(abs, content);
  }
}

function hooksFor(project: Project, options: Pick<CoreOptions, 'pid'>): CommitHooks {
  return {
    pid: options.pid ?? 0,
    readRef: (ref) => readRefOnDisk(project, ref),
    appendReflog: (move) => appendReflog(project, { ref: move.ref, oldOid: move.old, newOid: move.new, reflogMessage: move.reflogMessage, committer: move.committer }),
    applyWorktree: (plan, recovering) => applyWorktreePlan(project, plan, recovering),
  };
}

/**
 * Runs `work` with every ref move of the repository held back, then lands
 * them together with the working-tree plan (`commitTransaction`): all locks
 * first, a journal, then the moves. If `work` fails, nothing moved. Call
 * holding the repository lock.
 */
export async function runLocalTransaction<T>(project: Project, options: Pick<CoreOptions, 'pid'>, work: (transaction: RefTransaction) => Promise<T>): Promise<T> {
  const transaction = new RefTransaction();
  attachToRepository(project.gitdir, transaction);
  let result: T;
  try {
    result = await work(transaction);
  } finally {
    detachFromRepository(project.gitdir, transaction);
  }
  await commitTransaction(project, transaction, hooksFor(project, options));
  return result;
}

/** Finishes a local operation a killed process left midway (holding the repository lock). */
export async function finishInterrupted(project: Project, options: Pick<CoreOptions, 'pid'>): Promise<FinishedOperation | null> {
  return finishInterruptedOperation(project, hooksFor(project, options));
}

/**
 * Before a command does anything else: when a journal says a local operation
 * stopped midway, takes the repository lock (its writer is then gone) and
 * finishes it. Returns what was done, or null when there was nothing to finish.
 */
export async function completeInterruptedOperation(options: Pick<CoreOptions, 'fs' | 'dir' | 'pid' | 'isAlive' | 'lockTimeoutMs'>): Promise<FinishedOperation | null> {
  const found = await findGitdir(options);
  if (found === null || (await readOperationJournal({ fs: options.fs, gitdir: found.gitdir, cache: {} })) === null) return null;
  const project: Project = { fs: options.fs, dir: found.dir, gitdir: found.gitdir, cache: {} };
  const lock = await acquireRepositoryLock(project.fs, project.gitdir, {
    pid: options.pid ?? 0,
    ...(options.isAlive ? { isAlive: options.isAlive } : {}),
    ...(options.lockTimeoutMs !== undefined ? { timeoutMs: options.lockTimeoutMs } : {}),
  });
  try {
    return await finishInterrupted(project, options);
  } finally {
    await lock.release();
  }
}
