import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installServer } from '../../src/cli/commands/server.js';
import { changeMember } from '../../src/core/ops/members.js';
import { createEnvironment } from '../../src/core/ops/environments.js';
import { initProject } from '../../src/core/ops/init.js';
import { BIN, cli, coreOptionsFor, GIT_ENV, git, tempDir } from '../helpers/repo.js';

/**
 * `server install --forge` and the hook under each forge, with real pushes:
 * git passes the pusher's environment to the hooks of a local push, so setting
 * a forge's variables on `git push` is what that forge does for its hooks.
 * Where the forge, not git, runs the hook (GitLab's Gitaly runs
 * custom_hooks/, Gitea's hooks/pre-receive runs hooks/pre-receive.d/), a small
 * hooks/pre-receive stands in for it.
 */

const ADA = 'ada@example.com';
const MO = 'mo@example.com';
let seed: string;

let seedRoot: string;

beforeAll(async () => {
  seedRoot = await mkdtemp(join(tmpdir(), 'knock-env-forge-seed-'));
  seed = join(seedRoot, 'project');
  const as = () => coreOptionsFor(seed);
  await initProject(as());
  await createEnvironment({ ...as(), slug: 'staging' });
  await changeMember({ ...as(), change: { action: 'add', email: MO, role: 'member' } });
});

afterAll(async () => {
  if (seedRoot) await rm(seedRoot, { recursive: true, force: true });
});

async function bareCopy(): Promise<string> {
  const bare = join(await tempDir('knock-env-forge-'), 'notifications.git');
  await git(seed, 'clone', '-q', '--bare', seed, bare);
  return bare;
}

/** A hooks/pre-receive that runs every executable in `dir` (relative to the repository) with the push's input, failing when one fails. */
async function runnerFor(bare: string, dir: string): Promise<void> {
  const text = `#!/bin/sh\n# Stands in for the forge: runs ${dir}/* for the push.\ndata=$(cat)\nfor hook in ${dir}/*; do\n  test -x "$hook" || continue\n  printf '%s\\n' "$data" | "$hook" || exit $?\ndone\n`;
  await writeFile(`${bare}/hooks/pre-receive`, text, { mode: 0o755 });
}

/** A clone of the server with one new commit on development (a file development owns). */
async function cloneWithCommit(bare: string): Promise<string> {
  const dir = join(await tempDir('knock-env-forge-clone-'), 'clone');
  await git(seed, 'clone', '-q', '-b', 'development', bare, dir);
  await writeFile(`${dir}/NOTES.md`, 'Pushed through a forge.\n');
  await git(dir, 'add', 'NOTES.md');
  await git(dir, 'commit', '-q', '-m', 'Add notes');
  return dir;
}

async function pushAs(dir: string, variables: Record<string, string>): Promise<{ code: number; stderr: string }> {
  const result = await execa('git', ['push', 'origin', 'development'], { cwd: dir, env: { ...GIT_ENV, ...variables }, reject: false });
  return { code: result.exitCode ?? -1, stderr: result.stderr };
}

/** The push is refused with `message`, and the server's development did not move. */
async function expectRefused(bare: string, dir: string, variables: Record<string, string>, message: string): Promise<void> {
  const before = await git(bare, 'rev-parse', 'development');
  const result = await pushAs(dir, variables);
  expect(result.code, result.stderr).not.toBe(0);
  expect(result.stderr).toContain('remote: knock-env refused this push');
  expect(result.stderr).toContain(message);
  expect(await git(bare, 'rev-parse', 'development')).toBe(before);
}

async function expectAccepted(bare: string, dir: string, variables: Record<string, string>): Promise<void> {
  const result = await pushAs(dir, variables);
  expect(result.code, result.stderr).toBe(0);
  expect(await git(bare, 'rev-parse', 'development')).toBe(await git(dir, 'rev-parse', 'HEAD'));
}

