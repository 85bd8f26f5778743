import { formatMessage, readCommit, writeCommit, type Signature } from '../git/commit.js';
import type { GitStore } from '../git/objects.js';
import { updateRef } from '../git/refs.js';
import { applyChanges, type FileChange } from '../git/tree.js';
import { branchRef, headOf } from '../project.js';
import { TRAILER, shortOid } from './shared.js';

export interface BranchMove {
  environment: string;
  from: string;
  to: string;
}

/**
 * After a commit on environments[fromIndex], gives every lower environment a
 * merge commit (parents: its old head, the new head above it) whose tree is
 * its own tree with the committed paths taken from above. The paths belong to
 * the upper environment, so the merge never conflicts, and the chain holds:
 * each upper head is an ancestor of the head below it.
 */
export async function mergeDown(
  store: GitStore,
  slugs: string[],
  fromIndex: number,
  upperHead: string,
  changes: Map<string, FileChange | null>,
  signature: Signature,
): Promise<BranchMove[]> {
  const moves: BranchMove[] = [];
  let above = upperHead;
  for (let i = fromIndex - 1; i >= 0; i--) {
    const env = slugs[i]!;
    const upperEnv = slugs[i + 1]!;
    const old = await headOf(store, env);
    const tree = await applyChanges(store, (await readCommit(store, old)).tree, changes);
    const message = formatMessage(`Merge ${upperEnv} into ${env}`, `Brings ${shortOid(above)} from ${upperEnv}; ${env}'s own paths are unchanged.`, {
      [TRAILER.operation]: 'merge-down',
      [TRAILER.environment]: env,
      [TRAILER.source]: upperEnv,
      [TRAILER.from]: old,
      [TRAILER.to]: above,
    });
    const oid = await writeCommit(store, { tree, parents: [old, above], author: signature, committer: signature, message });
    await updateRef(store, { ref: branchRef(env), oldOid: old, newOid: oid, reflogMessage: `knock-env: merge ${upperEnv} into ${env}`, committer: signature });
    moves.push({ environment: env, from: old, to: oid });
    above = oid;
  }
  return moves;
}
