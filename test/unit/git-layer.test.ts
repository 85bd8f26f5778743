import { describe, expect, it } from 'vitest';
import { Volume, createFsFromVolume } from 'memfs';
import { writeFile, mkdir } from 'node:fs/promises';
import { hashObject, readObject, writeObject, EMPTY_TREE_OID, type GitStore } from '../../src/core/git/objects.js';
import { applyChanges, diffTrees, listFiles, serializeTree, parseTree } from '../../src/core/git/tree.js';
import { parseIndex, readIndex, serializeIndex, writeIndex } from '../../src/core/git/gitindex.js';
import { formatMessage, parseTrailers, writeCommit, serializeCommit, parseCommit } from '../../src/core/git/commit.js';
import { isAncestor } from '../../src/core/git/history.js';
import { acquireRepositoryLock, readRef, updateRef } from '../../src/core/git/refs.js';
import { isKnockEnvError } from '../../src/core/errors.js';
import type { FileSystem } from '../../src/core/git/fs.js';
import { diskFs, git, tempDir } from '../helpers/repo.js';

function memoryStore(): GitStore {
  const fs = createFsFromVolume(new Volume()) as unknown as FileSystem;
  return { fs, gitdir: '/repo/.git', cache: {} };
}

const sig = { name: 'Ada', email: 'ada@example.com', timestamp: 1_700_000_000, timezoneOffset: 60 };

describe('objects and trees (memfs)', () => {
  it('hashes blobs exactly as git does', () => {
    // `printf 'hello\n' | git hash-object --stdin`
    expect(hashObject('blob', Buffer.from('hello\n'))).toBe('ce013625030ba8dba906f756967f9e9ca394464a');
    expect(hashObject('tree', Buffer.alloc(0))).toBe(EMPTY_TREE_OID);
  });

  it('writes, reads and rewrites only the changed paths of a tree', async () => {
    const store = memoryStore();
    const a = await writeObject(store, 'blob', Buffer.from('a'));
    const b = await writeObject(store, 'blob', Buffer.from('b'));
    expect((await readObject(store, a)).content.toString()).toBe('a');
    const t1 = await applyChanges(store, null, new Map([
      ['workflows/one/workflow.yaml', { oid: a, mode: '100644' }],
      ['workflows/two/workflow.yaml', { oid: a, mode: '100644' }],
      ['knock-env.yaml', { oid: b, mode: '100644' }],
    ]));
    const t2 = await applyChanges(store, t1, new Map([['workflows/two/workflow.yaml', { oid: b, mode: '100644' }], ['workflows/one/workflow.yaml', null]]));
    expect((await listFiles(store, t2)).map((f) => f.path)).toEqual(['knock-env.yaml', 'workflows/two/workflow.yaml']);
    const diff = await diffTrees(store, t1, t2);
    expect(diff.map((d) => [d.path, d.status])).toEqual([
      ['workflows/one/workflow.yaml', 'deleted'],
      ['workflows/two/workflow.yaml', 'modified'],
    ]);
    // Deleting the last file removes the folders too.
    const t3 = await applyChanges(store, t2, new Map([['workflows/two/workflow.yaml', null], ['knock-env.yaml', null]]));
    expect(t3).toBe(EMPTY_TREE_OID);
  });

  it('orders tree entries the way git does (a folder sorts as name + "/")', () => {
    const entries = [
      { mode: '100644', name: 'a.b', oid: 'a'.repeat(40) },
      { mode: '40000', name: 'a', oid: 'b'.repeat(40) },
      { mode: '100644', name: 'a-', oid: 'c'.repeat(40) },
    ];
    expect(parseTree(serializeTree(entries)).map((e) => e.name)).toEqual(['a-', 'a.b', 'a']);
  });

  it('round-trips commits and trailers', () => {
    const message = formatMessage('Add welcome', undefined, { 'Knock-Env-Operation': 'commit', 'Knock-Env-Environment': 'development' });
    const bytes = serializeCommit({ tree: EMPTY_TREE_OID, parents: [], author: sig, committer: sig, message });
    const parsed = parseCommit('x', bytes);
    expect(parsed.author).toEqual(sig);
    expect(parseTrailers(parsed.message)).toEqual({ 'Knock-Env-Operation': 'commit', 'Knock-Env-Environment': 'development' });
  });

  it('answers ancestry by walking parents', async () => {
    const store = memoryStore();
    const c1 = await writeCommit(store, { tree: EMPTY_TREE_OID, parents: [], author: sig, committer: sig, message: 'one\n' });
    const c2 = await writeCommit(store, { tree: EMPTY_TREE_OID, parents: [c1], author: sig, committer: sig, message: 'two\n' });
    const side = await writeCommit(store, { tree: EMPTY_TREE_OID, parents: [c1], author: sig, committer: sig, message: 'side\n' });
    const merge = await writeCommit(store, { tree: EMPTY_TREE_OID, parents: [c2, side], author: sig, committer: sig, message: 'merge\n' });
    expect(await isAncestor(store, c1, merge)).toBe(true);
    expect(await isAncestor(store, side, merge)).toBe(true);
    expect(await isAncestor(store, c2, side)).toBe(false);
  });
});

