import { spawn, type ChildProcess } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Running `git http-backend` as a CGI program for one request of a team
 * server: the request body on its stdin, its response relayed, stopped with
 * everything it started when the client leaves or the time limit passes.
 */

/** How much of git http-backend's error output is kept for the log. */
const STDERR_LIMIT = 64 * 1024;

/** Sends a signal to a process group (POSIX: `kill(-pid)`); false when there is no such group. Given by the caller, who owns the process. */
export type SignalGroup = (pid: number, signal: NodeJS.Signals) => boolean;

export interface CgiContext {
  git: string;
  timeLimitMs: number;
  /** Every git http-backend running, so close() can stop them. */
  running: Set<ChildProcess>;
  /** Starts each git http-backend in its own process group and stops the group, when given. */
  signalGroup?: SignalGroup;
  log?: (line: string) => void;
}

export function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache', ...headers });
  res.end(`${text}\n`);
}

/** Whether a request's client went away before its response was complete; `onGone` runs at once if it already has. */
export class ClientWatch {
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
export function stopChild(cgi: CgiContext, child: ChildProcess): void {
  child.stdin?.destroy();
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const signal = (name: NodeJS.Signals): void => {
    if (cgi.signalGroup && child.pid !== undefined && cgi.signalGroup(child.pid, name)) return;
    child.kill(name);
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
export function runCgi(cgi: CgiContext, env: Record<string, string>, req: IncomingMessage, res: ServerResponse, client: ClientWatch): Promise<void> {
  const { git, log } = cgi;
  if (client.gone) return Promise.resolve();
  return new Promise<void>((resolvePromise) => {
    // Its own process group where groups can be signalled, so stopping it stops receive-pack and the hook too.
    const child = spawn(git, ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'], detached: cgi.signalGroup !== undefined });
    cgi.running.add(child);
    let head = Buffer.alloc(0);
    let headersDone = false;
    let timedOut = false;
    const stderr: Buffer[] = [];
    let stderrSize = 0;
    const timer = setTimeout(() => {
      timedOut = true;
      log?.(`knock-env serve: git http-backend ran longer than ${cgi.timeLimitMs / 1000}s on ${env.REQUEST_METHOD} ${env.PATH_INFO}; stopped it.`);
      stopChild(cgi, child);
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
    client.onGone(() => stopChild(cgi, child));
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
