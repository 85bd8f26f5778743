import { type Principal } from '../access.js';
import { parseTrailers, readCommit, type ParsedCommit } from '../git/commit.js';
import { CLOCK_SKEW_SECONDS } from '../git/history.js';
import { readObject } from '../git/objects.js';
import { diffTrees, entryAt, isTreeMode, type TreeDifference, type TreeEntry } from '../git/tree.js';


import { branchRef, environmentSlugs, loadConfigAt, type Project } from '../project.js';
import { type KnockEnvConfig } from '../validate/config.js';
import { TRAILER } from '../ops/shared.js';
import type { PushedRef } from './push-types.js';

/**
 * Which commits are reachable from a set of heads. Walks down from the heads
 * only as far as the commits asked about need (first not below a commit older
 * than the one asked about, less a day of clock skew, as isAncestor does; a
 * "no" then walks the rest), and keeps what it found for the next question.
 */
export class Reachability {
  private readonly found = new Set<string>();
  private parked: ParsedCommit[] = [];
  private pendingHeads: string[];
  private floor = Infinity;

  constructor(
    private readonly load: (oid: string) => Promise<ParsedCommit>,
    heads: string[],
  ) {
    this.pendingHeads = [...new Set(heads)];
    for (const head of heads) this.found.add(head);
  }

  async has(commit: ParsedCommit): Promise<boolean> {
    if (this.found.has(commit.oid)) return true;
    await this.expand(commit.committer.timestamp - CLOCK_SKEW_SECONDS);
    if (this.found.has(commit.oid)) return true;
    // A "no" is confirmed below the bound too: a machine with a wrong clock writes commits older than their parents.
    await this.expand(-Infinity);
    return this.found.has(commit.oid);
  }

  private async expand(floor: number): Promise<void> {
    if (floor >= this.floor) return;
    this.floor = floor;
    const stack = this.parked;
    this.parked = [];
    for (const head of this.pendingHeads) stack.push(await this.load(head));
    this.pendingHeads = [];
    while (stack.length > 0) {
      const commit = stack.pop()!;
      if (commit.committer.timestamp < floor) {
        this.parked.push(commit);
        continue;
      }
      for (const parent of commit.parents) {
        if (this.found.has(parent)) continue;
        this.found.add(parent);
        stack.push(await this.load(parent));
      }
    }
  }
}

export interface EnvUpdate extends PushedRef {
  env: string;
  new: string;
}

export type Change = TreeDifference;

/**
 * What a push is: the server's refs before it, where it moves them, the
 * commits it brings and the environment each was made for, and what each
 * environment's owner has or is about to get. PushCheck judges it.
 */
export class PushGraph {
  protected readonly commits = new Map<string, Promise<ParsedCommit>>();

  protected readonly configs = new Map<string, Promise<KnockEnvConfig | null>>();

  /** Environment branches as they are on the server before the push (from the current account). */
  protected readonly before = new Map<string, string>();

  /** Every ref on the server before the push. */
  protected refsBefore = new Map<string, string>();

  /** Where the push moves branches (deletions left out: they are refused). */
  protected readonly pushed = new Map<string, string>();

  protected readonly pending = new Map<string, Promise<ParsedCommit[]>>();

  protected readonly updateChanges = new Map<string, Promise<Change[]>>();

  /** Environments, lowest first, after the push (the account as the pushed production head has it, when it keeps every environment in order). */
  protected order: string[] = [];

  protected envSet = new Set<string>();

  protected readonly lowest: string;

  constructor(
    protected readonly store: Project,
    protected readonly config: KnockEnvConfig,
    protected readonly who: Principal,
    protected readonly updates: PushedRef[],
  ) {
    this.lowest = environmentSlugs(config)[0]!;
  }

  protected load = (oid: string): Promise<ParsedCommit> => {
    let found = this.commits.get(oid);
    if (!found) {
      found = readCommit(this.store, oid);
      this.commits.set(oid, found);
    }
    return found;
  };

  /** knock-env.yaml as a commit has it, or null when it is missing or invalid. */
  protected configAt(commit: string): Promise<KnockEnvConfig | null> {
    let found = this.configs.get(commit);
    if (!found) {
      found = loadConfigAt(this.store, commit).catch(() => null);
      this.configs.set(commit, found);
    }
    return found;
  }

  protected async environmentsAt(commit: string): Promise<string[]> {
    const config = await this.configAt(commit);
    return config ? environmentSlugs(config) : environmentSlugs(this.config);
  }

  /** Commits reachable from `tip` that `reach` does not reach, newest first as found. */
  protected async commitsFrom(tip: string, reach: Reachability): Promise<ParsedCommit[]> {
    const out: ParsedCommit[] = [];
    const seen = new Set<string>();
    const stack = [tip];
    while (stack.length > 0) {
      const oid = stack.pop()!;
      if (seen.has(oid)) continue;
      seen.add(oid);
      const commit = await this.load(oid);
      if (await reach.has(commit)) continue;
      out.push(commit);
      for (let i = commit.parents.length - 1; i >= 0; i--) stack.push(commit.parents[i]!);
    }
    return out;
  }

  protected rank(env: string): number {
    return this.order.indexOf(env);
  }

  /** The environment a commit names in its Knock-Env-Environment trailer, if any. */
  protected trailerEnvironment(commit: ParsedCommit): string | null {
    const named = parseTrailers(commit.message)[TRAILER.environment]?.trim();
    return named !== undefined && named !== '' ? named : null;
  }

  protected newCommits = new Set<string>();

  protected landingEnv = new Map<string, string>();

