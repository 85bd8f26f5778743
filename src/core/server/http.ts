import * as nodeFs from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { basename, resolve } from 'node:path';
import { authenticate, type Principal } from '../access.js';
import type { FileSystem } from '../git/fs.js';
import type { GitStore } from '../git/objects.js';
import { readRef } from '../git/refs.js';
import { AUDIT_REF, branchRef, HIGHEST_ENVIRONMENT, loadConfigAt } from '../project.js';
import type { KnockEnvConfig } from '../validate/config.js';
import { ClientWatch, plain, runCgi, stopChild, type CgiContext, type SignalGroup } from './cgi.js';
import { readCredentials, verifyMemberToken } from './credentials.js';
import { PUSH_API_KEY_VARIABLE } from './identity.js';
import { LoginThrottle, type ThrottleLimits } from './throttle.js';
import { visibleEnvironments } from './visibility.js';

/** The environment variable that carries a pusher's API key from the server to the pre-receive hook. */
export const PUSH_API_KEY_ENV = PUSH_API_KEY_VARIABLE;
export const REALM = 'knock-env';

export interface ServerOptions {
  /** The bare repository to serve. */
  repository: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Where to report requests that failed inside git (default: nowhere). */
  log?: (line: string) => void;
  /** The git binary (default: "git" on PATH). */
  git?: string;
  /** How long one request may run in git http-backend before it is stopped, in milliseconds (default: REQUEST_TIME_LIMIT_MS); time spent waiting for an earlier push does not count. */
  timeLimitMs?: number;
  /** The server process's environment: only PASSED_ENV of it reaches git. */
  env?: Record<string, string | undefined>;
  /** How to signal a git http-backend's process group (so stopping it stops the hook too); without it, only git http-backend itself is stopped. */
  signalGroup?: SignalGroup;
  /** Failed-login throttling (default: DEFAULT_THROTTLE_LIMITS). */
  throttle?: Partial<ThrottleLimits>;
  /** The clock, in milliseconds (default Date.now). */
  now?: () => number;
}

/** The default time limit of one request in git http-backend: ten minutes. */
export const REQUEST_TIME_LIMIT_MS = 10 * 60 * 1000;

