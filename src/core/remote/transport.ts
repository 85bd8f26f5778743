import { KnockEnvError } from '../errors.js';
import type { GitStore } from '../git/objects.js';
import { readCommit, type Signature } from '../git/commit.js';
import type { FileSystem } from '../git/fs.js';
import { deleteRef, listRefs, readRef, updateRef } from '../git/refs.js';
import { objectsToSend, parseAdvertisement, parseReport, receivePackRequest, writePack } from './send-pack.js';

export interface RemoteCredentials {
  username: string;
  password: string;
}

/**
 * A remote as the caller hands it to the core: its name and URL, the HTTP
 * client, and where credentials come from. The core never stores
 * credentials; it asks `credentials` once per command and reports the
 * outcome so a credential helper can remember or forget them.
 */
export interface RemoteAccess {
  /** The remote's name in .git/config (remote-tracking refs live under refs/remotes/<name>/). */
  name: string;
  url: string;
  /** An isomorphic-git HTTP client; default isomorphic-git/http/node. */
  http?: unknown;
  credentials?: (url: string) => Promise<RemoteCredentials | undefined>;
  /** The server accepted (true) or refused (false) the credentials `credentials` gave. */
  credentialsVerdict?: (url: string, credentials: RemoteCredentials, accepted: boolean) => Promise<void>;
  /** Lines the server sends while it works (its hooks' messages among them). */
  onMessage?: (line: string) => void;
  /** How long a connection may stay silent before the command gives up (default 120 s). */
  timeoutMs?: number;
}

export const ZERO_OID = '0'.repeat(40);
const OID_TEXT = /^[0-9a-f]{40}$/;

interface HttpRequest {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: Uint8Array[];
  fetchOptions?: Record<string, unknown>;
}
interface HttpResponse {
  statusCode: number;
  statusMessage?: string;
  headers?: Record<string, string>;
  body?: AsyncIterable<Uint8Array>;
}
interface HttpClient {
  request(request: HttpRequest): Promise<HttpResponse>;
}

/**
 * isomorphic-git's fetch needs the remote's HEAD. A bare repository whose HEAD
 * names a branch that does not exist (git's default "master" beside the
 * environment branches) advertises none, and a server that hides branches
 * from an API key may hide the one HEAD names: the fetch then fails after
 * writing the remote-tracking refs but before storing the objects. In those
 * cases the advertisement gets a HEAD line for a branch it shows
 * (development if shown, else the first environment branch), which changes
 * nothing else of the exchange.
 */
async function withHeadAdvertised(request: HttpRequest, response: HttpResponse): Promise<HttpResponse> {
  if (response.statusCode !== 200 || !response.body || !/\/info\/refs\?service=git-upload-pack/.test(request.url)) return response;
  const chunks: Buffer[] = [];
  for await (const chunk of response.body) chunks.push(Buffer.from(chunk));
  const body = Buffer.concat(chunks);
  const packets: Buffer[] = [];
  for (let at = 0; at + 4 <= body.length; ) {
    const length = parseInt(body.subarray(at, at + 4).toString('latin1'), 16);
    if (Number.isNaN(length)) return { ...response, body: once(body) };
    packets.push(body.subarray(at, at + Math.max(length, 4)));
    at += Math.max(length, 4);
  }
  const refLine = packets.findIndex((p) => p.length > 4 && p.includes(0));
  if (refLine < 0) return { ...response, body: once(body) };
  const first = packets[refLine]!.subarray(4).toString('latin1').replace(/\n$/, '');
  const nul = first.indexOf('\0');
  const [firstRef, capabilities] = [first.slice(0, nul), first.slice(nul + 1)];
  const advertised = new Map<string, string>();
  for (const p of packets) {
    const m = /^([0-9a-f]{40}) ([^\s\0]+)/.exec(p.subarray(4).toString('latin1'));
    if (m) advertised.set(m[2]!, m[1]!);
  }
  const named = /(?:^| )symref=HEAD:(\S+)/.exec(capabilities)?.[1];
  if (advertised.has('HEAD') && (named === undefined || advertised.has(named))) return { ...response, body: once(body) };
  const branches = [...advertised.keys()].filter((ref) => ref.startsWith('refs/heads/'));
  const target = branches.includes('refs/heads/development') ? 'refs/heads/development' : (branches.find((b) => !b.startsWith('refs/heads/knock-env/')) ?? branches[0]);
  if (target === undefined) return { ...response, body: once(body) };
  const pkt = (text: string) => Buffer.concat([Buffer.from((Buffer.byteLength(text, 'latin1') + 4).toString(16).padStart(4, '0')), Buffer.from(text, 'latin1')]);
  const head = pkt(`${advertised.get(target)} HEAD\0${capabilities.replace(/(^| )symref=HEAD:\S+/, '')} symref=HEAD:${target}\n`);
  // The line that carried the capabilities becomes a plain ref line after the new HEAD line (a HEAD line git sent is replaced).
  packets.splice(refLine, 1, head, ...(firstRef.endsWith(' HEAD') ? [] : [pkt(`${firstRef}\n`)]));
  return { ...response, body: once(Buffer.concat(packets)) };
}

