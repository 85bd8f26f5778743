import { KnockEnvError } from '../errors.js';
import { readCommit, type ParsedCommit } from './commit.js';
import { readIfExists } from './fs.js';
import { readObject, type GitStore } from './objects.js';
import { listRefs, readRef } from './refs.js';

/*
 * History: ancestry, the commits between two heads, merge bases, short commit ids,
 * shallow clones and clock skew, in one place. Walks read parents only (never trees),
 * newest first where dates prune the walk; a date is only ever a hint, since a
 * machine's clock can be wrong: every "no" a date bound suggests is confirmed
 * without it.
 */

/** Clock skew tolerated between commits when pruning ancestry walks by date, as git's date heuristics do. */
export const CLOCK_SKEW_SECONDS = 86_400;

/**
 * Whether `ancestor` is reachable from `descendant` (or equal). Walks parents
 * only, first not below commits older than `ancestor` (less a day of clock
 * skew), which answers "yes" quickly on a long history; a "no" is confirmed by
 * a walk without that bound, since commits from a machine whose clock is
 * wrong can be older than their own parents. A shallow clone's history ends
 * at its shallow commits: what lies below them is not reached.
 */
export async function isAncestor(store: GitStore, ancestor: string, descendant: string): Promise<boolean> {
  if (ancestor === descendant) return true;
  const shallow = await shallowCommits(store);
  const floor = (await readCommit(store, ancestor)).committer.timestamp - CLOCK_SKEW_SECONDS;
  const seen = new Set<string>([descendant]);
  const below: string[] = [];
  const stack = [descendant];
  for (const bounded of [true, false]) {
    if (!bounded) stack.push(...below);
    while (stack.length > 0) {
      const oid = stack.pop()!;
      const commit = await readCommit(store, oid);
      if (bounded && commit.committer.timestamp < floor) {
        below.push(oid);
        continue;
      }
      if (shallow.has(oid)) continue;
      for (const parent of commit.parents) {
        if (parent === ancestor) return true;
        if (!seen.has(parent)) {
          seen.add(parent);
          stack.push(parent);
        }
      }
    }
  }
  return false;
}

/**
 * Commits reachable from `to` but not from `from`, newest first (at most
 * `limit`). Walks both sides newest-first, painting what `from` reaches, and
 * stops once only painted commits are left, as `git rev-list from..to` does;
 * so the cost follows the commits between, not the length of history.
 */
export async function commitsBetween(store: GitStore, from: string | null, to: string, limit = 200): Promise<ParsedCommit[]> {
  const excluded = new Set<string>();
  const seen = new Map<string, ParsedCommit>();
  const load = async (oid: string) => {
    let commit = seen.get(oid);
    if (!commit) seen.set(oid, (commit = await readCommit(store, oid)));
    return commit;
  };
  type Item = { commit: ParsedCommit; excluded: boolean };
  const queue: Item[] = [];
  const push = (item: Item) => {
    let i = queue.length;
    while (i > 0 && queue[i - 1]!.commit.committer.timestamp < item.commit.committer.timestamp) i--;
    queue.splice(i, 0, item);
  };
  if (from) {
    excluded.add(from);
    push({ commit: await load(from), excluded: true });
  }
  push({ commit: await load(to), excluded: false });
  const shallow = await shallowCommits(store);
  const included = new Map<string, ParsedCommit>();
  const queued = new Set<string>([to, ...(from ? [from] : [])]);
  while (queue.length > 0 && queue.some((item) => !item.excluded && !excluded.has(item.commit.oid))) {
    const { commit, excluded: isExcluded } = queue.shift()!;
    const out = isExcluded || excluded.has(commit.oid);
    if (out) {
      included.delete(commit.oid);
    } else {
      included.set(commit.oid, commit);
      if (included.size >= limit * 4) break;
    }
    for (const parent of shallow.has(commit.oid) ? [] : commit.parents) {
      if (out) excluded.add(parent);
      if (queued.has(parent) && !out) continue;
      if (queued.has(parent) && out) {
        const pending = queue.find((item) => item.commit.oid === parent);
        if (pending) pending.excluded = true;
        included.delete(parent);
        continue;
      }
      queued.add(parent);
      push({ commit: await load(parent), excluded: out });
    }
  }
  return [...included.values()]
    .filter((c) => !excluded.has(c.oid))
    .sort((a, b) => b.committer.timestamp - a.committer.timestamp)
    .slice(0, limit);
}

