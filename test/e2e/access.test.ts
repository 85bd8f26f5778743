import { readFile, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, cli, git, tempDir } from '../helpers/repo.js';

beforeAll(async () => {
  await execa('npm', ['run', 'build', '--silent'], { cwd: `${BIN}/../..` });
});

describe('a CI job holding a staging key', () => {
  it('promotes into staging and can neither read nor change production through any command', async () => {
    const dir = await tempDir();
    for (const args of [['init'], ['env', 'create', 'staging'], ['workflow', 'new', 'welcome-email'], ['commit', '-m', 'Add welcome']]) {
      const result = await cli(dir, args);
      expect(result.exitCode, result.stderr).toBe(0);
    }
    const created = await cli(dir, ['keys', 'create', '--env', 'staging', '--name', 'ci-staging', '--json']);
    expect(created.exitCode, created.stderr).toBe(0);
    const { secret } = JSON.parse(created.stdout) as { secret: string };
    expect(await git(dir, 'show', 'production:knock-env.yaml')).not.toContain(secret);
    const listed = await cli(dir, ['keys', 'list']);
    expect(listed.stdout).toContain('ci-staging');
    expect(listed.stdout).not.toContain(secret);

    // No git identity at all in the job: the key is the identity.
    const asKey = (args: string[]) => execa('node', [BIN, ...args], { cwd: dir, reject: false, extendEnv: false, env: { PATH: process.env.PATH ?? '', HOME: dir, GIT_CONFIG_NOSYSTEM: '1', NO_COLOR: '1', KNOCK_ENV_API_KEY: secret } });
    const whoami = JSON.parse((await asKey(['whoami', '--json'])).stdout) as { principal: { kind: string; environment: string } };
    expect(whoami.principal).toMatchObject({ kind: 'key', environment: 'staging' });
    const promoted = await asKey(['promote', 'staging', '--yes']);
    expect(promoted.exitCode, promoted.stderr).toBe(0);
    expect(await git(dir, 'rev-parse', 'staging')).toBe(await git(dir, 'rev-parse', 'development'));

    const production = await git(dir, 'rev-parse', 'production');
    const attempts = [
      ['promote', 'production', '--yes'],
      ['rollback', 'production', '--to', 'staging', '--yes'],
      ['log', 'production'],
      ['diff', 'staging', 'production'],
      ['diff', 'production', 'staging', '--format', 'markdown'],
      ['checkout', 'production'],
      ['export', `${dir}-export`, '--env', 'production'],
      ['doctor'],
      ['settings', 'set', 'production-write-access', 'on'],
      ['keys', 'create', '--env', 'production', '--name', 'escalate'],
    ];
    for (const args of attempts) {
      const result = await asKey(args);
      expect(result.exitCode, `${args.join(' ')}\n${result.stdout}\n${result.stderr}`).toBe(4);
      expect(result.stderr).toMatch(/API key "ci-staging"|acts in staging only|not valid/);
      expect(result.stdout).not.toMatch(/welcome-email/);
    }
    const envList = JSON.parse((await asKey(['env', 'list', '--json'])).stdout) as { environments: { slug: string }[] };
    expect(envList.environments.map((e) => e.slug)).toEqual(['staging']);
    expect(await git(dir, 'rev-parse', 'production')).toBe(production);

    // Revoked: it stops working at once.
    expect((await cli(dir, ['keys', 'revoke', 'ci-staging'])).exitCode).toBe(0);
    const after = await asKey(['log', 'staging']);
    expect(after.exitCode).toBe(4);
    expect(after.stderr).toContain('not valid');
  });

  it('refuses a member who lacks the role, naming the capability and who can grant it', async () => {
    const dir = await tempDir();
    await cli(dir, ['init']);
    await cli(dir, ['members', 'add', 'sam@example.com', '--role', 'support']);
    await cli(dir, ['workflow', 'new', 'welcome-email']);
    const sam = { GIT_AUTHOR_NAME: 'Sam', GIT_AUTHOR_EMAIL: 'sam@example.com' };
    const refused = await cli(dir, ['commit', '-m', 'by support'], { env: sam });
    expect(refused.exitCode).toBe(4);
    expect(refused.stderr).toContain('You are sam@example.com (support)');
    expect(refused.stderr).toContain('ada@example.com');
    const path = `${dir}/knock-env.yaml`;
    await writeFile(path, (await readFile(path, 'utf8')).replace('role: support', 'role: owner'));
    const selfPromotion = await cli(dir, ['commit', '-m', 'make me owner'], { env: sam });
    expect(selfPromotion.exitCode).toBe(4);
    expect(await git(dir, 'show', 'development:knock-env.yaml')).toContain('role: support');
  });
});
