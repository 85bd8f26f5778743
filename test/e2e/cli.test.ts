import { hostname } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, GIT_ENV, assertChain, cli, git, tempDir } from '../helpers/repo.js';

beforeAll(async () => {
  // The end-to-end tests run the built entry point, as users do.
  await execa('npm', ['run', 'build', '--silent'], { cwd: `${BIN}/../..` });
});

async function project(): Promise<string> {
  const dir = await tempDir();
  const init = await cli(dir, ['init']);
  expect(init.exitCode, init.stderr).toBe(0);
  return dir;
}

describe('knock-env CLI', () => {
  it('teaches with --help and exits 2 on usage errors', async () => {
    const help = await cli(process.cwd(), ['--help']);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain('knock-env promote staging');
    const promoteHelp = await cli(process.cwd(), ['promote', '--help']);
    expect(promoteHelp.stdout).toContain('--dry-run');
    const bad = await cli(process.cwd(), ['promote']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("missing required argument 'env'");
  });

  it('runs init → workflow new → commit → env create → promote, with JSON output', async () => {
    const dir = await project();
    expect((await cli(dir, ['workflow', 'new', 'welcome-email'])).exitCode).toBe(0);
    const status = await cli(dir, ['status', '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({ environment: 'development', clean: false, resources: [{ kind: 'workflow', key: 'welcome-email', status: 'added', valid: true }] });
    const committed = await cli(dir, ['commit', '-m', 'Add welcome', '--json']);
    expect(committed.exitCode, committed.stderr).toBe(0);
    expect(JSON.parse(committed.stdout).commit).toBe(await git(dir, 'rev-parse', 'development'));
    expect((await cli(dir, ['env', 'create', 'staging'])).exitCode).toBe(0);
    const envs = JSON.parse((await cli(dir, ['env', 'list', '--json'])).stdout) as { environments: { slug: string }[] };
    expect(envs.environments.map((e) => e.slug)).toEqual(['development', 'staging', 'production']);

    const plan = await cli(dir, ['promote', 'production', '--dry-run', '--json']);
    expect(plan.exitCode, plan.stderr).toBe(0);
    const parsed = JSON.parse(plan.stdout);
    expect(parsed).toMatchObject({ promoted: false, dryRun: true, plan: { environment: 'production', source: 'staging', resources: [{ key: 'welcome-email', status: 'added' }] } });

    const noTty = await cli(dir, ['promote', 'production']);
    expect(noTty.exitCode).toBe(4);
    expect(noTty.stderr).toContain('--yes');
    const promoted = await cli(dir, ['promote', 'production', '--yes']);
    expect(promoted.exitCode, promoted.stderr).toBe(0);
    expect(await git(dir, 'rev-parse', 'production')).toBe(await git(dir, 'rev-parse', 'staging'));
    await assertChain(dir, ['development', 'staging', 'production']);

    const log = JSON.parse((await cli(dir, ['log', 'production', '--json'])).stdout) as { entries: { type: string; author: { email: string } }[] };
    expect(log.entries[0]).toMatchObject({ type: 'promotion', author: { email: 'ada@example.com' } });
    const diff = JSON.parse((await cli(dir, ['diff', 'production', 'development', '--json'])).stdout) as { resources: unknown[] };
    expect(diff.resources).toEqual([]);
    expect(await git(dir, 'status', '--porcelain')).toBe('');
    await git(dir, 'fsck', '--no-progress', '--strict');
  });

  it('reports every validation problem with file, line and column, exit 3', async () => {
    const dir = await project();
    await mkdir(`${dir}/workflows/broken-one`, { recursive: true });
    await writeFile(`${dir}/workflows/broken-one/workflow.yaml`, 'name: [unclosed\nsteps: []\n');
    await mkdir(`${dir}/workflows/broken-two`, { recursive: true });
    await writeFile(`${dir}/workflows/broken-two/workflow.yaml`, 'name: Two\nname: Again\nsteps: []\n');
    const text = await cli(dir, ['validate']);
    expect(text.exitCode).toBe(3);
    expect(text.stdout).toMatch(/workflows\/broken-one\/workflow\.yaml:\d+:\d+/);
    expect(text.stdout).toMatch(/workflows\/broken-two\/workflow\.yaml:2:\d+/);
    const json = await cli(dir, ['validate', '--format', 'json']);
    const report = JSON.parse(json.stdout) as { valid: boolean; issues: { file: string; line: number; column: number; code: string }[] };
    expect(report.valid).toBe(false);
    expect(new Set(report.issues.map((i) => i.file))).toEqual(new Set(['workflows/broken-one/workflow.yaml', 'workflows/broken-two/workflow.yaml']));
    expect(report.issues.find((i) => i.code === 'duplicate-key')).toMatchObject({ line: 2 });
    const commit = await cli(dir, ['commit', '-m', 'broken']);
    expect(commit.exitCode).toBe(3);
  });

  it('refuses hostile keys and bad files with the file and place named, changing nothing', async () => {
    const dir = await project();
    for (const key of ['../x', 'A', 'x/y', 'ab']) {
      const result = await cli(dir, ['workflow', 'new', key]);
      expect(result.exitCode, key).toBe(2);
      expect(result.stderr).toContain('Invalid workflow key');
    }
    expect((await cli(dir, ['env', 'create', '../prod'])).exitCode).toBe(2);
    const before = { head: await git(dir, 'rev-parse', 'development'), objects: await git(dir, 'count-objects') };
    await mkdir(`${dir}/workflows/alias-bomb`, { recursive: true });
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    await writeFile(`${dir}/workflows/alias-bomb/workflow.yaml`, `${bomb.join('\n')}\nname: x\nsteps: []\n`);
    await mkdir(`${dir}/workflows/huge-file`, { recursive: true });
    await writeFile(`${dir}/workflows/huge-file/workflow.yaml`, `name: huge\ndescription: "${'x'.repeat(2 * 1024 * 1024)}"\nsteps: []\n`);
    await mkdir(`${dir}/workflows/escaping-ref`, { recursive: true });
    await writeFile(`${dir}/workflows/escaping-ref/workflow.yaml`, 'name: esc\nsteps:\n  - ref: email_1\n    type: channel\n    channel_key: email\n    channel_type: email\n    template:\n      subject: hi\n      html_body@: ../../knock-env.yaml\n');
    const result = await cli(dir, ['commit', '-m', 'bad things', '--json']);
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toMatch(/workflows\/alias-bomb\/workflow\.yaml/);
    expect(result.stderr).toMatch(/workflows\/huge-file\/workflow\.yaml/);
    expect(result.stderr).toMatch(/workflows\/escaping-ref\/workflow\.yaml:\d+:\d+/);
    expect(await git(dir, 'rev-parse', 'development')).toBe(before.head);
    expect(await git(dir, 'count-objects')).toBe(before.objects);
  });

  it('asks on a terminal before promoting, and does nothing on "no"', async () => {
    const dir = await project();
    await cli(dir, ['workflow', 'new', 'welcome-email']);
    await cli(dir, ['commit', '-m', 'Add welcome']);
    const before = await git(dir, 'rev-parse', 'production');
    // util-linux `script` gives the command a pseudo-terminal, as a person's shell would.
    const onTerminal = (answer: string) =>
      execa('sh', ['-c', `(sleep 1.5; echo ${answer}) | script -qec "node ${BIN} promote production" /dev/null`], { cwd: dir, env: GIT_ENV, reject: false });
    const declined = await onTerminal('n');
    expect(declined.stdout).toContain('Promote production to');
    expect(declined.stdout).toContain('cancelled');
    expect(await git(dir, 'rev-parse', 'production')).toBe(before);
    const accepted = await onTerminal('y');
    expect(accepted.stdout).toContain('Promoted production');
    expect(await git(dir, 'rev-parse', 'production')).toBe(await git(dir, 'rev-parse', 'development'));
  });

  it('exits 5 when a promotion is not a fast-forward', async () => {
    const dir = await project();
    await cli(dir, ['workflow', 'new', 'welcome-email']);
    await cli(dir, ['commit', '-m', 'Add welcome']);
    await git(dir, 'switch', '-q', 'production');
    await writeFile(`${dir}/rogue.txt`, 'x\n');
    await git(dir, 'add', 'rogue.txt');
    await git(dir, 'commit', '-qm', 'rogue');
    await git(dir, 'switch', '-q', 'development');
    const result = await cli(dir, ['promote', 'production', '--yes']);
    expect(result.exitCode).toBe(5);
    expect(result.stderr).toContain('fast-forward');
  });

  it('never loses a commit when two processes commit at the same moment', async () => {
    const dir = await project();
    const rounds = 6;
    for (let i = 0; i < rounds; i++) {
      for (const who of ['a', 'b']) {
        await mkdir(`${dir}/workflows/${who}-${i}00`, { recursive: true });
        await writeFile(`${dir}/workflows/${who}-${i}00/workflow.yaml`, `name: ${who} ${i}\nsteps: []\n`);
      }
    }
    const loop = async (who: string) => {
      const codes: number[] = [];
      for (let i = 0; i < rounds; i++) codes.push((await cli(dir, ['commit', `workflows/${who}-${i}00`, '-m', `${who} ${i}`])).exitCode ?? -1);
      return codes;
    };
    const [a, b] = await Promise.all([loop('a'), loop('b')]);
    expect([...a, ...b].every((c) => c === 0)).toBe(true);
    const subjects = (await git(dir, 'log', '--format=%s', 'development')).split('\n');
    for (let i = 0; i < rounds; i++) expect(subjects).toEqual(expect.arrayContaining([`a ${i}`, `b ${i}`]));
    expect((await git(dir, 'ls-tree', '--name-only', 'development:workflows')).split('\n')).toHaveLength(rounds * 2);
    expect(await git(dir, 'status', '--porcelain')).toBe('');
    await git(dir, 'fsck', '--no-progress', '--strict');
  });

  it('lets exactly one of two simultaneous promotions move the branch', async () => {
    const dir = await project();
    await cli(dir, ['workflow', 'new', 'welcome-email']);
    await cli(dir, ['commit', '-m', 'Add welcome']);
    const results = await Promise.all([cli(dir, ['promote', 'production', '--yes', '--json']), cli(dir, ['promote', 'production', '--yes', '--json'])]);
    const codes = results.map((r) => r.exitCode).sort();
    // Either the second saw it already done (0, up to date) or was refused as a concurrent update (6).
    expect(codes[0]).toBe(0);
    expect([0, 6]).toContain(codes[1]);
    const promoted = results.filter((r) => r.exitCode === 0 && JSON.parse(r.stdout).promoted === true);
    expect(promoted).toHaveLength(1);
    expect(await git(dir, 'rev-parse', 'production')).toBe(await git(dir, 'rev-parse', 'development'));
    expect((await git(dir, 'log', '--format=%s', 'knock-env/audit')).split('\n')).toHaveLength(1);
  });

  it('recovers a lock left by a killed process', async () => {
    const dir = await project();
    await writeFile(`${dir}/.git/knock-env.lock`, JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), since: new Date().toISOString() }));
    await cli(dir, ['workflow', 'new', 'welcome-email']);
    const result = await cli(dir, ['commit', '-m', 'after a crash'], { env: { KNOCK_ENV_LOCK_TIMEOUT_MS: '2000' } });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await git(dir, 'log', '-1', '--format=%s', 'development')).toBe('after a crash');
  });

  it('says who to be when git has no identity', async () => {
    const dir = await tempDir();
    const result = await execa('node', [BIN, 'init'], { cwd: dir, reject: false, env: { HOME: dir, XDG_CONFIG_HOME: dir, GIT_CONFIG_NOSYSTEM: '1', PATH: process.env.PATH ?? '' }, extendEnv: false });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('git config --global user.email');
  });
});
