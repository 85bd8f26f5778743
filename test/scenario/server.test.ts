import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cli, GIT_ENV, git, gitCode } from '../helpers/repo.js';
import { startTeamServer, type TeamServer } from '../helpers/server.js';

/**
 * A knock-env team server (knock-env serve + the pre-receive hook) driven by
 * plain git over HTTP: knock-env's own operations, run in clones and pushed
 * one ref at a time lowest environment first, are accepted; every rule broken
 * with plain git is refused with a message the pusher sees, and nothing moves.
 * One server is shared: refused pushes change nothing, and the accepted ones
 * run in order.
 */

const OFFLINE = { KNOCK_ENV_OFFLINE: '1' };
const QUIET = { ...GIT_ENV, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'false', SSH_ASKPASS: 'false' };

let server: TeamServer;
let envs = ['development', 'staging', 'production'];

beforeAll(async () => {
  server = await startTeamServer({
    members: [
      { email: 'sam@example.com', role: 'support' },
      { email: 'mo@example.com', role: 'member' },
    ],
    apiKeys: [
      { name: 'ci-staging', environment: 'staging', role: 'member' },
      { name: 'ci-production', environment: 'production', role: 'member' },
    ],
  });
});

afterAll(async () => {
  await server?.close();
});

/** Clones the server with credentials in the URL and makes a local branch for every branch it sees. */
async function cloneWith(url: string): Promise<string> {
  const parent = await server.tempDir('knock-env-clone-');
  const dir = join(parent, 'clone');
  await execa('git', ['clone', '-q', url, dir], { env: QUIET });
  const current = await git(dir, 'branch', '--show-current');
  for (const name of (await git(dir, 'for-each-ref', '--format=%(refname:lstrip=3)', 'refs/remotes/origin')).split('\n')) {
    if (name === '' || name === 'HEAD' || name === current) continue;
    await git(dir, 'branch', '-q', name, `origin/${name}`);
  }
  return dir;
}

async function push(dir: string, ...refspecs: string[]): Promise<{ code: number; stderr: string }> {
  const result = await execa('git', ['push', 'origin', ...refspecs], { cwd: dir, env: QUIET, reject: false });
  return { code: result.exitCode ?? -1, stderr: result.stderr };
}

/** Pushes every branch that moved, one ref per push, lowest environment first, then the audit trail: what knock-env's client does. */
async function pushLowestFirst(dir: string): Promise<string[]> {
  const pushed: string[] = [];
  for (const ref of [...envs, 'knock-env/audit']) {
    const local = await git(dir, 'rev-parse', '--verify', '--quiet', `refs/heads/${ref}`).catch(() => '');
    const remote = await git(dir, 'rev-parse', '--verify', '--quiet', `refs/remotes/origin/${ref}`).catch(() => '');
    if (local === '' || local === remote) continue;
    const result = await push(dir, `refs/heads/${ref}:refs/heads/${ref}`);
    expect(result.stderr, `push of ${ref}`).not.toMatch(/refused|rejected/);
    expect(result.code, `push of ${ref}: ${result.stderr}`).toBe(0);
    pushed.push(ref);
  }
  return pushed;
}

async function knockEnv(dir: string, ...args: string[]): Promise<string> {
  const result = await cli(dir, args, { env: OFFLINE });
  expect(result.exitCode, `knock-env ${args.join(' ')}: ${result.stderr}`).toBe(0);
  return result.stdout;
}

const serverRefs = () => git(server.bare, 'for-each-ref', '--format=%(refname) %(objectname)');

/** A push that must be refused with `message` in what git prints, leaving every ref of the server as it was. */
async function expectRefused(dir: string, refspecs: string[], message: RegExp): Promise<string> {
  const before = await serverRefs();
  const result = await push(dir, ...refspecs);
  expect(result.code, result.stderr).not.toBe(0);
  expect(result.stderr).toMatch(/remote: knock-env refused this push/);
  expect(result.stderr).toMatch(message);
  expect(await serverRefs()).toBe(before);
  return result.stderr;
}

