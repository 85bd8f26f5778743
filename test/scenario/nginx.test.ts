import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installServer } from '../../src/cli/commands/server.js';
import { createEnvironment } from '../../src/core/ops/environments.js';
import { initProject } from '../../src/core/ops/init.js';
import { scaffoldResource } from '../../src/core/ops/scaffold.js';
import { cli, coreOptionsFor, diskFs, GIT_ENV, git } from '../helpers/repo.js';

/**
 * The hook behind a real web server, as a team would run it without
 * `knock-env serve`: nginx with auth_basic (which sets REMOTE_USER), fcgiwrap
 * and `git http-backend`, on 127.0.0.1, every file in a temporary directory.
 * nginx's user "ada" is mapped to the member ada@example.com in the server
 * repository's git config; "mallory" gets past nginx but is no member.
 */

function findProgram(name: string): string | null {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin']) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not in this folder
    }
  }
  return null;
}

const NGINX = findProgram('nginx');
const FCGIWRAP = findProgram('fcgiwrap');
const MISSING = [NGINX ? '' : 'nginx', FCGIWRAP ? '' : 'fcgiwrap'].filter((n) => n !== '');
const WHY = `it needs ${MISSING.join(' and ')}, which are not installed (Debian: apt-get install nginx fcgiwrap; .ci/run installs them)`;

const PASSWORDS = { ada: 'ada-secret', mallory: 'mallory-secret' };
const QUIET = { ...GIT_ENV, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'false', SSH_ASKPASS: 'false' };

