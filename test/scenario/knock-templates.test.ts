import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { knockResourceToFiles } from '../../src/core/knock-format/import.js';
import { commitChanges } from '../../src/core/ops/commit.js';
import { createEnvironment } from '../../src/core/ops/environments.js';
import { initProject } from '../../src/core/ops/init.js';
import { promoteEnvironment } from '../../src/core/ops/promote.js';
import { validateWorkingTree } from '../../src/core/ops/validate.js';
import { RESOURCE_TYPES, type ResourceKind } from '../../src/core/resources.js';
import { KNOCK_TEMPLATES, assertChain, coreOptionsFor, diskFs, git, tempDir, filesUnder } from '../helpers/repo.js';


describe("Knock's template library through the whole loop", () => {
  it('imports every workflow and guide, commits, promotes to production, and stays valid', async () => {
    const dir = await tempDir();
    await initProject(coreOptionsFor(dir));
    await createEnvironment({ ...coreOptionsFor(dir), slug: 'staging' });
    const imported: { kind: ResourceKind; key: string; original: Record<string, unknown> }[] = [];
    // The guides use the library's message types, so those come along (a guide's message type must exist in the tree).
    for (const [kind, folder, main] of [['workflow', 'workflows', 'workflow.json'], ['guide', 'guides', 'guide.json'], ['message-type', 'message-types', 'message_type.json']] as const) {
      for (const key of await readdir(join(KNOCK_TEMPLATES, folder))) {
        const source = await filesUnder(join(KNOCK_TEMPLATES, folder, key));
        const { files } = knockResourceToFiles(kind, key, source);
        for (const [path, content] of files) {
          const target = join(dir, folder, key, path);
          await mkdir(dirname(target), { recursive: true });
          await writeFile(target, content);
        }
        imported.push({ kind, key, original: JSON.parse(Buffer.from(source.get(main)!).toString('utf8')) });
      }
    }
    expect(imported.filter((r) => r.kind === 'workflow').length).toBeGreaterThanOrEqual(20);
    expect(imported.filter((r) => r.kind === 'guide').length).toBeGreaterThanOrEqual(4);

    const report = await validateWorkingTree({ fs: diskFs, dir });
    expect(report.issueCount, JSON.stringify(report.resources.flatMap((r) => r.issues).slice(0, 3))).toBe(0);
    const committed = await commitChanges({ ...coreOptionsFor(dir), message: 'Import the Knock template library' });
    expect(committed.resources).toHaveLength(imported.length);

    await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'staging' });
    const { plan } = await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'production' });
    expect(plan.issues).toEqual([]);
    expect(plan.resources.map((r) => r.status)).toEqual(imported.map(() => 'added'));
    await assertChain(dir, ['development', 'staging', 'production']);
    await git(dir, 'fsck', '--no-progress', '--strict');
    expect(await git(dir, 'status', '--porcelain')).toBe('');

    // What production holds is the original resource, field for field, plus its origin.
    for (const { kind, key, original } of imported) {
      const type = RESOURCE_TYPES[kind];
      const text = await git(dir, 'show', `production:${type.dir}/${key}/${type.file}`);
      const { $schema: _schema, __readonly: _readonly, ...fields } = original;
      // Message types are development's (no origin protection): they carry no origin line.
      expect(YAML.parse(text)).toEqual(type.owner === 'origin-environment' ? { origin_environment: 'development', ...fields } : fields);
    }
    for (const referenced of ['workflows/replies/email_1/visual_blocks.json', 'workflows/replies/email_1/visual_blocks/1.content.md']) {
      expect(await git(dir, 'show', `production:${referenced}`)).toBe((await readFile(join(KNOCK_TEMPLATES, referenced), 'utf8')).trimEnd());
    }
  });
});