  /**
   * Whether `content` (null: no file) is what the owner of `path` gives it:
   * the content of the owner's branch after the push (when the owner is not
   * the environment being judged), or the content of a commit reachable from
   * `tip` that was made for the owner (its Knock-Env-Environment trailer, or
   * for a commit new to the server the environment it was judged for) and
   * builds on the owner's current head: the owner's pending commits, which
   * knock-env's client pushes after the lower environments they are merged
   * down into. An earlier state of the owner is an ancestor of its head, not
   * a descendant, so it never qualifies.
   */
  protected async ownersContent(input: { path: string; owner: string; env: string; environments: string[]; content: FileContent | null; tip: string }): Promise<boolean> {
    const { path, owner, env, content } = input;
    if (owner !== env) {
      const head = this.headAfter(owner);
      if (head !== undefined && sameContent(await entryAt(this.store, (await this.load(head)).tree, path), content)) return true;
    }
    for (const commit of await this.pendingCommits(owner, this.anchorOf(owner, env, input.environments), input.tip)) {
      if (sameContent(await entryAt(this.store, commit.tree, path), content)) return true;
    }
    return false;
  }

  /**
   * The head the owner's pending commits must build on: for the environment
   * being moved, its head before the push; for another, its head after the
   * push. An environment without a branch yet (env create, pushed lowest
   * first) is anchored at the head of the nearest environment below it that
   * has one on the server.
   */
  protected anchorOf(owner: string, env: string, environments: string[]): string | null {
    const head = owner === env ? this.headBefore(owner) : this.headAfter(owner);
    if (head !== undefined) return head;
    for (let i = environments.indexOf(owner) - 1; i >= 0; i--) {
      const below = this.headBefore(environments[i]!);
      if (below !== undefined) return below;
    }
    return null;
  }

  protected headBefore(env: string): string | undefined {
    return this.refsBefore.get(branchRef(env));
  }

  protected headAfter(env: string): string | undefined {
    return this.pushed.get(branchRef(env)) ?? this.refsBefore.get(branchRef(env));
  }

  /** The environment a commit was made for: the one it was judged for when new in this push, else the one its trailer names. */
  protected madeFor(commit: ParsedCommit): string | null {
    return this.landingEnv.get(commit.oid) ?? this.trailerEnvironment(commit);
  }

  /** Commits reachable from `tip`, made for `owner`, that descend from `anchor` (any, without one), newest first as found. */
  protected pendingCommits(owner: string, anchor: string | null, tip: string): Promise<ParsedCommit[]> {
    const key = `${owner}\0${anchor ?? ''}\0${tip}`;
    let found = this.pending.get(key);
    if (!found) {
      found = (async () => {
        const between = await this.commitsFrom(tip, new Reachability(this.load, anchor === null ? [] : [anchor]));
        if (anchor === null) return between.filter((c) => this.madeFor(c) === owner);
        // Every commit between a descendant of the anchor and the anchor is itself outside the anchor's history, so `between` holds the whole path.
        const inside = new Map(between.map((c) => [c.oid, c]));
        const descends = new Map<string, boolean>();
        for (const start of between) {
          const stack: [ParsedCommit, boolean][] = [[start, false]];
          while (stack.length > 0) {
            const [commit, expanded] = stack.pop()!;
            if (descends.has(commit.oid)) continue;
            if (expanded) {
              descends.set(commit.oid, commit.parents.some((p) => p === anchor || descends.get(p) === true));
              continue;
            }
            stack.push([commit, true]);
            for (const parent of commit.parents) {
              const next = inside.get(parent);
              if (next && !descends.has(parent)) stack.push([next, false]);
            }
          }
        }
        return between.filter((c) => descends.get(c.oid) === true && this.madeFor(c) === owner);
      })();
      this.pending.set(key, found);
    }
    return found;
  }

  /** The files an update changes, against its old head (for a new branch, the nearest environment's head). */
  protected changesOf(update: EnvUpdate): Promise<Change[]> {
    let found = this.updateChanges.get(update.ref);
    if (!found) {
      found = (async () => {
        const base = update.old ?? this.nearestHead(update.env);
        const from = base === null ? null : (await this.load(base)).tree;
        return diffTrees(this.store, from, (await this.load(update.new)).tree);
      })();
      this.updateChanges.set(update.ref, found);
    }
    return found;
  }

  /** For a new environment branch: the head of the nearest environment on the server, below first. */
  protected nearestHead(env: string): string | null {
    const position = this.rank(env);
    for (let i = position - 1; i >= 0; i--) {
      const head = this.before.get(this.order[i]!);
      if (head) return head;
    }
    for (let i = position + 1; i < this.order.length; i++) {
      const head = this.before.get(this.order[i]!);
      if (head) return head;
    }
    return null;
  }

  protected async fileText(tree: string, path: string): Promise<string | null> {
    const entry = await entryAt(this.store, tree, path);
    if (entry === null || isTreeMode(entry.mode)) return null;
    return (await readObject(this.store, entry.oid)).content.toString('utf8');
  }
}


/** A file's content as a tree has it; null where there is no file. */
export interface FileContent {
  oid: string;
  mode?: string;
}

export function contentOf(change: Change): FileContent | null {
  return change.newOid === undefined ? null : { oid: change.newOid, ...(change.newMode ? { mode: change.newMode } : {}) };
}

/** Whether a tree entry (a folder counting as no file) holds `content`. */
export function sameContent(entry: TreeEntry | null, content: FileContent | null): boolean {
  if (entry === null || isTreeMode(entry.mode)) return content === null;
  return content !== null && entry.oid === content.oid && (content.mode === undefined || entry.mode === content.mode);
}
