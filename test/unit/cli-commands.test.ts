import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMAND_FILES, main } from '../../src/cli/main.js';
import { RESOURCE_MODULES } from '../../src/core/resources.js';
import { captureIo } from '../helpers/io.js';

describe('the command table', () => {
  it('names every type of the registry, so that `<kind> new` loads the scaffold file alone', async () => {
    const scaffold = COMMAND_FILES.find((file) => file.names.includes('workflow'))!;
    expect([...scaffold.names].sort()).toEqual(RESOURCE_MODULES.map((type) => type.kind).sort());
    for (const type of RESOURCE_MODULES) {
      const io = captureIo(process.cwd());
      const code = await main(['node', 'knock-env', type.kind, 'new', '--help'], io);
      expect({ kind: type.kind, code }).toEqual({ kind: type.kind, code: 0 });
      expect(io.stdout()).toContain(`scaffold a valid ${type.noun}`);
    }
  });

  it('scaffolds each type through the command line into an empty folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'knock-env-scaffold-'));
    try {
      for (const type of RESOURCE_MODULES) {
        const key = type.kind === 'translation' ? 'en' : `sample-${type.kind}`;
        const io = captureIo(dir);
        expect(await main(['node', 'knock-env', type.kind, 'new', key, '--json'], io)).toBe(0);
        expect(await readdir(join(dir, type.dir))).toContain(key);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