describe('refs: compare-and-swap and the repository lock (memfs)', () => {
  it('moves a ref only from the expected old value', async () => {
    const store = memoryStore();
    await store.fs.promises.mkdir('/repo/.git/refs/heads', { recursive: true });
    const a = 'a'.repeat(40);
    const b = 'b'.repeat(40);
    await updateRef(store, { ref: 'refs/heads/x', oldOid: null, newOid: a, reflogMessage: 'create', committer: sig });
    expect(await readRef(store, 'refs/heads/x')).toBe(a);
    const stale = updateRef(store, { ref: 'refs/heads/x', oldOid: b, newOid: b, reflogMessage: 'stale', committer: sig });
    await expect(stale).rejects.toMatchObject({ code: 'CONCURRENT_UPDATE' });
    expect(await readRef(store, 'refs/heads/x')).toBe(a);
    // A lock held by git itself is respected.
    await store.fs.promises.writeFile('/repo/.git/refs/heads/x.lock', '');
    await expect(updateRef(store, { ref: 'refs/heads/x', oldOid: a, newOid: b, reflogMessage: 'm', committer: sig })).rejects.toMatchObject({ code: 'CONCURRENT_UPDATE' });
  });

  it('waits for a live lock holder, takes over a dead one', async () => {
    const store = memoryStore();
    await store.fs.promises.mkdir('/repo/.git', { recursive: true });
    const first = await acquireRepositoryLock(store.fs, store.gitdir, { pid: 111, isAlive: () => true });
    const blocked = acquireRepositoryLock(store.fs, store.gitdir, { pid: 222, isAlive: () => true, timeoutMs: 150 });
    await expect(blocked).rejects.toSatisfy((e: unknown) => isKnockEnvError(e, 'LOCKED'));
    // pid 111 "crashed" without releasing: a process that sees it dead takes the lock.
    const taken = await acquireRepositoryLock(store.fs, store.gitdir, { pid: 333, isAlive: (pid) => pid !== 111, timeoutMs: 150 });
    const holder = JSON.parse((await store.fs.promises.readFile('/repo/.git/knock-env.lock')).toString()) as { pid: number };
    expect(holder.pid).toBe(333);
    await taken.release();
    void first;
  });
});

describe('the git index, against real git', () => {
  it('reads what git writes and writes what git reads', async () => {
    const dir = await tempDir();
    await git(dir, 'init', '-q', '-b', 'main');
    await mkdir(`${dir}/workflows/a`, { recursive: true });
    await writeFile(`${dir}/workflows/a/workflow.yaml`, 'name: A\n');
    await writeFile(`${dir}/top.txt`, 'x\n');
    await git(dir, 'add', '-A');
    await git(dir, 'commit', '-qm', 'one');
    const index = await readIndex(diskFs, `${dir}/.git`);
    expect([...index.entries.keys()]).toEqual(['top.txt', 'workflows/a/workflow.yaml']);
    expect(index.entries.get('top.txt')!.oid).toBe(await git(dir, 'rev-parse', 'HEAD:top.txt'));
    const before = await git(dir, 'ls-files', '-s', '--debug');
    await writeIndex(diskFs, `${dir}/.git`, index.entries.values());
    expect(await git(dir, 'ls-files', '-s', '--debug')).toBe(before);
    expect(await git(dir, 'status', '--porcelain')).toBe('');
    // An index of version 4 (path compression) reads the same.
    await git(dir, 'update-index', '--index-version', '4');
    const v4 = parseIndex(await (await import('node:fs/promises')).readFile(`${dir}/.git/index`));
    expect([...v4.entries.values()].map((e) => [e.path, e.oid])).toEqual([...index.entries.values()].map((e) => [e.path, e.oid]));
    expect(serializeIndex(v4.entries.values()).subarray(0, 4).toString()).toBe('DIRC');
  });
});

describe('ancestry with clocks that disagree', () => {
  it('finds an ancestor whose descendants were written by a machine whose clock is months behind', async () => {
    const store = memoryStore();
    const tree = await writeObject(store, 'tree', Buffer.alloc(0));
    const at = (timestamp: number) => ({ ...sig, timestamp });
    const parent = await writeCommit(store, { tree, parents: [], author: at(1_800_000_000), committer: at(1_800_000_000), message: 'right clock\n' });
    const child = await writeCommit(store, { tree, parents: [parent], author: at(1_700_000_000), committer: at(1_700_000_000), message: 'clock behind\n' });
    const grandchild = await writeCommit(store, { tree, parents: [child], author: at(1_700_000_100), committer: at(1_700_000_100), message: 'still behind\n' });
    const unrelated = await writeCommit(store, { tree, parents: [], author: at(1_800_000_500), committer: at(1_800_000_500), message: 'elsewhere\n' });
    expect(await isAncestor(store, parent, grandchild)).toBe(true);
    expect(await isAncestor(store, unrelated, grandchild)).toBe(false);
    expect(await isAncestor(store, grandchild, parent)).toBe(false);
  });
});