async function assertServerChain(): Promise<void> {
  for (let i = 1; i < envs.length; i++) {
    expect(await gitCode(server.bare, 'merge-base', '--is-ancestor', envs[i]!, envs[i - 1]!), `${envs[i]} is an ancestor of ${envs[i - 1]}`).toBe(0);
  }
  const fsck = await execa('git', ['fsck', '--strict', '--no-dangling'], { cwd: server.bare, env: GIT_ENV, reject: false });
  expect(fsck.exitCode, fsck.stderr).toBe(0);
}

async function editDescription(dir: string, key: string, text: string): Promise<void> {
  const path = `${dir}/workflows/${key}/workflow.yaml`;
  await writeFile(path, (await readFile(path, 'utf8')).replace(/^description: .*$/m, `description: ${text}`));
}

async function gitCommitAll(dir: string, message: string, env: Record<string, string> = {}): Promise<void> {
  await execa('git', ['add', '-A'], { cwd: dir, env: GIT_ENV });
  await execa('git', ['commit', '-q', '-m', message], { cwd: dir, env: { ...GIT_ENV, ...env } });
}

describe('credentials', () => {
  it('answers 401 with a Basic challenge and no body to missing or wrong credentials, and serves smart HTTP only', async () => {
    const infoRefs = `${server.url}/info/refs?service=git-upload-pack`;
    for (const authorization of [undefined, `Basic ${Buffer.from(`ada@example.com:wrong`).toString('base64')}`, `Basic ${Buffer.from(`anyone:${server.tokens['ada@example.com']}`).toString('base64')}`]) {
      const response = await fetch(infoRefs, authorization ? { headers: { authorization } } : {});
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Basic realm="knock-env"/);
      expect(await response.text()).toBe('');
    }
    const good = { authorization: `Basic ${Buffer.from(`ada@example.com:${server.tokens['ada@example.com']}`).toString('base64')}` };
    const ok = await fetch(infoRefs, { headers: good });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('application/x-git-upload-pack-advertisement');
    // The same repository at the server's root.
    expect((await fetch(`${new URL(server.url).origin}/info/refs?service=git-receive-pack`, { headers: good })).status).toBe(200);
    // A request body git compressed (Content-Encoding: gzip) reaches git http-backend as such.
    const production = await git(server.bare, 'rev-parse', 'production');
    const body = gzipSync(Buffer.from(`0032want ${production}\n00000009done\n`));
    const pack = await fetch(`${server.url}/git-upload-pack`, { method: 'POST', headers: { ...good, 'content-type': 'application/x-git-upload-pack-request', 'content-encoding': 'gzip' }, body });
    expect(pack.status).toBe(200);
    expect(Buffer.from(await pack.arrayBuffer()).toString('latin1')).toMatch(/^0008NAK\nPACK/);
    // Dumb HTTP would hand out objects past hidden refs: not served.
    for (const path of ['/HEAD', '/objects/info/packs', '/info/refs', '/knock-env/credentials.json', '/config']) {
      expect((await fetch(`${server.url}${path}`, { headers: good })).status, path).toBe(404);
    }
  });

  it('makes git fail with an authentication error on a wrong token, and leaves the refs as they were', async () => {
    const listing = await execa('git', ['ls-remote', server.urlAs('ada@example.com', 'not-the-token')], { env: QUIET, reject: false });
    expect(listing.exitCode).not.toBe(0);
    expect(listing.stderr).toMatch(/Authentication failed/);
    const dir = await cloneWith(server.urlFor('ada@example.com'));
    await git(dir, 'remote', 'set-url', 'origin', server.urlAs('ada@example.com', 'not-the-token'));
    await mkdir(`${dir}/docs`, { recursive: true });
    await writeFile(`${dir}/docs/readme.md`, 'hello\n');
    await gitCommitAll(dir, 'Add docs');
    const before = await serverRefs();
    const result = await push(dir, 'development');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/Authentication failed/);
    expect(await serverRefs()).toBe(before);
    // The same user with a token from another member is no better.
    await git(dir, 'remote', 'set-url', 'origin', server.urlAs('ada@example.com', server.tokens['mo@example.com']!));
    expect((await push(dir, 'development')).stderr).toMatch(/Authentication failed/);
  });

  it('shows an API key only its environment, the one below it (what it promotes), the ones above and the audit trail', async () => {
    const list = async (key: string) => (await execa('git', ['ls-remote', server.urlAs('ci', server.keys[key]!)], { env: QUIET })).stdout.split('\n').map((l) => l.split('\t')[1]);
    expect(await list('ci-staging')).toEqual(expect.arrayContaining(['refs/heads/development', 'refs/heads/staging', 'refs/heads/production']));
    const refs = await list('ci-production');
    expect(refs).toContain('refs/heads/staging');
    expect(refs).toContain('refs/heads/production');
    expect(refs).not.toContain('refs/heads/development');
    expect(refs).not.toContain('HEAD');
    // Nor can it fetch development's head by its id.
    const dir = await server.tempDir();
    await git(dir, 'init', '-q');
    const development = await git(server.bare, 'rev-parse', 'development');
    const fetched = await execa('git', ['fetch', server.urlAs('ci', server.keys['ci-production']!), development], { cwd: dir, env: QUIET, reject: false });
    expect(fetched.exitCode).not.toBe(0);
    expect(await gitCode(dir, 'cat-file', '-e', development)).not.toBe(0);
  });
});

