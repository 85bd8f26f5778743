import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isKnockEnvError } from '../../src/core/errors.js';
import { commitChanges as commitLocally, type CommitOptions } from '../../src/core/ops/commit.js';
import { promoteEnvironment as promoteLocally, type PromoteOptions } from '../../src/core/ops/promote.js';
import { setAccountSetting as setLocally } from '../../src/core/ops/settings.js';
import { scaffoldResource } from '../../src/core/ops/scaffold.js';
import { diagnoseWithRemote as diagnose, fetchRemote, pullRemote, pushRemote, withRemote } from '../../src/core/remote/sync.js';
import type { RemoteAccess } from '../../src/core/remote/transport.js';
import { assertChain, cli, coreOptionsFor, git, gitCode } from '../helpers/repo.js';
import { OWNER, startTeamServer, type TeamServer } from '../helpers/server.js';
import { addServerUser } from '../../src/cli/commands/server.js';
import { startServer } from '../../src/cli/serve.js';
import { initProject } from '../../src/core/ops/init.js';

const BOB = { name: 'Bob Byte', email: 'bob@example.com' };

// Operations act against the remote through the one wrapper above them, as the CLI calls them.
const commitChanges = (options: CommitOptions) => withRemote(options, commitLocally);
const promoteEnvironment = (options: PromoteOptions) => withRemote(options, promoteLocally);
const setAccountSetting = (options: Parameters<typeof setLocally>[0]) => withRemote(options, setLocally);

let server: TeamServer;

beforeAll(async () => {
  server = await startTeamServer({ members: [{ email: BOB.email, role: 'member', name: BOB.name }], apiKeys: [{ name: 'ci-staging', environment: 'staging', role: 'member' }] });
}, 60_000);

afterAll(async () => {
  await server?.close();
});

/** `git clone` of a team server with credentials in the URL, then the remote URL without them (as a user's clone keeps it). */
async function cloneWithoutStoredCredentials(team: TeamServer, urlWithCredentials: string, name: string): Promise<string> {
  const root = await team.tempDir('knock-env-clone-');
  const dir = join(root, name);
  await git(root, 'clone', '-q', urlWithCredentials, dir);
  await git(dir, 'remote', 'set-url', 'origin', team.url);
  return dir;
}

/** A confirmation that holds an operation after it has fetched and planned, until released. */
function heldConfirmation(): { confirm: () => Promise<boolean>; reached: Promise<void>; release: () => void } {
  let release!: () => void;
  let reach!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const reached = new Promise<void>((resolve) => (reach = resolve));
  return { confirm: async () => (reach(), await released, true), reached, release };
}

/** A clone of the team server with its remote URL free of credentials, environment branches set up by `pull`. */
async function cloneAs(who: { name: string; email: string }): Promise<{ dir: string; options: ReturnType<typeof coreOptionsFor> & { remote: RemoteAccess } }> {
  const root = await server.tempDir('knock-env-clone-');
  const dir = join(root, 'work');
  await git(root, 'clone', '-q', server.urlFor(who.email), dir);
  await git(dir, 'remote', 'set-url', 'origin', server.url);
  await git(dir, 'config', 'user.email', who.email);
  await git(dir, 'config', 'user.name', who.name);
  const remote: RemoteAccess = { name: 'origin', url: server.url, credentials: async () => ({ username: who.email, password: server.tokens[who.email]! }) };
  const options = { ...coreOptionsFor(dir, who), remote };
  await pullRemote(options);
  return { dir, options };
}

async function serverHead(branch: string): Promise<string> {
  return git(server.bare, 'rev-parse', `refs/heads/${branch}`);
}

async function addWorkflow(dir: string, key: string): Promise<void> {
  await scaffoldResource({ ...coreOptionsFor(dir), kind: 'workflow', key });
}

