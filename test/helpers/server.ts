import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addServerUser, installServer } from '../../src/cli/commands/server.js';
import { startServer } from '../../src/cli/serve.js';
import { changeMember, createKey } from '../../src/core/ops/members.js';
import { createEnvironment } from '../../src/core/ops/environments.js';
import { initProject } from '../../src/core/ops/init.js';
import { setAccountSetting } from '../../src/core/ops/settings.js';
import type { ThrottleLimits } from '../../src/core/server/throttle.js';
import type { Role } from '../../src/core/validate/config.js';
import { coreOptionsFor, git } from './repo.js';

/** The owner every team server starts with: the identity of GIT_ENV (test/helpers/repo.ts). */
export const OWNER = { name: 'Ada Lovelace', email: 'ada@example.com' };

export interface TeamServerOptions {
  /** Members to add besides the owner (each gets a token). */
  members?: { email: string; role: Role; name?: string }[];
  /** API keys to create; their secrets are in `keys` by name. */
  apiKeys?: { name: string; environment: string; role?: Role }[];
  /** Create staging (default true): development → staging → production. */
  staging?: boolean;
  /** Turn production write access on before pushing (default false). */
  productionWriteAccess?: boolean;
  /** The server's time limit for one request, in milliseconds (default: serve's own). */
  timeLimitMs?: number;
  /**
   * Failed-login throttling ({} for serve's own limits). By default it is off (a limit of 1,000,000):
   * tests that share one server all log in from 127.0.0.1, and a few of them fail on purpose.
   */
  throttle?: Partial<ThrottleLimits>;
}

export interface TeamServer {
  /** Clone URL without credentials: http://127.0.0.1:<port>/project.git */
  url: string;
  /** The bare repository the server serves (hook installed). */
  bare: string;
  /** The project the server was seeded from (development checked out); do not push from it in tests that share the server. */
  seed: string;
  /** Member tokens by email, the owner's included. */
  tokens: Record<string, string>;
  /** API key secrets by key name. */
  keys: Record<string, string>;
  /** Environments, lowest first. */
  environments: string[];
  /** The clone URL with Basic credentials in it (the user name is URL-encoded, so an email's @ is fine). */
  urlAs(user: string, password: string): string;
  /** The clone URL with a member's email and token in it. */
  urlFor(email: string): string;
  /** A temporary directory removed by close(). */
  tempDir(prefix?: string): Promise<string>;
  /** Stops the server and removes every temporary directory it made. */
  close(): Promise<void>;
}

/**
 * A knock-env team server for tests: a project (owner ada@example.com, staging
 * unless told otherwise, the given members and keys) pushed with plain git
 * into a bare repository, `server install`ed, with a token for every member,
 * served on 127.0.0.1 on a free port. Needs the built CLI (the hook runs
 * bin/knock-env.js). Call close() when done, also when sharing it across tests.
 */
export async function startTeamServer(options: TeamServerOptions = {}): Promise<TeamServer> {
  const dirs: string[] = [];
  const makeTemp = async (prefix = 'knock-env-server-'): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
  const cleanup = async (): Promise<void> => {
    while (dirs.length > 0) await rm(dirs.pop()!, { recursive: true, force: true });
  };
  try {
    const root = await makeTemp();
    const seed = join(root, 'project');
    const as = () => coreOptionsFor(seed, OWNER);
    await initProject(as());
    if (options.staging !== false) await createEnvironment({ ...as(), slug: 'staging' });
    if (options.productionWriteAccess) await setAccountSetting({ ...as(), name: 'production-write-access', value: true });
    for (const member of options.members ?? []) {
      await changeMember({ ...as(), change: { action: 'add', email: member.email, role: member.role, ...(member.name ? { name: member.name } : {}) } });
    }
    const keys: Record<string, string> = {};
    for (const key of options.apiKeys ?? []) {
      const created = await createKey({ ...as(), environment: key.environment, name: key.name, ...(key.role ? { role: key.role } : {}) });
      keys[key.name] = created.secret;
    }
    const bare = join(root, 'project.git');
    await git(root, 'init', '--bare', '-q', bare);
    await git(seed, 'push', '-q', bare, '--all');
    await installServer(bare);
    const tokens: Record<string, string> = {};
    for (const email of [OWNER.email, ...(options.members ?? []).map((m) => m.email)]) tokens[email] = (await addServerUser(bare, email)).token;
    const server = await startServer({
      repository: bare,
      port: 0,
      host: '127.0.0.1',
      throttle: options.throttle ?? { limit: 1_000_000 },
      ...(options.timeLimitMs !== undefined ? { timeLimitMs: options.timeLimitMs } : {}),
    });
    const environments = options.staging !== false ? ['development', 'staging', 'production'] : ['development', 'production'];
    const urlAs = (user: string, password: string): string => {
      const url = new URL(server.url);
      url.username = encodeURIComponent(user);
      url.password = encodeURIComponent(password);
      return url.toString();
    };
    return {
      url: server.url,
      bare,
      seed,
      tokens,
      keys,
      environments,
      urlAs,
      urlFor: (email) => {
        const token = tokens[email];
        if (token === undefined) throw new Error(`no token for ${email}: add them with startTeamServer({ members })`);
        return urlAs(email, token);
      },
      tempDir: makeTemp,
      close: async () => {
        await server.close();
        await cleanup();
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
