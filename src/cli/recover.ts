import { existsSync } from 'node:fs';
import { OPERATION_JOURNAL } from '../core/git/transaction.js';
import { findGitdirSync, fs, isAlive } from './context.js';
import { line, type Io } from './io.js';

/**
 * Every command first finishes a local operation that a killed knock-env
 * left midway (its journal is in .git/knock-env/op-journal.json), and says so
 * on stderr, so that what it then reads and changes is a whole state.
 */
export async function finishInterruptedFirst(io: Io): Promise<void> {
  // Most commands find no journal: one stat, and the core is loaded only when there is one.
  const gitdir = findGitdirSync(io.cwd);
  if (gitdir === undefined || !existsSync(`${gitdir}/${OPERATION_JOURNAL}`)) return;
  const { completeInterruptedOperation } = await import('../core/ops/transact.js');
  const finished = await completeInterruptedOperation({
    fs,
    dir: io.cwd,
    pid: process.pid,
    isAlive,
    ...(io.env.KNOCK_ENV_LOCK_TIMEOUT_MS ? { lockTimeoutMs: Number(io.env.KNOCK_ENV_LOCK_TIMEOUT_MS) } : {}),
  });
  if (finished === null) return;
  const refs = finished.refs.map((ref) => ref.replace(/^refs\/heads\//, '')).join(', ');
  line(
    io.err,
    finished.outcome === 'rolled-forward'
      ? `${io.color.yellow('note')} finished an operation interrupted on ${finished.started} (${refs} moved, index and working tree updated).`
      : `${io.color.yellow('note')} an operation interrupted on ${finished.started} had moved nothing; its locks were released.`,
  );
}
