import { Volume, createFsFromVolume } from 'memfs';
import { describe, expect, it } from 'vitest';
import type { CoreOptions } from '../../src/core/context.js';
import type { FileSystem } from '../../src/core/git/fs.js';
import { readRef } from '../../src/core/git/refs.js';
import { readCommit } from '../../src/core/git/commit.js';
import { isAncestor } from '../../src/core/git/history.js';
import { listFiles } from '../../src/core/git/tree.js';
import { commitChanges } from '../../src/core/ops/commit.js';
import { createEnvironment } from '../../src/core/ops/environments.js';
import { initProject } from '../../src/core/ops/init.js';
import { promoteEnvironment } from '../../src/core/ops/promote.js';
import { scaffoldResource } from '../../src/core/ops/scaffold.js';
import { analyseWorkingTree } from '../../src/core/ops/analyse.js';

function memoryOptions(): CoreOptions & { fs: FileSystem } {
  const fs = createFsFromVolume(new Volume()) as unknown as FileSystem;
  let t = Date.parse('2026-03-01T09:00:00Z');
  return { fs, dir: '/work/project', actor: { name: 'Grace Hopper', email: 'grace@example.com' }, now: () => new Date((t += 1000)), pid: 1, isAlive: () => true };
}

async function loop(options: CoreOptions) {
  await initProject(options);
  await scaffoldResource({ fs: options.fs, dir: options.dir, kind: 'workflow', key: 'order-shipped' });
  const committed = await commitChanges({ ...options, message: 'Add order shipped' });
  await createEnvironment({ ...options, slug: 'staging' });
  await promoteEnvironment({ ...options, environment: 'staging' });
  await promoteEnvironment({ ...options, environment: 'production' });
  return committed;
}

describe('the core on an in-memory file system', () => {
  it('runs init → commit → env create → promote without touching the disk', async () => {
    const options = memoryOptions();
    const committed = await loop(options);
    const store = { fs: options.fs, gitdir: '/work/project/.git', cache: {} };
    const dev = (await readRef(store, 'refs/heads/development'))!;
    const staging = (await readRef(store, 'refs/heads/staging'))!;
    const production = (await readRef(store, 'refs/heads/production'))!;
    expect(staging).toBe(dev);
    expect(production).toBe(staging);
    expect(await isAncestor(store, committed.commit, production)).toBe(true);
    const files = (await listFiles(store, (await readCommit(store, production)).tree)).map((f) => f.path);
    expect(files).toContain('workflows/order-shipped/workflow.yaml');
    const status = await analyseWorkingTree(options);
    expect(status.resources).toEqual([]);
  });

  it('produces the same commit ids for the same actor, clock and content', async () => {
    const a = await loop(memoryOptions());
    const b = await loop(memoryOptions());
    expect(a.commit).toBe(b.commit);
    const other = memoryOptions();
    other.actor = { name: 'Someone Else', email: 'else@example.com' };
    expect((await loop(other)).commit).not.toBe(a.commit);
  });
});
