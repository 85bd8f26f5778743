import { spawn } from 'node:child_process';
import * as nodeFs from 'node:fs';
import { KnockEnvError } from '../core/errors.js';
import type { RemoteAccess, RemoteCredentials } from '../core/remote/transport.js';
import type { Io } from './io.js';

/** The `[remote "<name>"] url = ...` entries of a repository's .git/config. */
export function remotesOf(gitdir: string): Map<string, string> {
  const remotes = new Map<string, string>();
  let text: string;
  try {
    text = nodeFs.readFileSync(`${gitdir}/config`, 'utf8');
  } catch {
    return remotes;
  }
  let section: string | null = null;
  for (const raw of text.split('\n')) {
    const lineText = raw.trim();
    const header = /^\[\s*remote\s+"((?:[^"\\]|\\.)*)"\s*\]$/.exec(lineText);
    if (header) {
      section = header[1]!;
      continue;
    }
    if (lineText.startsWith('[')) {
      section = null;
      continue;
    }
    const entry = /^url\s*=\s*(.*)$/i.exec(lineText);
    if (section !== null && entry && !remotes.has(section)) remotes.set(section, entry[1]!.replace(/^"(.*)"$/, '$1'));
  }
  return remotes;
}

const isHttp = (url: string) => /^https?:\/\//i.test(url);

/**
 * The remote commands act against: --remote / KNOCK_ENV_REMOTE names one,
 * else "origin" when it is an HTTP(S) remote. --offline / KNOCK_ENV_OFFLINE=1
 * turns it off (commands then act on the local branches only).
 */
export function remoteAccess(io: Io, gitdir: string | undefined): RemoteAccess | undefined {
  if (gitdir === undefined || io.env.KNOCK_ENV_OFFLINE === '1') return undefined;
  const named = io.env.KNOCK_ENV_REMOTE;
  const remotes = remotesOf(gitdir);
  const name = named && named !== '' ? named : 'origin';
  const url = remotes.get(name);
  if (url === undefined) {
    if (named) {
      throw new KnockEnvError('USAGE', `There is no remote named "${name}"${remotes.size > 0 ? ` (remotes: ${[...remotes.keys()].join(', ')})` : ''}.`, {
        hint: `Add it with \`git remote add ${name} https://...\`.`,
      });
    }
    return undefined;
  }
  if (!isHttp(url)) {
    if (named) {
      throw new KnockEnvError('USAGE', `Remote "${name}" is ${url}; knock-env talks to remotes over HTTP(S) only.`, {
        hint: 'Use an https:// or http:// URL (`git remote set-url`), or pass --offline and push with git.',
      });
    }
    return undefined;
  }
  const seconds = Number(io.env.KNOCK_ENV_REMOTE_TIMEOUT);
  return {
    name,
    url,
    ...(Number.isFinite(seconds) && seconds > 0 ? { timeoutMs: seconds * 1000 } : {}),
    credentials: (target) => credentialsFor(io, target),
    credentialsVerdict: (target, given, accepted) => (fromHelper.has(given) ? runCredential(io, accepted ? 'approve' : 'reject', target, given).then(() => undefined) : Promise.resolve()),
  };
}

/** For push, pull and fetch: the remote, or an error saying why there is none to use. */
export function requireRemoteAccess(io: Io, gitdir: string | undefined): RemoteAccess {
  const remote = remoteAccess(io, gitdir);
  if (remote) return remote;
  if (io.env.KNOCK_ENV_OFFLINE === '1') throw new KnockEnvError('USAGE', 'This command talks to the remote; --offline turns the remote off.', { hint: 'Run it without --offline.' });
  const remotes = gitdir ? remotesOf(gitdir) : new Map<string, string>();
  const origin = remotes.get('origin');
  if (origin !== undefined) {
    throw new KnockEnvError('USAGE', `Remote "origin" is ${origin}; knock-env talks to remotes over HTTP(S) only.`, {
      hint: 'Use an https:// or http:// URL (`git remote set-url origin https://...`), or use git itself (`git push origin development staging production knock-env/audit`).',
    });
  }
  throw new KnockEnvError('USAGE', `This repository has no remote named origin${remotes.size > 0 ? ` (remotes: ${[...remotes.keys()].join(', ')}; choose one with --remote <name>)` : ''}.`, {
    hint: 'Add one with `git remote add origin https://...`, then run the command again.',
  });
}

const fromHelper = new WeakSet<RemoteCredentials>();

/**
 * Credentials, never stored by knock-env: KNOCK_ENV_GIT_USERNAME and
 * KNOCK_ENV_GIT_PASSWORD, else an API key (KNOCK_ENV_API_KEY / --api-key) as
 * the password, else whatever git's credential helpers give for the URL.
 */
async function credentialsFor(io: Io, url: string): Promise<RemoteCredentials | undefined> {
  const { KNOCK_ENV_GIT_USERNAME: username, KNOCK_ENV_GIT_PASSWORD: password, KNOCK_ENV_API_KEY: apiKey } = io.env;
  if (password) return { username: username || 'knock-env', password };
  if (apiKey) return { username: username || 'api-key', password: apiKey };
  const filled = await runCredential(io, 'fill', url);
  if (!filled?.password) return undefined;
  const found = { username: filled.username ?? '', password: filled.password };
  fromHelper.add(found);
  return found;
}

/** `git credential fill|approve|reject` for a URL; never prompts when stdin is not a terminal. */
function runCredential(io: Io, action: 'fill' | 'approve' | 'reject', url: string, given?: RemoteCredentials): Promise<Partial<RemoteCredentials> | undefined> {
  const input = [`url=${url}`, ...(given ? [`username=${given.username}`, `password=${given.password}`] : []), '', ''].join('\n');
  return new Promise((resolve) => {
    const child = spawn('git', ['credential', action], {
      env: { ...io.env, ...(io.stdinIsTTY ? {} : { GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '', SSH_ASKPASS: '' }) },
      stdio: ['pipe', 'pipe', io.stdinIsTTY ? 'inherit' : 'ignore'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.on('error', () => resolve(undefined));
    child.on('close', (code) => {
      if (code !== 0 || action !== 'fill') return resolve(undefined);
      const fields = new Map(out.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
      resolve({ username: fields.get('username'), password: fields.get('password') });
    });
    child.stdin.end(input);
  });
}