describe('a team sharing a remote', () => {
  it('clones, commits and pushes from one clone, and fetches and pulls the change into another', async () => {
    const ada = await cloneAs(OWNER);
    const bob = await cloneAs(BOB);
    expect(await git(bob.dir, 'rev-parse', 'staging')).toBe(await serverHead('staging'));

    await addWorkflow(ada.dir, 'welcome-email');
    const committed = await commitChanges({ ...ada.options, message: 'Add welcome email' });
    // The commit is on the server, and the local branch equals it.
    expect(await serverHead('development')).toBe(committed.commit);
    expect(await git(ada.dir, 'rev-parse', 'development')).toBe(committed.commit);
    expect(await git(ada.dir, 'rev-parse', 'refs/remotes/origin/development')).toBe(committed.commit);

    const fetched = await fetchRemote(bob.options);
    expect(fetched.branches.find((b) => b.branch === 'development')).toMatchObject({ relation: 'behind', behind: 1 });
    // fetch moves nothing local.
    expect(await git(bob.dir, 'rev-parse', 'development')).not.toBe(committed.commit);

    const pulled = await pullRemote(bob.options);
    expect(pulled.updated.map((u) => u.branch)).toEqual(['development']);
    expect(await git(bob.dir, 'rev-parse', 'development')).toBe(committed.commit);
    // The checked-out branch brought the working tree along, and git sees it clean.
    expect(await readFile(join(bob.dir, 'workflows/welcome-email/workflow.yaml'), 'utf8')).toMatch(/^origin_environment: development$/m);
    expect(await git(bob.dir, 'status', '--porcelain')).toBe('');

    const promoted = await promoteEnvironment({ ...bob.options, environment: 'staging' });
    expect(promoted.promoted).toBe(true);
    expect(await serverHead('staging')).toBe(committed.commit);
    // The audit trail travelled too.
    expect(await git(server.bare, 'log', '-1', '--format=%s', 'refs/heads/knock-env/audit')).toMatch(/^Promote development to staging/);
    await assertChain(server.bare, server.environments);
    expect(await gitCode(server.bare, 'fsck', '--strict')).toBe(0);
  }, 60_000);

  it('stops a promotion when someone else moved the branch first, changes nothing locally, and a retry re-checks', async () => {
    const ada = await cloneAs(OWNER);
    const bob = await cloneAs(BOB);
    await addWorkflow(ada.dir, 'race-one');
    await commitChanges({ ...ada.options, message: 'Add race-one' });
    await pullRemote(bob.options);
    const stagingBefore = await serverHead('staging');

    const held = heldConfirmation();
    // Ada's promotion stops at its confirmation, after it has fetched and planned...
    const adas = promoteEnvironment({ ...ada.options, environment: 'staging', confirm: held.confirm });
    await held.reached;
    // ...meanwhile Bob promotes staging; then Ada answers yes.
    const bobs = await promoteEnvironment({ ...bob.options, environment: 'staging' });
    expect(bobs.promoted).toBe(true);
    held.release();
    const error = await adas.then(
      () => null,
      (e: unknown) => e,
    );
    expect(isKnockEnvError(error, 'CONCURRENT_UPDATE')).toBe(true);
    expect((error as Error).message).toMatch(/staging on origin moved/);
    // Nothing changed on Ada's side: her staging is where her fetch found it.
    expect(await git(ada.dir, 'rev-parse', 'staging')).toBe(stagingBefore);
    expect(await serverHead('staging')).toBe(bobs.plan.to.commit);

    // Retrying fetches the new state: staging is already where Ada wanted it.
    const retry = await promoteEnvironment({ ...ada.options, environment: 'staging' });
    expect(retry.promoted).toBe(false);
    expect(retry.plan.upToDate).toBe(true);
    expect(await git(ada.dir, 'rev-parse', 'staging')).toBe(bobs.plan.to.commit);
    await assertChain(server.bare, server.environments);
  }, 60_000);

  it('keeps both audit events when two people promote different environments at the same moment', async () => {
    const ada = await cloneAs(OWNER);
    const bob = await cloneAs(BOB);
    await addWorkflow(ada.dir, 'audit-race');
    await commitChanges({ ...ada.options, message: 'Add audit-race' });
    await promoteEnvironment({ ...ada.options, environment: 'staging' });
    await pullRemote(bob.options);
    const held = heldConfirmation();
    // Ada promotes production and waits at her confirmation; Bob meanwhile promotes staging (both append to the audit trail).
    const adas = promoteEnvironment({ ...ada.options, environment: 'production', confirm: held.confirm });
    await held.reached;
    await addWorkflow(bob.dir, 'audit-race-two');
    await commitChanges({ ...bob.options, message: 'Add audit-race-two' });
    const bobs = await promoteEnvironment({ ...bob.options, environment: 'staging' });
    held.release();
    const adaResult = await adas;
    expect(adaResult.promoted).toBe(true);
    // Production moved (nobody else moved it); the audit trail holds Bob's event, then Ada's, as one line of history.
    expect(await serverHead('production')).toBe(adaResult.plan.to.commit);
    const trail = (await git(server.bare, 'log', '--first-parent', '--format=%s', '-2', 'refs/heads/knock-env/audit')).split('\n');
    expect(trail[0]).toMatch(/^Promote staging to production/);
    expect(trail[1]).toBe((await git(server.bare, 'log', '-1', '--format=%s', bobs.auditEvent!)));
    expect(await git(server.bare, 'rev-list', '--merges', '--count', 'refs/heads/knock-env/audit')).toBe('0');
    expect(await git(ada.dir, 'rev-parse', 'knock-env/audit')).toBe(await serverHead('knock-env/audit'));
    await assertChain(server.bare, server.environments);
  }, 60_000);

  it('changes nothing locally when the push of a commit fails, and the same commit succeeds once the server is free', async () => {
    const ada = await cloneAs(OWNER);
    await addWorkflow(ada.dir, 'blocked');
    const file = join(ada.dir, 'workflows/blocked/workflow.yaml');
    const original = await readFile(file, 'utf8');
    const indexBefore = await readFile(join(ada.dir, '.git/index'));
    const head = await git(ada.dir, 'rev-parse', 'development');
    const lock = join(server.bare, 'refs/heads/development.lock');
    await writeFile(lock, '');
    const error = await commitChanges({ ...ada.options, message: 'Add blocked' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isKnockEnvError(error, 'CONCURRENT_UPDATE')).toBe(true);
    // The branch, the index and the file (which a commit gives its origin_environment line) are as they were.
    expect(await git(ada.dir, 'rev-parse', 'development')).toBe(head);
    expect(await readFile(file, 'utf8')).toBe(original);
    expect((await readFile(join(ada.dir, '.git/index'))).equals(indexBefore)).toBe(true);
    await rm(lock);
    const committed = await commitChanges({ ...ada.options, message: 'Add blocked' });
    expect(await serverHead('development')).toBe(committed.commit);
    expect(await readFile(file, 'utf8')).toMatch(/^origin_environment: development$/m);
    expect(await git(ada.dir, 'status', '--porcelain')).toBe('');
  }, 60_000);

  it('pushes offline audit events once, re-based onto the remote\'s trail, and keeps the local trail equal to it', async () => {
    const ada = await cloneAs(OWNER);
    const bob = await cloneAs(BOB);
    await addWorkflow(ada.dir, 'offline-audit-one');
    await commitChanges({ ...ada.options, message: 'Add offline-audit-one' });
    await promoteEnvironment({ ...ada.options, environment: 'staging' });
    await addWorkflow(ada.dir, 'offline-audit-two');
    await commitChanges({ ...ada.options, message: 'Add offline-audit-two' });
    await pullRemote(bob.options);
    // Bob promotes staging offline while Ada promotes production on the server: the trails diverge.
    const { remote: _remote, ...bobOffline } = bob.options;
    const offline = await promoteEnvironment({ ...bobOffline, environment: 'staging' });
    await promoteEnvironment({ ...ada.options, environment: 'production' });
    const localTrail = await git(bob.dir, 'rev-parse', 'knock-env/audit');
    const pushed = await pushRemote(bob.options);
    expect(pushed.branches.find((b) => b.branch === 'knock-env/audit')?.relation).toBe('up-to-date');
    const serverTrail = await serverHead('knock-env/audit');
    expect(await git(bob.dir, 'rev-parse', 'knock-env/audit')).toBe(serverTrail);
    // Even a local trail left behind (its events already re-based onto the server's) adds nothing twice.
    await git(bob.dir, 'update-ref', 'refs/heads/knock-env/audit', localTrail);
    await pushRemote(bob.options);
    expect(await serverHead('knock-env/audit')).toBe(serverTrail);
    await promoteEnvironment({ ...bob.options, environment: 'production' });
    const subject = await git(bob.dir, 'log', '-1', '--format=%s', offline.auditEvent!);
    const subjects = (await git(server.bare, 'log', '--format=%s', 'refs/heads/knock-env/audit')).split('\n');
    expect(subjects.filter((s) => s === subject)).toHaveLength(1);
  }, 60_000);

  it('brings the working tree and index along when it completes an interrupted push of the checked-out branch', async () => {
    const dir = await cloneWithoutStoredCredentials(server, server.urlFor(OWNER.email), 'work');
    const { default: nodeHttp } = await import('isomorphic-git/http/node');
    let posts = 0;
    let failSecond = true;
    // The connection drops on the second push (staging), after development was accepted.
    const http = {
      request: async (request: { method?: string; url: string }) => {
        if (request.method === 'POST' && request.url.endsWith('/git-receive-pack') && ++posts === 2 && failSecond) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
        return nodeHttp.request(request as never);
      },
    };
    const options = { ...coreOptionsFor(dir, OWNER), remote: { name: 'origin', url: server.url, http, credentials: async () => ({ username: OWNER.email, password: server.tokens[OWNER.email]! }) } };
    await pullRemote(options);
    const before = await readFile(join(dir, 'knock-env.yaml'), 'utf8');
    const wasOn = /production_write_access: true/.test(before);
    const error = await setAccountSetting({ ...options, name: 'production-write-access', value: !wasOn }).then(() => null, (e: unknown) => e);
    expect(isKnockEnvError(error, 'PUSH_INCOMPLETE')).toBe(true);
    failSecond = false;
    const pushed = await pushRemote(options);
    expect(pushed.resumed?.map((m) => m.branch)).toEqual(['development', 'staging', 'production']);
    expect(await git(dir, 'rev-parse', 'development')).toBe(await serverHead('development'));
    expect(await git(dir, 'status', '--porcelain')).toBe('');
    expect(/production_write_access: true/.test(await readFile(join(dir, 'knock-env.yaml'), 'utf8'))).toBe(!wasOn);
  }, 60_000);

  it('keeps a commit whose push reached the server but whose answer was lost, and the next command finishes it', async () => {
    const dir = await cloneWithoutStoredCredentials(server, server.urlFor(OWNER.email), 'work');
    const { default: nodeHttp } = await import('isomorphic-git/http/node');
    let loseAnswer = true;
    const http = {
      request: async (request: { method?: string; url: string }) => {
        const response = await nodeHttp.request(request as never);
        if (request.method === 'POST' && request.url.endsWith('/git-receive-pack') && loseAnswer) {
          for await (const _chunk of response.body ?? []) void _chunk; // the server finishes its work
          throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
        }
        return response;
      },
    };
    const options = { ...coreOptionsFor(dir, OWNER), remote: { name: 'origin', url: server.url, http, credentials: async () => ({ username: OWNER.email, password: server.tokens[OWNER.email]! }) } };
    await pullRemote(options);
    await addWorkflow(dir, 'lost-answer');
    const head = await git(dir, 'rev-parse', 'development');
    const error = await commitChanges({ ...options, message: 'Add lost-answer' }).then(() => null, (e: unknown) => e);
    expect(isKnockEnvError(error, 'PUSH_INCOMPLETE')).toBe(true);
    expect((error as Error).message).toMatch(/may or may not have reached it/);
    // The server has the commit; locally the branch has not moved yet, and nothing is lost.
    const pushed = await serverHead('development');
    expect(pushed).not.toBe(head);
    expect(await git(dir, 'rev-parse', 'development')).toBe(head);
    loseAnswer = false;
    const report = await pushRemote(options);
    expect(report.resumed?.map((m) => m.branch)).toEqual(['development']);
    expect(await git(dir, 'rev-parse', 'development')).toBe(pushed);
    expect(await git(dir, 'status', '--porcelain')).toBe('');
  }, 60_000);

  it('lets exactly one of two concurrent promotions from two clones win, losing no ref', async () => {
    const ada = await cloneAs(OWNER);
    const bob = await cloneAs(BOB);
    await addWorkflow(ada.dir, 'concurrent');
    const target = (await commitChanges({ ...ada.options, message: 'Add concurrent' })).commit;
    await pullRemote(bob.options);
    const env = (who: { email: string }) => ({ KNOCK_ENV_GIT_USERNAME: who.email, KNOCK_ENV_GIT_PASSWORD: server.tokens[who.email]! });
    const [a, b] = await Promise.all([
      cli(ada.dir, ['promote', 'staging', '--yes', '--json'], { env: env(OWNER) }),
      cli(bob.dir, ['promote', 'staging', '--yes', '--json'], { env: env(BOB) }),
    ]);
    const outcomes = [a, b].map((r) => (r.exitCode === 0 ? (JSON.parse(r.stdout) as { promoted: boolean }).promoted : r.exitCode));
    // One promoted; the other either lost the compare-and-swap (exit 6, a clear error) or, starting later, found staging up to date.
    expect(outcomes.filter((o) => o === true)).toHaveLength(1);
    const loser = [a, b][outcomes.findIndex((o) => o !== true)]!;
    if (loser.exitCode !== 0) {
      expect(loser.exitCode, loser.stderr).toBe(6);
      expect(loser.stderr).toMatch(/moved|someone else/);
    }
    expect(await serverHead('staging')).toBe(target);
    // Exactly one promotion event for this move in the audit trail, and nothing lost.
    const events = await git(server.bare, 'log', '--format=%s', 'refs/heads/knock-env/audit');
    expect(events.split('\n').filter((s) => s.includes(`..${target.slice(0, 7)}`))).toHaveLength(1);
    await assertChain(server.bare, server.environments);
    expect(await gitCode(server.bare, 'fsck', '--strict')).toBe(0);
  }, 90_000);

  it('commits on top of what others pushed meanwhile (a fast-forward of the local branch first)', async () => {
    const ada = await cloneAs(OWNER);
    const bob = await cloneAs(BOB);
    await addWorkflow(bob.dir, 'from-bob');
    const bobs = await commitChanges({ ...bob.options, message: 'Add from-bob' });
    await addWorkflow(ada.dir, 'from-ada');
    const adas = await commitChanges({ ...ada.options, message: 'Add from-ada' });
    expect(adas.parent).toBe(bobs.commit);
    expect(await serverHead('development')).toBe(adas.commit);
    expect(await git(ada.dir, 'status', '--porcelain')).toBe('');
  }, 60_000);

  it('completes a push interrupted between two branches, and the chain holds on the remote meanwhile', async () => {
    const ada = await cloneAs(OWNER);
    const before = { development: await serverHead('development'), staging: await serverHead('staging'), production: await serverHead('production') };
    // The server holds production's ref lock (as during another update): the account change reaches development and staging only.
    const lock = join(server.bare, 'refs/heads/production.lock');
    await writeFile(lock, '');
    // Whatever earlier tests left, the change flips the setting, so there is something to push.
    const turnOn = !/production_write_access: true/.test(await git(server.bare, 'show', 'production:knock-env.yaml'));
    const error = await setAccountSetting({ ...ada.options, name: 'production-write-access', value: turnOn }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isKnockEnvError(error, 'PUSH_INCOMPLETE')).toBe(true);
    expect(await serverHead('production')).toBe(before.production);
    expect(await serverHead('development')).not.toBe(before.development);
    expect(await serverHead('staging')).not.toBe(before.staging);
    await assertChain(server.bare, server.environments);
    // Locally nothing moved yet; doctor names the half-finished push.
    expect(await git(ada.dir, 'rev-parse', 'production')).toBe(before.production);
    const report = await diagnose({ ...coreOptionsFor(ada.dir, OWNER) });
    expect(report.findings.map((f) => f.code)).toContain('push-incomplete');

    await rm(lock);
    const fixed = await diagnose({ ...ada.options, fix: true });
    expect(fixed.findings.find((f) => f.code === 'push-incomplete')?.fixed).toBe(true);
    expect(fixed.healthy).toBe(true);
    const production = await serverHead('production');
    expect(production).not.toBe(before.production);
    expect(/production_write_access: true/.test(await git(server.bare, 'show', `${production}:knock-env.yaml`))).toBe(turnOn);
    for (const env of server.environments) expect(await git(ada.dir, 'rev-parse', env)).toBe(await serverHead(env));
    await assertChain(server.bare, server.environments);
    expect(await gitCode(server.bare, 'fsck', '--strict')).toBe(0);
    expect((await diagnose({ ...coreOptionsFor(ada.dir, OWNER) })).findings.map((f) => f.code)).not.toContain('push-incomplete');
  }, 60_000);

  it('refuses wrong credentials at once, with a clear error, and moves nothing', async () => {
    const ada = await cloneAs(OWNER);
    await addWorkflow(ada.dir, 'never-pushed');
    const developmentBefore = await serverHead('development');
    let asked = 0;
    const wrong: RemoteAccess = { ...ada.options.remote, credentials: async () => (asked++, { username: OWNER.email, password: 'not-the-token' }) };
    const error = await commitChanges({ ...ada.options, remote: wrong, message: 'Add never-pushed' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isKnockEnvError(error, 'AUTH_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/refused the credentials \(HTTP 401\)/);
    expect(asked).toBe(1);
    expect(await serverHead('development')).toBe(developmentBefore);
    expect(await git(ada.dir, 'status', '--porcelain')).toMatch(/never-pushed/);

    const viaCli = await cli(ada.dir, ['fetch'], { env: { KNOCK_ENV_GIT_USERNAME: OWNER.email, KNOCK_ENV_GIT_PASSWORD: 'wrong', GIT_TERMINAL_PROMPT: '0' } });
    expect(viaCli.exitCode).toBe(4);
    expect(viaCli.stderr).toMatch(/refused the credentials/);
    const none = await cli(ada.dir, ['fetch'], { env: { GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_GLOBAL: '/dev/null' } });
    expect(none.exitCode).toBe(4);
    expect(none.stderr).toMatch(/asks for credentials and none were found/);
  }, 60_000);

  it('takes credentials from a git credential helper, and pushes local commits with `push`', async () => {
    const ada = await cloneAs(OWNER);
    const store = join(await server.tempDir('knock-env-cred-'), 'credentials');
    const url = new URL(server.url);
    await writeFile(store, `http://${encodeURIComponent(OWNER.email)}:${server.tokens[OWNER.email]}@${url.host}\n`);
    await git(ada.dir, 'config', 'credential.helper', `store --file=${store}`);
    await addWorkflow(ada.dir, 'offline-one');
    const offline = await cli(ada.dir, ['commit', '-m', 'Add offline-one', '--offline']);
    expect(offline.exitCode).toBe(0);
    const local = await git(ada.dir, 'rev-parse', 'development');
    expect(await serverHead('development')).not.toBe(local);
    const pushed = await cli(ada.dir, ['push', '--json'], { env: { GIT_TERMINAL_PROMPT: '0' } });
    expect(pushed.exitCode).toBe(0);
    expect((JSON.parse(pushed.stdout) as { pushed: { branch: string }[] }).pushed.map((p) => p.branch)).toEqual(['development']);
    expect(await serverHead('development')).toBe(local);
  }, 60_000);
});

describe('every command that changes the account or an environment, against the remote', () => {
  it('pushes each change (the hook accepts them all), keeping the chain and the local branches equal to the server', async () => {
    const team = await startTeamServer();
    try {
      const dir = await cloneWithoutStoredCredentials(team, team.urlFor(OWNER.email), 'admin');
      const env = { KNOCK_ENV_GIT_USERNAME: OWNER.email, KNOCK_ENV_GIT_PASSWORD: team.tokens[OWNER.email]!, GIT_TERMINAL_PROMPT: '0' };
      const run = async (...args: string[]) => {
        const result = await cli(dir, args, { env });
        expect(result.exitCode, `${args.join(' ')}: ${result.stderr}`).toBe(0);
        return result;
      };
      await run('pull');
      await run('env', 'create', 'uat');
      await run('env', 'set', 'uat', 'obfuscate-recipient-data', 'on');
      await run('members', 'add', 'carol@example.com', '--role', 'admin');
      await run('keys', 'create', '--env', 'uat', '--name', 'ci-uat');
      await run('keys', 'revoke', 'ci-uat');
      await run('settings', 'set', 'production-write-access', 'on');
      await scaffoldResource({ ...coreOptionsFor(dir), kind: 'workflow', key: 'admin-flow' });
      await run('commit', '-m', 'Add admin-flow');
      for (const target of ['staging', 'uat', 'production']) await run('promote', target, '--yes');
      await run('rollback', 'production', '--yes');
      const environments = ['development', 'staging', 'uat', 'production'];
      await assertChain(team.bare, environments);
      expect(await gitCode(team.bare, 'fsck', '--strict')).toBe(0);
      for (const branch of [...environments, 'knock-env/audit']) expect(await git(dir, 'rev-parse', branch)).toBe(await git(team.bare, 'rev-parse', branch));
      expect(await git(team.bare, 'show', 'production:knock-env.yaml')).toMatch(/carol@example.com/);
      const doctor = await run('doctor', '--json');
      expect(JSON.parse(doctor.stdout)).toMatchObject({ healthy: true });
    } finally {
      await team.close();
    }
  }, 120_000);
});

describe('a CI job with an API key', () => {
  it('authenticates to the server with the key it acts with, and promotes its environment', async () => {
    const ada = await cloneAs(OWNER);
    await addWorkflow(ada.dir, 'from-ci');
    const target = (await commitChanges({ ...ada.options, message: 'Add from-ci' })).commit;
    const key = server.keys['ci-staging']!;
    const dir = await cloneWithoutStoredCredentials(server, server.urlAs('ci', key), 'ci');
    const env = { KNOCK_ENV_API_KEY: key, GIT_TERMINAL_PROMPT: '0' };
    expect((await cli(dir, ['pull'], { env })).exitCode).toBe(0);
    const promoted = await cli(dir, ['promote', 'staging', '--yes', '--json'], { env });
    expect(promoted.exitCode, promoted.stderr).toBe(0);
    expect(JSON.parse(promoted.stdout)).toMatchObject({ promoted: true });
    expect(await serverHead('staging')).toBe(target);
    // The key acts in staging only: production is refused before anything moves.
    const production = await cli(dir, ['promote', 'production', '--yes'], { env });
    expect(production.exitCode).toBe(4);
    expect(production.stderr).toMatch(/acts in staging only/);
    expect(await serverHead('production')).not.toBe(target);
  }, 60_000);
});

describe('a fresh clone', () => {
  it('tells to pull before anything else, and pull sets up every environment branch', async () => {
    const root = await server.tempDir('knock-env-fresh-');
    const dir = join(root, 'fresh');
    await git(root, 'clone', '-q', server.urlFor(OWNER.email), dir);
    await mkdir(join(dir, 'x'), { recursive: true });
    const status = await cli(dir, ['status']);
    expect(status.exitCode).not.toBe(0);
    expect(status.stderr).toMatch(/knock-env pull/);
    const pulled = await cli(dir, ['pull', '--json']);
    expect(pulled.exitCode).toBe(0);
    for (const env of server.environments) expect(await git(dir, 'rev-parse', env)).toBe(await serverHead(env));
  }, 60_000);
});

describe('without an HTTP remote', () => {
  it('works locally, and push, pull and fetch say why they cannot run', async () => {
    const root = await server.tempDir('knock-env-local-');
    const dir = join(root, 'local');
    await git(root, 'clone', '-q', server.bare, dir);
    const pulledWithGit = await cli(dir, ['status']);
    expect(pulledWithGit.stderr).toMatch(/knock-env pull/);
    for (const branch of ['staging', 'production']) await git(dir, 'branch', '-q', branch, `origin/${branch}`);
    await addWorkflow(dir, 'local-only');
    const committed = await cli(dir, ['commit', '-m', 'Add local-only']);
    expect(committed.exitCode, committed.stderr).toBe(0);
    // The path remote was left alone: the commit is local only.
    expect(await serverHead('development')).not.toBe(await git(dir, 'rev-parse', 'development'));
    for (const command of ['push', 'pull', 'fetch']) {
      const result = await cli(dir, [command]);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toMatch(/over HTTP\(S\) only/);
    }
    await git(dir, 'remote', 'remove', 'origin');
    const none = await cli(dir, ['push']);
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toMatch(/no remote named origin/);
  }, 60_000);
});

describe('a plain bare repository', () => {
  it('is fetched and pulled although its HEAD names a branch that does not exist', async () => {
    const root = await server.tempDir('knock-env-plain-');
    const seed = join(root, 'seed');
    await initProject(coreOptionsFor(seed, OWNER));
    const bare = join(root, 'plain.git');
    await git(root, 'init', '--bare', '-q', bare);
    await git(seed, 'push', '-q', bare, '--all');
    expect(await gitCode(bare, 'rev-parse', '--verify', '-q', 'HEAD')).not.toBe(0);
    const { token } = await addServerUser(bare, OWNER.email);
    const plain = await startServer({ repository: bare, port: 0 });
    try {
      const dir = join(root, 'clone');
      await git(root, 'init', '-q', dir);
      await git(dir, 'remote', 'add', 'origin', plain.url);
      const options = { ...coreOptionsFor(dir, OWNER), remote: { name: 'origin', url: plain.url, credentials: async () => ({ username: OWNER.email, password: token }) } };
      const pulled = await pullRemote(options);
      expect(pulled.updated.map((u) => u.branch).sort()).toEqual(['development', 'production']);
      expect(await git(dir, 'rev-parse', 'development')).toBe(await git(bare, 'rev-parse', 'development'));
      expect(await gitCode(dir, 'fsck', '--strict')).toBe(0);
    } finally {
      await plain.close();
    }
  }, 60_000);
});

describe('a server that stops answering', () => {
  it('makes the command give up after the time limit with a clear error, holding nothing', async () => {
    const { createServer } = await import('node:net');
    const sockets: import('node:net').Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as import('node:net').AddressInfo).port;
    try {
      const ada = await cloneAs(OWNER);
      const url = `http://127.0.0.1:${port}/project.git`;
      await git(ada.dir, 'remote', 'set-url', 'origin', url);
      const started = Date.now();
      const error = await fetchRemote({ ...ada.options, remote: { ...ada.options.remote, url, timeoutMs: 500 } }).then(() => null, (e: unknown) => e);
      expect(isKnockEnvError(error, 'REMOTE_ERROR')).toBe(true);
      expect((error as Error).message).toMatch(/timed out/i);
      expect(Date.now() - started).toBeLessThan(10_000);
      // The repository lock was released.
      expect(await readFile(join(ada.dir, '.git/knock-env.lock')).then(() => 'held', () => 'free')).toBe('free');
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  }, 60_000);
});
