import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commitChanges } from '../../src/core/ops/commit.js';
import { initProject } from '../../src/core/ops/init.js';
import { promoteEnvironment } from '../../src/core/ops/promote.js';
import { scaffoldResource } from '../../src/core/ops/scaffold.js';
import { setAccountSetting } from '../../src/core/ops/settings.js';
import { checkoutEnvironment } from '../../src/core/ops/checkout.js';
import { validateWorkingTree } from '../../src/core/ops/validate.js';
import { coreOptionsFor, diskFs, git, tempDir } from '../helpers/repo.js';

async function errorOf(promise: Promise<unknown>): Promise<{ code?: string; message?: string; data?: { issues?: { file: string; code: string; message: string }[] } }> {
  try {
    await promise;
  } catch (error) {
    return error as never;
  }
  throw new Error('expected the operation to fail');
}

/** A project whose welcome workflow uses the "transactional" layout and the "call-to-action" partial. */
async function projectWithUses(): Promise<string> {
  const dir = await tempDir();
  await initProject(coreOptionsFor(dir));
  await scaffoldResource({ fs: diskFs, dir, kind: 'layout', key: 'transactional' });
  await scaffoldResource({ fs: diskFs, dir, kind: 'partial', key: 'call-to-action' });
  await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'welcome' });
  const main = join(dir, 'workflows/welcome/workflow.yaml');
  const text = await readFile(main, 'utf8');
  await writeFile(main, text.replace('      html_body@: email_1/html_body.html\n', '      html_body@: email_1/html_body.html\n      settings:\n        layout_key: transactional\n'));
  await writeFile(join(dir, 'workflows/welcome/email_1/html_body.html'), '<p>Hi</p>\n{% render "call-to-action", text: "Start" %}\n');
  return dir;
}

describe('references between resources', () => {
  it('accepts a tree whose names resolve, and refuses to delete a layout or partial still in use, naming every user', async () => {
    const dir = await projectWithUses();
    expect((await validateWorkingTree({ fs: diskFs, dir })).issueCount).toBe(0);
    await commitChanges({ ...coreOptionsFor(dir), message: 'Welcome email with its layout' });

    await rm(join(dir, 'layouts/transactional'), { recursive: true });
    await rm(join(dir, 'partials/call-to-action'), { recursive: true });
    const report = await validateWorkingTree({ fs: diskFs, dir });
    const issues = report.resources.flatMap((r) => r.issues);
    expect(issues.map((i) => [i.code, i.file, i.line])).toEqual([
      ['unknown-reference', 'workflows/welcome/workflow.yaml', 29],
      ['unknown-reference', 'workflows/welcome/email_1/html_body.html', 2],
    ]);
    expect(issues[0]!.message).toContain('email layout "transactional"');
    expect(issues[1]!.message).toContain('partial "call-to-action"');

    const head = await git(dir, 'rev-parse', 'development');
    const refused = await errorOf(commitChanges({ ...coreOptionsFor(dir), message: 'Drop the layout' }));
    expect(refused.code).toBe('VALIDATION_FAILED');
    expect(refused.data?.issues?.map((i) => i.file)).toEqual(['workflows/welcome/workflow.yaml', 'workflows/welcome/email_1/html_body.html']);
    expect(await git(dir, 'rev-parse', 'development')).toBe(head);
  });

  it('lets templates use the default layout and built-in message types without the tree holding them; refuses unknown ones', async () => {
    const dir = await tempDir();
    await initProject(coreOptionsFor(dir));
    await scaffoldResource({ fs: diskFs, dir, kind: 'guide', key: 'tour' });
    const main = join(dir, 'guides/tour/guide.yaml');
    expect((await validateWorkingTree({ fs: diskFs, dir })).issueCount).toBe(0);
    await writeFile(main, (await readFile(main, 'utf8')).replace('schema_key: banner', 'schema_key: spotlight'));
    const issues = (await validateWorkingTree({ fs: diskFs, dir })).resources.flatMap((r) => r.issues);
    expect(issues.map((i) => [i.code, i.pointer])).toEqual([['unknown-reference', '/steps/0/schema_key']]);
    expect(issues[0]!.message).toContain('message type "spotlight"');
    await writeFile(main, (await readFile(main, 'utf8')).replace('schema_key: spotlight', 'schema_key: banner').replace('schema_variant_key: default', 'schema_variant_key: huge'));
    const variant = (await validateWorkingTree({ fs: diskFs, dir })).resources.flatMap((r) => r.issues);
    expect(variant.map((i) => i.message)).toEqual([expect.stringContaining('variant "huge" of Knock\'s built-in message type "banner"')]);
  });

  it("checks translation keys against the default locale, and keeps layouts out of production's write access", async () => {
    const dir = await projectWithUses();
    await scaffoldResource({ fs: diskFs, dir, kind: 'translation', key: 'en' });
    const body = join(dir, 'workflows/welcome/email_1/html_body.html');
    await writeFile(body, '<p>{{ "greeting" | t: name: recipient.name }}</p>\n<p>{{ "farewell" | t }}</p>\n');
    const issues = (await validateWorkingTree({ fs: diskFs, dir })).resources.flatMap((r) => r.issues);
    expect(issues.map((i) => [i.file, i.line, i.message])).toEqual([['workflows/welcome/email_1/html_body.html', 2, expect.stringContaining('"farewell"')]]);
    await writeFile(body, '<p>{{ "greeting" | t }}</p>\n');
    await commitChanges({ ...coreOptionsFor(dir), message: 'Welcome, translated' });
    // Layouts carry no origin_environment: development owns them.
    expect(await readFile(join(dir, 'layouts/transactional/layout.yaml'), 'utf8')).not.toContain('origin_environment');
    expect(await readFile(join(dir, 'workflows/welcome/workflow.yaml'), 'utf8')).toContain('origin_environment: development');

    await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'production' });
    await setAccountSetting({ ...coreOptionsFor(dir), name: 'production-write-access', value: true });
    await checkoutEnvironment({ ...coreOptionsFor(dir), environment: 'production' });
    await scaffoldResource({ fs: diskFs, dir, kind: 'layout', key: 'production-only' });
    const refused = await errorOf(commitChanges({ ...coreOptionsFor(dir), message: 'A layout in production' }));
    expect(refused.code).toBe('OWNERSHIP');
    expect(refused.message).toContain('email layouts are created in development');
  });
});
