import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, assertChain, cli, git, tempDir } from '../helpers/repo.js';

const ENVS = ['development', 'staging', 'production'];

beforeAll(async () => {
  await execa('npm', ['run', 'build', '--silent'], { cwd: `${BIN}/../..` });
});

/** Runs a knock-env command that must succeed, then checks the chain with git. */
async function ok(dir: string, ...args: string[]) {
  const result = await cli(dir, args);
  expect(result.exitCode, `knock-env ${args.join(' ')}\n${result.stderr}`).toBe(0);
  const branches = (await git(dir, 'branch', '--format=%(refname:short)')).split('\n');
  await assertChain(dir, ENVS.filter((env) => branches.includes(env)));
  return result;
}

async function projectWithStaging(): Promise<string> {
  const dir = await tempDir();
  await ok(dir, 'init');
  await ok(dir, 'env', 'create', 'staging');
  await ok(dir, 'workflow', 'new', 'new-comment');
  await ok(dir, 'commit', '-m', 'Add new-comment');
  await ok(dir, 'promote', 'staging', '--yes');
  await ok(dir, 'promote', 'production', '--yes');
  return dir;
}

async function edit(path: string, from: RegExp, to: string) {
  const text = await readFile(path, 'utf8');
  expect(text).toMatch(from);
  await writeFile(path, text.replace(from, to));
}

