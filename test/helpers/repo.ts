import { mkdtemp, rm } from 'node:fs/promises';
import * as nodeFs from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterEach } from 'vitest';
import type { FileSystem } from '../../src/core/git/fs.js';
import type { CoreOptions } from '../../src/core/context.js';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
export const KNOCK_TEMPLATES = resolve(REPO_ROOT, '../shared/fixtures/knock-templates');
export const BIN = resolve(REPO_ROOT, 'bin/knock-env.js');
export const diskFs = nodeFs as unknown as FileSystem;

const created: string[] = [];

/** A fresh temporary directory, removed after the test. */
export async function tempDir(prefix = 'knock-env-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

afterEach(async () => {
  while (created.length > 0) await rm(created.pop()!, { recursive: true, force: true });
});

export const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Ada Lovelace',
  GIT_AUTHOR_EMAIL: 'ada@example.com',
  GIT_COMMITTER_NAME: 'Ada Lovelace',
  GIT_COMMITTER_EMAIL: 'ada@example.com',
  GIT_CONFIG_NOSYSTEM: '1',
  NO_COLOR: '1',
};

/** Runs the real git binary; returns trimmed stdout. */
export async function git(cwd: string, ...args: string[]): Promise<string> {
  const result = await execa('git', args, { cwd, env: GIT_ENV });
  return result.stdout.trim();
}

/** Exit code of a git command that answers by exit code (merge-base --is-ancestor). */
export async function gitCode(cwd: string, ...args: string[]): Promise<number> {
  const result = await execa('git', args, { cwd, env: GIT_ENV, reject: false });
  return result.exitCode ?? -1;
}

let clock = Date.parse('2026-01-01T00:00:00Z');

/** Core options for a directory on disk, with a fixed actor and a clock that advances one second per call. */
export function coreOptionsFor(dir: string, actor = { name: 'Ada Lovelace', email: 'ada@example.com' }): CoreOptions {
  return {
    fs: diskFs,
    dir,
    actor,
    now: () => new Date((clock += 1000)),
    pid: process.pid,
    isAlive: () => true,
  };
}

/** Checks the chain invariant with git itself: each upper head is an ancestor of the head below it. */
export async function assertChain(dir: string, envs: string[]): Promise<void> {
  for (let i = 1; i < envs.length; i++) {
    const code = await gitCode(dir, 'merge-base', '--is-ancestor', envs[i]!, envs[i - 1]!);
    if (code !== 0) throw new Error(`chain broken: ${envs[i]} is not an ancestor of ${envs[i - 1]}`);
  }
}

/** Runs the built CLI as a real process. */
export async function cli(cwd: string, args: string[], options: { input?: string; env?: Record<string, string> } = {}) {
  return execa('node', [BIN, ...args], {
    cwd,
    env: { ...GIT_ENV, ...options.env },
    reject: false,
    ...(options.input !== undefined ? { input: options.input } : { stdin: 'ignore' }),
  });
}

/** Every file below a folder, by path relative to it (posix separators). */
export async function filesUnder(dir: string): Promise<Map<string, Buffer>> {
  const { readdir, readFile } = await import('node:fs/promises');
  const { relative } = await import('node:path');
  const out = new Map<string, Buffer>();
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) await walk(path);
      else out.set(relative(dir, path).split('\\').join('/'), await readFile(path));
    }
  };
  await walk(dir);
  return out;
}

/** A small seeded generator (mulberry32), so a randomised test can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
