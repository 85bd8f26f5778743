import { Volume, createFsFromVolume } from 'memfs';
import { describe, expect, it } from 'vitest';
import { isKnockEnvError } from '../../src/core/errors.js';
import type { FileSystem } from '../../src/core/git/fs.js';
import type { GitStore } from '../../src/core/git/objects.js';
import { readRef, updateRef } from '../../src/core/git/refs.js';
import { RefTransaction, attachTransaction, detachTransaction } from '../../src/core/git/transaction.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const sig = { name: 'Ada', email: 'ada@example.com', timestamp: 1_700_000_000, timezoneOffset: 0 };

async function store(): Promise<GitStore> {
  const fs = createFsFromVolume(new Volume()) as unknown as FileSystem;
  await fs.promises.mkdir('/repo/.git/refs/heads', { recursive: true });
  await fs.promises.writeFile('/repo/.git/refs/heads/development', `${A}\n`);
  return { fs, gitdir: '/repo/.git', cache: {} };
}

describe('ref transactions', () => {
  it('hold ref moves back: reads see the staged value, the file on disk keeps the old one', async () => {
    const s = await store();
    const tx = new RefTransaction();
    attachTransaction(s, tx);
    await updateRef(s, { ref: 'refs/heads/development', oldOid: A, newOid: B, reflogMessage: 'one', committer: sig });
    await updateRef(s, { ref: 'refs/heads/development', oldOid: B, newOid: C, reflogMessage: 'two', committer: sig });
    await updateRef(s, { ref: 'refs/heads/staging', oldOid: null, newOid: B, reflogMessage: 'new', committer: sig });
    expect(await readRef(s, 'refs/heads/development')).toBe(C);
    expect((await s.fs.promises.readFile('/repo/.git/refs/heads/development')).toString()).toBe(`${A}\n`);
    // One move per ref, from its value before the transaction to its last value.
    expect([...tx.moves.values()].map((m) => [m.ref, m.old, m.new])).toEqual([
      ['refs/heads/development', A, C],
      ['refs/heads/staging', null, B],
    ]);
    detachTransaction(s);
    expect(await readRef(s, 'refs/heads/development')).toBe(A);
    expect(await readRef(s, 'refs/heads/staging')).toBeNull();
  });

  it('still compares the expected old value', async () => {
    const s = await store();
    attachTransaction(s, new RefTransaction());
    const error = await updateRef(s, { ref: 'refs/heads/development', oldOid: B, newOid: C, reflogMessage: 'x', committer: sig }).catch((e: unknown) => e);
    expect(isKnockEnvError(error, 'CONCURRENT_UPDATE')).toBe(true);
  });

  it('runs deferred work only after publishing, and undoes earlier changes on abort', async () => {
    const done: string[] = [];
    const tx = new RefTransaction();
    tx.defer(async () => void done.push('working tree'));
    tx.onAbort(async () => void done.push('undo first'));
    tx.onAbort(async () => void done.push('undo second'));
    await tx.abort();
    // Aborted: the deferred work never runs, the undo steps run newest first.
    await tx.runDeferred();
    expect(done).toEqual(['undo second', 'undo first']);
    const published = new RefTransaction();
    published.defer(async () => void done.push('after publish'));
    published.onAbort(async () => void done.push('never'));
    await published.runDeferred();
    await published.abort();
    expect(done.slice(2)).toEqual(['after publish']);
  });
});
