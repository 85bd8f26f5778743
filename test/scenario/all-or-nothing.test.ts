import { cp, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isKnockEnvError } from '../../src/core/errors.js';
import type { FileSystem } from '../../src/core/git/fs.js';
import { commitChanges } from '../../src/core/ops/commit.js';
import { diagnose } from '../../src/core/ops/doctor.js';
import { createEnvironment } from '../../src/core/ops/environments.js';
import { initProject } from '../../src/core/ops/init.js';
import { promoteEnvironment } from '../../src/core/ops/promote.js';
import { scaffoldResource } from '../../src/core/ops/scaffold.js';
import { setAccountSetting } from '../../src/core/ops/settings.js';
import { assertChain, cli, coreOptionsFor, diskFs, git, tempDir } from '../helpers/repo.js';

const ENVS = ['development', 'staging', 'production'];

let template: Promise<string> | undefined;

/** development → staging → production, one workflow promoted into staging twice (so staging can be rolled back); a fresh copy each time. */
async function project(): Promise<string> {
  template ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'knock-env-aon-'));
    await initProject(coreOptionsFor(dir));
    await createEnvironment({ ...coreOptionsFor(dir), slug: 'staging' });
    for (const key of ['first-flow', 'second-flow']) {
      await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key });
      await commitChanges({ ...coreOptionsFor(dir), message: `Add ${key}` });
      await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'staging' });
    }
    return dir;
  })();
  const dir = await tempDir();
  await cp(await template, dir, { recursive: true });
  return dir;
}

afterAll(async () => {
  if (template) await rm(await template, { recursive: true, force: true });
});

async function heads(dir: string): Promise<string[]> {
  return Promise.all([...ENVS, 'knock-env/audit'].map((b) => git(dir, 'rev-parse', b)));
}

async function sound(dir: string): Promise<void> {
  await git(dir, 'fsck', '--no-progress', '--strict');
  expect(await git(dir, 'status', '--porcelain')).toBe('');
  await assertChain(dir, ENVS);
}

/** The disk, failing one rename (as a process killed at that point would leave things) while `armed`. */
function crashingFs(failOn: (to: string) => boolean): { fs: FileSystem; armed: { on: boolean } } {
  const armed = { on: true };
  const promises = new Proxy(diskFs.promises, {
    get(target, name, receiver) {
      if (name === 'rename') {
        return async (from: string, to: string) => {
          if (armed.on && failOn(String(to))) {
            armed.on = false;
            throw new Error('simulated crash');
          }
          return target.rename(from, to);
        };
      }
      return Reflect.get(target, name, receiver) as unknown;
    },
  });
  return { fs: { ...diskFs, promises } as FileSystem, armed };
}

