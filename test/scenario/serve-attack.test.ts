import { readdir, readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, GIT_ENV } from '../helpers/repo.js';
import { startTeamServer, type TeamServer } from '../helpers/server.js';

/**
 * `knock-env serve` under attack, with its own limits (5 failed logins in a
 * minute): clients come from different loopback addresses (127.0.0.x), as
 * separate machines would.
 */

let server: TeamServer;
/** Members whose tokens are issued at the same moment. */
const CREW = Array.from({ length: 5 }, (_, i) => `crew${i + 1}@example.com`);

beforeAll(async () => {
  server = await startTeamServer({ members: [{ email: 'mo@example.com', role: 'member' }, ...CREW.map((email) => ({ email, role: 'member' as const }))], staging: false, throttle: {} });
});

afterAll(async () => {
  await server?.close();
});

interface Answer {
  status: number;
  retryAfter: string | undefined;
}

/** GET /info/refs for upload-pack as `user:password`, sent from the loopback address `from`. */
function login(from: string, user: string, password: string): Promise<Answer> {
  const url = new URL(`${server.url}/info/refs?service=git-upload-pack`);
  return new Promise((resolvePromise, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, localAddress: from, headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } },
      (res) => {
        res.resume();
        res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('failed logins', () => {
  it('block an address at the fifth failure with 429 and Retry-After, a correct token from it included; other clients log in unhindered', async () => {
    const ada = server.tokens['ada@example.com']!;
    for (let i = 1; i <= 4; i++) expect((await login('127.0.0.2', 'ada@example.com', `guess-${i}`)).status).toBe(401);
    const fifth = await login('127.0.0.2', 'ada@example.com', 'guess-5');
    expect(fifth.status).toBe(429);
    expect(Number(fifth.retryAfter)).toBeGreaterThanOrEqual(55);
    expect(Number(fifth.retryAfter)).toBeLessThanOrEqual(60);
    const blocked = await login('127.0.0.2', 'ada@example.com', ada);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.retryAfter)).toBeGreaterThan(0);
    // Ada from her own machine, and Mo, are not slowed by someone else's failures.
    expect((await login('127.0.0.3', 'ada@example.com', ada)).status).toBe(200);
    expect((await login('127.0.0.4', 'mo@example.com', server.tokens['mo@example.com']!)).status).toBe(200);
    // Ada's name is under attack: a wrong guess for it from a fresh address is blocked at once, a correct login still is not.
    expect((await login('127.0.0.5', 'ada@example.com', 'guess-6')).status).toBe(429);
    expect((await login('127.0.0.6', 'ada@example.com', ada)).status).toBe(200);
  });

  it('put a user name under attack after five failures from five addresses, without blocking any of them yet', async () => {
    const mo = server.tokens['mo@example.com']!;
    for (let i = 0; i < 5; i++) expect((await login(`127.0.1.${i + 1}`, 'mo@example.com', `guess-${i}`)).status).toBe(401);
    expect((await login('127.0.1.6', 'mo@example.com', 'guess-6')).status).toBe(429);
    expect((await login('127.0.1.1', 'mo@example.com', mo)).status).toBe(200);
    expect((await login('127.0.1.7', 'Mo@Example.com', mo)).status).toBe(200);
    // API keys too: any user name, the secret as password.
    expect((await login('127.0.1.8', 'ci', 'kenv_not_a_key')).status).toBe(401);
  });
});

describe('server add-user', () => {
  it('loses no token when several run at the same moment, while serve reads the credentials: every file a reader sees is whole', async () => {
    const credentials = `${server.bare}/knock-env/credentials.json`;
    const ada = server.tokens['ada@example.com']!;
    let writing = true;
    const reads = { http: 0, file: 0 };
    const problems: string[] = [];
    const reader = (async () => {
      while (writing) {
        const answer = await login('127.0.2.1', 'ada@example.com', ada);
        if (answer.status !== 200) problems.push(`serve answered ${answer.status}`);
        reads.http++;
        try {
          JSON.parse(await readFile(credentials, 'utf8'));
        } catch (error) {
          problems.push(`credentials.json: ${String(error)}`);
        }
        reads.file++;
        await new Promise((resolvePromise) => setTimeout(resolvePromise, 20));
      }
    })();
    try {
      for (let round = 0; round < 3; round++) {
        const runs = await Promise.all(CREW.map((email) => execa('node', [BIN, 'server', 'add-user', server.bare, email, '--json'], { env: GIT_ENV, reject: false })));
        for (const run of runs) expect(run.exitCode, run.stderr).toBe(0);
        const issued = runs.map((run) => JSON.parse(run.stdout) as { email: string; token: string });
        for (const { email, token } of issued) expect((await login(`127.0.3.${round + 1}`, email, token)).status, `${email}'s token of round ${round}`).toBe(200);
        const stored = JSON.parse(await readFile(credentials, 'utf8')) as { members: { email: string }[] };
        expect(stored.members.map((m) => m.email).sort()).toEqual(['ada@example.com', 'mo@example.com', ...CREW].sort());
      }
    } finally {
      writing = false;
      await reader;
    }
    expect(problems).toEqual([]);
    expect(reads.http).toBeGreaterThan(0);
    // Nothing left behind: no lock, no temporary file.
    expect((await readdir(`${server.bare}/knock-env`)).sort()).toEqual(['credentials.json']);
  }, 60_000);
});