describe("knock-env's own operations, pushed one ref at a time, lowest environment first", () => {
  let dir: string;

  it('accepts a development commit (a large one: the push arrives as a pack in quarantine) and promotions', async () => {
    dir = await cloneWith(server.urlFor('ada@example.com'));
    // Request bodies larger than this are sent chunked, without Content-Length.
    await git(dir, 'config', 'http.postBuffer', '4096');
    expect((await git(dir, 'for-each-ref', '--format=%(refname)', 'refs/heads')).split('\n').sort()).toEqual(['refs/heads/development', 'refs/heads/production', 'refs/heads/staging']);
    await knockEnv(dir, 'workflow', 'new', 'welcome-email');
    const template = await readFile(`${dir}/workflows/welcome-email/workflow.yaml`, 'utf8');
    for (let i = 0; i < 60; i++) {
      await mkdir(`${dir}/workflows/bulk-${i}`, { recursive: true });
      await writeFile(`${dir}/workflows/bulk-${i}/workflow.yaml`, template.replace(/^description: .*$/m, `description: bulk ${i}`).replace(/^\s+markdown_body@.*$/m, '      markdown_body: Hello').replace(/^\s+html_body@.*$/m, '      html_body: <p>Hi</p>'));
    }
    await knockEnv(dir, 'commit', '-m', 'Add welcome email and bulk workflows');
    const packs = async () => Number(/^packs: (\d+)/m.exec(await git(server.bare, 'count-objects', '-v'))![1]);
    const before = await packs();
    expect(await pushLowestFirst(dir)).toEqual(['development']);
    // More objects than receive.unpackLimit: git kept the pack, so the hook read it from quarantine.
    expect(await packs()).toBe(before + 1);

    await knockEnv(dir, 'promote', 'staging', '--yes');
    expect(await pushLowestFirst(dir)).toEqual(['staging', 'knock-env/audit']);
    await knockEnv(dir, 'promote', 'production', '--yes');
    expect(await pushLowestFirst(dir)).toEqual(['production', 'knock-env/audit']);
    await assertServerChain();
  });

  it('accepts account changes: settings, members, API keys, and a new environment', async () => {
    await knockEnv(dir, 'settings', 'set', 'production-write-access', 'on');
    expect(await pushLowestFirst(dir)).toEqual(['development', 'staging', 'production']);
    await knockEnv(dir, 'members', 'add', 'pat@example.com', '--role', 'member');
    await pushLowestFirst(dir);
    await knockEnv(dir, 'keys', 'create', '--env', 'staging', '--name', 'ci-two');
    await pushLowestFirst(dir);
    await knockEnv(dir, 'env', 'create', 'uat');
    envs = ['development', 'staging', 'uat', 'production'];
    expect(await pushLowestFirst(dir)).toEqual(['development', 'staging', 'uat', 'production']);
    await assertServerChain();
    expect(await git(server.bare, 'show', 'production:knock-env.yaml')).toMatch(/slug: uat/);
  });

  it('accepts direct production commits, pushed one ref at a time or all at once, and a rollback', async () => {
    await knockEnv(dir, 'checkout', 'production');
    await knockEnv(dir, 'workflow', 'new', 'prod-alert');
    await knockEnv(dir, 'commit', '-m', 'Add a production alert');
    expect(await pushLowestFirst(dir)).toEqual(['development', 'staging', 'uat', 'production']);

    await editDescription(dir, 'prod-alert', 'Sent when production needs attention.');
    await knockEnv(dir, 'commit', '-m', 'Describe the alert');
    const all = await push(dir, ...envs.map((e) => `refs/heads/${e}:refs/heads/${e}`));
    expect(all.code, all.stderr).toBe(0);

    await knockEnv(dir, 'rollback', 'production', '--yes');
    expect(await pushLowestFirst(dir)).toEqual([...envs, 'knock-env/audit']);
    await assertServerChain();
    for (const env of [...envs, 'knock-env/audit']) expect(await git(server.bare, 'rev-parse', env)).toBe(await git(dir, 'rev-parse', env));
    // The rollback restored the promoted content (welcome email gone from production), kept production's own.
    expect(await gitCode(server.bare, 'cat-file', '-e', 'production:workflows/welcome-email/workflow.yaml')).not.toBe(0);
    expect(await gitCode(server.bare, 'cat-file', '-e', 'production:workflows/prod-alert/workflow.yaml')).toBe(0);
  });
});

