import * as nodeFs from 'node:fs';
import { homedir } from 'node:os';
import type { CoreOptions } from '../core/context.js';
import type { RemoteAccess } from '../core/remote/transport.js';
import { remoteAccess } from './remote.js';
import { KnockEnvError } from '../core/errors.js';
import type { Identity } from '../core/git/commit.js';
import type { FileSystem } from '../core/git/fs.js';
import type { Io } from './io.js';

export const fs: FileSystem = nodeFs as unknown as FileSystem;

/** Whether a process id is alive on this host (for taking over a lock its holder left behind). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

/** Reads [user] name/email from a git config file (the subset knock-env needs). */
function readGitConfigIdentity(path: string): Partial<Identity> {
  let text: string;
  try {
    text = nodeFs.readFileSync(path, 'utf8');
  } catch {
    return {};
  }
  const out: Partial<Identity> = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const lineText = raw.trim();
    const header = /^\[([^\]\s"]+)(?:\s+"[^"]*")?\]$/.exec(lineText);
    if (header) {
      section = header[1]!.toLowerCase();
      continue;
    }
    const pair = /^([A-Za-z][A-Za-z0-9-]*)\s*=\s*(.*)$/.exec(lineText);
    if (section === 'user' && pair) {
      const value = pair[2]!.replace(/^"(.*)"$/, '$1').trim();
      if (pair[1]!.toLowerCase() === 'name') out.name = value;
      if (pair[1]!.toLowerCase() === 'email') out.email = value;
    }
  }
  return out;
}

/** Who acts: GIT_AUTHOR_* variables, then the repository's git config, then the user's. */
export function resolveActor(io: Io, gitdir?: string): Identity {
  const home = io.env.HOME ?? homedir();
  const sources: Partial<Identity>[] = [
    { name: io.env.GIT_AUTHOR_NAME, email: io.env.GIT_AUTHOR_EMAIL },
    ...(gitdir ? [readGitConfigIdentity(`${gitdir}/config`)] : []),
    readGitConfigIdentity(`${home}/.gitconfig`),
    readGitConfigIdentity(`${io.env.XDG_CONFIG_HOME ?? `${home}/.config`}/git/config`),
  ];
  const name = sources.map((s) => s.name).find((v) => v);
  const email = sources.map((s) => s.email).find((v) => v);
  if (!email) {
    throw new KnockEnvError('MISSING_IDENTITY', 'knock-env does not know who you are: no git user.email is set.', {
      hint: 'Run `git config --global user.email "you@example.com"` and `git config --global user.name "Your Name"`.',
    });
  }
  return { name: name ?? email.split('@')[0]!, email };
}

/** The API key a command acts with: --api-key (moved into the environment by main) or KNOCK_ENV_API_KEY. */
export function apiKeyOf(io: Io): string | undefined {
  const key = io.env.KNOCK_ENV_API_KEY;
  return key !== undefined && key !== '' ? key : undefined;
}

/** Identity and key for commands that only read: no git identity is needed to read. */
export function readerOptions(io: Io, dir: string): { fs: typeof fs; dir: string; actor?: Identity; apiKey?: string } {
  const actor = identityIfAny(io, findGitdirSync(dir));
  const apiKey = apiKeyOf(io);
  return { fs, dir, ...(actor ? { actor } : {}), ...(apiKey ? { apiKey } : {}) };
}

/** The git identity, or undefined when none is configured. */
function identityIfAny(io: Io, gitdir?: string): Identity | undefined {
  try {
    return resolveActor(io, gitdir);
  } catch {
    return undefined;
  }
}

export function coreOptions(io: Io, dir: string, gitdir?: string): CoreOptions {
  const fixed = io.env.KNOCK_ENV_NOW;
  const apiKey = apiKeyOf(io);
  const where = gitdir ?? findGitdirSync(dir);
  return {
    fs,
    dir,
    ...(apiKey ? { apiKey } : {}),
    // A command acting with an API key needs no git identity; its commits are authored by the key.
    actor: apiKey ? (identityIfAny(io, where) ?? { name: 'knock-env API key', email: 'api-key@knock-env.invalid' }) : resolveActor(io, where),
    ...(fixed ? { now: () => new Date(fixed) } : {}),
    pid: process.pid,
    isAlive,
    ...(io.env.KNOCK_ENV_LOCK_TIMEOUT_MS ? { lockTimeoutMs: Number(io.env.KNOCK_ENV_LOCK_TIMEOUT_MS) } : {}),
    ...withRemote(remoteAccess(io, where)),
  };
}

function withRemote(remote: RemoteAccess | undefined): { remote?: RemoteAccess } {
  return remote ? { remote } : {};
}

export function findGitdirSync(dir: string): string | undefined {
  let current = dir;
  for (;;) {
    const candidate = `${current}/.git`;
    if (nodeFs.existsSync(candidate)) return candidate;
    const parent = current.slice(0, current.lastIndexOf('/')) || '/';
    if (parent === current) return undefined;
    current = parent;
  }
}