const FROM_A = 1;
const FROM_B = 2;
const STALE = 4;

/**
 * The best common ancestor of two commits, as `git merge-base` finds it:
 * both histories are walked newest first, each commit painted with the sides
 * it is reachable from; a commit painted by both is a candidate, and what lies
 * below a candidate is not. Null when they share no history (or a shallow
 * clone cuts it off). With several best candidates (criss-cross merges), the
 * newest is taken.
 */
export async function mergeBase(store: GitStore, a: string, b: string): Promise<string | null> {
  if (a === b) return a;
  const shallow = await shallowCommits(store);
  const commits = new Map<string, ParsedCommit>();
  const load = async (oid: string): Promise<ParsedCommit> => {
    let commit = commits.get(oid);
    if (!commit) commits.set(oid, (commit = await readCommit(store, oid)));
    return commit;
  };
  const flags = new Map<string, number>();
  const queue: ParsedCommit[] = [];
  const push = (commit: ParsedCommit): void => {
    let i = queue.length;
    while (i > 0 && queue[i - 1]!.committer.timestamp < commit.committer.timestamp) i--;
    queue.splice(i, 0, commit);
  };
  flags.set(a, FROM_A);
  flags.set(b, FROM_B);
  push(await load(a));
  push(await load(b));
  const candidates: string[] = [];
  while (queue.some((c) => !((flags.get(c.oid) ?? 0) & STALE))) {
    const commit = queue.shift()!;
    let paint = (flags.get(commit.oid) ?? 0) & (FROM_A | FROM_B | STALE);
    if (paint === (FROM_A | FROM_B)) {
      if (!candidates.includes(commit.oid)) candidates.push(commit.oid);
      paint |= STALE;
    }
    if (shallow.has(commit.oid)) continue;
    for (const parent of commit.parents) {
      const current = flags.get(parent) ?? 0;
      if ((current & paint) === paint) continue;
      flags.set(parent, current | paint);
      push(await load(parent));
    }
  }
  // A candidate painted stale afterwards lies below another one.
  const found = candidates.filter((oid) => !((flags.get(oid) ?? 0) & STALE));
  const best: string[] = [];
  for (const oid of found) {
    let redundant = false;
    for (const other of found) {
      if (other !== oid && (await isAncestor(store, oid, other))) {
        redundant = true;
        break;
      }
    }
    if (!redundant) best.push(oid);
  }
  best.sort((x, y) => commits.get(y)!.committer.timestamp - commits.get(x)!.committer.timestamp);
  return best[0] ?? null;
}

/**
 * Short-id resolution: the commit whose id starts with `prefix`, searched in the
 * history of every ref and HEAD (down to a shallow clone's shallow commits).
 * `name` is the revision as the user wrote it, for the error.
 */
export async function commitByPrefix(store: GitStore, prefix: string, name: string): Promise<string> {
  const tips = new Set((await listRefs(store)).values());
  const head = await readRef(store, 'HEAD');
  if (head !== null) tips.add(head);
  const matches = new Set<string>();
  const seen = new Set<string>();
  const stack: string[] = [];
  for (const tip of tips) {
    const object = await readObject(store, tip).catch(() => null);
    if (object?.type === 'commit') stack.push(tip);
  }
  const shallow = await shallowCommits(store);
  while (stack.length > 0) {
    const oid = stack.pop()!;
    if (seen.has(oid)) continue;
    seen.add(oid);
    if (oid.startsWith(prefix)) matches.add(oid);
    if (!shallow.has(oid)) stack.push(...(await readCommit(store, oid)).parents);
  }
  if (matches.size === 1) return [...matches][0]!;
  if (matches.size > 1) throw new KnockEnvError('USAGE', `Commit id "${name}" is ambiguous.`, { hint: 'Give more characters of it.' });
  throw new KnockEnvError('USAGE', `No commit "${name}" in the history of this repository's branches.`, {
    hint: 'Check the id with `git log`, or fetch it first (in CI: actions/checkout with `fetch-depth: 0`).',
  });
}

/** Commits a shallow clone has without their parents. */
export async function shallowCommits(store: GitStore): Promise<Set<string>> {
  const text = await readIfExists(store.fs, `${store.gitdir}/shallow`);
  return new Set(text === null ? [] : text.toString('utf8').split('\n').filter((l) => /^[0-9a-f]{40}$/.test(l)));
}