describe('rules broken with plain git are refused, naming what and why', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await cloneWith(server.urlFor('ada@example.com'));
  });

  it('refuses a rewind and a deletion of an environment branch', async () => {
    await git(dir, 'checkout', '-q', 'development');
    await expectRefused(dir, ['+development~1:refs/heads/development'], /refs\/heads\/development: not a fast-forward/);
    await expectRefused(dir, [':refs/heads/staging'], /staging is an environment branch; it cannot be deleted/);
  });

  it("refuses a change to development's workflow committed on staging", async () => {
    await git(dir, 'checkout', '-q', 'staging');
    await editDescription(dir, 'welcome-email', 'Edited on staging with plain git.');
    await gitCommitAll(dir, 'Edit welcome on staging');
    const stderr = await expectRefused(dir, ['staging'], /workflow "welcome-email" belongs to development \(its origin environment\); it cannot be changed in staging/);
    expect(stderr).toMatch(/hint: Make the change in development/);
    await git(dir, 'reset', '-q', '--hard', 'origin/staging');
  });

  it("refuses a change to production's own files made in development", async () => {
    await git(dir, 'checkout', '-q', 'development');
    await mkdir(`${dir}/environments/production`, { recursive: true });
    await writeFile(`${dir}/environments/production/variables.yaml`, 'app_url: https://example.com\n');
    await gitCommitAll(dir, 'Production variables, from development');
    await expectRefused(dir, ['development'], /environments\/production\/variables\.yaml belongs to the production environment; it cannot be changed in development/);
    await git(dir, 'reset', '-q', '--hard', 'origin/development');
  });

  it('refuses an invalid workflow, with file and line', async () => {
    await mkdir(`${dir}/workflows/broken-flow`, { recursive: true });
    await writeFile(`${dir}/workflows/broken-flow/workflow.yaml`, 'origin_environment: development\nname: Broken\nsteps:\n  - ref: x\n    type: not-a-step-type\n');
    await gitCommitAll(dir, 'Add a broken workflow');
    await expectRefused(dir, ['development'], /invalid: workflows\/broken-flow\/workflow\.yaml:\d+/);
    await git(dir, 'reset', '-q', '--hard', 'origin/development');
  });

  it('refuses to rewrite the audit trail, and other branches under knock-env/', async () => {
    await expectRefused(dir, ['+knock-env/audit~1:refs/heads/knock-env/audit'], /the audit trail on the server is at .*audit history is never rewritten/);
    await git(dir, 'checkout', '-q', '-b', 'knock-env/audit-copy', 'knock-env/audit');
    await expectRefused(dir, ['knock-env/audit-copy'], /refs\/heads\/knock-env\/ is reserved/);
    // An audit record with files in it.
    await git(dir, 'checkout', '-q', 'knock-env/audit');
    await writeFile(`${dir}/note.txt`, 'not an audit record\n');
    await gitCommitAll(dir, 'Sneak a file into the audit trail');
    await expectRefused(dir, ['knock-env/audit'], /audit records are commits with an empty tree/);
    await git(dir, 'reset', '-q', '--hard', 'origin/knock-env/audit');
    await git(dir, 'checkout', '-q', 'development');
  });

  it('lets feature branches through untouched, and judges their commits when they land on an environment', async () => {
    await git(dir, 'checkout', '-q', '-b', 'feature/prod-vars', 'development');
    await mkdir(`${dir}/environments/production`, { recursive: true });
    await writeFile(`${dir}/environments/production/variables.yaml`, 'app_url: https://example.com\n');
    await gitCommitAll(dir, 'Production variables on a feature branch');
    const feature = await push(dir, 'feature/prod-vars');
    expect(feature.code, feature.stderr).toBe(0);
    await expectRefused(dir, ['feature/prod-vars:refs/heads/development'], /belongs to the production environment/);
    await git(dir, 'checkout', '-q', 'development');
  });

  it('refuses any change from a support member', async () => {
    const support = await cloneWith(server.urlFor('sam@example.com'));
    await git(support, 'checkout', '-q', 'development');
    await editDescription(support, 'welcome-email', 'Support edits.');
    await gitCommitAll(support, 'Support edit', { GIT_AUTHOR_EMAIL: 'sam@example.com', GIT_COMMITTER_EMAIL: 'sam@example.com' });
    await expectRefused(support, ['development'], /You are sam@example\.com \(support\).*the support role cannot edit/);
  });

  it('refuses an API key for staging moving production', async () => {
    const key = await cloneWith(server.urlAs('ci', server.keys['ci-staging']!));
    expect(await gitCode(key, 'merge-base', '--is-ancestor', 'origin/production', 'origin/staging')).toBe(0);
    expect(await git(key, 'rev-parse', 'origin/production')).not.toBe(await git(key, 'rev-parse', 'origin/staging'));
    await expectRefused(key, ['origin/staging:refs/heads/production'], /API key "ci-staging" \(member in staging\).*cannot promote in production: the key acts in staging only/);
  });

  it('refuses a merge that brings back an earlier knock-env.yaml: a revoked API key stays revoked, for the owner too', async () => {
    await git(dir, 'checkout', '-q', 'development');
    await knockEnv(dir, 'keys', 'revoke', 'ci-two');
    await pushLowestFirst(dir);
    const earlier = await git(dir, 'rev-parse', 'production~1');
    expect(await git(dir, 'show', `${earlier}:knock-env.yaml`)).toMatch(/name: ci-two/);
    expect(await git(server.bare, 'show', 'production:knock-env.yaml')).not.toMatch(/name: ci-two/);
    // A merge of the state before the revocation, taking its knock-env.yaml: every parent is in the project's history.
    await git(dir, 'checkout', earlier, '--', 'knock-env.yaml');
    const merge = await git(dir, 'commit-tree', await git(dir, 'write-tree'), '-p', 'HEAD', '-p', earlier, '-m', 'Merge production into development');
    await git(dir, 'reset', '-q', '--hard', merge);
    const stderr = await expectRefused(dir, ['development'], /The merge into development gives knock-env\.yaml \(owned by the account, committed on production\) content that is neither production's current content nor that of a commit made for production on top of its current head/);
    expect(stderr).toMatch(/path knock-env\.yaml, environment production/);
    expect(stderr).toMatch(/hint: Change the account in production with knock-env/);
    // Pushed to every environment at once, the merge is refused all the same.
    await expectRefused(dir, envs.map((env) => `${merge}:refs/heads/${env}`), /production would get knock-env\.yaml \(owned by the account, committed on production\)/);
    await git(dir, 'reset', '-q', '--hard', 'origin/development');
  });

  it('leaves a healthy repository after all of it', async () => {
    await assertServerChain();
  });
});

