import { spawn, type ChildProcess } from 'node:child_process';
import * as nodeFs from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { basename, resolve } from 'node:path';
import { authenticate, type Principal } from '../core/access.js';
import type { FileSystem } from '../core/git/fs.js';
import type { GitStore } from '../core/git/objects.js';
import { readRef } from '../core/git/refs.js';
import { AUDIT_REF, branchRef, environmentSlugs, HIGHEST_ENVIRONMENT, loadConfigAt } from '../core/project.js';
import { readCredentials, verifyMemberToken } from '../core/server/credentials.js';
import { PUSH_API_KEY_VARIABLE } from '../core/server/identity.js';
import type { KnockEnvConfig } from '../core/validate/config.js';

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
}

/** The default time limit of one request in git http-backend: ten minutes. */
export const REQUEST_TIME_LIMIT_MS = 10 * 60 * 1000;
/** How much of git http-backend's error output is kept for the log. */
const STDERR_LIMIT = 64 * 1024;

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

/**
 * The environments an API key sees: its own and those above it (each an
 * ancestor of its environment's head anyway, by the chain). Null for a member:
 * members see every branch, since a direct commit above development must merge
 * down into every lower environment.
 */
export function visibleEnvironments(config: KnockEnvConfig, who: Principal): string[] | null {
  if (who.kind === 'member') return null;
  const slugs = environmentSlugs(config);
  const position = slugs.indexOf(who.environment);
  // The environment directly below is what the key promotes into its own: it must see that too.
  return position < 0 ? [] : slugs.slice(Math.max(0, position - 1));
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

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache' });
  res.end(`${text}\n`);
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
 * above it and the audit trail.
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

  const cgi: CgiContext = { git: options.git ?? 'git', timeLimitMs: options.timeLimitMs ?? REQUEST_TIME_LIMIT_MS, running: new Set(), ...(options.log ? { log: options.log } : {}) };
  let pushes: Promise<unknown> = Promise.resolve();
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Watched from the start: a push waiting for its turn may lose its client before it runs.
    const client = new ClientWatch(req, res);
    const credentials = basicCredentials(req);
    if (credentials === null) return unauthorized(res);
    const current = await loadAccount();
    const who = await authenticateRequest(repository, current, credentials.user, credentials.password);
    if (who === null) return unauthorized(res);
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
    const env: Record<string, string> = {};
    for (const key of PASSED_ENV) if (process.env[key] !== undefined) env[key] = process.env[key]!;
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
      for (const child of cgi.running) stopChild(child);
      for (const socket of sockets) socket.destroy();
      await Promise.all([closed, ...exited]);
    },
  };
}

interface CgiContext {
  git: string;
  timeLimitMs: number;
  /** Every git http-backend running, so close() can stop them. */
  running: Set<ChildProcess>;
  log?: (line: string) => void;
}

/** Whether a request's client went away before its response was complete; `onGone` runs at once if it already has. */
class ClientWatch {
  private left = false;
  private listeners: (() => void)[] = [];

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
  ) {
    res.once('close', () => {
      if (res.writableFinished) return;
      this.left = true;
      for (const listener of this.listeners.splice(0)) listener();
    });
  }

  get gone(): boolean {
    // A request is also destroyed once its body has been read to the end; before that, only when its connection went.
    return this.left || this.res.destroyed || (this.req.destroyed && !this.req.readableEnded);
  }

  onGone(listener: () => void): void {
    if (this.gone) listener();
    else this.listeners.push(listener);
  }
}

/** How long a stopped git http-backend has to exit before it is killed outright. */
const KILL_GRACE_MS = 5000;

/** Stops a git http-backend and everything it started (receive-pack, the hook): its process group where there is one; SIGKILL if SIGTERM is not enough. */
function stopChild(child: ChildProcess): void {
  child.stdin?.destroy();
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const signal = (name: NodeJS.Signals): void => {
    try {
      if (process.platform !== 'win32' && child.pid !== undefined) process.kill(-child.pid, name);
      else child.kill(name);
    } catch {
      child.kill(name);
    }
  };
  if (exited()) return;
  signal('SIGTERM');
  setTimeout(() => {
    if (!exited()) signal('SIGKILL');
  }, KILL_GRACE_MS).unref();
}

