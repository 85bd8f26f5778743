import { timestampOf, type CoreOptions } from '../context.js';
import type { Signature } from '../git/commit.js';
import { acquireRepositoryLock } from '../git/refs.js';
import type { Project } from '../project.js';
import { finishInterrupted, runLocalTransaction } from './transact.js';

export function signatureOf(options: CoreOptions): Signature {
  const now = options.now ? options.now() : new Date();
  return { name: options.actor.name, email: options.actor.email, ...timestampOf(now) };
}

/**
 * Runs `work` holding the repository lock; the lock is released however
 * `work` ends. A local operation an earlier command left midway is finished
 * first. The ref moves `work` makes land together at its end, all or nothing
 * (`runLocalTransaction`); `how.transaction: false` leaves that to the caller
 * (the remote layer, which publishes the moves before landing them).
 */
export async function withRepositoryLock<T>(project: Project, options: CoreOptions, work: () => Promise<T>, how: { transaction: boolean } = { transaction: true }): Promise<T> {
  // Inside `withRemote` the lock is already held for the whole operation.
  if (options.transaction) return work();
  const lock = await acquireRepositoryLock(project.fs, project.gitdir, {
    pid: options.pid ?? 0,
    ...(options.isAlive ? { isAlive: options.isAlive } : {}),
    ...(options.lockTimeoutMs !== undefined ? { timeoutMs: options.lockTimeoutMs } : {}),
  });
  try {
    await finishInterrupted(project, options);
    return how.transaction ? await runLocalTransaction(project, options, work) : await work();
  } finally {
    await lock.release();
  }
}

export function shortOid(oid: string | null | undefined): string {
  return oid ? oid.slice(0, 7) : '0000000';
}

/** Trailer names every commit knock-env writes carries, so tools can tell operations apart. */
export const TRAILER = {
  operation: 'Knock-Env-Operation',
  environment: 'Knock-Env-Environment',
  from: 'Knock-Env-From',
  to: 'Knock-Env-To',
  source: 'Knock-Env-Source',
} as const;

export type OperationName = 'init' | 'commit' | 'merge-down' | 'promote' | 'rollback' | 'env-create' | 'settings' | 'repair' | 'deploy';
