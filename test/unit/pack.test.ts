import { mkdir, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { hashObject } from '../../src/core/git/objects.js';
import { PackReader, applyDelta } from '../../src/core/git/pack.js';
import { diskFs, git, tempDir } from '../helpers/repo.js';

describe('pack reader', () => {
  it('reads every object of a packed repository, deltas included, to the exact id git gave it', async () => {
    const dir = await tempDir();
    await git(dir, 'init', '-q', '-b', 'main');
    // Many versions of similar files make git store most of them as deltas.
    for (let version = 0; version < 12; version++) {
      for (let i = 0; i < 15; i++) {
        await mkdir(`${dir}/workflows/flow-${i}`, { recursive: true });
        const steps = Array.from({ length: 20 + version }, (_, s) => `  - ref: step_${s}\n    type: delay\n    settings: { delay_for: { unit: minutes, value: ${s * i} } }\n`).join('');
        await writeFile(`${dir}/workflows/flow-${i}/workflow.yaml`, `name: Flow ${i}\ndescription: version ${version}\nsteps:\n${steps}`);
      }
      await git(dir, 'add', '-A');
      await git(dir, 'commit', '-qm', `version ${version}`);
    }
    await git(dir, 'gc', '--aggressive', '--quiet', '--prune=now');
    const listing = (await git(dir, 'cat-file', '--batch-all-objects', '--batch-check=%(objectname) %(objecttype) %(deltabase)')).split('\n');
    const deltas = listing.filter((line) => !line.endsWith(' 0000000000000000000000000000000000000000'));
    expect(deltas.length).toBeGreaterThan(50);
    const reader = new PackReader(diskFs, `${dir}/.git`);
    for (const line of listing) {
      const [oid, type] = line.split(' ');
      const object = await reader.read(oid!);
      expect(object, oid).not.toBeNull();
      expect(object!.type).toBe(type);
      expect(hashObject(object!.type, object!.content)).toBe(oid);
    }
    expect(await reader.read('0'.repeat(40))).toBeNull();
  });

  it('applies copy and insert instructions, including the 64 KiB copy of size zero', () => {
    const base = Buffer.alloc(0x10000 + 10, 'a');
    base.write('HEAD', 0);
    // target = base[0..4) + "xyz" + base[0..0x10000)
    const sizeVarint = (n: number) => {
      const out: number[] = [];
      do {
        let byte = n & 0x7f;
        n = Math.floor(n / 128);
        if (n > 0) byte |= 0x80;
        out.push(byte);
      } while (n > 0);
      return out;
    };
    const target = 4 + 3 + 0x10000;
    const instructions = Buffer.from([
      ...sizeVarint(base.length),
      ...sizeVarint(target),
      0x90, 4, // copy offset 0 (no offset bytes), size 4
      3, 0x78, 0x79, 0x7a, // insert "xyz"
      0x80, // copy offset 0, size 0 => 0x10000
    ]);
    const out = applyDelta(base, instructions);
    expect(out.length).toBe(target);
    expect(out.subarray(0, 7).toString()).toBe('HEADxyz');
    expect(out.subarray(7).equals(base.subarray(0, 0x10000))).toBe(true);
  });
});