describe('server install --forge, and pushes under each forge', () => {
  it('GitLab: custom_hooks/pre-receive.d/knock-env; GL_USERNAME mapped in git config, an unmapped user told how to map them', async () => {
    const bare = await bareCopy();
    const result = await installServer(bare, { forge: 'gitlab' });
    expect(result.hook).toBe(`${bare}/custom_hooks/pre-receive.d/knock-env`);
    expect(result.files).toEqual([result.hook]);
    expect(result.steps.join('\n')).toMatch(/gitaly hooks set --storage/);
    expect((await readFile(result.hook!, 'utf8'))).toContain(`${BIN}' hook pre-receive`);
    expect((await installServer(bare, { forge: 'gitlab' })).hookUpdated).toBe(false);
    await runnerFor(bare, 'custom_hooks/pre-receive.d');
    const dir = await cloneWithCommit(bare);
    await expectRefused(bare, dir, { GL_USERNAME: 'mo', GL_ID: 'user-2' }, `git -C ${bare} config knock-env.identity.gitlab.mo <member-email>`);
    await git(bare, 'config', 'knock-env.identity.gitlab.mo', MO);
    await expectAccepted(bare, dir, { GL_USERNAME: 'mo', GL_ID: 'user-2', GL_PROTOCOL: 'ssh' });
  });

  it("Gitea: hooks/pre-receive.d/knock-env beside Gitea's own; the email Gitea gives is enough", async () => {
    const bare = await bareCopy();
    await expect(installServer(bare, { forge: 'gitea' })).rejects.toMatchObject({ code: 'REFUSED', message: expect.stringContaining('does not run the hooks in hooks/pre-receive.d/') });
    await runnerFor(bare, 'hooks/pre-receive.d');
    await mkdir(`${bare}/hooks/pre-receive.d`, { recursive: true });
    await writeFile(`${bare}/hooks/pre-receive.d/gitea`, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    const result = await installServer(bare, { forge: 'gitea' });
    expect(result.hook).toBe(`${bare}/hooks/pre-receive.d/knock-env`);
    const dir = await cloneWithCommit(bare);
    await expectRefused(bare, dir, { GITEA_PUSHER_NAME: 'eve', GITEA_PUSHER_EMAIL: 'eve@example.com', GITEA_REPO_NAME: 'notifications' }, 'eve@example.com is not a member of the account (Gitea user eve, GITEA_PUSHER_EMAIL)');
    await expectAccepted(bare, dir, { GITEA_PUSHER_NAME: 'mo', GITEA_PUSHER_EMAIL: MO, GITEA_PUSHER_ID: '2' });
  });

  it("gitolite: hooks/pre-receive, never over gitolite's hook driver; GL_USER as an email or mapped", async () => {
    const bare = await bareCopy();
    await symlink('/nonexistent/multi-hook-driver', `${bare}/hooks/pre-receive`);
    await expect(installServer(bare, { forge: 'gitolite' })).rejects.toMatchObject({ code: 'REFUSED', message: `${bare}/hooks/pre-receive exists and was not written by knock-env.` });
    await execa('rm', [`${bare}/hooks/pre-receive`]);
    const result = await installServer(bare, { forge: 'gitolite' });
    expect(result.hook).toBe(`${bare}/hooks/pre-receive`);
    const dir = await cloneWithCommit(bare);
    await expectRefused(bare, dir, { GL_USER: 'bob_smith', GL_REPO: 'notifications' }, `config knock-env.identity.gitolite.bob_smith.email <member-email>`);
    await git(bare, 'config', 'knock-env.identity.gitolite.bob_smith.email', MO);
    await expectAccepted(bare, dir, { GL_USER: 'bob_smith', GL_REPO: 'notifications' });
  });

  it('GitHub Enterprise Server: writes pre-receive.sh (carrying the login mappings) and the Dockerfile of its environment, and prints the admin steps', async () => {
    const bare = await bareCopy();
    await git(bare, 'config', 'knock-env.identity.github-enterprise.octocat', ADA);
    const out = join(await tempDir('knock-env-ghes-'), 'hook');
    const run = await cli(seed, ['server', 'install', '--forge', 'github-enterprise', bare, '--out', out, '--json']);
    expect(run.exitCode, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { forge: string; hook: null; files: string[]; steps: string[]; config: object };
    expect(result).toMatchObject({ forge: 'github-enterprise', hook: null, files: [`${out}/pre-receive.sh`, `${out}/Dockerfile`], config: {} });
    expect(result.steps.join('\n')).toMatch(/Add pre-receive hook/);
    expect(await readFile(`${out}/Dockerfile`, 'utf8')).toMatch(/npm install -g knock-env@\d/);
    // Run the script as the appliance would, with knock-env on PATH and no mapping left in the repository's config.
    await execa('cp', [`${out}/pre-receive.sh`, `${bare}/hooks/pre-receive`]);
    await git(bare, 'config', '--unset', 'knock-env.identity.github-enterprise.octocat');
    const bin = await tempDir('knock-env-ghes-bin-');
    await writeFile(`${bin}/knock-env`, `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`);
    await chmod(`${bin}/knock-env`, 0o755);
    const path = `${bin}:${process.env.PATH ?? ''}`;
    const dir = await cloneWithCommit(bare);
    await expectRefused(bare, dir, { GITHUB_USER_LOGIN: 'hubot', PATH: path }, 'config knock-env.identity.github-enterprise.hubot <member-email>');
    await expectAccepted(bare, dir, { GITHUB_USER_LOGIN: 'octocat', GITHUB_REPO_NAME: 'org/notifications', PATH: path });
  });

  it('refuses an unknown forge, and --out without github-enterprise, as usage errors that change nothing', async () => {
    const bare = await bareCopy();
    await expect(installServer(bare, { forge: 'bitbucket' })).rejects.toMatchObject({ code: 'USAGE', message: '--forge bitbucket is not a git server knock-env knows.' });
    await expect(installServer(bare, { forge: 'gitlab', out: 'x' })).rejects.toMatchObject({ code: 'USAGE' });
    expect(await readFile(`${bare}/custom_hooks/pre-receive.d/knock-env`).catch(() => null)).toBeNull();
    expect(await git(bare, 'config', '--get-regexp', 'receive').catch(() => '')).toBe('');
  });
});
