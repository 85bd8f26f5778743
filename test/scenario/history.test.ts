import { mkdir, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { commitsBetween as commitsBetweenHeads, isAncestor, mergeBase } from '../../src/core/git/history.js';
import { commitChanges } from '../../src/core/ops/commit.js';
import { createEnvironment } from '../../src/core/ops/environments.js';
import { initProject } from '../../src/core/ops/init.js';
import { commitsBetween } from '../../src/core/ops/plan.js';
import { scaffoldResource } from '../../src/core/ops/scaffold.js';
import { validateWorkingTree } from '../../src/core/ops/validate.js';
import { ValidationCache } from '../../src/core/validation-cache.js';
import { coreOptionsFor, diskFs, git, gitCode, tempDir } from '../helpers/repo.js';

describe('history walks agree with git', () => {
  it('lists the same commits as git rev-list, across merge-downs', async () => {
    const dir = await tempDir();
    await initProject(coreOptionsFor(dir));
    for (const key of ['first-flow', 'second-flow']) {
      await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key });
      await commitChanges({ ...coreOptionsFor(dir), message: `Add ${key}` });
    }
    await createEnvironment({ ...coreOptionsFor(dir), slug: 'staging' });
    await scaffoldResource({ fs: diskFs, dir, kind: 'guide', key: 'third-guide' });
    await commitChanges({ ...coreOptionsFor(dir), message: 'Add guide' });
    await createEnvironment({ ...coreOptionsFor(dir), slug: 'qa-env' });
    const store = { fs: diskFs, gitdir: `${dir}/.git`, cache: {} };
    for (const [from, to] of [['production', 'development'], ['staging', 'development'], ['production', 'qa-env'], ['development', 'production']]) {
      const ours = (await commitsBetween(store, await git(dir, 'rev-parse', from!), await git(dir, 'rev-parse', to!))).map((c) => c.oid).sort();
      const theirs = (await git(dir, 'rev-list', `${from}..${to}`)).split('\n').filter(Boolean).sort();
      expect(ours, `${from}..${to}`).toEqual(theirs);
    }
    for (const [a, b] of [['production', 'development'], ['development', 'production'], ['staging', 'qa-env'], ['qa-env', 'staging']]) {
      const expected = (await gitCode(dir, 'merge-base', '--is-ancestor', a!, b!)) === 0;
      expect(await isAncestor(store, await git(dir, 'rev-parse', a!), await git(dir, 'rev-parse', b!)), `${a} ≤ ${b}`).toBe(expected);
    }
  });
});

describe('history in a shallow clone', () => {
  it('ends at the shallow commits, where git ends it, instead of failing on a missing parent', async () => {
    const dir = await tempDir();
    await initProject(coreOptionsFor(dir));
    for (const key of ['first-flow', 'second-flow', 'third-flow']) {
      await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key });
      await commitChanges({ ...coreOptionsFor(dir), message: `Add ${key}` });
    }
    const clone = await tempDir();
    await git(clone, 'clone', '--quiet', '--depth', '2', '--branch', 'development', `file://${dir}`, '.');
    const store = { fs: diskFs, gitdir: `${clone}/.git`, cache: {} };
    const head = await git(clone, 'rev-parse', 'HEAD');
    const shallowTip = await git(clone, 'rev-parse', 'HEAD~1');
    // git lists what the clone has; the walk ends there too.
    expect((await commitsBetweenHeads(store, null, head)).map((c) => c.oid)).toEqual((await git(clone, 'rev-list', 'HEAD')).split('\n'));
    expect(await isAncestor(store, shallowTip, head)).toBe(true);
    // Walking down from the shallow commit stops there: "no", not a read of a missing parent.
    expect(await isAncestor(store, head, shallowTip)).toBe(false);
    expect(await mergeBase(store, shallowTip, head)).toBe(shallowTip);
  });
});

describe('validation verdicts cached by tree id', () => {
  it('remembers valid folders only, and re-checks a folder once its content changes', async () => {
    const dir = await tempDir();
    await initProject(coreOptionsFor(dir));
    await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'good-flow' });
    await mkdir(`${dir}/workflows/bad-flow`, { recursive: true });
    await writeFile(`${dir}/workflows/bad-flow/workflow.yaml`, 'name: Bad\nsteps: 7\n');
    const first = await validateWorkingTree({ fs: diskFs, dir });
    expect(first.resources.map((r) => [r.key, r.valid])).toEqual([['bad-flow', false], ['good-flow', true]]);
    const cache = await ValidationCache.open(diskFs, `${dir}/.git`);
    // The verdicts are keyed by the folders' tree ids as git computes them.
    await git(dir, 'add', 'workflows');
    const tree = await git(dir, 'write-tree');
    const goodOid = await git(dir, 'rev-parse', `${tree}:workflows/good-flow`);
    const badOid = await git(dir, 'rev-parse', `${tree}:workflows/bad-flow`);
    expect(cache.has('workflow', goodOid)).toBe(true);
    expect(cache.has('workflow', badOid)).toBe(false);
    // Still reported on the next run: invalid verdicts are never cached.
    const second = await validateWorkingTree({ fs: diskFs, dir });
    expect(second.resources.find((r) => r.key === 'bad-flow')!.valid).toBe(false);
    // Break the valid one: a new tree id, so it is validated again and now fails.
    await writeFile(`${dir}/workflows/good-flow/workflow.yaml`, 'name: 3\nsteps: nope\n');
    const third = await validateWorkingTree({ fs: diskFs, dir });
    expect(third.resources.find((r) => r.key === 'good-flow')!.valid).toBe(false);
  });
});