/**
 * Runs `git http-backend` for one request: the request body on its stdin, its
 * CGI response (headers, Status) relayed. Nothing runs for a client that is
 * gone already; one that goes away stops it, and so does the time limit (504
 * when no answer has started, else the connection is cut).
 */
function runCgi(cgi: CgiContext, env: Record<string, string>, req: IncomingMessage, res: ServerResponse, client: ClientWatch): Promise<void> {
  const { git, log } = cgi;
  if (client.gone) return Promise.resolve();
  return new Promise<void>((resolvePromise) => {
    // Its own process group (POSIX), so stopping it stops receive-pack and the hook too.
    const child = spawn(git, ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'], detached: process.platform !== 'win32' });
    cgi.running.add(child);
    let head = Buffer.alloc(0);
    let headersDone = false;
    let timedOut = false;
    const stderr: Buffer[] = [];
    let stderrSize = 0;
    const timer = setTimeout(() => {
      timedOut = true;
      log?.(`knock-env serve: git http-backend ran longer than ${cgi.timeLimitMs / 1000}s on ${env.REQUEST_METHOD} ${env.PATH_INFO}; stopped it.`);
      stopChild(child);
    }, cgi.timeLimitMs);
    timer.unref();
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderrSize >= STDERR_LIMIT) return;
      const kept = chunk.subarray(0, STDERR_LIMIT - stderrSize);
      stderr.push(kept);
      stderrSize += kept.length;
    });
    child.stdin.on('error', () => undefined);
    req.pipe(child.stdin);
    // A client that goes away mid-request leaves git waiting for input: stop it.
    client.onGone(() => stopChild(child));
    // The answer's status and headers go out with its first bytes (or at the end), so a request stopped before then still gets a 504.
    let answer: { status: number; reason: string | undefined; headers: Record<string, string> } | null = null;
    const startAnswer = (): void => {
      if (answer !== null && !res.headersSent) res.writeHead(answer.status, answer.reason, answer.headers);
    };
    child.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) {
        startAnswer();
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      let end = head.indexOf('\r\n\r\n');
      let separator = 4;
      const lf = head.indexOf('\n\n');
      if (lf >= 0 && (end < 0 || lf < end)) {
        end = lf;
        separator = 2;
      }
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      let reason: string | undefined;
      const headers: Record<string, string> = {};
      for (const raw of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
        const colon = raw.indexOf(':');
        if (colon <= 0) continue;
        const key = raw.slice(0, colon).trim();
        const value = raw.slice(colon + 1).trim();
        if (key.toLowerCase() === 'status') {
          const match = /^(\d{3})\s*(.*)$/.exec(value);
          if (match) {
            status = Number(match[1]);
            reason = match[2] || undefined;
          }
        } else headers[key] = value;
      }
      answer = { status, reason, headers };
      const rest = head.subarray(end + separator);
      if (rest.length > 0) {
        startAnswer();
        res.write(rest);
      }
    });
    const done = (): void => {
      clearTimeout(timer);
      cgi.running.delete(child);
      resolvePromise();
    };
    child.on('error', (error) => {
      log?.(`knock-env serve: cannot run ${git} http-backend: ${error.message}`);
      if (!res.headersSent) plain(res, 500, 'The server could not run git.');
      else res.end();
      done();
    });
    child.on('close', (code) => {
      if (code !== 0 && stderr.length > 0) log?.(`git http-backend: ${Buffer.concat(stderr).toString('utf8').trim()}${stderrSize >= STDERR_LIMIT ? ' [...]' : ''}`);
      if (client.gone) {
        done();
        return;
      }
      if (timedOut && !res.headersSent) {
        // The rest of the request body is never read: the connection cannot carry another request.
        res.setHeader('Connection', 'close');
        plain(res, 504, `git http-backend took longer than ${cgi.timeLimitMs / 1000}s on this request and was stopped.`);
      } else if (timedOut) res.destroy(); // Part of an answer went out: cut it rather than end it as if complete.
      else if (!headersDone && !res.headersSent) plain(res, 502, 'git http-backend gave no answer.');
      else startAnswer();
      if (!res.destroyed) res.end();
      done();
    });
  });
}
