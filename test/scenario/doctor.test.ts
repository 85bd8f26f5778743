import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { runDoctor } from '../../src/cli/commands/doctor.js';
import { commitChanges } from '../../src/core/ops/commit.js';
import { diagnose, type DoctorFinding, type DoctorReport } from '../../src/core/ops/doctor.js';
import { createEnvironment } from '../../src/core/ops/environments.js';
import { initProject } from '../../src/core/ops/init.js';
import { promoteEnvironment } from '../../src/core/ops/promote.js';
import { scaffoldResource } from '../../src/core/ops/scaffold.js';
import { captureIo } from '../helpers/io.js';
import { GIT_ENV, assertChain, coreOptionsFor, diskFs, git, gitCode, tempDir } from '../helpers/repo.js';

const ENVS = ['development', 'staging', 'production'];

/** init → commit a workflow → env create staging → promote staging and production. */
async function promotedProject(): Promise<string> {
  const dir = await tempDir();
  await initProject(coreOptionsFor(dir));
  await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'welcome-email' });
  await commitChanges({ ...coreOptionsFor(dir), message: 'Add welcome email' });
  await createEnvironment({ ...coreOptionsFor(dir), slug: 'staging' });
  await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'staging' });
  await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'production' });
  return dir;
}

/**
 * Plain git, dated by the same clock as the engine's commits: ancestry walks
 * prune by commit date, so a commit dated months after the ones around it
 * would not be a fair picture of a real repository.
 */
async function plainGit(dir: string, ...args: string[]): Promise<string> {
  const seconds = Math.floor(coreOptionsFor(dir).now!().getTime() / 1000);
  const date = `${seconds} +0000`;
  const result = await execa('git', args, { cwd: dir, env: { ...GIT_ENV, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date } });
  return result.stdout.trim();
}

async function sound(dir: string): Promise<void> {
  await git(dir, 'fsck', '--no-progress', '--strict');
  expect(await git(dir, 'status', '--porcelain')).toBe('');
}

function summarise(findings: DoctorFinding[]): string[] {
  return findings.map((f) => `${f.check} ${f.severity} ${f.code} ${f.environment ?? '-'} ${f.path ?? '-'}`);
}

function errors(report: DoctorReport): DoctorFinding[] {
  return report.findings.filter((f) => f.severity === 'error');
}

/** The files of a branch as `git ls-tree -r` lists them (mode, type, id, path). */
async function files(dir: string, branch: string): Promise<string[]> {
  const byPath = (a: string, b: string) => (a.split('\t')[1]! < b.split('\t')[1]! ? -1 : 1);
  return (await git(dir, 'ls-tree', '-r', branch)).split('\n').filter(Boolean).sort(byPath);
}


describe('doctor on a healthy project', () => {
  it('finds nothing after init, commit, env create and promotions', async () => {
    const dir = await promotedProject();
    const report = await diagnose(coreOptionsFor(dir));
    expect(report).toMatchObject({ healthy: true, environments: ENVS, findings: [], fixed: 0, repairs: [] });
    // --fix on a healthy project writes nothing.
    const heads = await Promise.all(ENVS.map((e) => git(dir, 'rev-parse', e)));
    expect(await diagnose({ ...coreOptionsFor(dir), fix: true })).toMatchObject({ healthy: true, findings: [], repairs: [] });
    expect(await Promise.all(ENVS.map((e) => git(dir, 'rev-parse', e)))).toEqual(heads);

    const io = captureIo(dir, { ...GIT_ENV, HOME: dir });
    expect(await runDoctor(io, {})).toBe(0);
    expect(io.stdout()).toBe('');
    expect(io.stderr()).toContain('healthy');
  });

  it('does not count the history of a repository adopted by init', async () => {
    const dir = await tempDir();
    await git(dir, 'init', '-q', '-b', 'main');
    await writeFile(`${dir}/README.md`, '# notifications\n');
    await git(dir, 'add', 'README.md');
    await git(dir, 'commit', '-qm', 'readme');
    await initProject(coreOptionsFor(dir));
    expect(await diagnose(coreOptionsFor(dir))).toMatchObject({ healthy: true, findings: [] });
  });
});

