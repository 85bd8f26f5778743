import { rm, writeFile } from 'node:fs/promises';
import isomorphicGit from 'isomorphic-git';
import { describe, expect, it } from 'vitest';
import { hashObject, readObject, writeObject, type GitStore } from '../../src/core/git/objects.js';
import { PackReader } from '../../src/core/git/pack.js';
import { diskFs, git, tempDir } from '../helpers/repo.js';

async function repository(): Promise<{ dir: string; store: GitStore }> {
  const dir = await tempDir();
  await git(dir, 'init', '-q', '-b', 'main');
  await writeFile(`${dir}/a.txt`, 'first\n');
  await git(dir, 'add', 'a.txt');
  await git(dir, 'commit', '-qm', 'first');
  return { dir, store: { fs: diskFs, gitdir: `${dir}/.git`, cache: {} } };
}

/** Two blob contents whose ids share their first two hex digits (the same fan-out folder). */
function sameFolderPair(): [Buffer, Buffer] {
  const seen = new Map<string, Buffer>();
  for (let i = 0; ; i++) {
    const content = Buffer.from(`blob number ${i}\n`);
    const prefix = hashObject('blob', content).slice(0, 2);
    const earlier = seen.get(prefix);
    if (earlier) return [earlier, content];
    seen.set(prefix, content);
  }
}

describe('a plain git gc running alongside', () => {
  it('writes an object into a fan-out folder that git gc removed after this process made it', async () => {
    const { dir, store } = await repository();
    const [one, two] = sameFolderPair();
    const first = await writeObject(store, 'blob', one);
    // git gc packs and prunes loose objects and removes the emptied folders.
    await rm(`${store.gitdir}/objects/${first.slice(0, 2)}`, { recursive: true, force: true });
    const second = await writeObject(store, 'blob', two);
    expect(await git(dir, 'cat-file', '-t', second)).toBe('blob');
    expect(await git(dir, 'cat-file', 'blob', second)).toBe(two.toString().trim());
  });

  it('finds an object that git gc moved from a loose file into a new pack after the pack list was read', async () => {
    const { dir, store } = await repository();
    await git(dir, 'gc', '-q');
    const packed = await git(dir, 'rev-parse', 'HEAD');
    // The pack list is read now, holding the first pack only (by this reader and by isomorphic-git's cache, as a command that used both has).
    expect((await readObject(store, packed)).type).toBe('commit');
    await isomorphicGit.readObject({ fs: diskFs, gitdir: store.gitdir, oid: packed, cache: store.cache });
    const reader = new PackReader(diskFs, store.gitdir);
    expect(await reader.read(packed)).not.toBeNull();
    await writeFile(`${dir}/b.txt`, 'second\n');
    await git(dir, 'add', 'b.txt');
    await git(dir, 'commit', '-qm', 'second');
    const later = await git(dir, 'rev-parse', 'HEAD');
    // Repacks everything into one new pack, deletes the old pack and the loose objects.
    await git(dir, 'gc', '-q');
    expect(await git(dir, 'count-objects')).toMatch(/^0 objects/);
    // The pack list read before gc does not have it; re-read on the miss, it does.
    expect(await reader.read(later)).toBeNull();
    expect(await reader.refresh()).toBe(true);
    expect((await reader.read(later))?.type).toBe('commit');
    expect(await reader.refresh()).toBe(false);
    const object = await readObject(store, later);
    expect(object.type).toBe('commit');
    expect(hashObject(object.type, object.content)).toBe(later);
    expect((await readObject(store, packed)).type).toBe('commit');
  });
});
