import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { commitChanges } from '../../src/core/ops/commit.js';
import { createEnvironment } from '../../src/core/ops/environments.js';
import { initProject } from '../../src/core/ops/init.js';
import { promoteEnvironment } from '../../src/core/ops/promote.js';
import { scaffoldResource } from '../../src/core/ops/scaffold.js';
import { assertChain, BIN, cli, coreOptionsFor, diskFs, git, GIT_ENV, seededRandom, tempDir } from '../helpers/repo.js';

const ENVS = ['development', 'staging', 'production'];

/**
 * Runs the CLI as a real process and SIGKILLs it (if still running) either
 * `delayMs` after its start, or, with `afterJournal`, that long after its
 * operation journal appears: the few milliseconds in which its moves land.
 */
async function runKilled(dir: string, args: string[], delayMs: number, afterJournal: boolean): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  const child = execa('node', [BIN, ...args], { cwd: dir, env: GIT_ENV, reject: false, stdin: 'ignore' });
  let timer: NodeJS.Timeout | undefined;
  const poll = afterJournal
    ? setInterval(() => {
        if (timer === undefined && existsSync(`${dir}/.git/knock-env/op-journal.json`)) timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
      }, 1)
    : undefined;
  if (!afterJournal) timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
  const result = await child;
  clearInterval(poll);
  clearTimeout(timer);
  return { code: result.exitCode ?? null, ms: Date.now() - started };
}

/** Every promotion a branch's reflog shows has its audit event (environment and target). */
async function assertPromotionsRecorded(dir: string): Promise<void> {
  const trail = await git(dir, 'log', '--format=%B%x00', 'knock-env/audit');
  const recorded = new Set<string>();
  for (const body of trail.split('\0')) {
    const env = /^Knock-Env-Environment: (.*)$/m.exec(body)?.[1];
    const to = /^Knock-Env-To: (.*)$/m.exec(body)?.[1];
    if (/^Knock-Env-Operation: promote$/m.test(body) && env && to) recorded.add(`${env} ${to}`);
  }
  for (const env of ENVS.slice(1)) {
    for (const entry of (await git(dir, 'log', '-g', '--format=%H%x09%gs', `refs/heads/${env}`)).split('\n')) {
      const [oid, subject] = entry.split('\t');
      if (subject?.startsWith('knock-env promote ')) expect(recorded.has(`${env} ${oid}`), `${env} ${oid} promoted without an audit event`).toBe(true);
    }
  }
}

describe('kill -9 at random points', () => {
  it('leaves a repository the next command makes whole: fsck, status, chain and audit trail hold after every kill', async () => {
    const dir = await tempDir();
    await initProject(coreOptionsFor(dir));
    await createEnvironment({ ...coreOptionsFor(dir), slug: 'staging' });
    await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'seed-flow' });
    await commitChanges({ ...coreOptionsFor(dir), message: 'Add seed-flow' });
    await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'staging' });
    const next = seededRandom(20261208);
    // The first, unkilled run tells how long a command takes on this machine; kills then land anywhere in that span.
    let span = 0;
    const outcomes = { killed: 0, finished: 0, resumed: 0 };
    const created: string[] = [];
    for (let i = 0; i < 20; i++) {
      const pick = next();
      const key = `flow-${i}`;
      let args: string[];
      if (pick < 0.45) {
        await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key });
        args = ['commit', '-m', `Add ${key}`];
      } else if (pick < 0.75) args = ['promote', 'staging', '--yes'];
      else if (pick < 0.9) args = ['promote', 'production', '--yes'];
      else args = ['rollback', 'staging', '--yes'];
      const afterJournal = i > 0 && next() < 0.6;
      const run = await runKilled(dir, args, i === 0 ? 60_000 : afterJournal ? next() * 20 : next() * span, afterJournal);
      if (i === 0) span = Math.max(run.ms, 300);
      if (run.code === null) outcomes.killed += 1;
      else outcomes.finished += 1;
      // The next command finishes (or undoes) whatever the killed one left, before anything else.
      const status = await cli(dir, ['status']);
      expect(status.exitCode, status.stderr).toBe(0);
      if (status.stderr.includes('interrupted')) outcomes.resumed += 1;
      await git(dir, 'fsck', '--no-progress');
      await assertChain(dir, ENVS);
      await assertPromotionsRecorded(dir);
      if (args[0] === 'commit') created.push(key);
      // A commit that did not land left its new folder untouched (no origin_environment line); the next commit takes it.
      const committed = new Set((await git(dir, 'ls-tree', '--name-only', 'development', 'workflows/')).split('\n').map((p) => p.slice('workflows/'.length)));
      const waiting = created.filter((k) => !committed.has(k));
      for (const k of waiting) expect(await readFile(`${dir}/workflows/${k}/workflow.yaml`, 'utf8')).not.toMatch(/origin_environment/);
      const porcelain = (await git(dir, 'status', '--porcelain')).split('\n').filter((l) => l !== '').sort();
      expect(porcelain, `after ${args.join(' ')}`).toEqual(waiting.map((k) => `?? workflows/${k}/`).sort());
    }
    // Every kind of outcome happened: commands killed, commands run to the end, interrupted ones finished by the next.
    expect(outcomes.killed).toBeGreaterThan(0);
    expect(outcomes.finished).toBeGreaterThan(0);
    expect(outcomes.resumed).toBeGreaterThan(0);
  }, 180_000);
});
