import type { FileSystem } from './git/fs.js';
import type { Identity } from './git/commit.js';
import type { RefTransaction } from './git/transaction.js';
import type { RemoteAccess } from './remote/transport.js';

/**
 * What every core operation receives from its caller. The core reads no
 * globals: the file system, the clock, the actor and the process facts are
 * all passed in, so tests fix them and the CLI supplies the real ones.
 */
export interface CoreOptions {
  fs: FileSystem;
  /** Working directory of the project (the folder holding knock-env.yaml). */
  dir: string;
  /** Who acts: the git identity, matched against the account's members. */
  actor: Identity;
  /** An API key's secret: when given, the command acts as the key's service identity instead. */
  apiKey?: string;
  /** The clock: returns the current time. */
  now?: () => Date;
  /** This process's id and a liveness probe, for the repository lock. */
  pid?: number;
  isAlive?: (pid: number) => boolean;
  /** How long to wait for another command holding the repository lock. */
  lockTimeoutMs?: number;
  /** The remote operations act against (fetch, check, compare-and-swap push); absent: local only. */
  remote?: RemoteAccess;
  /** Set while an operation runs inside `withRemote`: ref moves are held back until pushed (the lock is held). */
  transaction?: RefTransaction;
}

export function timestampOf(date: Date): { timestamp: number; timezoneOffset: number } {
  return { timestamp: Math.floor(date.getTime() / 1000), timezoneOffset: -date.getTimezoneOffset() };
}