describe("Knock's environment model, end to end", () => {
  it('refuses a development workflow edited in production, pointing to development', async () => {
    const dir = await projectWithStaging();
    await ok(dir, 'checkout', 'production');
    await edit(`${dir}/workflows/new-comment/workflow.yaml`, /^description: .*$/m, 'description: hot fix');
    const head = await git(dir, 'rev-parse', 'production');
    const refused = await cli(dir, ['commit', '-m', 'hot fix']);
    expect(refused.exitCode).toBe(4);
    expect(refused.stderr).toContain('belongs to development');
    expect(refused.stderr).toContain('promote');
    expect(await git(dir, 'rev-parse', 'production')).toBe(head);
    // Uncommitted changes block switching away.
    const blocked = await cli(dir, ['checkout', 'development']);
    expect(blocked.exitCode).toBe(4);
    await git(dir, 'checkout', '--', '.');
    await ok(dir, 'checkout', 'development');
  });

  it('keeps a guide created in production there: read-only below, and it survives later promotions', async () => {
    const dir = await projectWithStaging();
    await ok(dir, 'checkout', 'production');
    await ok(dir, 'guide', 'new', 'holiday-banner');
    const off = await cli(dir, ['commit', '-m', 'Banner straight in production']);
    expect(off.exitCode).toBe(4);
    expect(off.stderr).toContain('production write access is off');
    await ok(dir, 'settings', 'set', 'production-write-access', 'on');
    await ok(dir, 'commit', '-m', 'Banner straight in production');
    expect(await git(dir, 'show', 'production:guides/holiday-banner/guide.yaml')).toMatch(/^origin_environment: production$/m);
    // Merged down: development and staging see it, read-only.
    for (const env of ['development', 'staging']) expect(await git(dir, 'ls-tree', '--name-only', `${env}:guides`)).toContain('holiday-banner');
    await ok(dir, 'checkout', 'development');
    await edit(`${dir}/guides/holiday-banner/guide.yaml`, /^description: .*$/m, 'description: edited below');
    const readOnly = await cli(dir, ['commit', '-m', 'try']);
    expect(readOnly.exitCode).toBe(4);
    expect(readOnly.stderr).toContain('belongs to production');
    await git(dir, 'checkout', '--', '.');
    // A new development change promoted all the way keeps the production guide.
    await edit(`${dir}/workflows/new-comment/workflow.yaml`, /^description: .*$/m, 'description: second version');
    await ok(dir, 'commit', '-m', 'Second version');
    await ok(dir, 'promote', 'staging', '--yes');
    await ok(dir, 'promote', 'production', '--yes');
    expect(await git(dir, 'show', 'production:guides/holiday-banner/guide.yaml')).toMatch(/origin_environment: production/);
    // Switching write access off loses nothing.
    await ok(dir, 'settings', 'set', 'production-write-access', 'off');
    expect(await git(dir, 'ls-tree', '--name-only', 'production:guides')).toContain('holiday-banner');
    await git(dir, 'fsck', '--no-progress', '--strict');
  });

  it('leaves a channel edited in production untouched by promotions', async () => {
    const dir = await projectWithStaging();
    await ok(dir, 'checkout', 'production');
    await mkdir(`${dir}/environments/production/channels`, { recursive: true });
    const channel = 'type: email\nprovider: sendgrid\nsettings:\n  from_address: hello@example.com\n';
    await writeFile(`${dir}/environments/production/channels/sendgrid.yaml`, channel);
    await ok(dir, 'commit', '-m', 'Production sender');
    await ok(dir, 'checkout', 'development');
    await edit(`${dir}/workflows/new-comment/workflow.yaml`, /^description: .*$/m, 'description: third version');
    await ok(dir, 'commit', '-m', 'Third version');
    await ok(dir, 'promote', 'staging', '--yes');
    await ok(dir, 'promote', 'production', '--yes');
    expect(await git(dir, 'show', 'production:environments/production/channels/sendgrid.yaml')).toBe(channel.trimEnd());
    // Development may not edit production's channel.
    await edit(`${dir}/environments/production/channels/sendgrid.yaml`, /hello@/, 'dev@');
    const refused = await cli(dir, ['commit', '-m', 'steal the channel']);
    expect(refused.exitCode).toBe(4);
    expect(refused.stderr).toContain('belongs to the production environment');
  });

  it('rolls production back with a new commit, and the next promotion brings the content again', async () => {
    const dir = await projectWithStaging();
    await edit(`${dir}/workflows/new-comment/workflow.yaml`, /^description: .*$/m, 'description: risky change');
    await ok(dir, 'commit', '-m', 'Risky change');
    await ok(dir, 'promote', 'staging', '--yes');
    await ok(dir, 'promote', 'production', '--yes');
    const promoted = await git(dir, 'rev-parse', 'production');
    const plan = JSON.parse((await ok(dir, 'rollback', 'production', '--dry-run', '--json')).stdout);
    expect(plan).toMatchObject({ rolledBack: false, plan: { environment: 'production', resources: [{ key: 'new-comment', status: 'modified' }] } });
    await ok(dir, 'rollback', 'production', '--yes');
    expect(await git(dir, 'rev-parse', 'production^')).toBe(promoted);
    expect(await git(dir, 'show', 'production:workflows/new-comment/workflow.yaml')).not.toContain('risky change');
    expect(await git(dir, 'show', 'staging:workflows/new-comment/workflow.yaml')).toContain('risky change');
    const log = JSON.parse((await ok(dir, 'log', 'production', '--promotions', '--json')).stdout) as { entries: { type: string }[] };
    expect(log.entries.map((e) => e.type).slice(0, 2)).toEqual(['rollback', 'promotion']);
    // The next promotion is a fast-forward again and brings the change back.
    const again = JSON.parse((await ok(dir, 'promote', 'production', '--yes', '--json')).stdout);
    expect(again.promoted).toBe(true);
    expect(await git(dir, 'show', 'production:workflows/new-comment/workflow.yaml')).toContain('risky change');
    await git(dir, 'fsck', '--no-progress', '--strict');
  });

  it('keeps a direct production edit when rolling back past it', async () => {
    const dir = await projectWithStaging();
    await ok(dir, 'settings', 'set', 'production-write-access', 'on');
    await ok(dir, 'checkout', 'production');
    await ok(dir, 'guide', 'new', 'prod-only-guide');
    await ok(dir, 'commit', '-m', 'Production guide');
    await ok(dir, 'checkout', 'development');
    await ok(dir, 'workflow', 'new', 'second-flow');
    await ok(dir, 'commit', '-m', 'Second flow');
    await ok(dir, 'promote', 'staging', '--yes');
    await ok(dir, 'promote', 'production', '--yes');
    await ok(dir, 'rollback', 'production', '--yes');
    const files = await git(dir, 'ls-tree', '-r', '--name-only', 'production');
    expect(files).toContain('guides/prod-only-guide/guide.yaml');
    expect(files).not.toContain('workflows/second-flow/workflow.yaml');
    expect(await git(dir, 'ls-tree', '-r', '--name-only', 'development')).toContain('workflows/second-flow/workflow.yaml');
  });
});
