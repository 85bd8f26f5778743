import { writeFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { KNOCK_TEMPLATES, cli, filesUnder, git, tempDir } from '../helpers/repo.js';
import { KnockStandin } from '../support/knock-standin.js';

let standin: KnockStandin;
beforeEach(async () => {
  standin = await new KnockStandin().start();
});
afterEach(async () => {
  await standin.stop();
});

const knockEnv = () => ({ KNOCK_SERVICE_TOKEN: standin.token, KNOCK_MGMT_BASE_URL: standin.url, KNOCK_ENV_KNOCK_RETRIES: '0' });

async function project(): Promise<string> {
  const dir = await tempDir();
  expect((await cli(dir, ['init'])).exitCode).toBe(0);
  expect((await cli(dir, ['import', KNOCK_TEMPLATES])).exitCode).toBe(0);
  expect((await cli(dir, ['commit', '-m', 'Import the templates'])).exitCode).toBe(0);
  return dir;
}

describe('knock-env deploy, drift and import --from-knock', () => {
  it('plans, refuses without a terminal or --yes, deploys with --yes, and reports drift with exit 4', async () => {
    const dir = await project();
    const dry = await cli(dir, ['deploy', 'development', '--dry-run'], { env: knockEnv() });
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toMatch(/Deploy development → Knock development/);
    expect(dry.stdout).toMatch(/\+ workflow replies {2}created → upsert and commit/);
    expect(standin.writes()).toHaveLength(0);

    const unconfirmed = await cli(dir, ['deploy', 'development'], { env: knockEnv() });
    expect(unconfirmed.exitCode).toBe(4);
    expect(unconfirmed.stderr).toMatch(/--yes/);

    const deployed = await cli(dir, ['deploy', 'development', '--yes', '--json'], { env: knockEnv() });
    expect(deployed.exitCode).toBe(0);
    const json = JSON.parse(deployed.stdout) as { deployed: boolean; writes: number; plan: { commit: string; counts: { created: number } } };
    expect(json.deployed).toBe(true);
    expect(json.writes).toBe(json.plan.counts.created);
    expect(json.plan.commit).toBe(await git(dir, 'rev-parse', 'development'));
    expect(deployed.stdout).not.toContain(standin.token);

    const inSync = await cli(dir, ['drift', 'development', '--json'], { env: knockEnv() });
    expect(inSync.exitCode).toBe(0);
    expect(JSON.parse(inSync.stdout)).toMatchObject({ inSync: true, entries: [] });

    standin.dashboardEdit('development', 'workflow', 'mentions', { ...standin.content('development', 'workflow', 'mentions')!, name: 'Edited in the dashboard' });
    const drift = await cli(dir, ['drift', 'development'], { env: knockEnv() });
    expect(drift.exitCode).toBe(4);
    expect(drift.stdout).toMatch(/uncommitted-draft +workflow mentions/);
  });

  it('reads the token from --token-file, and says what to do without one', async () => {
    const dir = await project();
    const none = await cli(dir, ['deploy', 'development', '--dry-run'], { env: { KNOCK_MGMT_BASE_URL: standin.url } });
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toMatch(/KNOCK_SERVICE_TOKEN/);
    await writeFile(`${dir}/../token`, `${standin.token}\n`);
    const withFile = await cli(dir, ['deploy', 'development', '--yes', '--token-file', '../token'], { env: { KNOCK_MGMT_BASE_URL: standin.url } });
    expect(withFile.exitCode).toBe(0);
    expect(withFile.stderr).toMatch(/read back and equal; recorded/);
    const wrong = await cli(dir, ['drift', 'development'], { env: { ...knockEnv(), KNOCK_SERVICE_TOKEN: 'sk_wrong' } });
    expect(wrong.exitCode).toBe(4);
    expect(wrong.stderr).toMatch(/refused the service token/);
  });

  it('import --from-knock writes a live environment into a fresh project, the same resources as the source', async () => {
    const source = await project();
    expect((await cli(source, ['deploy', 'development', '--yes'], { env: knockEnv() })).exitCode).toBe(0);
    const fresh = await tempDir();
    expect((await cli(fresh, ['init'])).exitCode).toBe(0);
    const imported = await cli(fresh, ['import', '--from-knock', 'development', '--json'], { env: knockEnv() });
    expect(imported.exitCode).toBe(0);
    const report = JSON.parse(imported.stdout) as { imported: number; fetched: Record<string, number> };
    expect(report.imported).toBe(report.fetched.workflow! + report.fetched.guide!);
    for (const folder of ['workflows', 'guides']) {
      const committed = await filesUnder(`${source}/${folder}`);
      const written = await filesUnder(`${fresh}/${folder}`);
      expect([...written.keys()].sort()).toEqual([...committed.keys()].sort());
      for (const [path, bytes] of committed) {
        const other = written.get(path)!.toString('utf8');
        if (path.endsWith('.yaml')) {
          const { origin_environment: _origin, ...mine } = YAML.parse(bytes.toString('utf8')) as Record<string, unknown>;
          expect(YAML.parse(other), path).toEqual(mine);
        } else if (path.endsWith('.json')) {
          expect(JSON.parse(other), path).toEqual(JSON.parse(bytes.toString('utf8')));
        } else {
          expect(other, path).toBe(bytes.toString('utf8'));
        }
      }
    }
    expect((await cli(fresh, ['import', 'x', '--from-knock', 'development'], { env: knockEnv() })).exitCode).toBe(2);
  });
});
