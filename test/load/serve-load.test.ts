import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaffoldResource } from '../../src/core/ops/scaffold.js';
import { cli, coreOptionsFor, git, gitCode } from '../helpers/repo.js';
import { startTeamServer, type TeamServer } from '../helpers/server.js';

/**
 * A team server under load, on 127.0.0.1: CLIENTS members, each in a clone of
 * its own, run real `bin/knock-env.js` processes for KNOCK_ENV_LOAD_SECONDS
 * seconds (default 60): commits of new workflows, promotions of staging and
 * production, fetches. Checked: every success a client was told of is on the
 * server; the chain held after every push (a post-receive hook checks it with
 * git as each push lands); every refusal is a documented exit code with a
 * message, never a crash. The figures are printed at the end (the README's
 * "Under load" quotes a run).
 */

const CLIENTS = 8;
const SECONDS = Number(process.env.KNOCK_ENV_LOAD_SECONDS ?? 60);
/** One knock-env process may take this long on a loaded machine before it counts as hung. */
const OPERATION_LIMIT_MS = 180_000;
const ENVS = ['development', 'staging', 'production'];
/** Exit codes a client may get under contention: 6 (someone moved the branch first), 5 (not a fast-forward). */
const CLEAN_REFUSALS = [5, 6];

type Kind = 'commit' | 'promote staging' | 'promote production' | 'fetch';

interface Outcome {
  kind: Kind;
  client: number;
  code: number;
  /** The commit a success put on `environment`. */
  landed?: { environment: string; commit: string };
  stderr: string;
}

let server: TeamServer;
const members = Array.from({ length: CLIENTS }, (_, i) => ({ email: `client${i + 1}@example.com`, name: `Client ${i + 1}`, role: 'admin' as const }));
const chainLog = () => join(server.bare, 'chain-after-push.log');

beforeAll(async () => {
  server = await startTeamServer({ members });
  // After every accepted push, before the next one starts (serve runs one at a time), git checks the chain.
  const checks = ENVS.slice(1).map((env, i) => `git merge-base --is-ancestor refs/heads/${env} refs/heads/${ENVS[i]}`).join(' && ');
  await writeFile(join(server.bare, 'hooks', 'post-receive'), `#!/bin/sh\ncat >/dev/null\nif ${checks}; then echo ok >> '${chainLog()}'; else echo broken >> '${chainLog()}'; fi\n`, { mode: 0o755 });
}, 120_000);

afterAll(async () => {
  await server?.close();
});

async function cloneFor(client: number): Promise<{ dir: string; env: Record<string, string> }> {
  const member = members[client]!;
  const root = await server.tempDir('knock-env-load-');
  const dir = join(root, `client${client + 1}`);
  await git(root, 'clone', '-q', server.urlFor(member.email), dir);
  await git(dir, 'remote', 'set-url', 'origin', server.url);
  const env = {
    GIT_AUTHOR_NAME: member.name,
    GIT_AUTHOR_EMAIL: member.email,
    GIT_COMMITTER_NAME: member.name,
    GIT_COMMITTER_EMAIL: member.email,
    KNOCK_ENV_GIT_USERNAME: member.email,
    KNOCK_ENV_GIT_PASSWORD: server.tokens[member.email]!,
  };
  const pulled = await cli(dir, ['pull'], { env });
  if (pulled.exitCode !== 0) throw new Error(`pull in client ${client + 1}: ${pulled.stderr}`);
  return { dir, env };
}

function pick(round: number, client: number): Kind {
  const roll = (round * 7 + client * 3) % 20;
  if (roll < 9) return 'commit';
  if (roll < 12) return 'promote staging';
  if (roll < 14) return 'promote production';
  return 'fetch';
}

