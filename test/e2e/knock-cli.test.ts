import { resolve } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { deployEnvironment } from '../../src/core/deploy/deploy.js';
import { commitChanges } from '../../src/core/ops/commit.js';
import { exportEnvironment } from '../../src/core/ops/export.js';
import { importKnockDirectory } from '../../src/core/ops/import.js';
import { initProject } from '../../src/core/ops/init.js';
import { KNOCK_TEMPLATES, REPO_ROOT, coreOptionsFor, diskFs, filesUnder, tempDir } from '../helpers/repo.js';
import { KnockStandin } from '../support/knock-standin.js';

const KNOCK = resolve(REPO_ROOT, 'node_modules/.bin/knock');

let standin: KnockStandin | null = null;
afterEach(async () => {
  await standin?.stop();
  standin = null;
});

describe("Knock's own CLI as a second client of the stand-in", () => {
  it('after a deploy, `knock pull` writes the same files as `knock-env export` of that environment', async () => {
    standin = await new KnockStandin().start();
    const dir = await tempDir();
    await initProject(coreOptionsFor(dir));
    await importKnockDirectory({ fs: diskFs, dir, source: KNOCK_TEMPLATES });
    await commitChanges({ ...coreOptionsFor(dir), message: 'Import the templates' });
    await deployEnvironment({ ...coreOptionsFor(dir), environment: 'development', knock: { serviceToken: standin.token, baseURL: standin.url, maxRetries: 0 } });

    const pulled = await tempDir();
    const home = await tempDir();
    const pull = await execa(KNOCK, ['pull', '--service-token', standin.token, '--api-origin', standin.url, '--environment', 'development', '--knock-dir', pulled, '--force'], {
      reject: false,
      env: { HOME: home, XDG_CONFIG_HOME: home, NO_COLOR: '1' },
      extendEnv: false,
      timeout: 120_000,
    });
    expect(pull.exitCode, `${pull.stdout}\n${pull.stderr}`).toBe(0);

    const exported = await tempDir();
    await exportEnvironment({ fs: diskFs, dir, target: exported, environment: 'development', force: true });
    for (const folder of ['workflows', 'guides']) {
      const theirs = await filesUnder(`${pulled}/${folder}`);
      const ours = await filesUnder(`${exported}/${folder}`);
      expect([...theirs.keys()].sort(), folder).toEqual([...ours.keys()].sort());
      for (const [path, bytes] of ours) {
        const other = theirs.get(path)!;
        if (path.endsWith('.json')) {
          // Knock's CLI adds __readonly (key, environment, timestamps) to the main file; the content is the same.
          const parsed = JSON.parse(other.toString('utf8')) as unknown;
          if (!Array.isArray(parsed)) delete (parsed as Record<string, unknown>).__readonly;
          expect(parsed, path).toEqual(JSON.parse(bytes.toString('utf8')));
        } else {
          expect(other.toString('utf8'), path).toBe(bytes.toString('utf8'));
        }
      }
    }
  });
});
