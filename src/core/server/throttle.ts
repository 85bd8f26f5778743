/**
 * Failed logins on a team server, counted per client address and per user
 * name, so that guessing a token or an API key over HTTP is not practical.
 *
 * - A client address with `limit` failed logins within `windowMs` is blocked:
 *   every request from it is answered 429 without looking at its credentials,
 *   for `blockMs`, doubled each time it is blocked again (up to `maxBlockMs`).
 * - A user name with `limit` failed logins within `windowMs` (from any
 *   addresses) is under attack for the same time: a wrong password for it
 *   then blocks the address that sent it at once, so an attacker with many
 *   addresses gets one guess per address. A correct password for it from an
 *   address that is not blocked still goes through: nobody's failures slow
 *   down a correct login from another client.
 * - Both tables are capped at `maxEntries`: when one is full, an entry whose
 *   time is over goes first (among the 64 least recently touched), else the
 *   least recently touched one.
 */
export interface ThrottleLimits {
  /** Failed logins within the window that block (default 5). */
  limit: number;
  /** How long a failure counts, in milliseconds (default 60 s). */
  windowMs: number;
  /** The first block, in milliseconds (default 60 s). */
  blockMs: number;
  /** The longest block (default 15 minutes). */
  maxBlockMs: number;
  /** Client addresses and user names remembered, each (default 10,000). */
  maxEntries: number;
}

export const DEFAULT_THROTTLE_LIMITS: ThrottleLimits = {
  limit: 5,
  windowMs: 60_000,
  blockMs: 60_000,
  maxBlockMs: 15 * 60_000,
  maxEntries: 10_000,
};

interface Entry {
  /** Failures within the current window. */
  failures: number;
  windowStart: number;
  /** 0 when not blocked. */
  blockedUntil: number;
  /** How many times this entry has been blocked (the next block is longer). */
  blocks: number;
}

/** A table of entries with a bounded size; the least recently touched entry goes first when it is full. */
class BoundedTable {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly limits: ThrottleLimits) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): Entry | undefined {
    return this.entries.get(key);
  }

  /** The entry for a key, created if needed, moved to the most recent end. */
  touch(key: string, now: number): Entry {
    const entry = this.entries.get(key) ?? { failures: 0, windowStart: now, blockedUntil: 0, blocks: 0 };
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > this.limits.maxEntries) this.shrink(now);
    return entry;
  }

  /** Drops one entry: the least recently touched whose time is over among the oldest few, else the least recently touched. */
  private shrink(now: number): void {
    let looked = 0;
    for (const [key, entry] of this.entries) {
      if (looked++ >= SHRINK_SCAN) break;
      if (!live(entry, now, this.limits)) {
        this.entries.delete(key);
        return;
      }
    }
    const oldest = this.entries.keys().next();
    if (!oldest.done) this.entries.delete(oldest.value);
  }
}

/** How many of the oldest entries a full table looks at for one whose time is over (bounded work per failure). */
const SHRINK_SCAN = 64;

function live(entry: Entry, now: number, limits: ThrottleLimits): boolean {
  return entry.blockedUntil > now || now - entry.windowStart < limits.windowMs;
}

/** Counts one failure in an entry's window; true when that reaches the limit. */
function countFailure(entry: Entry, now: number, limits: ThrottleLimits): boolean {
  if (now - entry.windowStart >= limits.windowMs) {
    entry.failures = 0;
    entry.windowStart = now;
  }
  entry.failures++;
  return entry.failures >= limits.limit;
}

function block(entry: Entry, now: number, limits: ThrottleLimits): void {
  entry.blocks = entry.blockedUntil > 0 && now - entry.blockedUntil < limits.maxBlockMs ? entry.blocks + 1 : 1;
  entry.blockedUntil = now + Math.min(limits.maxBlockMs, limits.blockMs * 2 ** (entry.blocks - 1));
  entry.failures = 0;
  entry.windowStart = now;
}

export class LoginThrottle {
  readonly limits: ThrottleLimits;
  private readonly clients: BoundedTable;
  private readonly users: BoundedTable;

  constructor(limits: Partial<ThrottleLimits> = {}) {
    this.limits = { ...DEFAULT_THROTTLE_LIMITS, ...limits };
    this.clients = new BoundedTable(this.limits);
    this.users = new BoundedTable(this.limits);
  }

  /** Seconds until a client address may log in again (at least 1), or 0 when it may now. */
  retryAfter(client: string, now: number): number {
    const entry = this.clients.get(client);
    if (!entry || entry.blockedUntil <= now) return 0;
    return Math.max(1, Math.ceil((entry.blockedUntil - now) / 1000));
  }

  /**
   * Records a failed login of `user` from `client`. Returns the seconds the
   * client must now wait (0 when it is not blocked): the client's own limit,
   * or a wrong password for a user name under attack.
   */
  failed(client: string, user: string, now: number): number {
    const limits = this.limits;
    const name = user.toLowerCase();
    const userEntry = this.users.touch(name, now);
    const underAttack = userEntry.blockedUntil > now;
    if (!underAttack && countFailure(userEntry, now, limits)) block(userEntry, now, limits);
    const clientEntry = this.clients.touch(client, now);
    if (countFailure(clientEntry, now, limits) || underAttack) block(clientEntry, now, limits);
    return this.retryAfter(client, now);
  }

  /** How many client addresses and user names are remembered. */
  get size(): { clients: number; users: number } {
    return { clients: this.clients.size, users: this.users.size };
  }
}