async function runClient(client: number, { dir, env }: { dir: string; env: Record<string, string> }, deadline: number, outcomes: Outcome[]): Promise<void> {
  for (let round = 0; Date.now() < deadline; round++) {
    const kind = pick(round, client);
    let args: string[];
    if (kind === 'commit') {
      await scaffoldResource({ ...coreOptionsFor(dir, members[client]!), kind: 'workflow', key: `load-c${client + 1}-r${round}` });
      args = ['commit', '-m', `Add load-c${client + 1}-r${round}`, '--json'];
    } else if (kind === 'fetch') args = ['fetch', '--json'];
    else args = ['promote', kind.split(' ')[1]!, '--yes', '--json'];
    const run = await cli(dir, args, { env: { ...env, KNOCK_ENV_REMOTE_TIMEOUT: String(OPERATION_LIMIT_MS / 1000) } });
    const outcome: Outcome = { kind, client, code: run.exitCode ?? -1, stderr: run.stderr };
    if (run.exitCode === 0 && kind === 'commit') {
      const result = JSON.parse(run.stdout) as { environment: string; commit: string };
      outcome.landed = { environment: result.environment, commit: result.commit };
    } else if (run.exitCode === 0 && kind.startsWith('promote')) {
      const result = JSON.parse(run.stdout) as { promoted: boolean; plan: { environment: string; to: { commit: string } } };
      if (result.promoted) outcome.landed = { environment: result.plan.environment, commit: result.plan.to.commit };
    }
    outcomes.push(outcome);
  }
}

describe(`a team server under load (${CLIENTS} clients, ${SECONDS} s)`, () => {
  it('loses no push, keeps the chain after every push, and refuses only with clean exit codes', async () => {
    const outcomes: Outcome[] = [];
    const clones = [];
    for (let client = 0; client < CLIENTS; client++) clones.push(await cloneFor(client));
    const started = Date.now();
    await Promise.all(clones.map((clone, client) => runClient(client, clone, started + SECONDS * 1000, outcomes)));
    const elapsed = Math.round((Date.now() - started) / 1000);

    const figures: Record<string, Record<string, number>> = {};
    for (const o of outcomes) {
      const row = (figures[o.kind] ??= {});
      row[`exit ${o.code}`] = (row[`exit ${o.code}`] ?? 0) + 1;
    }
    const landed = outcomes.filter((o) => o.landed).length;
    const log = (await readFile(chainLog(), 'utf8').catch(() => '')).split('\n').filter(Boolean);
    console.log(JSON.stringify({ clients: CLIENTS, seconds: SECONDS, elapsed, operations: outcomes.length, landed, pushesAccepted: log.length, byKind: figures }, null, 2));

    // Every refusal is clean: a documented code and a message, never a crash.
    for (const o of outcomes) {
      expect(o.stderr, `${o.kind} in client ${o.client + 1}`).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
      if (o.code !== 0) {
        expect(CLEAN_REFUSALS, `${o.kind} in client ${o.client + 1} exited ${o.code}: ${o.stderr}`).toContain(o.code);
        expect(o.stderr).toMatch(/\S/);
      }
    }
    // No lost push: every success a client reported is in the server's branch.
    for (const o of outcomes.filter((x) => x.landed)) {
      expect(await gitCode(server.bare, 'merge-base', '--is-ancestor', o.landed!.commit, `refs/heads/${o.landed!.environment}`), `${o.kind} of client ${o.client + 1}: ${o.landed!.commit}`).toBe(0);
    }
    // The chain held after every accepted push, and at the end; the repository is whole.
    expect(log.length).toBeGreaterThan(0);
    expect(log.filter((line) => line !== 'ok')).toEqual([]);
    for (let i = 1; i < ENVS.length; i++) expect(await gitCode(server.bare, 'merge-base', '--is-ancestor', ENVS[i]!, ENVS[i - 1]!)).toBe(0);
    expect(await gitCode(server.bare, 'fsck', '--no-dangling')).toBe(0);
    expect(outcomes.filter((o) => o.kind === 'commit' && o.code === 0).length).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o.kind === 'fetch' && o.code === 0).length).toBeGreaterThan(0);
  }, SECONDS * 1000 + OPERATION_LIMIT_MS + 240_000);
});