/** An htpasswd line nginx reads ({SSHA}: salted SHA-1), written without htpasswd. */
function htpasswdLine(user: string, password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha1').update(password).update(salt).digest();
  return `${user}:{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolvePort(port));
    });
  });
}

async function waitFor(what: string, ready: () => Promise<boolean>, child: ChildProcess, log: () => Promise<string>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}: ${await log()}`);
    if (await ready()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not start within 10 s: ${await log()}`);
}

const accepts = (port: number) => (): Promise<boolean> =>
  new Promise((resolveOpen) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolveOpen(true);
    });
    socket.once('error', () => resolveOpen(false));
  });

function serverSuite(): void {
  let root: string;
  let bare: string;
  let port: number;
  const children: ChildProcess[] = [];
  const url = (user: keyof typeof PASSWORDS) => `http://${user}:${PASSWORDS[user]}@127.0.0.1:${port}/project.git`;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'knock-env-nginx-'));
    const seed = join(root, 'seed');
    await initProject(coreOptionsFor(seed));
    await createEnvironment({ ...coreOptionsFor(seed), slug: 'staging' });
    await mkdir(join(root, 'repos'));
    bare = join(root, 'repos', 'project.git');
    await git(root, 'clone', '-q', '--bare', seed, bare);
    await installServer(bare);
    await git(bare, 'config', 'knock-env.identity.remote-user.ada', 'ada@example.com');

    const prefix = join(root, 'nginx');
    await mkdir(join(prefix, 'tmp'), { recursive: true });
    await writeFile(join(prefix, 'htpasswd'), `${Object.entries(PASSWORDS).map(([u, p]) => htpasswdLine(u, p)).join('\n')}\n`);
    const socket = join(root, 'fcgiwrap.sock');
    // Its own process group, so that stopping it stops the children it forks.
    const fcgiwrap = spawn(FCGIWRAP!, ['-c', '2', '-s', `unix:${socket}`], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    children.push(fcgiwrap);
    let fcgiLog = '';
    fcgiwrap.stderr!.on('data', (chunk: Buffer) => (fcgiLog += chunk.toString()));
    await waitFor('fcgiwrap', async () => existsSync(socket), fcgiwrap, async () => fcgiLog);

    port = await freePort();
    const gitExecPath = (await execa('git', ['--exec-path'])).stdout.trim();
    const version = (await execa(NGINX!, ['-V'], { reject: false })).stderr;
    const temp = ['client_body', 'fastcgi', 'proxy', ...['uwsgi', 'scgi'].filter((m) => !version.includes(`--without-http_${m}_module`))]
      .map((kind) => `  ${kind}_temp_path ${prefix}/tmp/${kind};`)
      .join('\n');
    const param = (name: string, value: string) => `      fastcgi_param ${name} "${value}";`;
    const conf = `${process.getuid?.() === 0 ? 'user root;\n' : ''}daemon off;
master_process off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log notice;
events { worker_connections 64; }
http {
  access_log ${prefix}/access.log;
${temp}
  client_max_body_size 0;
  server {
    listen 127.0.0.1:${port};
    location / {
      auth_basic "knock-env test";
      auth_basic_user_file ${prefix}/htpasswd;
      fastcgi_pass unix:${socket};
${[
  param('SCRIPT_FILENAME', `${gitExecPath}/git-http-backend`),
  param('GIT_PROJECT_ROOT', join(root, 'repos')),
  param('GIT_HTTP_EXPORT_ALL', ''),
  param('GIT_CONFIG_NOSYSTEM', '1'),
  param('PATH', process.env.PATH ?? '/usr/bin:/bin'),
  param('HOME', root),
  param('PATH_INFO', '$uri'),
  param('REMOTE_USER', '$remote_user'),
  param('REQUEST_METHOD', '$request_method'),
  param('QUERY_STRING', '$query_string'),
  param('CONTENT_TYPE', '$content_type'),
  param('CONTENT_LENGTH', '$content_length'),
  param('GIT_PROTOCOL', '$http_git_protocol'),
].join('\n')}
    }
  }
}
`;
    await writeFile(join(prefix, 'nginx.conf'), conf);
    const nginx = spawn(NGINX!, ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', join(prefix, 'error.log')], { stdio: 'ignore' });
    children.push(nginx);
    await waitFor('nginx', accepts(port), nginx, () => readFile(join(prefix, 'error.log'), 'utf8').catch(() => ''));
  }, 60_000);

  afterAll(async () => {
    for (const child of [...children].reverse()) {
      if (child.exitCode !== null || child.pid === undefined) continue;
      const exited = new Promise((r) => child.once('exit', r));
      if (child.spawnargs.includes('-s')) process.kill(-child.pid, 'SIGTERM');
      else child.kill('SIGTERM');
      await exited;
    }
    if (root) await rm(root, { recursive: true, force: true });
  });

  async function knockEnv(dir: string, ...args: string[]): Promise<string> {
    const result = await cli(dir, args, { env: QUIET });
    expect(result.exitCode, `knock-env ${args.join(' ')}: ${result.stderr}`).toBe(0);
    return result.stdout;
  }

  async function cloneAs(user: keyof typeof PASSWORDS): Promise<string> {
    const dir = join(await mkdtemp(join(root, 'clone-')), 'project');
    await execa('git', ['clone', '-q', url(user), dir], { env: QUIET });
    return dir;
  }

  const serverHead = (branch: string) => git(bare, 'rev-parse', branch);

  it('clones, pulls, commits with a push and promotes through nginx, as the member nginx names', async () => {
    const dir = await cloneAs('ada');
    await knockEnv(dir, 'pull');
    expect((await git(dir, 'for-each-ref', '--format=%(refname)', 'refs/heads')).split('\n').sort()).toEqual(['refs/heads/development', 'refs/heads/production', 'refs/heads/staging']);
    await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'welcome-email' });
    await knockEnv(dir, 'commit', '-m', 'Add the welcome email');
    expect(await serverHead('development')).toBe(await git(dir, 'rev-parse', 'development'));
    expect(await git(bare, 'log', '-1', '--format=%s', 'development')).toBe('Add the welcome email');
    await knockEnv(dir, 'promote', 'staging', '--yes');
    expect(await serverHead('staging')).toBe(await serverHead('development'));
    const fsck = await execa('git', ['fsck', '--strict', '--no-dangling'], { cwd: bare, env: GIT_ENV, reject: false });
    expect(fsck.exitCode, fsck.stderr).toBe(0);

    // A plain-git edit on staging of what development owns: the hook's refusal, through nginx.
    await git(dir, 'switch', '-q', 'staging');
    const path = `${dir}/workflows/welcome-email/workflow.yaml`;
    await writeFile(path, (await readFile(path, 'utf8')).replace(/^description: .*$/m, 'description: edited on staging'));
    await git(dir, 'commit', '-q', '-am', 'Edit on staging');
    const before = await serverHead('staging');
    const push = await execa('git', ['push', 'origin', 'staging'], { cwd: dir, env: QUIET, reject: false });
    expect(push.exitCode).not.toBe(0);
    expect(push.stderr).toContain('remote: knock-env refused this push');
    expect(push.stderr).toContain('workflow "welcome-email" belongs to development (its origin environment); it cannot be changed in staging.');
    expect(await serverHead('staging')).toBe(before);
  }, 60_000);

  it('refuses a user nginx admits but the account does not know, saying how to map them', async () => {
    const dir = await cloneAs('mallory');
    await writeFile(`${dir}/NOTES.md`, 'From mallory.\n');
    await git(dir, 'add', 'NOTES.md');
    await git(dir, 'commit', '-q', '-m', 'Notes');
    const before = await serverHead('development');
    const push = await execa('git', ['push', 'origin', 'development'], { cwd: dir, env: QUIET, reject: false });
    expect(push.exitCode).not.toBe(0);
    expect(push.stderr).toContain('user mallory (REMOTE_USER) is not mapped to a member of the account.');
    expect(push.stderr).toContain(`git -C ${bare} config knock-env.identity.remote-user.mallory <member-email>`);
    expect(await serverHead('development')).toBe(before);
    // nginx itself turns away a wrong password.
    const wrong = await fetch(`http://127.0.0.1:${port}/project.git/info/refs?service=git-upload-pack`, { headers: { authorization: `Basic ${Buffer.from('ada:wrong').toString('base64')}` } });
    expect(wrong.status).toBe(401);
  }, 60_000);
}

if (MISSING.length === 0) describe('the hook behind nginx, fcgiwrap and git http-backend', serverSuite);
else if (process.env.CI === 'true') {
  describe('the hook behind nginx, fcgiwrap and git http-backend', () => {
    it('runs in CI, where it must not be skipped', () => {
      throw new Error(`This test cannot run: ${WHY}.`);
    });
  });
} else {
  describe.skip(`the hook behind nginx, fcgiwrap and git http-backend (skipped: ${WHY})`, serverSuite);
}
