import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { beforeEach, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/cli/commands/check.js';
import { runValidate } from '../../src/cli/commands/validate.js';
import { parseWorkflowCommand } from '../helpers/workflow-commands.js';
import { mergeBase } from '../../src/core/git/history.js';
import { checkRange, resolveRevision, type CheckIssue } from '../../src/core/ops/check.js';
import { checkoutEnvironment } from '../../src/core/ops/checkout.js';
import { commitChanges } from '../../src/core/ops/commit.js';
import { initProject } from '../../src/core/ops/init.js';
import { scaffoldResource } from '../../src/core/ops/scaffold.js';
import { setAccountSetting } from '../../src/core/ops/settings.js';
import { validateResource } from '../../src/core/validate/resource.js';
import type { ValidationIssue } from '../../src/core/validate/types.js';
import { treeReader } from '../../src/core/worktree.js';
import { captureIo } from '../helpers/io.js';
import { coreOptionsFor, diskFs, git, tempDir } from '../helpers/repo.js';


const WORKFLOW = 'workflows/welcome-email/workflow.yaml';
const LEGAL = 'workflows/legal-notice/workflow.yaml';

/**
 * development → production with:
 * - welcome-email, created in development;
 * - legal-notice, created in production (production write access was on) and merged down;
 * - production write access off again.
 * The working tree is on development; its head is returned.
 */
async function project(): Promise<{ dir: string; development: string }> {
  const dir = await tempDir();
  await initProject(coreOptionsFor(dir));
  await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'welcome-email' });
  await commitChanges({ ...coreOptionsFor(dir), message: 'Add welcome email' });
  await setAccountSetting({ ...coreOptionsFor(dir), name: 'production-write-access', value: true });
  await checkoutEnvironment({ ...coreOptionsFor(dir), environment: 'production' });
  await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'legal-notice' });
  await commitChanges({ ...coreOptionsFor(dir), message: 'Add legal notice in production' });
  await checkoutEnvironment({ ...coreOptionsFor(dir), environment: 'development' });
  await setAccountSetting({ ...coreOptionsFor(dir), name: 'production-write-access', value: false });
  expect(await git(dir, 'show', `development:${LEGAL}`)).toMatch(/^origin_environment: production$/m);
  return { dir, development: await git(dir, 'rev-parse', 'development') };
}

/** A pull request branch made with plain git off `from`, with `edit` committed on it. */
async function pullRequest(dir: string, name: string, edit: () => Promise<void>, from = 'development'): Promise<string> {
  await git(dir, 'switch', '-q', '-c', name, from);
  await edit();
  await git(dir, 'add', '-A');
  await git(dir, 'commit', '-qm', `Pull request ${name}`);
  const head = await git(dir, 'rev-parse', 'HEAD');
  await git(dir, 'switch', '-q', from);
  return head;
}