describe('locks are taken before anything moves', () => {
  it('commit with .git/index.lock present exits 6 and changes nothing: no branch move, no origin_environment line', async () => {
    const dir = await project();
    await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'locked-out' });
    const file = `${dir}/workflows/locked-out/workflow.yaml`;
    const before = await readFile(file, 'utf8');
    const was = await heads(dir);
    await writeFile(`${dir}/.git/index.lock`, '');
    const result = await cli(dir, ['commit', '-m', 'Add locked-out']);
    expect(result.exitCode).toBe(6);
    expect(result.stderr).toMatch(/index\.lock/);
    expect(await heads(dir)).toEqual(was);
    expect(await readFile(file, 'utf8')).toBe(before);
    await rm(`${dir}/.git/index.lock`);
    // The retry finds the same world: the change is still there to commit, and lands whole.
    const retry = await cli(dir, ['commit', '-m', 'Add locked-out']);
    expect(retry.exitCode).toBe(0);
    expect(await readFile(file, 'utf8')).toMatch(/origin_environment/);
    await sound(dir);
  });

  it('promote with the audit trail locked exits 6: the environment does not move without its audit event', async () => {
    const dir = await project();
    await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'third-flow' });
    await commitChanges({ ...coreOptionsFor(dir), message: 'Add third-flow' });
    const was = await heads(dir);
    await writeFile(`${dir}/.git/refs/heads/knock-env/audit.lock`, '');
    const result = await cli(dir, ['promote', 'staging', '--yes']);
    expect(result.exitCode).toBe(6);
    expect(await heads(dir)).toEqual(was);
    await rm(`${dir}/.git/refs/heads/knock-env/audit.lock`);
    expect((await cli(dir, ['promote', 'staging', '--yes'])).exitCode).toBe(0);
    const staging = await git(dir, 'rev-parse', 'staging');
    expect(await git(dir, 'log', '-1', '--format=%(trailers:key=Knock-Env-To,valueonly)', 'knock-env/audit')).toBe(staging);
    await sound(dir);
  });

  it("rollback with a lower environment's ref locked exits 6 and moves no branch", async () => {
    const dir = await project();
    const was = await heads(dir);
    await writeFile(`${dir}/.git/refs/heads/development.lock`, '');
    const result = await cli(dir, ['rollback', 'staging', '--yes']);
    expect(result.exitCode).toBe(6);
    expect(await heads(dir)).toEqual(was);
    await rm(`${dir}/.git/refs/heads/development.lock`);
    expect((await cli(dir, ['rollback', 'staging', '--yes'])).exitCode).toBe(0);
    await sound(dir);
  });

  it("settings set with a lower environment's ref locked exits 6 and leaves production and the chain as they were", async () => {
    const dir = await project();
    const was = await heads(dir);
    await writeFile(`${dir}/.git/refs/heads/staging.lock`, '');
    const result = await cli(dir, ['settings', 'set', 'production-write-access', 'on']);
    expect(result.exitCode).toBe(6);
    expect(await heads(dir)).toEqual(was);
    await rm(`${dir}/.git/refs/heads/staging.lock`);
    await setAccountSetting({ ...coreOptionsFor(dir), name: 'production-write-access', value: true });
    expect(await git(dir, 'show', 'development:knock-env.yaml')).toMatch(/production_write_access: true/);
    await sound(dir);
  });

  it('refuses a promotion before anything moves when a plain-git branch knock-env/audit/x blocks the audit trail', async () => {
    const dir = await tempDir();
    await initProject(coreOptionsFor(dir));
    await createEnvironment({ ...coreOptionsFor(dir), slug: 'staging' });
    await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'first-flow' });
    await commitChanges({ ...coreOptionsFor(dir), message: 'Add first-flow' });
    await git(dir, 'branch', 'knock-env/audit/x', 'development');
    const staging = await git(dir, 'rev-parse', 'staging');
    const error = await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'staging' }).catch((e: unknown) => e);
    expect(isKnockEnvError(error, 'UNSUPPORTED_REPOSITORY')).toBe(true);
    expect((error as Error).message).toMatch(/knock-env\/audit\/x|folder of branches/);
    expect((error as { hint: string }).hint).toMatch(/git branch -m/);
    expect(await git(dir, 'rev-parse', 'staging')).toBe(staging);
    await git(dir, 'branch', '-D', 'knock-env/audit/x');
    await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'staging' });
    await sound(dir);
  });
});

describe('an operation stopped between two writes is finished by the next command', () => {
  it('commit stopped after the branch moved, before the index: the next command writes the index (git status stays clean)', async () => {
    const dir = await project();
    await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'half-way' });
    const { fs } = crashingFs((to) => to.endsWith('/.git/index'));
    const error = await commitChanges({ ...coreOptionsFor(dir), fs, message: 'Add half-way' }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('simulated crash');
    // The branch moved, the index did not: what a kill -9 at that point leaves.
    expect(await git(dir, 'ls-tree', '--name-only', 'development', 'workflows/')).toMatch(/half-way/);
    expect((await diagnose(coreOptionsFor(dir))).findings.map((f) => f.code)).toContain('operation-incomplete');
    const next = await cli(dir, ['status']);
    expect(next.exitCode).toBe(0);
    expect(next.stderr).toMatch(/finished an operation interrupted/);
    expect(await readFile(`${dir}/workflows/half-way/workflow.yaml`, 'utf8')).toMatch(/origin_environment/);
    await sound(dir);
    expect((await diagnose(coreOptionsFor(dir))).findings.map((f) => f.code)).not.toContain('operation-incomplete');
  });

  it('promote stopped after the environment moved, before the audit event: doctor --fix records it', async () => {
    const dir = await project();
    await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'third-flow' });
    await commitChanges({ ...coreOptionsFor(dir), message: 'Add third-flow' });
    const { fs } = crashingFs((to) => to.endsWith('/refs/heads/knock-env/audit'));
    const error = await promoteEnvironment({ ...coreOptionsFor(dir), fs, environment: 'staging' }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('simulated crash');
    const staging = await git(dir, 'rev-parse', 'staging');
    expect(staging).toBe(await git(dir, 'rev-parse', 'development'));
    const before = await diagnose(coreOptionsFor(dir));
    expect(before.healthy).toBe(false);
    expect(before.findings.map((f) => f.code)).toContain('operation-incomplete');
    await diagnose({ ...coreOptionsFor(dir), fix: true });
    expect(await git(dir, 'log', '-1', '--format=%(trailers:key=Knock-Env-To,valueonly)', 'knock-env/audit')).toBe(staging);
    expect((await diagnose(coreOptionsFor(dir))).healthy).toBe(true);
    await sound(dir);
  });
});