async function* once(buffer: Buffer): AsyncGenerator<Uint8Array> {
  yield buffer;
}

/** Whether the repository holds a commit (a remote's head it has not fetched, say, it does not). */
export async function hasCommit(store: GitStore, oid: string): Promise<boolean> {
  try {
    await readCommit(store, oid);
    return true;
  } catch {
    return false;
  }
}

/**
 * The repository's file system as isomorphic-git's fetch sees it: writes and
 * deletions of refs below `namespace` (the remote-tracking refs) are held back
 * in `held` (null: deleted), and so is its rewrite of packed-refs when it
 * prunes, so they can be made afterwards under `<ref>.lock` with an old-value
 * check, as every other ref is moved. Everything else passes through.
 */
function holdingRefs(store: GitStore, namespace: string): { fs: FileSystem; held: Map<string, string | null> } {
  const held = new Map<string, string | null>();
  const real = store.fs.promises;
  const root = `${store.gitdir.replace(/\/+$/, '')}/`;
  const refOf = (path: unknown): string | null => {
    const text = String(path).replace(/\/{2,}/g, '/');
    return text.startsWith(`${root}${namespace}`) ? text.slice(root.length) : null;
  };
  const promises = new Proxy(real, {
    get(target, name, receiver) {
      if (name === 'writeFile') {
        return async (path: unknown, data: unknown, ...rest: unknown[]) => {
          const ref = refOf(path);
          if (ref !== null) held.set(ref, String(data).trim());
          else if (String(path) === `${root}packed-refs`) return; // the prunes are held as deletions
          else return (target.writeFile as (...args: unknown[]) => Promise<void>)(path, data, ...rest);
        };
      }
      if (name === 'unlink') {
        return async (path: unknown) => {
          const ref = refOf(path);
          if (ref !== null) held.set(ref, null);
          else return target.unlink(path as string);
        };
      }
      if (name === 'readdir') {
        // A `<ref>.lock` another git process holds is not a ref (isomorphic-git would prune it as one).
        return async (path: unknown, ...rest: unknown[]) => {
          const names = (await (target.readdir as (...args: unknown[]) => Promise<unknown[]>)(path, ...rest)) as unknown[];
          const inside = `${String(path).replace(/\/{2,}/g, '/').replace(/\/+$/, '')}/`.startsWith(`${root}${namespace}`);
          return inside ? names.filter((entry) => !String(typeof entry === 'object' && entry !== null ? (entry as { name: unknown }).name : entry).endsWith('.lock')) : names;
        };
      }
      const value = Reflect.get(target, name, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { fs: { ...store.fs, promises } as FileSystem, held };
}

/** The reflog line's identity when the caller gives none. */
function defaultCommitter(): Signature {
  return { name: 'knock-env', email: 'knock-env@localhost', timestamp: Math.floor(Date.now() / 1000), timezoneOffset: 0 };
}

type Auth = { username?: string; password?: string; cancel?: boolean };

/** isomorphic-git's auth callbacks: credentials asked for once, a refusal ends the command (no retry loop). */
function authCallbacks(remote: RemoteAccess, memo: { asked?: boolean; given?: RemoteCredentials; refused?: boolean }) {
  return {
    onAuth: async (url: string): Promise<Auth> => {
      if (!memo.asked) {
        memo.asked = true;
        memo.given = await remote.credentials?.(url);
      }
      return memo.given ? { ...memo.given } : { cancel: true };
    },
    onAuthSuccess: async (url: string): Promise<void> => {
      if (memo.given) await remote.credentialsVerdict?.(url, memo.given, true);
    },
    onAuthFailure: async (url: string): Promise<undefined> => {
      memo.refused = true;
      if (memo.given) await remote.credentialsVerdict?.(url, memo.given, false);
      return undefined;
    },
  };
}

/** One command's connection to a remote: shares credentials between its requests and keeps the server's messages. */
export class RemoteSession {
  private readonly memo: { asked?: boolean; given?: RemoteCredentials; refused?: boolean } = {};
  private readonly callbacks;
  /** Server messages of the last request. */
  messages: string[] = [];

  constructor(
    readonly store: GitStore,
    readonly remote: RemoteAccess,
    /** Who the reflogs of the remote-tracking refs name. */
    private readonly committer: () => Signature = defaultCommitter,
  ) {
    this.callbacks = authCallbacks(remote, this.memo);
  }

  /** Moves a remote-tracking ref from the value it had before the exchange, under its lock: if another git process moved it meanwhile, or holds its lock, it stays as it is and this throws CONCURRENT_UPDATE. */
  private async moveTracking(ref: string, before: string | null, value: string | null, message: string): Promise<void> {
    if (value === before) return;
    if (value === null) return deleteRef(this.store, ref, before!);
    await updateRef(this.store, { ref, oldOid: before, newOid: value, reflogMessage: message, committer: this.committer() });
  }

  /** What every isomorphic-git call to the remote takes: repository, HTTP client, URL, credentials, messages. */
  private async connection() {
    return {
      fs: this.store.fs,
      gitdir: this.store.gitdir,
      cache: this.store.cache,
      http: await this.http(),
      url: this.remote.url,
      remote: this.remote.name,
      onMessage: this.onMessage,
      ...this.callbacks,
    };
  }

  private async http(): Promise<never> {
    const client = (this.remote.http ?? (await import('isomorphic-git/http/node')).default) as HttpClient;
    return { request: async (request: HttpRequest) => withHeadAdvertised(request, await client.request(this.timed(request))) } as never;
  }

  /** A request that gives up once its connection has been silent for the remote's time limit. */
  private timed(request: HttpRequest): HttpRequest {
    return { ...request, fetchOptions: { ...request.fetchOptions, timeout: this.remote.timeoutMs ?? 120_000 } };
  }

  trackingRef(branch: string): string {
    return `refs/remotes/${this.remote.name}/${branch}`;
  }

  /** The remote's value of refs/heads/<branch> as of the last fetch or push. */
  async tracked(branch: string): Promise<string | null> {
    return readRef(this.store, this.trackingRef(branch));
  }

  private onMessage = (line: string): void => {
    const text = line.replace(/\s+$/, '');
    if (text === '') return;
    this.messages.push(text);
    this.remote.onMessage?.(text);
  };

  /**
   * Fetches every branch of the remote into refs/remotes/<name>/ (pruning
   * branches the remote deleted). The objects are stored first; then each
   * remote-tracking ref is moved from the value it had when the fetch began,
   * under its lock (its symbolic HEAD is left to git).
   */
  async fetch(): Promise<void> {
    const { default: git } = await import('isomorphic-git');
    this.messages = [];
    const namespace = `refs/remotes/${this.remote.name}/`;
    const before = new Map([...(await listRefs(this.store))].filter(([ref]) => ref.startsWith(namespace)));
    const holding = holdingRefs(this.store, namespace);
    try {
      await git.fetch({
        ...(await this.connection()),
        fs: holding.fs,
        remoteRef: 'HEAD',
        singleBranch: false,
        tags: false,
        prune: true,
      });
    } catch (error) {
      throw this.translate(error, 'fetch from');
    }
    for (const [ref, value] of holding.held) {
      if (value !== null && !OID_TEXT.test(value)) continue;
      await this.moveTracking(ref, before.get(ref) ?? null, value, `fetch: ${redact(this.remote.url)}`);
    }
  }

  /**
   * Pushes `newOid` to the remote's refs/heads/<branch> only if the remote
   * still has `expected` there: the value is checked when the push starts and
   * sent as the old value, which the server checks again under its own lock.
   */
  async push(branch: string, expected: string | null, newOid: string): Promise<void> {
    const ref = `refs/heads/${branch}`;
    this.messages = [];
    const tracked = await this.tracked(branch);
    try {
      const advertised = parseAdvertisement(await this.request('GET', '/info/refs?service=git-receive-pack'));
      const found = advertised.refs.get(ref) ?? null;
      if (found !== expected) throw movedOnRemote(this.remote, branch, expected, found);
      const known: string[] = [];
      for (const [name, oid] of advertised.refs) if (name.startsWith('refs/heads/') && !known.includes(oid) && (await hasCommit(this.store, oid))) known.push(oid);
      const pack = await writePack(this.store, await objectsToSend(this.store, newOid, known));
      const body = receivePackRequest(ref, expected ?? ZERO_OID, newOid, advertised.capabilities, pack);
      const answer = await this.request('POST', '/git-receive-pack', body, 'application/x-git-receive-pack-request');
      const report = parseReport(answer, advertised.capabilities.has('side-band-64k'));
      for (const line of report.messages) this.onMessage(line);
      const result = report.refs.get(ref);
      if (report.unpack !== 'ok' || !result?.ok) {
        const reason = result?.reason ?? (report.unpack !== 'ok' ? `unpack ${report.unpack || 'failed'}` : 'no report from the server');
        const refused = this.refusal(branch, expected, `${ref}: ${reason}`);
        // Judged against a branch someone moved after the advertisement: that is a concurrent update, not a verdict on this change.
        if (refused.code === 'REMOTE_REJECTED') {
          const now = await this.request('GET', '/info/refs?service=git-receive-pack').then((body) => parseAdvertisement(body).refs.get(ref) ?? null, () => expected);
          if (now !== expected) throw movedOnRemote(this.remote, branch, expected, now);
        }
        throw refused;
      }
    } catch (error) {
      throw this.translate(error, 'push to');
    }
    // The push landed: a remote-tracking ref another git process moved or holds meanwhile is left to the next fetch.
    await this.moveTracking(this.trackingRef(branch), tracked, newOid, `update by push`).catch((error: unknown) => {
      if (!(error instanceof KnockEnvError && error.code === 'CONCURRENT_UPDATE')) throw error;
    });
  }

  /**
   * One request to the remote's smart HTTP service, with the credentials of
   * this command: none at first (unless known), asked for once on a 401, and
   * a second 401 ends the command.
   */
  private async request(method: 'GET' | 'POST', path: string, body?: Buffer, contentType?: string): Promise<Buffer> {
    const client = (this.remote.http ?? (await import('isomorphic-git/http/node')).default) as HttpClient;
    const parsed = new URL(this.remote.url);
    if (parsed.username && !this.memo.given) {
      this.memo.given = { username: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password) };
    }
    parsed.username = '';
    parsed.password = '';
    const url = `${parsed.toString().replace(/\/+$/, '')}${path}`;
    for (;;) {
      const headers: Record<string, string> = { 'user-agent': 'git/knock-env' };
      if (contentType) headers['content-type'] = contentType;
      if (path.startsWith('/git-receive-pack')) headers.accept = 'application/x-git-receive-pack-result';
      if (this.memo.given) headers.authorization = `Basic ${Buffer.from(`${this.memo.given.username}:${this.memo.given.password}`).toString('base64')}`;
      const response = await client.request(this.timed({ url, method, headers, ...(body ? { body: [body] } : {}) }));
      const chunks: Buffer[] = [];
      for await (const chunk of response.body ?? []) chunks.push(Buffer.from(chunk));
      if (response.statusCode === 401 && !this.memo.asked && !this.memo.refused) {
        this.memo.asked = true;
        const given = await this.remote.credentials?.(url);
        if (!given) throw Object.assign(new Error('no credentials'), { code: 'UserCanceledError' });
        this.memo.given = given;
        continue;
      }
      if (response.statusCode === 401 || response.statusCode === 403) {
        this.memo.refused = true;
        if (this.memo.given) await this.remote.credentialsVerdict?.(url, this.memo.given, false);
      }
      if (response.statusCode !== 200) {
        throw Object.assign(new Error(`HTTP Error: ${response.statusCode}`), { code: 'HttpError', data: { statusCode: response.statusCode, statusMessage: response.statusMessage ?? '' } });
      }
      return Buffer.concat(chunks);
    }
  }

  /**
   * What a refused ref update means, from the server's reason and messages: the branch moved
   * (its compare-and-swap failed), another update holds its lock, or the server's rules refused it.
   */
  private refusal(branch: string, expected: string | null, reason: string): KnockEnvError {
    const where = `${this.remote.name} (${redact(this.remote.url)})`;
    const said = this.messages.filter((line) => !/^(Counting|Compressing|Writing|Total|Resolving|Unpacking)\b/.test(line));
    const lines = [reason, ...said];
    const moved = lines.map((l) => /is at ([0-9a-f]{40}) but expected/.exec(l)).find((m) => m !== null);
    if (moved) return movedOnRemote(this.remote, branch, expected, moved[1]!);
    if (lines.some((l) => /failed to lock|cannot lock ref|incorrect old value|stale info/i.test(l))) {
      return new KnockEnvError('CONCURRENT_UPDATE', `${branch} on ${where} is being updated by someone else (the server could not lock it): ${lines.find((l) => /lock/i.test(l)) ?? reason}`, {
        hint: 'Nothing was changed by this push. Run the command again in a moment.',
        data: { branch, reasons: [reason], messages: said },
      });
    }
    return new KnockEnvError('REMOTE_REJECTED', `${where} refused the update of ${branch}${said.length > 0 ? `:\n${said.map((l) => `  ${l}`).join('\n')}` : ` (${reason})`}`, {
      hint: 'The server enforces the same rules as knock-env (fast-forwards, ownership, roles, valid resources); fix what it names and try again.',
      data: { reasons: [reason], messages: said },
    });
  }

  private translate(error: unknown, action: string): KnockEnvError {
    if (error instanceof KnockEnvError) return error;
    const e = error as { code?: string; message?: string; data?: Record<string, unknown> };
    const where = `${this.remote.name} (${redact(this.remote.url)})`;
    if (e.code === 'UserCanceledError' && this.memo.asked && !this.memo.given) {
      return new KnockEnvError('AUTH_FAILED', `${where} asks for credentials and none were found.`, {
        hint: 'Set KNOCK_ENV_GIT_USERNAME and KNOCK_ENV_GIT_PASSWORD (or KNOCK_ENV_API_KEY), or store them with a git credential helper (`git config credential.helper store`).',
        cause: error,
      });
    }
    if (e.code === 'HttpError') {
      const status = Number(e.data?.statusCode);
      if (status === 401 || status === 403 || status === 203) {
        return new KnockEnvError('AUTH_FAILED', `${where} refused the credentials (HTTP ${status}); nothing was ${action === 'fetch from' ? 'fetched' : 'pushed'}.`, {
          hint: 'Check the user name and token (or API key). knock-env does not retry: fix them and run the command again.',
          data: { status },
          cause: error,
        });
      }
      if (status === 429) {
        return new KnockEnvError('AUTH_FAILED', `${where} refuses logins from this address for now, after too many failed ones (HTTP 429); nothing was ${action === 'fetch from' ? 'fetched' : 'pushed'}.`, {
          hint: 'Check the user name and token (or API key), wait a minute (the server blocks an address for 60 s at first, longer if it goes on), then run the command again.',
          data: { status },
          cause: error,
        });
      }
      return new KnockEnvError('REMOTE_ERROR', `${where} answered HTTP ${status} ${String(e.data?.statusMessage ?? '')}`.trim() + '.', {
        hint: 'Check the remote URL (`git remote -v`) and that the server is running; or pass --offline to work locally and `knock-env push` later.',
        data: { status },
        cause: error,
      });
    }
    const message = e.message ?? String(error);
    return new KnockEnvError('REMOTE_ERROR', `Could not ${action} ${where}: ${message}`, {
      hint: 'Check the URL (`git remote -v`), the network, and that the server is running; or pass --offline to work locally and `knock-env push` later.',
      cause: error,
    });
  }
}

export function movedOnRemote(remote: RemoteAccess, branch: string, expected: string | null, found: string | null): KnockEnvError {
  return new KnockEnvError(
    'CONCURRENT_UPDATE',
    `${branch} on ${remote.name} moved while this command ran (expected ${expected ? expected.slice(0, 7) : 'no branch'}${found ? `, found ${found.slice(0, 7)}` : ''}): someone else updated it first.`,
    {
      hint: 'Nothing was changed here. Run the command again: it fetches the new state and checks again that the change still applies.',
      data: { branch, expected, found },
    },
  );
}

/** A URL without the user name and password it may carry (either can be a secret: a token, an API key). */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.username && !parsed.password) return url;
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}
