import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { commitChanges } from '../../src/core/ops/commit.js';
import { diffEnvironments } from '../../src/core/ops/diff.js';
import { createEnvironment, listEnvironments } from '../../src/core/ops/environments.js';
import { initProject } from '../../src/core/ops/init.js';
import { readLog } from '../../src/core/ops/log.js';
import { promoteEnvironment } from '../../src/core/ops/promote.js';
import { rollbackEnvironment } from '../../src/core/ops/rollback.js';
import { scaffoldResource } from '../../src/core/ops/scaffold.js';
import { analyseWorkingTree } from '../../src/core/ops/analyse.js';
import { assertChain, coreOptionsFor, diskFs, git, gitCode, tempDir } from '../helpers/repo.js';

async function newProject() {
  const dir = await tempDir();
  await initProject(coreOptionsFor(dir));
  return dir;
}

async function commit(dir: string, message: string) {
  return commitChanges({ ...coreOptionsFor(dir), message });
}

async function sound(dir: string) {
  await git(dir, 'fsck', '--no-progress', '--strict');
  expect(await git(dir, 'status', '--porcelain')).toBe('');
}

describe('init', () => {
  it('creates both branches on one first commit, checked out on development', async () => {
    const dir = await newProject();
    expect(await git(dir, 'rev-parse', 'development')).toBe(await git(dir, 'rev-parse', 'production'));
    expect(await git(dir, 'symbolic-ref', '--short', 'HEAD')).toBe('development');
    expect(await git(dir, 'show', 'production:knock-env.yaml')).toMatch(/slug: development[\s\S]*slug: production/);
    expect(await git(dir, 'log', '-1', '--format=%(trailers:key=Knock-Env-Operation,valueonly)')).toBe('init');
    await sound(dir);
    await expect(initProject(coreOptionsFor(dir))).rejects.toMatchObject({ code: 'ALREADY_INITIALISED' });
  });

  it('adopts an existing git repository, keeping its history', async () => {
    const dir = await tempDir();
    await git(dir, 'init', '-q', '-b', 'main');
    await writeFile(`${dir}/README.md`, '# notifications\n');
    await git(dir, 'add', 'README.md');
    await git(dir, 'commit', '-qm', 'readme');
    const before = await git(dir, 'rev-parse', 'HEAD');
    await initProject(coreOptionsFor(dir));
    expect(await git(dir, 'rev-parse', 'development^')).toBe(before);
    expect(await git(dir, 'ls-tree', '--name-only', 'development')).toBe('README.md\nknock-env.yaml');
    await sound(dir);
  });
});

describe('commit', () => {
  it('sets origin_environment, leaves git status clean and writes a sound commit', async () => {
    const dir = await newProject();
    await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'welcome-email' });
    await scaffoldResource({ fs: diskFs, dir, kind: 'guide', key: 'whats-new' });
    const result = await commit(dir, 'Add welcome email');
    expect(result.resources.map((r) => `${r.status} ${r.kind} ${r.key}`)).toEqual(['added guide whats-new', 'added workflow welcome-email']);
    expect(await git(dir, 'rev-parse', 'development')).toBe(result.commit);
    const committed = await git(dir, 'show', 'development:workflows/welcome-email/workflow.yaml');
    // The first key, right after the editor's schema line; the rest of the file is as it was.
    expect(committed.split('\n').slice(0, 2)).toEqual(['# yaml-language-server: $schema=../../.knock-env/schemas/workflow.schema.json', 'origin_environment: development']);
    expect(await readFile(`${dir}/workflows/welcome-email/workflow.yaml`, 'utf8')).toBe(`${committed}\n`);
    expect(await git(dir, 'ls-tree', '-r', '--name-only', 'development')).toContain('workflows/welcome-email/email_1/html_body.html');
    expect(await git(dir, 'log', '-1', '--format=%an <%ae>%n%(trailers:key=Knock-Env-Environment,valueonly)')).toBe('Ada Lovelace <ada@example.com>\ndevelopment');
    expect(await git(dir, 'rev-parse', 'production')).not.toBe(result.commit);
    await sound(dir);
    await expect(commit(dir, 'again')).rejects.toMatchObject({ code: 'NOTHING_TO_COMMIT' });
  });

  it('refuses invalid resources and writes nothing', async () => {
    const dir = await newProject();
    await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'good-one' });
    await mkdir(`${dir}/workflows/bad-one`, { recursive: true });
    await writeFile(`${dir}/workflows/bad-one/workflow.yaml`, 'name: Bad\nsteps:\n  - ref: x\n    type: chanel\n');
    const head = await git(dir, 'rev-parse', 'development');
    const error = await commit(dir, 'try').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'VALIDATION_FAILED' });
    const issues = (error as { data: { issues: { file: string }[] } }).data.issues;
    expect(issues.every((i) => i.file.startsWith('workflows/bad-one/'))).toBe(true);
    expect(await git(dir, 'rev-parse', 'development')).toBe(head);
    expect(await readFile(`${dir}/workflows/good-one/workflow.yaml`, 'utf8')).not.toContain('origin_environment');
    expect(await git(dir, 'status', '--porcelain')).toContain('workflows/');
  });

  it('refuses folders whose names are not valid keys', async () => {
    const dir = await newProject();
    await mkdir(`${dir}/workflows/Bad Key`, { recursive: true });
    await writeFile(`${dir}/workflows/Bad Key/workflow.yaml`, 'name: x\nsteps: []\n');
    await expect(commit(dir, 'bad key')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('commits only the paths given', async () => {
    const dir = await newProject();
    await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'first-one' });
    await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'second-one' });
    await commitChanges({ ...coreOptionsFor(dir), message: 'only first', paths: ['workflows/first-one'] });
    expect(await git(dir, 'ls-tree', '--name-only', 'development:workflows')).toBe('first-one');
    const status = await analyseWorkingTree({ fs: diskFs, dir });
    expect(status.resources.map((r) => r.key)).toEqual(['second-one']);
  });
});

