import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { main } from '../../src/cli/main.js';
import { captureIo } from './io.js';
import { git, tempDir } from './repo.js';

/** A workflow with one email step whose HTML body is the file `body` (relative to the workflow folder). */
export const WORKFLOW = (body: string) =>
  [
    'name: Welcome',
    'steps:',
    '  - ref: email_1',
    '    type: channel',
    '    channel_key: email',
    '    channel_type: email',
    '    template:',
    '      subject: Hello',
    `      html_body@: ${body}`,
    '',
  ].join('\n');

/** Runs the CLI in-process, as `knock-env <args>` in `dir`. */
export async function knockEnv(dir: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo(dir, { KNOCK_ENV_NOW: '2026-02-03T10:00:00.000Z', GIT_AUTHOR_NAME: 'Ada Lovelace', GIT_AUTHOR_EMAIL: 'ada@example.com' });
  const code = await main(['node', 'knock-env', ...args], io);
  return { code, out: io.stdout(), err: io.stderr() };
}

export async function projectWith(files: Record<string, string>): Promise<string> {
  const dir = await tempDir('knock-env-hostile-');
  await git(dir, 'init', '-q', '-b', 'development');
  await git(dir, 'config', 'user.name', 'Ada Lovelace');
  await git(dir, 'config', 'user.email', 'ada@example.com');
  expect((await knockEnv(dir, 'init')).code).toBe(0);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return dir;
}

/** Everything git and knock-env keep, to show that a refused command changed nothing. */
export async function snapshot(dir: string): Promise<string> {
  const refs = await git(dir, 'for-each-ref', '--format=%(refname) %(objectname)');
  const status = await git(dir, 'status', '--porcelain', '--untracked-files=all');
  const cache = (await readdir(join(dir, '.git/knock-env')).catch(() => [] as string[])).filter((n) => n.startsWith('valid-'));
  const verdicts = await Promise.all(cache.map((n) => readFile(join(dir, '.git/knock-env', n), 'utf8')));
  return JSON.stringify({ refs, status, verdicts });
}