/** Processes running git http-backend for the repository `bare` (Linux: read from /proc; elsewhere none are found). */
async function backends(bare: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const [cmdline, environ] = await Promise.all([readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => ''), readFile(`/proc/${name}/environ`, 'utf8').catch(() => '')]);
    if (cmdline.includes('http-backend') && environ.split('\0').includes(`GIT_PROJECT_ROOT=${bare}`)) pids.push(Number(name));
  }
  return pids;
}

/** Whether a process runs (an exited one waiting to be reaped does not). */
async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && !/^\S+ \(.*\) Z/.test(stat);
}

async function until(condition: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  for (const start = Date.now(); Date.now() - start < ms; await new Promise((r) => setTimeout(r, 50))) if (await condition()) return true;
  return false;
}

/** A push request written by hand: it announces `length` bytes of body and sends `body`, so git http-backend waits for the rest. */
function rawPush(team: TeamServer, length: number, body: string): { socket: Socket; answer: Promise<string> } {
  const url = new URL(team.url);
  const socket = connect(Number(url.port), url.hostname);
  socket.on('error', () => undefined);
  const auth = Buffer.from(`ada@example.com:${team.tokens['ada@example.com']}`).toString('base64');
  socket.write(`POST ${url.pathname}/git-receive-pack HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Basic ${auth}\r\nContent-Type: application/x-git-receive-pack-request\r\nContent-Length: ${length}\r\n\r\n${body}`);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const answer = new Promise<string>((resolve) => socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1'))));
  return { socket, answer };
}

/** A push of a new feature branch from a fresh clone, which must go through within `ms`. */
async function featurePush(team: TeamServer, ms: number): Promise<{ code: number; stderr: string }> {
  const dir = join(await team.tempDir('knock-env-clone-'), 'clone');
  await execa('git', ['clone', '-q', team.urlFor('ada@example.com'), dir], { env: QUIET });
  await git(dir, 'checkout', '-q', '-b', 'feature/after');
  await writeFile(`${dir}/notes.md`, 'notes\n');
  await gitCommitAll(dir, 'Notes');
  const result = await execa('git', ['push', 'origin', 'feature/after'], { cwd: dir, env: QUIET, reject: false, timeout: ms });
  return { code: result.timedOut ? -1 : (result.exitCode ?? -1), stderr: result.stderr };
}

describe('the push queue (one push at a time)', () => {
  const started: TeamServer[] = [];
  const team = async (timeLimitMs: number): Promise<TeamServer> => {
    const made = await startTeamServer({ staging: false, timeLimitMs });
    started.push(made);
    return made;
  };
  afterAll(async () => {
    for (const made of started) await made.close();
  });

  it('skips a push whose client left while it waited, so the pushes after it are not held up and nothing is left running', async () => {
    const srv = await team(120_000);
    const holding = rawPush(srv, 100, '00');
    expect(await until(async () => (await backends(srv.bare)).length > 0 || !existsSync('/proc'))).toBe(true);
    const queued = rawPush(srv, 4, '0000');
    await new Promise((r) => setTimeout(r, 300));
    queued.socket.destroy();
    await queued.answer;
    holding.socket.destroy();
    await holding.answer;
    // Far below the time limit: the queue moved on without the departed push.
    const result = await featurePush(srv, 30_000);
    expect(result.code, result.stderr).toBe(0);
    expect(await until(async () => (await backends(srv.bare)).length === 0)).toBe(true);
  });

  it('stops a push that runs past the time limit, answers 504, and takes the next push', async () => {
    const srv = await team(1500);
    const stalled = rawPush(srv, 100, '00');
    const since = Date.now();
    const answer = await stalled.answer;
    expect(answer).toMatch(/^HTTP\/1\.1 504 /);
    expect(answer).toMatch(/took longer than 1\.5s on this request and was stopped/);
    expect(Date.now() - since).toBeLessThan(10_000);
    expect(await until(async () => (await backends(srv.bare)).length === 0)).toBe(true);
    const result = await featurePush(srv, 30_000);
    expect(result.code, result.stderr).toBe(0);
  });

  it('close() stops the running git http-backend, waits for it, and starts none for the pushes still waiting', async () => {
    const srv = await startTeamServer({ staging: false });
    const holding = rawPush(srv, 100, '00');
    const queued = rawPush(srv, 4, '0000');
    try {
      expect(await until(async () => (await backends(srv.bare)).length > 0 || !existsSync('/proc'))).toBe(true);
      const pids = await backends(srv.bare);
      await srv.close();
      for (const pid of pids) expect(await running(pid), `process ${pid}`).toBe(false);
      await Promise.all([holding.answer, queued.answer]);
      await new Promise((r) => setTimeout(r, 1000));
      expect(await backends(srv.bare)).toEqual([]);
    } finally {
      holding.socket.destroy();
      queued.socket.destroy();
    }
  });
});

describe('server administration', () => {
  it('install refuses what is not a bare knock-env repository and is idempotent; add-user issues tokens to members only', async () => {
    const root = await server.tempDir();
    const bare = join(root, 'copy.git');
    await git(root, 'clone', '-q', '--bare', server.seed, bare);
    const working = await cli(root, ['server', 'install', server.seed]);
    expect(working.exitCode).toBe(4);
    expect(working.stderr).toMatch(/is not a bare repository/);
    await git(root, 'init', '-q', '--bare', join(root, 'empty.git'));
    const empty = await cli(root, ['server', 'install', 'empty.git']);
    expect(empty.exitCode).toBe(1);
    expect(empty.stderr).toMatch(/not a knock-env repository: it has no production branch/);

    const first = await cli(root, ['server', 'install', bare, '--json']);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ hookUpdated: true, head: 'refs/heads/development', config: { 'receive.denyNonFastForwards': 'true', 'receive.denyDeletes': 'true' } });
    expect((await stat(join(bare, 'hooks/pre-receive'))).mode & 0o111).toBe(0o111);
    expect(await git(bare, 'config', 'receive.denyNonFastForwards')).toBe('true');
    expect(JSON.parse((await cli(root, ['server', 'install', bare, '--json'])).stdout).hookUpdated).toBe(false);
    const foreign = join(root, 'foreign.git');
    await git(root, 'clone', '-q', '--bare', server.seed, foreign);
    const unguarded = await cli(root, ['serve', foreign, '--port', '0']);
    expect(unguarded.exitCode).toBe(4);
    expect(unguarded.stderr).toMatch(/no knock-env pre-receive hook/);
    await writeFile(join(foreign, 'hooks/pre-receive'), '#!/bin/sh\nexit 0\n');
    const taken = await cli(root, ['server', 'install', foreign]);
    expect(taken.exitCode).toBe(4);
    expect(taken.stderr).toMatch(/pre-receive exists and was not written by knock-env/);

    const stranger = await cli(root, ['server', 'add-user', bare, 'eve@example.com']);
    expect(stranger.exitCode).toBe(4);
    expect(stranger.stderr).toMatch(/eve@example\.com is not a member/);
    const issued = await cli(root, ['server', 'add-user', bare, 'MO@example.com', '--json']);
    expect(issued.exitCode, issued.stderr).toBe(0);
    const { token, email, credentials } = JSON.parse(issued.stdout) as { token: string; email: string; credentials: string };
    expect(email).toBe('mo@example.com');
    expect((await stat(credentials)).mode & 0o777).toBe(0o600);
    const stored = await readFile(credentials, 'utf8');
    expect(stored).not.toContain(token);
    expect(stored).toMatch(/sha256:[0-9a-f]{64}/);
    const again = await cli(root, ['server', 'add-user', bare, 'mo@example.com']);
    expect(again.stdout.trim()).not.toBe(token);

    // serve: prints the URL, answers, and stops on SIGTERM; the replaced token no longer works.
    const serving = execa('node', [BIN, 'serve', bare, '--port', '0'], { env: GIT_ENV, reject: false });
    const url = await new Promise<string>((resolve, reject) => {
      serving.stdout!.on('data', (chunk: Buffer) => {
        const match = /http:\/\/127\.0\.0\.1:\d+\/copy\.git/.exec(String(chunk));
        if (match) resolve(match[0]);
      });
      serving.on('exit', () => reject(new Error('serve exited')));
    });
    const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
    expect((await fetch(`${url}/info/refs?service=git-upload-pack`, { headers: basic('mo@example.com', token) })).status).toBe(401);
    expect((await fetch(`${url}/info/refs?service=git-upload-pack`, { headers: basic('mo@example.com', again.stdout.trim()) })).status).toBe(200);
    serving.kill('SIGTERM');
    expect((await serving).exitCode).toBe(0);
  });
});