describe('environments and promotion', () => {
  async function projectWithStaging() {
    const dir = await newProject();
    await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'welcome-email' });
    await commit(dir, 'Add welcome');
    await createEnvironment({ ...coreOptionsFor(dir), slug: 'staging' });
    return dir;
  }

  it('inserts a new environment below production, branched from the one below', async () => {
    const dir = await newProject();
    await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'welcome-email' });
    await commit(dir, 'Add welcome');
    await mkdir(`${dir}/environments/development/channels`, { recursive: true });
    await writeFile(`${dir}/environments/development/channels/postmark.yaml`, 'type: email\nprovider: postmark\nsettings:\n  api_key: { secret_env: POSTMARK_TOKEN }\n  from_address: dev@example.com\n');
    await commit(dir, 'Development email channel');
    const developmentBefore = await git(dir, 'rev-parse', 'development');
    await createEnvironment({ ...coreOptionsFor(dir), slug: 'staging' });
    const envs = await listEnvironments({ fs: diskFs, dir });
    expect(envs.map((e) => e.slug)).toEqual(['development', 'staging', 'production']);
    // staging starts from development's head (with the account change merged in), plus its own setup commit:
    // empty variables and development's channels without credentials, merged back down.
    expect(await git(dir, 'rev-parse', 'staging^')).toBe(await git(dir, 'rev-parse', 'development^'));
    expect(await git(dir, 'rev-parse', 'development^^')).toBe(developmentBefore);
    expect(await git(dir, 'show', 'staging:environments/staging/variables.yaml')).toMatch(/^\{\}$/m);
    const channel = await git(dir, 'show', 'staging:environments/staging/channels/postmark.yaml');
    expect(channel).toContain('from_address: dev@example.com');
    expect(channel.split('\n').slice(1).join('\n')).not.toContain('secret_env');
    expect(await git(dir, 'diff', '--name-only', 'staging', 'development')).toBe('');
    for (const branch of ['development', 'staging', 'production']) {
      expect(await git(dir, 'show', `${branch}:knock-env.yaml`)).toMatch(/slug: development[\s\S]*slug: staging[\s\S]*slug: production/);
    }
    await assertChain(dir, ['development', 'staging', 'production']);
    await createEnvironment({ ...coreOptionsFor(dir), slug: 'qa-env' });
    expect((await listEnvironments({ fs: diskFs, dir })).map((e) => e.slug)).toEqual(['development', 'staging', 'qa-env', 'production']);
    await assertChain(dir, ['development', 'staging', 'qa-env', 'production']);
    await expect(createEnvironment({ ...coreOptionsFor(dir), slug: 'staging' })).rejects.toMatchObject({ code: 'REFUSED' });
    for (const bad of ['../x', 'A', 'x/y', 'ab', 'a\0bc', 'knock-env']) {
      await expect(createEnvironment({ ...coreOptionsFor(dir), slug: bad })).rejects.toMatchObject({ code: 'INVALID_KEY' });
    }
    await sound(dir);
  });

  it('promotes as a fast-forward, with a plan and an audit record', async () => {
    const dir = await projectWithStaging();
    const oldProduction = await git(dir, 'rev-parse', 'production');
    const dry = await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'production', dryRun: true });
    expect(dry.promoted).toBe(false);
    expect(dry.plan.resources.map((r) => [r.key, r.status])).toEqual([['welcome-email', 'added']]);
    expect(await git(dir, 'rev-parse', 'production')).toBe(oldProduction);

    const result = await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'production' });
    expect(result.promoted).toBe(true);
    expect(await git(dir, 'rev-parse', 'production')).toBe(await git(dir, 'rev-parse', 'staging'));
    expect(await gitCode(dir, 'merge-base', '--is-ancestor', oldProduction, 'production')).toBe(0);
    expect(await git(dir, 'log', '-1', '--format=%s', 'knock-env/audit')).toMatch(/^Promote staging to production/);
    const log = await readLog({ fs: diskFs, dir, environment: 'production' });
    expect(log.entries[0]).toMatchObject({ type: 'promotion', from: oldProduction, source: 'staging' });
    await assertChain(dir, ['development', 'staging', 'production']);
    const again = await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'production' });
    expect(again.plan.upToDate).toBe(true);
    await sound(dir);
  });

  it('orders the log by history, not by the clock', async () => {
    const dir = await newProject();
    // A clock that runs backwards: sorted by time, the log would come out reversed.
    let clock = Date.parse('2031-01-01T00:00:00Z');
    const at = { ...coreOptionsFor(dir), now: () => new Date((clock -= 60_000)) };
    await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'welcome-email' });
    const first = await commitChanges({ ...at, message: 'first' });
    await promoteEnvironment({ ...at, environment: 'production' });
    const path = `${dir}/workflows/welcome-email/workflow.yaml`;
    await writeFile(path, (await readFile(path, 'utf8')).replace(/^name: .*$/m, 'name: Second'));
    const second = await commitChanges({ ...at, message: 'second' });
    await promoteEnvironment({ ...at, environment: 'production' });
    const rollback = await rollbackEnvironment({ ...at, environment: 'production' });
    const restored = await git(dir, 'rev-parse', 'production');
    const log = await readLog({ fs: diskFs, dir, environment: 'production' });
    expect(log.entries.map((e) => [e.type, e.to ?? e.id])).toEqual([
      ['rollback', restored],
      ['rollback', restored],
      ['promotion', second.commit],
      ['commit', second.commit],
      ['promotion', first.commit],
      ['commit', first.commit],
      ...log.entries.slice(6).map((e) => [e.type, e.id]),
    ]);
    expect(rollback.commit).toBe(restored);
    // The commits listed are production's first-parent history, as git shows it.
    expect(log.entries.filter((e) => e.to === undefined).map((e) => e.id)).toEqual((await git(dir, 'rev-list', '--first-parent', 'production')).split('\n'));
    // And the promotions keep the audit trail's order (newest first).
    expect(log.entries.filter((e) => e.to !== undefined).map((e) => e.id)).toEqual((await git(dir, 'rev-list', 'knock-env/audit')).split('\n'));
  });

  it('describes step changes: added, removed, changed, reordered', async () => {
    const dir = await projectWithStaging();
    const path = `${dir}/workflows/welcome-email/workflow.yaml`;
    const text = await readFile(path, 'utf8');
    // Swap the two steps, change the email subject, add a delay step.
    const [head, steps] = text.split('steps:\n');
    const [feed, email] = steps!.split(/(?= {2}- ref: email_1)/);
    const edited = `${head}steps:\n${email!.replace(/subject: .*/, 'subject: "Changed"')}${feed}  - ref: delay_1\n    type: delay\n    settings:\n      delay_for:\n        unit: hours\n        value: 1\n`;
    await writeFile(path, edited);
    await commit(dir, 'Rework welcome');
    const { plan } = await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'staging', dryRun: true });
    expect(plan.resources).toHaveLength(1);
    expect(plan.resources[0]!.steps).toEqual({ added: ['delay_1'], removed: [], changed: ['email_1'], reordered: ['email_1'] });
  });

  it('propagates deletions and shows them in the plan and in git diff', async () => {
    const dir = await projectWithStaging();
    await rm(`${dir}/workflows/welcome-email`, { recursive: true });
    await commit(dir, 'Remove welcome');
    const diff = await diffEnvironments({ fs: diskFs, dir, from: 'staging', to: 'development' });
    expect(diff.resources.map((r) => [r.key, r.status])).toEqual([['welcome-email', 'deleted']]);
    const gitFiles = (await git(dir, 'diff', '--name-only', 'staging', 'development')).split('\n');
    expect(diff.differences.map((d) => d.path)).toEqual(gitFiles);
    await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'staging' });
    expect(await git(dir, 'ls-tree', '--name-only', 'staging')).not.toContain('workflows');
  });

  it('promotes up to a chosen commit with --to, and refuses to move backwards', async () => {
    const dir = await projectWithStaging();
    const first = await git(dir, 'rev-parse', 'development');
    await scaffoldResource({ fs: diskFs, dir, kind: 'guide', key: 'later-guide' });
    await commit(dir, 'Add a guide');
    await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'staging', to: first.slice(0, 8) });
    expect(await git(dir, 'rev-parse', 'staging')).toBe(first);
    await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'staging' });
    await expect(promoteEnvironment({ ...coreOptionsFor(dir), environment: 'staging', to: first })).rejects.toMatchObject({ code: 'NOT_FAST_FORWARD' });
  });

  it('refuses a promotion that is not a fast-forward', async () => {
    const dir = await projectWithStaging();
    // A rogue commit straight on staging with plain git breaks the fast-forward.
    await git(dir, 'switch', '-q', 'staging');
    await writeFile(`${dir}/rogue.txt`, 'x\n');
    await git(dir, 'add', 'rogue.txt');
    await git(dir, 'commit', '-qm', 'rogue edit');
    await git(dir, 'switch', '-q', 'development');
    await scaffoldResource({ fs: diskFs, dir, kind: 'guide', key: 'some-guide' });
    await commit(dir, 'Add guide');
    const before = await git(dir, 'rev-parse', 'staging');
    const error = await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'staging' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'NOT_FAST_FORWARD' });
    expect((error as Error).message).toContain('rogue edit');
    expect(await git(dir, 'rev-parse', 'staging')).toBe(before);
  });

  it('brings the working tree along when the checked-out environment is promoted', async () => {
    const dir = await projectWithStaging();
    await scaffoldResource({ fs: diskFs, dir, kind: 'guide', key: 'new-guide' });
    await commit(dir, 'Add guide');
    await git(dir, 'switch', '-q', 'staging');
    await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'staging' });
    expect(await readFile(`${dir}/guides/new-guide/guide.yaml`, 'utf8')).toContain('origin_environment: development');
    await sound(dir);
  });

  it('refuses, in production, an edit of a resource created in development', async () => {
    const dir = await projectWithStaging();
    await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'production' });
    await git(dir, 'switch', '-q', 'production');
    const path = `${dir}/workflows/welcome-email/workflow.yaml`;
    await writeFile(path, (await readFile(path, 'utf8')).replace(/^description: .*$/m, 'description: hot fix'));
    const head = await git(dir, 'rev-parse', 'production');
    const error = await commit(dir, 'hot fix').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'OWNERSHIP' });
    expect((error as Error).message).toContain('development');
    expect(await git(dir, 'rev-parse', 'production')).toBe(head);
  });
});

