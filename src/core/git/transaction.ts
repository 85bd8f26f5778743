import type { GitStore } from './objects.js';

/** One ref a transaction moves: from the value it had when first touched to its final value. */
export interface StagedMove {
  ref: string;
  /** The value before the transaction (null: the ref did not exist). */
  old: string | null;
  new: string;
  reflogMessage: string;
  committer: { name: string; email: string; timestamp: number; timezoneOffset: number };
}

/**
 * Ref moves held back instead of written: while a transaction is attached to
 * a store, `updateRef` records the move (still checking the expected old
 * value) and `readRef` answers with the staged value, so an operation runs
 * unchanged and its moves can be published first (to a remote) and applied
 * locally after. Work on the working tree is deferred the same way.
 */
export class RefTransaction {
  readonly moves = new Map<string, StagedMove>();
  private readonly deferred: (() => Promise<void>)[] = [];
  private readonly undo: (() => Promise<void>)[] = [];

  stage(move: StagedMove): void {
    const earlier = this.moves.get(move.ref);
    this.moves.set(move.ref, earlier ? { ...move, old: earlier.old } : move);
  }

  /** The staged value of a ref; undefined when the transaction has not touched it. */
  valueOf(ref: string): string | undefined {
    return this.moves.get(ref)?.new;
  }

  /** Runs `work` once the moves are applied (working tree and index updates). */
  defer(work: () => Promise<void>): void {
    this.deferred.push(work);
  }

  async runDeferred(): Promise<void> {
    this.undo.length = 0;
    for (const work of this.deferred.splice(0)) await work();
  }

  /** Registers how to take back a change made before publishing (run by `abort`). */
  onAbort(work: () => Promise<void>): void {
    this.undo.push(work);
  }

  /** Nothing was published: take back the local changes made so far, newest first. */
  async abort(): Promise<void> {
    this.deferred.length = 0;
    for (const work of this.undo.splice(0).reverse()) await work().catch(() => undefined);
  }
}

const attached = new WeakMap<GitStore, RefTransaction>();

export function attachTransaction(store: GitStore, transaction: RefTransaction): void {
  attached.set(store, transaction);
}

export function detachTransaction(store: GitStore): void {
  attached.delete(store);
}

export function transactionOf(store: GitStore): RefTransaction | undefined {
  return attached.get(store);
}