async function check(dir: string, args: { base: string; head?: string; env?: string; format: 'json' | 'github' | 'text' }) {
  const io = captureIo(dir);
  const code = await runCheck(io, args);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

/** The annotations of `--format github` output, read back into issues; the summary line last. */
/** What an annotation keeps of an issue. */
function annotated(issue: CheckIssue): ValidationIssue {
  return { file: issue.file, ...(issue.line !== undefined ? { line: issue.line } : {}), ...(issue.column !== undefined ? { column: issue.column } : {}), code: issue.code, message: issue.message };
}

function annotations(stdout: string): { issues: ValidationIssue[]; summary: string } {
  const lines = stdout.trimEnd().split('\n');
  const summary = lines.pop()!;
  expect(parseWorkflowCommand(summary)).toBeNull();
  const issues = lines.map((l) => {
    const parsed = parseWorkflowCommand(l);
    expect(parsed?.command).toBe('error');
    const p = parsed!.properties;
    return {
      file: p.file!,
      ...(p.line !== undefined ? { line: Number(p.line) } : {}),
      ...(p.col !== undefined ? { column: Number(p.col) } : {}),
      code: p.title!,
      message: parsed!.message,
    } as ValidationIssue;
  });
  return { issues, summary };
}

/** Issues as the annotations carry them (the pointer is folded into the message). */
function asAnnotated(issues: ValidationIssue[]): ValidationIssue[] {
  return issues.map(({ pointer, ...rest }) => (pointer ? { ...rest, message: `${rest.message} (at ${pointer})` } : rest));
}

describe('knock-env check: a pull request checked as its target environment would judge it', () => {
  let dir: string;
  let development: string;
  // Each test gets its own repository (temporary directories are removed after each test).
  beforeEach(async () => {
    ({ dir, development } = await project());
  });

  it('(a) passes a clean change to a development-owned workflow', async () => {
    const head = await pullRequest(dir, 'pr-clean', async () => {
      await writeFile(`${dir}/workflows/welcome-email/email_1/html_body.html`, '<p>Welcome, {{ recipient.name }}!</p>\n');
      const text = await readFile(`${dir}/${WORKFLOW}`, 'utf8');
      await writeFile(`${dir}/${WORKFLOW}`, text.replace('description: Describe when this workflow runs.', 'description: Sent when someone signs up.'));
    });
    const result = await checkRange({ fs: diskFs, dir, base: 'development', head: 'pr-clean' });
    expect(result).toMatchObject({ base: development, head, mergeBase: development, baseRef: 'refs/heads/development', headRef: 'refs/heads/pr-clean', environment: 'development', issues: [] });
    expect(result.resources).toEqual([
      {
        kind: 'workflow',
        key: 'welcome-email',
        status: 'modified',
        valid: true,
        owner: 'development',
        files: [
          { path: 'workflows/welcome-email/email_1/html_body.html', status: 'modified' },
          { path: WORKFLOW, status: 'modified' },
        ],
        issues: [],
      },
    ]);
    expect(result.others).toEqual([]);

    const json = await check(dir, { base: 'development', head: 'pr-clean', format: 'json' });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      ok: true,
      base: development,
      head,
      mergeBase: development,
      environment: 'development',
      issueCount: 0,
      issues: [],
      resources: [{ kind: 'workflow', key: 'welcome-email', status: 'modified', valid: true }],
    });
    const github = await check(dir, { base: 'development', head: 'pr-clean', format: 'github' });
    expect(github.code).toBe(0);
    expect(annotations(github.stdout)).toEqual({
      issues: [],
      summary: `knock-env check into development (${development.slice(0, 7)}..${head.slice(0, 7)}): 1 resource and 0 other files changed; no problems`,
    });
  });

  it('(b) refuses an edit of a production-owned workflow, exit 4', async () => {
    await pullRequest(dir, 'pr-production-owned', async () => {
      const text = await readFile(`${dir}/${LEGAL}`, 'utf8');
      await writeFile(`${dir}/${LEGAL}`, text.replace('description: Describe when this workflow runs.', 'description: Terms changed.'));
    });
    const result = await checkRange({ fs: diskFs, dir, base: 'development', head: 'pr-production-owned' });
    const expected: CheckIssue[] = [
      {
        file: LEGAL,
        code: 'ownership',
        message: 'workflow "legal-notice" belongs to production (its origin environment); it cannot be changed in development.',
        rule: 'owned-elsewhere',
        owner: 'production',
        hint: 'Make the change in production: `knock-env checkout production`, edit, then `knock-env commit`.',
      },
    ];
    expect(result.issues).toEqual(expected);
    expect(result.resources).toMatchObject([{ key: 'legal-notice', status: 'modified', valid: true, owner: 'production' }]);
    const github = await check(dir, { base: 'development', head: 'pr-production-owned', format: 'github' });
    expect(github.code).toBe(4);
    expect(annotations(github.stdout).issues).toEqual(expected.map(annotated));
    expect(annotations(github.stdout).summary).toMatch(/1 ownership problem$/);
    const text = await check(dir, { base: 'development', head: 'pr-production-owned', format: 'text' });
    expect(text.code).toBe(4);
    expect(text.stdout).toContain(`${LEGAL} error workflow "legal-notice" belongs to production`);
    expect(text.stderr).toMatch(/1 ownership problem$/m);
  });

  it('(c) refuses a change under environments/production/, exit 4', async () => {
    await pullRequest(dir, 'pr-production-files', async () => {
      await mkdir(`${dir}/environments/production`, { recursive: true });
      await writeFile(`${dir}/environments/production/variables.yaml`, 'app_url: https://app.example.com\n');
    });
    const result = await checkRange({ fs: diskFs, dir, base: 'development', head: 'pr-production-files' });
    const expected: CheckIssue[] = [
      {
        file: 'environments/production/variables.yaml',
        code: 'ownership',
        message: 'environments/production/variables.yaml belongs to the production environment; it cannot be changed in development.',
        rule: 'owned-elsewhere',
        owner: 'production',
        hint: 'Make the change in production: `knock-env checkout production`, edit, then `knock-env commit`.',
      },
    ];
    expect(result.issues).toEqual(expected);
    expect(result.others).toEqual([{ path: 'environments/production/variables.yaml', status: 'added', scope: 'environment', environment: 'production', issues: expected }]);
    const github = await check(dir, { base: 'development', head: 'pr-production-files', format: 'github' });
    expect(github.code).toBe(4);
    expect(annotations(github.stdout).issues).toEqual(expected.map(annotated));
    // The same file in development's own folder is fine.
    await pullRequest(dir, 'pr-development-files', async () => {
      await mkdir(`${dir}/environments/development`, { recursive: true });
      await writeFile(`${dir}/environments/development/variables.yaml`, 'app_url: https://dev.example.com\n');
    });
    expect((await checkRange({ fs: diskFs, dir, base: 'development', head: 'pr-development-files' })).issues).toEqual([]);
  });

  it('(d) refuses any change to knock-env.yaml, exit 4', async () => {
    await pullRequest(dir, 'pr-account', async () => {
      const text = await readFile(`${dir}/knock-env.yaml`, 'utf8');
      expect(text).toContain('production_write_access: false');
      await writeFile(`${dir}/knock-env.yaml`, text.replace('production_write_access: false', 'production_write_access: true'));
    });
    const result = await checkRange({ fs: diskFs, dir, base: 'development', head: 'pr-account' });
    const expected: CheckIssue[] = [
      {
        file: 'knock-env.yaml',
        code: 'account-change',
        message: "knock-env.yaml holds the account (environments, settings, members, API keys); it is changed only through knock-env's commands, never in a commit, a pull request or a push of your own.",
        rule: 'account-edit',
        owner: 'account',
        hint: 'Change the account with knock-env (`knock-env members`, `keys`, `settings`, `env create`); discard the edit with `git checkout -- knock-env.yaml`.',
      },
    ];
    expect(result.issues).toEqual(expected);
    expect(result.others).toMatchObject([{ path: 'knock-env.yaml', status: 'modified', scope: 'account' }]);
    const github = await check(dir, { base: 'development', head: 'pr-account', format: 'github' });
    expect(github.code).toBe(4);
    expect(annotations(github.stdout).issues).toEqual(expected.map(annotated));
  });

  it('(e) reports every problem of an invalid resource with its place, exit 3', async () => {
    const head = await pullRequest(dir, 'pr-invalid', async () => {
      await mkdir(`${dir}/workflows/order-shipped`, { recursive: true });
      await writeFile(`${dir}/workflows/order-shipped/workflow.yaml`, 'name: Order shipped\nsteps:\n  - ref: email_1\n    type: chanel\n  - ref: email_2\n    type: channel\n    channel_key: email\n    channel_type: email\n    template:\n      subject: Shipped\n      html_body@: email_2/body.html\n');
    });
    const result = await checkRange({ fs: diskFs, dir, base: 'development', head: 'pr-invalid' });
    // Exactly what validating the resource in the pull request's tree finds.
    const tree = await git(dir, 'rev-parse', `${head}^{tree}`);
    const store = { fs: diskFs, dir, gitdir: `${dir}/.git`, cache: {} };
    const expected = (await validateResource({ kind: 'workflow', key: 'order-shipped', read: treeReader(store, tree) })).issues;
    expect(expected).toEqual([
      { file: 'workflows/order-shipped/workflow.yaml', line: 4, column: 11, pointer: '/steps/0/type', code: 'schema', message: expect.stringMatching(/^Unknown step type "chanel"; expected one of: channel, /) },
      {
        file: 'workflows/order-shipped/workflow.yaml',
        line: 11,
        column: 19,
        pointer: '/steps/1/template/html_body@',
        code: 'file-ref-missing',
        message: 'File reference "email_2/body.html" points to workflows/order-shipped/email_2/body.html, which does not exist.',
      },
    ]);
    expect(result.issues).toEqual(expected);
    expect(result.resources).toMatchObject([{ key: 'order-shipped', status: 'added', valid: false, owner: null }]);

    const github = await check(dir, { base: 'development', head: 'pr-invalid', format: 'github' });
    expect(github.code).toBe(3);
    expect(annotations(github.stdout).issues).toEqual(asAnnotated(expected));
    expect(annotations(github.stdout).summary).toMatch(new RegExp(`; ${expected.length} validation problems$`));
    const json = JSON.parse((await check(dir, { base: 'development', head: 'pr-invalid', format: 'json' })).stdout);
    expect(json).toMatchObject({ ok: false, issueCount: expected.length, issues: expected, resources: [{ kind: 'workflow', key: 'order-shipped', status: 'added', valid: false }] });
  });

  it('(f) checks only what the pull request changes when it merged development in', async () => {
    // The pull request starts from development, then development moves on and is merged into it.
    await git(dir, 'switch', '-q', '-c', 'pr-merge', 'development');
    await writeFile(`${dir}/workflows/welcome-email/in_app_feed_1/markdown_body.md`, 'Welcome aboard, {{ recipient.name }}!\n');
    await git(dir, 'commit', '-qam', 'Feed text');
    await git(dir, 'switch', '-q', 'development');
    await scaffoldResource({ fs: diskFs, dir, kind: 'guide', key: 'whats-new' });
    await commitChanges({ ...coreOptionsFor(dir), message: 'Add a guide' });
    const moved = await git(dir, 'rev-parse', 'development');
    await git(dir, 'switch', '-q', 'pr-merge');
    await git(dir, 'merge', '-q', '--no-edit', 'development');
    const head = await git(dir, 'rev-parse', 'HEAD');
    expect(await git(dir, 'rev-list', '--count', '--merges', `${moved}..${head}`)).toBe('1');
    await git(dir, 'switch', '-q', 'development');

    const result = await checkRange({ fs: diskFs, dir, base: 'development', head: 'pr-merge' });
    expect(result.mergeBase).toBe(moved);
    expect(result.mergeBase).toBe(await git(dir, 'merge-base', 'development', 'pr-merge'));
    expect(result.resources.map((r) => `${r.status} ${r.kind} ${r.key}`)).toEqual(['modified workflow welcome-email']);
    expect(result.issues).toEqual([]);

    // Development moves again (a production-owned edit merged down would not show either).
    await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'order-delivered' });
    await commitChanges({ ...coreOptionsFor(dir), message: 'Add another' });
    const later = await checkRange({ fs: diskFs, dir, base: 'development', head: 'pr-merge' });
    expect(later.mergeBase).toBe(moved);
    expect(later.mergeBase).toBe(await git(dir, 'merge-base', 'development', 'pr-merge'));
    expect(later.resources.map((r) => r.key)).toEqual(['welcome-email']);
    // A merge that brings a forbidden change from elsewhere is still caught.
    await pullRequest(dir, 'pr-production-owned', async () => {
      const text = await readFile(`${dir}/${LEGAL}`, 'utf8');
      await writeFile(`${dir}/${LEGAL}`, text.replace('description: Describe when this workflow runs.', 'description: Terms changed.'));
    });
    await git(dir, 'switch', '-q', 'pr-merge');
    await git(dir, 'merge', '-q', '--no-edit', 'pr-production-owned');
    await git(dir, 'switch', '-q', 'development');
    const withForbidden = await checkRange({ fs: diskFs, dir, base: 'development', head: 'pr-merge' });
    expect(withForbidden.issues.map((i) => [i.file, i.code])).toEqual([[LEGAL, 'ownership']]);
    const github = await check(dir, { base: 'development', head: 'pr-merge', format: 'github' });
    expect(github.code).toBe(4);
  });

  it('(g) refuses a new workflow in production while production write access is off', async () => {
    await pullRequest(
      dir,
      'pr-into-production',
      async () => {
        await mkdir(`${dir}/workflows/direct-edit`, { recursive: true });
        await writeFile(`${dir}/workflows/direct-edit/workflow.yaml`, 'name: Direct\nsteps: []\n');
      },
      'production',
    );
    const result = await checkRange({ fs: diskFs, dir, base: 'production', head: 'pr-into-production' });
    expect(result.environment).toBe('production');
    expect(result.issues).toEqual([
      {
        file: 'workflows/direct-edit/workflow.yaml',
        code: 'ownership',
        message: 'workflow "direct-edit" cannot be created in production: production write access is off, so workflows and guides are created in development and promoted.',
        rule: 'write-access-off',
        owner: 'development',
        hint: 'Create it in development and promote it, or ask an owner to run `knock-env settings set production-write-access on`.',
      },
    ]);
  });

  it('refuses an edited origin_environment, with its line', async () => {
    let line = 0;
    await pullRequest(dir, 'pr-origin', async () => {
      const text = await readFile(`${dir}/${WORKFLOW}`, 'utf8');
      line = text.split('\n').indexOf('origin_environment: development') + 1;
      await writeFile(`${dir}/${WORKFLOW}`, text.replace('origin_environment: development', 'origin_environment: production'));
    });
    expect(line).toBeGreaterThan(0);
    const result = await checkRange({ fs: diskFs, dir, base: 'development', head: 'pr-origin' });
    expect(result.issues).toEqual([
      {
        file: WORKFLOW,
        line,
        column: 1,
        code: 'ownership',
        message: 'workflow "welcome-email": origin_environment cannot change (it is development; the change makes it production).',
        rule: 'origin-changed',
        owner: 'development',
        hint: `Restore \`origin_environment: development\` in ${WORKFLOW}.`,
      },
    ]);
  });

  it('resolves remote-tracking branches, abbreviated ids and HEAD, and finds the environment', async () => {
    await git(dir, 'update-ref', 'refs/remotes/origin/development', 'development');
    const head = await pullRequest(dir, 'pr-clean', async () => {
      await writeFile(`${dir}/workflows/welcome-email/email_1/html_body.html`, '<p>Welcome!</p>\n');
    });
    await git(dir, 'switch', '-q', '--detach', 'pr-clean');
    try {
      const result = await checkRange({ fs: diskFs, dir, base: 'origin/development', head: 'HEAD' });
      expect(result).toMatchObject({ environment: 'development', baseRef: 'refs/remotes/origin/development', head, headRef: null });
      const short = (await git(dir, 'rev-parse', 'development')).slice(0, 8);
      expect((await checkRange({ fs: diskFs, dir, base: short })).environment).toBe('development');
    } finally {
      await git(dir, 'switch', '-q', 'development');
    }
    const store = { fs: diskFs, gitdir: `${dir}/.git`, cache: {} };
    expect(await resolveRevision(store, 'refs/heads/production')).toEqual({ oid: await git(dir, 'rev-parse', 'production'), ref: 'refs/heads/production' });
    await git(dir, 'tag', '-a', '-m', 'v1', 'v1', 'production');
    expect((await resolveRevision(store, 'v1')).oid).toBe(await git(dir, 'rev-parse', 'production'));
    await expect(resolveRevision(store, '../../etc/passwd')).rejects.toMatchObject({ code: 'USAGE' });
    await expect(resolveRevision(store, 'no-such-branch')).rejects.toMatchObject({ code: 'USAGE' });
    await expect(resolveRevision(store, 'ffffff')).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('asks for --env when the base is a commit several environments point at', async () => {
    const other = await tempDir();
    await initProject(coreOptionsFor(other));
    const root = await git(other, 'rev-parse', 'development');
    await expect(checkRange({ fs: diskFs, dir: other, base: root })).rejects.toMatchObject({ code: 'USAGE', hint: expect.stringContaining('--env') });
    expect((await checkRange({ fs: diskFs, dir: other, base: root, environment: 'production' })).environment).toBe('production');
    await expect(checkRange({ fs: diskFs, dir: other, base: root, environment: 'nowhere' })).rejects.toMatchObject({ code: 'UNKNOWN_ENVIRONMENT' });
  });

  it('finds the merge base git finds, across criss-cross merges too', async () => {
    const repo = await tempDir();
    await git(repo, 'init', '-q', '-b', 'main');
    const commit = async (name: string) => {
      await writeFile(`${repo}/${name}.txt`, `${name}\n`);
      await git(repo, 'add', '-A');
      await git(repo, 'commit', '-qm', name);
    };
    await commit('root');
    await git(repo, 'switch', '-q', '-c', 'side');
    await commit('s1');
    await git(repo, 'switch', '-q', 'main');
    await commit('m1');
    await git(repo, 'branch', 'm1-point');
    await git(repo, 'merge', '-q', '--no-edit', 'side');
    await git(repo, 'switch', '-q', 'side');
    await git(repo, 'merge', '-q', '--no-edit', 'm1-point');
    await commit('s2');
    await git(repo, 'switch', '-q', 'main');
    await commit('m2');
    const store = { fs: diskFs, gitdir: `${repo}/.git`, cache: {} };
    const oid = (ref: string) => git(repo, 'rev-parse', ref);
    for (const [a, b] of [['main', 'side'], ['main', 'm1-point'], ['side', 'm1-point'], ['main', 'main']] as const) {
      const ours = await mergeBase(store, await oid(a), await oid(b));
      const all = (await git(repo, 'merge-base', '--all', a, b)).split('\n');
      expect(all).toContain(ours);
    }
    const lone = await tempDir();
    await git(lone, 'init', '-q', '-b', 'x');
    await writeFile(`${lone}/a`, 'a');
    await git(lone, 'add', '-A');
    await git(lone, 'commit', '-qm', 'a');
    await git(lone, 'switch', '-q', '--orphan', 'y');
    await writeFile(`${lone}/b`, 'b');
    await git(lone, 'add', '-A');
    await git(lone, 'commit', '-qm', 'b');
    const loneStore = { fs: diskFs, gitdir: `${lone}/.git`, cache: {} };
    expect(await mergeBase(loneStore, await git(lone, 'rev-parse', 'x'), await git(lone, 'rev-parse', 'y'))).toBeNull();
  });
});