describe('doctor on a chain broken with plain git', () => {
  /** A commit straight on production with git, touching a path production owns; the branches below lack it. */
  async function brokenChain(): Promise<{ dir: string; rogue: string }> {
    const dir = await promotedProject();
    await git(dir, 'switch', '-q', 'production');
    await mkdir(`${dir}/environments/production`, { recursive: true });
    await writeFile(`${dir}/environments/production/variables.yaml`, 'app_url: https://example.com\n');
    await git(dir, 'add', 'environments');
    await plainGit(dir, 'commit', '-qm', 'Set production variables');
    const rogue = await git(dir, 'rev-parse', 'HEAD');
    await git(dir, 'switch', '-q', 'development');
    return { dir, rogue };
  }

  it('reports the broken pair, the missing owned path and the untracked commit', async () => {
    const { dir, rogue } = await brokenChain();
    const report = await diagnose(coreOptionsFor(dir));
    expect(report.healthy).toBe(false);
    expect(summarise(report.findings)).toEqual([
      'chain error chain-broken staging -',
      'ownership error owned-path-differs development environments/production/variables.yaml',
      'ownership error owned-path-differs staging environments/production/variables.yaml',
      'audit warning untracked-commit production -',
    ]);
    expect(report.findings[0]).toMatchObject({ commit: rogue, fixable: true });
    expect(report.findings[0]!.message).toContain('Set production variables');
    expect(report.findings[3]).toMatchObject({ commit: rogue, fixable: false });
    expect(report.findings.every((f) => f.fixed === undefined)).toBe(true);

    const io = captureIo(dir, { ...GIT_ENV, HOME: dir });
    expect(await runDoctor(io, {})).toBe(4);
    expect(io.stdout()).toMatch(/^Chain of environments\n {2}✖ error {3}staging: production's head/);
    expect(io.stdout()).toContain('development: environments/production/variables.yaml belongs to production but development lacks it');
    expect(io.stdout()).toContain('hint Run `knock-env doctor --fix`');
    expect(io.stderr()).toContain('3 errors, 1 warning; 3 can be repaired with knock-env doctor --fix');
    // Diagnosis alone moves nothing.
    expect(await gitCode(dir, 'merge-base', '--is-ancestor', 'production', 'staging')).toBe(1);
  });

  it('repairs it with merge commits, top pair first, keeping what each environment owns', async () => {
    const { dir, rogue } = await brokenChain();
    const oldStaging = await git(dir, 'rev-parse', 'staging');
    const oldDevelopment = await git(dir, 'rev-parse', 'development');
    const developmentBefore = await files(dir, 'development');
    const stagingBefore = await files(dir, 'staging');

    const report = await diagnose({ ...coreOptionsFor(dir), fix: true });
    expect(report.healthy).toBe(true);
    expect(report.fixed).toBe(3);
    expect(report.findings.map((f) => `${f.code} ${f.environment} ${f.fixed}`)).toEqual([
      'chain-broken staging true',
      'owned-path-differs development true',
      'owned-path-differs staging true',
      'untracked-commit production false',
    ]);
    expect(report.repairs.map((r) => [r.environment, r.source, r.paths])).toEqual([
      ['staging', 'production', ['environments/production/variables.yaml']],
      ['development', 'staging', ['environments/production/variables.yaml']],
    ]);

    // Merge commits whose parents are (old head, head above); production never moved.
    expect(await git(dir, 'rev-parse', 'production')).toBe(rogue);
    expect(await git(dir, 'rev-parse', 'staging^1', 'staging^2')).toBe(`${oldStaging}\n${rogue}`);
    expect(await git(dir, 'rev-parse', 'development^1', 'development^2')).toBe(`${oldDevelopment}\n${await git(dir, 'rev-parse', 'staging')}`);
    expect(await git(dir, 'log', '-1', '--format=%(trailers:key=Knock-Env-Operation,valueonly)%(trailers:key=Knock-Env-Source,valueonly)', 'development')).toBe('repair\nstaging');
    await assertChain(dir, ENVS);
    for (let i = 1; i < ENVS.length; i++) expect(await gitCode(dir, 'merge-base', '--is-ancestor', ENVS[i]!, ENVS[i - 1]!)).toBe(0);

    // Only the production-owned path arrived; everything else is as it was.
    const added = (await git(dir, 'ls-tree', '-r', 'production', 'environments/production/variables.yaml'));
    expect(new Set(await files(dir, 'development'))).toEqual(new Set([...developmentBefore, added]));
    expect(new Set(await files(dir, 'staging'))).toEqual(new Set([...stagingBefore, added]));
    // The checked-out development followed its branch.
    expect(await readFile(`${dir}/environments/production/variables.yaml`, 'utf8')).toBe('app_url: https://example.com\n');
    await sound(dir);

    const again = await diagnose(coreOptionsFor(dir));
    expect(again.healthy).toBe(true);
    expect(summarise(again.findings)).toEqual(['audit warning untracked-commit production -']);
    const io = captureIo(dir, { ...GIT_ENV, HOME: dir });
    expect(await runDoctor(io, { json: true })).toBe(0);
    expect(JSON.parse(io.stdout())).toMatchObject({ healthy: true, findings: [{ code: 'untracked-commit', commit: rogue }] });
  });

  it('dates a repair no earlier than the commit it joins, so ancestry walks see it', async () => {
    const dir = await promotedProject();
    await git(dir, 'switch', '-q', 'production');
    await mkdir(`${dir}/environments/production`, { recursive: true });
    await writeFile(`${dir}/environments/production/variables.yaml`, 'app_url: https://example.com\n');
    await git(dir, 'add', 'environments');
    // Dated by the wall clock, well after the engine's clock in these tests: a skewed machine.
    await git(dir, 'commit', '-qm', 'Variables from a clock ahead');
    await git(dir, 'switch', '-q', 'development');
    const fixed = await diagnose({ ...coreOptionsFor(dir), fix: true });
    expect(fixed).toMatchObject({ healthy: true, fixed: 3 });
    const [rogueDate, stagingDate, developmentDate] = await Promise.all(['production', 'staging', 'development'].map(async (b) => Number(await git(dir, 'log', '-1', '--format=%ct', b))));
    expect(stagingDate).toBeGreaterThanOrEqual(rogueDate!);
    expect(developmentDate).toBeGreaterThanOrEqual(stagingDate!);
    await assertChain(dir, ENVS);
    expect(errors(await diagnose(coreOptionsFor(dir)))).toEqual([]);
  });

  it('refuses to repair over local changes on the checked-out environment, and moves nothing', async () => {
    const { dir } = await brokenChain();
    const heads = await Promise.all(ENVS.map((e) => git(dir, 'rev-parse', e)));
    await mkdir(`${dir}/environments/production`, { recursive: true });
    await writeFile(`${dir}/environments/production/variables.yaml`, 'app_url: https://local.test\n');
    await expect(diagnose({ ...coreOptionsFor(dir), fix: true })).rejects.toMatchObject({ code: 'DIRTY_WORKING_TREE' });
    expect(await Promise.all(ENVS.map((e) => git(dir, 'rev-parse', e)))).toEqual(heads);
    expect(await readFile(`${dir}/environments/production/variables.yaml`, 'utf8')).toBe('app_url: https://local.test\n');
  });
});

describe('doctor on ownership broken with plain git', () => {
  it('reports production-owned paths edited on development and restores them with a repair commit', async () => {
    const dir = await promotedProject();
    // Production's variables, committed by knock-env on production and merged down.
    await git(dir, 'switch', '-q', 'production');
    await mkdir(`${dir}/environments/production`, { recursive: true });
    await writeFile(`${dir}/environments/production/variables.yaml`, 'app_url: https://example.com\n');
    await commitChanges({ ...coreOptionsFor(dir), message: 'Production variables' });
    await git(dir, 'switch', '-q', 'development');
    expect(await diagnose(coreOptionsFor(dir))).toMatchObject({ healthy: true, findings: [] });

    // Both edited on development with plain git: production's variables and the account file.
    await writeFile(`${dir}/environments/production/variables.yaml`, 'app_url: https://evil.test\n');
    await writeFile(`${dir}/knock-env.yaml`, `${await readFile(`${dir}/knock-env.yaml`, 'utf8')}# edited by hand\n`);
    await plainGit(dir, 'commit', '-qam', 'Point production elsewhere');
    const rogue = await git(dir, 'rev-parse', 'development');
    const report = await diagnose(coreOptionsFor(dir));
    expect(report.healthy).toBe(false);
    expect(summarise(report.findings)).toEqual([
      'ownership error owned-path-differs development environments/production/variables.yaml',
      'ownership error owned-path-differs development knock-env.yaml',
      'audit warning untracked-commit development -',
    ]);
    expect(report.findings[0]!.message).toBe("environments/production/variables.yaml belongs to production but development's content differs from production's head.");
    expect(report.findings[1]!.message).toContain('belongs to the account');

    const fixed = await diagnose({ ...coreOptionsFor(dir), fix: true });
    expect(fixed).toMatchObject({ healthy: true, fixed: 2 });
    // The chain held, so the repair is an ordinary commit on development, after the rogue one.
    expect(fixed.repairs).toMatchObject([{ environment: 'development', source: 'staging', from: rogue, parents: [rogue] }]);
    expect(await git(dir, 'rev-parse', 'development^')).toBe(rogue);
    expect(await gitCode(dir, 'rev-parse', '--verify', '-q', 'development^2')).not.toBe(0);
    for (const path of ['environments/production/variables.yaml', 'knock-env.yaml']) {
      expect(await git(dir, 'rev-parse', `development:${path}`)).toBe(await git(dir, 'rev-parse', `production:${path}`));
    }
    // The workflow development owns is untouched.
    expect(await git(dir, 'rev-parse', 'development:workflows')).toBe(await git(dir, 'rev-parse', `${rogue}:workflows`));
    await assertChain(dir, ENVS);
    await sound(dir);
    expect(errors(await diagnose(coreOptionsFor(dir)))).toEqual([]);
  });
});

describe('doctor on an invalid head', () => {
  it('reports an invalid resource committed with plain git by file and line, and cannot fix it', async () => {
    const dir = await promotedProject();
    await mkdir(`${dir}/workflows/broken-flow`, { recursive: true });
    await writeFile(`${dir}/workflows/broken-flow/workflow.yaml`, 'name: Broken\nsteps:\n  - ref: first\n    type: chanel\n');
    await git(dir, 'add', 'workflows');
    await plainGit(dir, 'commit', '-qm', 'Add a broken workflow');
    const head = await git(dir, 'rev-parse', 'development');

    const report = await diagnose(coreOptionsFor(dir));
    expect(report.healthy).toBe(false);
    const schema = report.findings.filter((f) => f.check === 'schema');
    expect(schema.length).toBeGreaterThan(0);
    for (const f of schema) {
      expect(f).toMatchObject({ code: 'invalid-resource', severity: 'error', environment: 'development', path: 'workflows/broken-flow/workflow.yaml', commit: head, fixable: false });
      expect(f.line).toBeGreaterThanOrEqual(1);
    }
    expect(schema.some((f) => f.line === 4)).toBe(true);
    // Only development has it: the other heads are valid.
    expect(report.findings.filter((f) => f.severity === 'error' && f.check !== 'schema')).toEqual([]);

    const fixed = await diagnose({ ...coreOptionsFor(dir), fix: true });
    expect(fixed).toMatchObject({ healthy: false, fixed: 0, repairs: [] });
    expect(await git(dir, 'rev-parse', 'development')).toBe(head);

    const io = captureIo(dir, { ...GIT_ENV, HOME: dir });
    expect(await runDoctor(io, {})).toBe(4);
    expect(io.stdout()).toContain('Validity of every head');
    expect(io.stdout()).toContain('development workflows/broken-flow/workflow.yaml:4:');
  });
});

describe('doctor on the audit trail', () => {
  it('warns about a plain-git commit, and stays healthy', async () => {
    const dir = await promotedProject();
    await writeFile(`${dir}/README.md`, '# notifications\n');
    await git(dir, 'add', 'README.md');
    await plainGit(dir, 'commit', '-qm', 'Add a readme');
    const commit = await git(dir, 'rev-parse', 'development');
    const report = await diagnose(coreOptionsFor(dir));
    expect(report.healthy).toBe(true);
    expect(report.findings).toHaveLength(1);
    expect(report.findings[0]).toMatchObject({ check: 'audit', code: 'untracked-commit', severity: 'warning', environment: 'development', commit, fixable: false });
    expect(report.findings[0]!.message).toContain('Add a readme');

    const io = captureIo(dir, { ...GIT_ENV, HOME: dir });
    expect(await runDoctor(io, {})).toBe(0);
    expect(io.stdout()).toMatch(/^Audit trail\n {2}! warning development: [0-9a-f]{7} "Add a readme"/);
    expect(io.stderr()).toContain('healthy (0 errors, 1 warning)');
  });

  it('warns when a branch was moved back past a recorded promotion with no rollback recorded', async () => {
    const dir = await tempDir();
    await initProject(coreOptionsFor(dir));
    await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'welcome-email' });
    await commitChanges({ ...coreOptionsFor(dir), message: 'Add welcome email' });
    const before = await git(dir, 'rev-parse', 'production');
    const { plan } = await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'production' });
    // Production put back where it was with plain git: the chain still holds (it is an ancestor of development).
    await git(dir, 'update-ref', 'refs/heads/production', before);
    const report = await diagnose(coreOptionsFor(dir));
    expect(report.healthy).toBe(true);
    expect(summarise(report.findings)).toEqual(['audit warning audit-unexplained-move production -']);
    expect(report.findings[0]!.message).toContain(plan.to.commit.slice(0, 7));
  });
});