export interface RunningServer {
  /** The URL to clone: http://<host>:<port>/<name>.git (http://<host>:<port>/ serves the same repository). */
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

const fs = nodeFs as unknown as FileSystem;

/** The environment the server passes on to git: nothing of its own process but what git needs to run. */
const PASSED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR', 'TZ', 'SYSTEMROOT', 'GIT_EXEC_PATH', 'GIT_CONFIG_NOSYSTEM'];

/** The repository name in URLs: the folder's name without ".git". */
export function repositoryName(repository: string): string {
  return basename(resolve(repository)).replace(/\.git$/, '') || 'repository';
}

interface Account {
  head: string;
  config: KnockEnvConfig;
}

/** Authenticates a request's Basic credentials: a member's token, else an API key. Null when neither holds. */
async function authenticateRequest(repository: string, account: Account, user: string, password: string): Promise<Principal | null> {
  if (password === '') return null;
  if (user.includes('@')) {
    const credentials = await readCredentials(fs, repository);
    if (verifyMemberToken(credentials, user, password)) {
      const member = account.config.members.find((m) => m.email.toLowerCase() === user.toLowerCase());
      // A member removed from the account loses access at once, token or not.
      if (member) return { kind: 'member', email: member.email, name: member.name ?? member.email, role: member.role };
      return null;
    }
  }
  try {
    const who = authenticate(account.config, { name: '', email: '' }, password);
    return who.kind === 'key' ? who : null;
  } catch {
    return null;
  }
}

/** git configuration for one request, passed as GIT_CONFIG_COUNT / GIT_CONFIG_KEY_n / GIT_CONFIG_VALUE_n. */
function configEnv(pairs: [string, string][]): Record<string, string> {
  const env: Record<string, string> = { GIT_CONFIG_COUNT: String(pairs.length) };
  pairs.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return env;
}

function unauthorized(res: ServerResponse): void {
  res.writeHead(401, { 'WWW-Authenticate': `Basic realm="${REALM}", charset="UTF-8"`, 'Content-Length': '0', 'Cache-Control': 'no-cache' });
  res.end();
}

/** A client address blocked for its failed logins (or a wrong password for a user name under attack): 429, with the seconds to wait. */
function tooManyFailures(res: ServerResponse, seconds: number): void {
  // The rest of a request body is never read: the connection cannot carry another request.
  plain(res, 429, `Too many failed logins from this address: try again in ${seconds} s.`, { 'Retry-After': String(seconds), Connection: 'close' });
}

/** The Basic credentials of a request, or null. */
function basicCredentials(req: IncomingMessage): { user: string; password: string } | null {
  const header = req.headers.authorization;
  const match = header ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header) : null;
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Smart HTTP only: the ref advertisement and the two services. Dumb HTTP would hand out objects without hiding any ref. */
const SMART_PATHS = /^\/(?:info\/refs|git-upload-pack|git-receive-pack)$/;

/**
 * Serves one bare repository over git's smart HTTP protocol by running
 * `git http-backend` as a CGI program for each request. Every request needs
 * Basic credentials: a member's email and the token `knock-env server add-user`
 * issued, or an API key's secret with any user name. The member's email
 * reaches the pre-receive hook as REMOTE_USER, an API key as
 * KNOCK_ENV_PUSH_API_KEY; an API key sees only its environment's branch, those
 * above it and the audit trail. Failed logins are throttled per client address
 * and per user name (throttle.ts): a blocked address gets 429 and Retry-After.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const repository = resolve(options.repository);
  const name = repositoryName(repository);
  const host = options.host ?? '127.0.0.1';
  const store: GitStore = { fs, gitdir: repository, cache: {} };
  let account: Account | null = null;
  const loadAccount = async (): Promise<Account> => {
    const head = await readRef(store, branchRef(HIGHEST_ENVIRONMENT));
    if (head === null) throw new Error(`${repository} has no ${HIGHEST_ENVIRONMENT} branch`);
    if (account?.head !== head) account = { head, config: await loadConfigAt({ fs, gitdir: repository, cache: {} }, head) };
    return account;
  };

  const cgi: CgiContext = {
    git: options.git ?? 'git',
    timeLimitMs: options.timeLimitMs ?? REQUEST_TIME_LIMIT_MS,
    running: new Set(),
    ...(options.signalGroup ? { signalGroup: options.signalGroup } : {}),
    ...(options.log ? { log: options.log } : {}),
  };
  const throttle = new LoginThrottle(options.throttle);
  const now = options.now ?? Date.now;
  const passed: Record<string, string> = {};
  for (const key of PASSED_ENV) if (options.env?.[key] !== undefined) passed[key] = options.env[key];
  let pushes: Promise<unknown> = Promise.resolve();
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Watched from the start: a push waiting for its turn may lose its client before it runs.
    const client = new ClientWatch(req, res);
    const address = req.socket.remoteAddress ?? '';
    const blocked = throttle.retryAfter(address, now());
    if (blocked > 0) return tooManyFailures(res, blocked);
    const credentials = basicCredentials(req);
    if (credentials === null) return unauthorized(res);
    const current = await loadAccount();
    const who = await authenticateRequest(repository, current, credentials.user, credentials.password);
    if (who === null) {
      const wait = throttle.failed(address, credentials.user, now());
      return wait > 0 ? tooManyFailures(res, wait) : unauthorized(res);
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    let path = url.pathname;
    const prefix = `/${name}.git`;
    if (path === prefix || path.startsWith(`${prefix}/`)) path = path.slice(prefix.length);
    else if (path === `/${name}` || path.startsWith(`/${name}/`)) path = path.slice(name.length + 1);
    if (!SMART_PATHS.test(path) || (path === '/info/refs' && !/^git-(upload|receive)-pack$/.test(url.searchParams.get('service') ?? ''))) {
      return plain(res, 404, 'Not found: this server speaks git smart HTTP only.');
    }
    const pairs: [string, string][] = [['http.receivepack', 'true'], ['http.uploadpack', 'true']];
    const visible = visibleEnvironments(current.config, who);
    if (visible !== null) {
      // Hide HEAD and every ref, then show the environments it may read and the audit trail (later entries win).
      pairs.push(['transfer.hideRefs', 'HEAD'], ['transfer.hideRefs', 'refs/']);
      for (const env of visible) pairs.push(['transfer.hideRefs', `!${branchRef(env)}`]);
      pairs.push(['transfer.hideRefs', `!${AUDIT_REF}`]);
    }
    const env: Record<string, string> = { ...passed };
    Object.assign(env, configEnv(pairs), {
      GIT_PROJECT_ROOT: repository,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: path,
      QUERY_STRING: url.search.replace(/^\?/, ''),
      REQUEST_METHOD: req.method ?? 'GET',
      REMOTE_ADDR: req.socket.remoteAddress ?? '',
      SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
    });
    if (req.headers['content-type']) env.CONTENT_TYPE = req.headers['content-type'];
    if (req.headers['content-length']) env.CONTENT_LENGTH = req.headers['content-length'];
    const encoding = req.headers['content-encoding'];
    if (typeof encoding === 'string') env.HTTP_CONTENT_ENCODING = encoding;
    // Protocol v2 checks a fetch's wants against every ref, hidden ones included: a principal with hidden refs speaks v0.
    const protocol = req.headers['git-protocol'];
    if (typeof protocol === 'string' && visible === null) env.GIT_PROTOCOL = protocol;
    if (who.kind === 'member') env.REMOTE_USER = who.email;
    else env[PUSH_API_KEY_ENV] = credentials.password;
    if (path !== '/git-receive-pack') return runCgi(cgi, env, req, res, client);
    // One push at a time: the hook judges the chain across branches against the refs as they are, which
    // holds only if no other push moves a branch between its verdict and git's ref updates. The time
    // limit and the client watch make every turn end.
    const turn = pushes.then(() => runCgi(cgi, env, req, res, client));
    pushes = turn.catch(() => undefined);
    await turn;
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      options.log?.(`knock-env serve: ${error instanceof Error ? error.message : String(error)}`);
      if (!res.headersSent) plain(res, 500, 'The server could not answer this request.');
      else res.destroy();
    });
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, host, () => {
      server.off('error', reject);
      resolvePromise();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/${name}.git`,
    host,
    port,
    close: async () => {
      const exited = [...cgi.running].map((child) => new Promise<void>((resolvePromise) => (child.exitCode !== null || child.signalCode !== null ? resolvePromise() : child.once('exit', () => resolvePromise()))));
      const closed = new Promise<void>((resolvePromise) => server.close(() => resolvePromise()));
      for (const child of cgi.running) stopChild(cgi, child);
      for (const socket of sockets) socket.destroy();
      await Promise.all([closed, ...exited]);
    },
  };
}
