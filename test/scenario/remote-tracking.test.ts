import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isKnockEnvError } from '../../src/core/errors.js';
import { commitChanges as commitLocally, type CommitOptions } from '../../src/core/ops/commit.js';
import { scaffoldResource } from '../../src/core/ops/scaffold.js';
import { fetchRemote, pullRemote, withRemote } from '../../src/core/remote/sync.js';

/** A commit against the remote, as the command line makes it. */
const commitChanges = (options: CommitOptions) => withRemote(options, commitLocally);
import type { RemoteAccess } from '../../src/core/remote/transport.js';
import { cli, coreOptionsFor, git } from '../helpers/repo.js';
import { OWNER, startTeamServer, type TeamServer } from '../helpers/server.js';

/**
 * The remote-tracking refs (refs/remotes/origin/*) that knock-env moves after
 * a fetch and after a push go through `<ref>.lock` with an old-value check,
 * as every other ref: a lock another git process holds is respected, and a
 * value another process wrote meanwhile is not overwritten.
 */

let server: TeamServer;

beforeAll(async () => {
  server = await startTeamServer({ staging: false });
}, 60_000);

afterAll(async () => {
  await server?.close();
});

async function clone(name: string): Promise<{ dir: string; options: ReturnType<typeof coreOptionsFor> & { remote: RemoteAccess } }> {
  const root = await server.tempDir('knock-env-tracking-');
  const dir = join(root, name);
  await git(root, 'clone', '-q', server.urlFor(OWNER.email), dir);
  await git(dir, 'remote', 'set-url', 'origin', server.url);
  const remote: RemoteAccess = { name: 'origin', url: server.url, credentials: async () => ({ username: OWNER.email, password: server.tokens[OWNER.email]! }) };
  const options = { ...coreOptionsFor(dir, OWNER), remote };
  await pullRemote(options);
  return { dir, options };
}

/** Moves development on the server with a new workflow, from a clone of its own. */
async function moveDevelopment(key: string): Promise<string> {
  const other = await clone(`other-${key}`);
  await scaffoldResource({ ...coreOptionsFor(other.dir), kind: 'workflow', key });
  await commitChanges({ ...other.options, message: `Add ${key}` });
  return git(server.bare, 'rev-parse', 'development');
}

const credentialsEnv = { KNOCK_ENV_GIT_USERNAME: OWNER.email, KNOCK_ENV_GIT_PASSWORD: '' };

describe('remote-tracking refs', () => {
  it('after a fetch: a lock held by git is respected (exit 6, the ref as it was), and the next fetch moves it', async () => {
    const { dir } = await clone('fetch-lock');
    const before = await git(dir, 'rev-parse', 'refs/remotes/origin/development');
    const moved = await moveDevelopment('tracked-one');
    const lock = `${dir}/.git/refs/remotes/origin/development.lock`;
    await writeFile(lock, '');
    const env = { ...credentialsEnv, KNOCK_ENV_GIT_PASSWORD: server.tokens[OWNER.email]! };
    const refused = await cli(dir, ['fetch'], { env });
    expect(refused.exitCode, refused.stderr).toBe(6);
    expect(refused.stderr).toMatch(/refs\/remotes\/origin\/development is locked/);
    expect(await git(dir, 'rev-parse', 'refs/remotes/origin/development')).toBe(before);
    expect(existsSync(lock)).toBe(true);
    await git(dir, 'fsck', '--no-dangling');
    await import('node:fs/promises').then((fs) => fs.unlink(lock));
    const fetched = await cli(dir, ['fetch'], { env });
    expect(fetched.exitCode, fetched.stderr).toBe(0);
    expect(await git(dir, 'rev-parse', 'refs/remotes/origin/development')).toBe(moved);
    // The move is in the ref's reflog, as git's own fetch records it.
    expect(await git(dir, 'reflog', '-1', '--format=%H %gs', 'refs/remotes/origin/development')).toMatch(new RegExp(`^${moved} fetch: `));
  });

  it('after a fetch: a value another git process wrote while the fetch ran is not overwritten', async () => {
    const { dir, options } = await clone('fetch-race');
    const first = await git(dir, 'rev-parse', 'refs/remotes/origin/development');
    await moveDevelopment('tracked-two');
    const base = (await import('isomorphic-git/http/node')).default as { request(r: { url: string }): Promise<unknown> };
    let raced = false;
    const http = {
      request: async (request: { url: string }) => {
        // While the pack is being fetched, a plain `git update-ref` moves the tracking ref elsewhere.
        if (!raced && request.url.endsWith('/git-upload-pack')) {
          raced = true;
          await git(dir, 'update-ref', 'refs/remotes/origin/development', `${first}~1`);
        }
        return base.request(request);
      },
    };
    const error = await fetchRemote({ ...options, remote: { ...options.remote, http } }).catch((e: unknown) => e);
    expect(raced).toBe(true);
    expect(isKnockEnvError(error, 'CONCURRENT_UPDATE'), String(error)).toBe(true);
    expect(await git(dir, 'rev-parse', 'refs/remotes/origin/development')).toBe(await git(dir, 'rev-parse', `${first}~1`));
  });

  it('after a push: the push lands, and a tracking ref whose lock git holds is left to the next fetch', async () => {
    const { dir, options } = await clone('push-lock');
    const before = await git(dir, 'rev-parse', 'refs/remotes/origin/development');
    const lock = `${dir}/.git/refs/remotes/origin/development.lock`;
    await scaffoldResource({ ...coreOptionsFor(dir), kind: 'workflow', key: 'pushed-past-lock' });
    // The lock appears once the command has fetched: as a `git fetch` in another terminal would take it.
    let locked = false;
    const base = (await import('isomorphic-git/http/node')).default as { request(r: { url: string; method?: string }): Promise<unknown> };
    const http = {
      request: async (request: { url: string; method?: string }) => {
        if (!locked && request.url.includes('service=git-receive-pack')) {
          locked = true;
          await writeFile(lock, '');
        }
        return base.request(request);
      },
    };
    const committed = await commitChanges({ ...options, remote: { ...options.remote, http }, message: 'Add pushed-past-lock' });
    expect(locked).toBe(true);
    expect(await git(server.bare, 'rev-parse', 'development')).toBe(committed.commit);
    expect(await git(dir, 'rev-parse', 'development')).toBe(committed.commit);
    expect(await git(dir, 'rev-parse', 'refs/remotes/origin/development')).toBe(before);
    expect(existsSync(lock)).toBe(true);
  });
});
