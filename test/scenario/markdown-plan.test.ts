import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { runDiff } from '../../src/cli/commands/diff.js';
import { runPromote } from '../../src/cli/commands/promote.js';
import { environmentDiffMarkdown, promotionMarkdown } from '../../src/cli/markdown.js';
import { commitChanges } from '../../src/core/ops/commit.js';
import { diffEnvironments } from '../../src/core/ops/diff.js';
import { createEnvironment } from '../../src/core/ops/environments.js';
import { initProject } from '../../src/core/ops/init.js';
import { planFileTexts } from '../../src/core/ops/plan-details.js';
import { planPromotion, promoteEnvironment } from '../../src/core/ops/promote.js';
import { scaffoldResource } from '../../src/core/ops/scaffold.js';
import { openProject } from '../../src/core/project.js';
import { captureIo } from '../helpers/io.js';
import { GIT_ENV, coreOptionsFor, diskFs, git, tempDir } from '../helpers/repo.js';


/** Files the Markdown names: each has a `#### ` heading. */
function filesOf(markdown: string): string[] {
  return [...markdown.matchAll(/^#### `([^`]+)` \((?:added|changed|deleted)\)$/gm)].map((m) => m[1]!).sort();
}

/** The ```diff blocks of the Markdown, as one patch. */
function patchOf(markdown: string): string {
  return [...markdown.matchAll(/^(`{3,})diff\n([\s\S]*?)\n\1$/gm)].map((m) => `${m[2]}\n`).join('');
}

/**
 * development → staging → production, production at the first state; staging
 * one step ahead with a workflow changed (a step removed, a field and a
 * template changed), one added, a guide deleted, a binary file added and a
 * development environment file.
 */
async function project(): Promise<string> {
  const dir = await tempDir();
  await initProject(coreOptionsFor(dir));
  await createEnvironment({ ...coreOptionsFor(dir), slug: 'staging' });
  await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'welcome-email' });
  await scaffoldResource({ fs: diskFs, dir, kind: 'guide', key: 'whats-new' });
  await commitChanges({ ...coreOptionsFor(dir), message: 'First resources' });
  await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'staging' });
  await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'production' });

  const main = `${dir}/workflows/welcome-email/workflow.yaml`;
  const text = await readFile(main, 'utf8');
  const feedStep = text.slice(text.indexOf('  - ref: in_app_feed_1'), text.indexOf('  - ref: email_1'));
  await writeFile(main, text.replace(feedStep, '').replace('description: Describe when this workflow runs.', 'description: Sent once, after sign-up.'));
  await rm(`${dir}/workflows/welcome-email/in_app_feed_1`, { recursive: true });
  await writeFile(`${dir}/workflows/welcome-email/email_1/html_body.html`, '<p>Hi {{ recipient.name }},</p>\n<p>```welcome``` {{ data.message }}</p>\n');
  await writeFile(`${dir}/workflows/welcome-email/email_1/logo.png`, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3]));
  await rm(`${dir}/guides/whats-new`, { recursive: true });
  await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'order-shipped' });
  await mkdir(`${dir}/environments/development`, { recursive: true });
  await writeFile(`${dir}/environments/development/variables.yaml`, 'app_url: https://dev.example.com\n');
  await commitChanges({ ...coreOptionsFor(dir), message: 'Rework the welcome email | retire the guide' });
  await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'staging' });
  return dir;
}

const MARKDOWN_ENV = { GIT_AUTHOR_NAME: 'Ada Lovelace', GIT_AUTHOR_EMAIL: 'ada@example.com' };

describe('plans as Markdown', () => {
  it('names exactly the files of git diff, shows diffs that rebuild the target, flags new and deleted resources', async () => {
    const dir = await project();
    const store = await openProject({ fs: diskFs, dir });
    const plan = await planPromotion(store, 'production');
    const markdown = promotionMarkdown(plan, await planFileTexts(store, plan));

    // --no-renames: the moved feed template would otherwise be listed under its new name only.
    const gitFiles = (await git(dir, 'diff', '--no-renames', '--name-only', 'production', 'staging')).split('\n').sort();
    expect(filesOf(markdown)).toEqual(gitFiles);
    expect(gitFiles).toContain('environments/development/variables.yaml');

    const staging = await git(dir, 'rev-parse', 'staging');
    const production = await git(dir, 'rev-parse', 'production');
    expect(markdown).toContain(`## Promote \`staging\` → \`production\``);
    expect(markdown).toContain(`| from | \`production\` at \`${production.slice(0, 7)}\` |`);
    expect(markdown).toContain(`| to | \`staging\` at \`${staging.slice(0, 7)}\` |`);
    expect(markdown).toContain('Rework the welcome email \\| retire the guide');
    expect(markdown).toContain('| `order-shipped` | workflow | **added** (new) |');
    expect(markdown).toContain('| `welcome-email` | workflow | **changed** |');
    expect(markdown).toContain('| `whats-new` | guide | **deleted** |');
    expect(markdown).toContain('> **new**: this workflow does not exist in production yet.');
    expect(markdown).toContain('> **deleted**: this guide is removed from production.');
    expect(markdown).toContain('- Fields changed: `description`');
    expect(markdown).toContain('- Steps removed: `in_app_feed_1`');
    expect(markdown).toContain('| `environments/development/variables.yaml` | environment | **added** |');
    expect(markdown).toMatch(/#### `workflows\/welcome-email\/email_1\/logo\.png` \(added\)\n\nBinary file \(8 bytes\); not shown\./);
    // A template holding ``` gets a longer fence, so the block stays whole.
    expect(markdown).toContain('````diff\n--- a/workflows/welcome-email/email_1/html_body.html');

    // Long diffs are cut, and past the size budget files are listed without a diff.
    const short = promotionMarkdown(plan, await planFileTexts(store, plan), { maxDiffLines: 6, maxDiffChars: 600 });
    const guideLines = (await git(dir, 'show', 'production:guides/whats-new/guide.yaml')).split('\n').length;
    // The guide's diff: ---, +++, @@ and one line per line of the file, of which 6 are shown.
    expect(short).toMatch(new RegExp(`^… ${guideLines + 3 - 6} more lines: \`git diff production [0-9a-f]{7} -- guides/whats-new/guide\\.yaml\`$`, 'm'));
    expect(short).toMatch(/^Diff not shown, to keep this comment within GitHub's size limit: `git diff production [0-9a-f]{7} -- workflows\/welcome-email\/workflow\.yaml`$/m);
    expect(short.length).toBeLessThan(markdown.length);
    expect(filesOf(short)).toEqual(gitFiles);

    // Applying every diff block to production's tree gives staging's tree, the binary file aside.
    const index = `${dir}/.git/markdown-plan-index`;
    const env = { ...GIT_ENV, GIT_INDEX_FILE: index };
    await execa('git', ['read-tree', 'production'], { cwd: dir, env });
    await writeFile(`${dir}/.git/markdown-plan.patch`, patchOf(markdown));
    await execa('git', ['apply', '--cached', '.git/markdown-plan.patch'], { cwd: dir, env });
    const tree = (await execa('git', ['write-tree'], { cwd: dir, env })).stdout.trim();
    expect(await git(dir, 'diff', '--name-only', tree, 'staging')).toBe('workflows/welcome-email/email_1/logo.png');
  });

  it('prints the same through promote --dry-run --format markdown and diff --format markdown; --format json is --json', async () => {
    const dir = await project();
    const store = await openProject({ fs: diskFs, dir });
    const plan = await planPromotion(store, 'production');
    const expected = promotionMarkdown(plan, await planFileTexts(store, plan));

    const promoteIo = captureIo(dir, MARKDOWN_ENV);
    expect(await runPromote(promoteIo, 'production', { dryRun: true, format: 'markdown' })).toBe(0);
    expect(promoteIo.stdout()).toBe(expected);
    expect(await git(dir, 'rev-parse', 'production')).toBe(plan.from.commit);

    const diffIo = captureIo(dir, MARKDOWN_ENV);
    expect(await runDiff(diffIo, 'production', 'development', { format: 'markdown' })).toBe(0);
    const diff = await diffEnvironments({ fs: diskFs, dir, from: 'production', to: 'development' });
    expect(diffIo.stdout()).toBe(environmentDiffMarkdown(diff, await planFileTexts(store, diff)));
    expect(filesOf(diffIo.stdout())).toEqual((await git(dir, 'diff', '--no-renames', '--name-only', 'production', 'development')).split('\n').sort());
    expect(diffIo.stdout()).toContain('## What `production` would take from `development`');

    const same = captureIo(dir, MARKDOWN_ENV);
    expect(await runDiff(same, 'staging', 'development', { format: 'markdown' })).toBe(0);
    expect(same.stdout()).toContain('No differences: `staging` and `development` have the same content.');

    for (const [a, b] of [
      [{ format: 'json' }, { json: true }],
      [{ format: 'text' }, {}],
    ] as const) {
      const [x, y] = [captureIo(dir, MARKDOWN_ENV), captureIo(dir, MARKDOWN_ENV)];
      await runDiff(x, 'production', 'staging', a);
      await runDiff(y, 'production', 'staging', b);
      expect(x.stdout()).toBe(y.stdout());
      const [p, q] = [captureIo(dir, MARKDOWN_ENV), captureIo(dir, MARKDOWN_ENV)];
      await runPromote(p, 'production', { dryRun: true, ...a });
      await runPromote(q, 'production', { dryRun: true, ...b });
      expect(p.stdout()).toBe(q.stdout());
    }
  });
});