describe('knock-env validate --format github', () => {
  it('prints one annotation per problem and a summary, exit 3; the JSON shape is unchanged', async () => {
    const dir = await tempDir();
    await initProject(coreOptionsFor(dir));
    await mkdir(`${dir}/workflows/broken-one`, { recursive: true });
    await writeFile(`${dir}/workflows/broken-one/workflow.yaml`, 'name: One\nname: Two\nsteps: []\n');
    const io = captureIo(dir);
    expect(await runValidate(io, [], { format: 'github' })).toBe(3);
    const { issues, summary } = annotations(io.stdout());
    const jsonIo = captureIo(dir);
    expect(await runValidate(jsonIo, [], { format: 'json' })).toBe(3);
    const report = JSON.parse(jsonIo.stdout()) as { issues: ValidationIssue[] };
    expect(Object.keys(report)).toEqual(['valid', 'checked', 'issueCount', 'issues', 'resources']);
    expect(issues).toEqual(asAnnotated(report.issues));
    expect(issues[0]).toMatchObject({ file: 'workflows/broken-one/workflow.yaml', line: 2, code: 'duplicate-key' });
    expect(summary).toBe(`knock-env validate: 1 resource checked, ${issues.length} problem${issues.length === 1 ? '' : 's'} in 1 file`);
  });
});
