import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { knockEnv } from '../helpers/project.js';
import { git, tempDir } from '../helpers/repo.js';

describe('repositories without a working tree of their own', () => {
  it('init refuses a bare repository instead of nesting a .git in it', async () => {
    const root = await tempDir('knock-env-bare-');
    const bare = join(root, 'shared.git');
    await git(root, 'init', '-q', '--bare', bare);
    const before = (await readdir(bare)).sort();
    const result = await knockEnv(bare, 'init');
    expect(result.code).toBe(1);
    expect(result.err).toContain(`${bare} is a bare git repository`);
    expect(result.err).toContain('git clone');
    expect((await readdir(bare)).sort()).toEqual(before);
    expect(await git(bare, 'rev-parse', '--is-bare-repository')).toBe('true');
    // Inside its objects folder too.
    expect((await knockEnv(join(bare, 'objects'), 'init')).code).toBe(1);
    expect((await readdir(bare)).sort()).toEqual(before);
  });

  it('init refuses the inside of a .git folder', async () => {
    const dir = await tempDir('knock-env-inner-');
    expect((await knockEnv(dir, 'init')).code).toBe(0);
    const refs = await git(dir, 'for-each-ref');
    const result = await knockEnv(join(dir, '.git'), 'init');
    expect(result.code).toBe(1);
    expect(result.err).toContain('.git is a bare git repository (or the inside of a .git folder)');
    expect(await git(dir, 'for-each-ref')).toBe(refs);
  });

  it('says exactly why not in a linked worktree, for every command, changing nothing', async () => {
    const dir = await tempDir('knock-env-main-');
    expect((await knockEnv(dir, 'init')).code).toBe(0);
    const worktree = join(await tempDir('knock-env-wt-'), 'wt');
    await git(dir, 'worktree', 'add', '-q', worktree, 'production');
    const refs = await git(dir, 'for-each-ref');
    for (const args of [['status'], ['validate'], ['log'], ['init'], ['commit', '-m', 'x'], ['promote', 'production', '--yes']]) {
      const result = await knockEnv(worktree, ...args);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.err, args.join(' ')).toContain(`${worktree} is a linked git worktree`);
      expect(result.err, args.join(' ')).toContain(`Run knock-env in the main worktree (${dir})`);
      expect(result.err).not.toContain('not a knock-env project');
    }
    expect(await git(dir, 'for-each-ref')).toBe(refs);
    expect(await git(worktree, 'status', '--porcelain')).toBe('');
  });
});