describe('the working tree against the head, whatever plain git did meanwhile', () => {
  it('stays right after git add, git commit and git status rewrite the index', async () => {
    const dir = await newProject();
    await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'welcome-email' });
    await commit(dir, 'Add welcome');
    const path = `${dir}/workflows/welcome-email/workflow.yaml`;
    const committed = await readFile(path, 'utf8');
    const keys = async () => (await analyseWorkingTree({ fs: diskFs, dir })).resources.map((r) => `${r.status} ${r.key}`);

    // Staged with git, then the file put back: the index differs from the head, the working tree does not.
    await writeFile(path, committed.replace(/^description: .*$/m, 'description: staged'));
    await git(dir, 'add', '-A');
    await writeFile(path, committed);
    expect(await keys()).toEqual([]);

    // Committed with plain git: the head moved under knock-env.
    await writeFile(path, committed.replace(/^description: .*$/m, 'description: by git'));
    await git(dir, 'commit', '-qam', 'plain git edit');
    expect(await keys()).toEqual([]);
    await git(dir, 'status', '--porcelain');
    await writeFile(path, committed);
    expect(await keys()).toEqual(['modified welcome-email']);
    await commit(dir, 'back');
    expect(await git(dir, 'show', 'development:workflows/welcome-email/workflow.yaml')).toBe(committed.trimEnd());
    await sound(dir);
  });
});

describe('packed repositories', () => {
  it('commits, promotes and diffs after git gc has packed every object', async () => {
    const dir = await newProject();
    await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'welcome-email' });
    await commit(dir, 'Add welcome');
    await createEnvironment({ ...coreOptionsFor(dir), slug: 'staging' });
    await git(dir, 'gc', '--quiet', '--prune=now');
    expect(await git(dir, 'count-objects', '-v')).toMatch(/^count: 0$/m);
    await scaffoldResource({ fs: diskFs, dir, kind: 'guide', key: 'after-gc' });
    await commit(dir, 'Add guide after gc');
    await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'staging' });
    const { plan } = await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'production' });
    expect(plan.resources.map((r) => r.key).sort()).toEqual(['after-gc', 'welcome-email']);
    const diff = await diffEnvironments({ fs: diskFs, dir, from: 'production', to: 'development' });
    expect(diff.resources).toEqual([]);
    await assertChain(dir, ['development', 'staging', 'production']);
    await sound(dir);
  });
});