describe('doctor finds what a crash or a plain-git hand left', () => {
  it('an index behind its branch (git status shows committed files as deleted), repaired by --fix', async () => {
    const dir = await project();
    await git(dir, 'rm', '-q', '--cached', 'workflows/first-flow/workflow.yaml');
    expect(await git(dir, 'status', '--porcelain')).toMatch(/^D {2}workflows\/first-flow\/workflow\.yaml/m);
    const report = await diagnose(coreOptionsFor(dir));
    expect(report.findings.find((f) => f.code === 'index-behind')).toMatchObject({ environment: 'development', path: 'workflows/first-flow/workflow.yaml', fixable: true });
    expect(report.healthy).toBe(false);
    const fixed = await diagnose({ ...coreOptionsFor(dir), fix: true });
    expect(fixed.findings.find((f) => f.code === 'index-behind')?.fixed).toBe(true);
    await sound(dir);
  });

  it('a promotion in the reflog that the audit trail lacks, recorded by --fix', async () => {
    const dir = await project();
    const staging = await git(dir, 'rev-parse', 'staging');
    // A hand that reset the audit trail past the last promotion.
    await git(dir, 'branch', '-f', 'knock-env/audit', 'knock-env/audit~1');
    const report = await diagnose(coreOptionsFor(dir));
    expect(report.findings.find((f) => f.code === 'promotion-unrecorded')).toMatchObject({ environment: 'staging', commit: staging });
    await diagnose({ ...coreOptionsFor(dir), fix: true });
    expect(await git(dir, 'log', '-1', '--format=%(trailers:key=Knock-Env-To,valueonly)', 'knock-env/audit')).toBe(staging);
    expect((await diagnose(coreOptionsFor(dir))).findings.map((f) => f.code)).not.toContain('promotion-unrecorded');
  });

  it('a stale index.lock or ref lock, and says how to clear it; a fresh one is not judged', async () => {
    const dir = await project();
    const now = Date.parse('2026-06-01T00:00:00Z');
    const options = { ...coreOptionsFor(dir), now: () => new Date(now) };
    await writeFile(`${dir}/.git/index.lock`, '');
    await writeFile(`${dir}/.git/refs/heads/staging.lock`, '');
    await utimes(`${dir}/.git/refs/heads/staging.lock`, new Date(now - 60_000), new Date(now - 60_000));
    await utimes(`${dir}/.git/index.lock`, new Date(now - 3_600_000), new Date(now - 3_600_000));
    const stale = (await diagnose(options)).findings.filter((f) => f.code === 'stale-lock');
    expect(stale.map((f) => f.path)).toEqual(['.git/index.lock']);
    expect(stale[0]!.hint).toContain(`rm ${dir}/.git/index.lock`);
    await utimes(`${dir}/.git/refs/heads/staging.lock`, new Date(now - 3_600_000), new Date(now - 3_600_000));
    expect((await diagnose(options)).findings.filter((f) => f.code === 'stale-lock').map((f) => f.path)).toEqual(['.git/index.lock', '.git/refs/heads/staging.lock']);
  });
});
