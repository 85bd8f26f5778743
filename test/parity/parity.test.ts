import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installServer } from '../../src/cli/commands/server.js';
import { PUSH_API_KEY_ENV } from '../../src/cli/serve.js';
import { isKnockEnvError } from '../../src/core/errors.js';
import { checkRange } from '../../src/core/ops/check.js';
import { checkoutEnvironment } from '../../src/core/ops/checkout.js';
import { commitChanges } from '../../src/core/ops/commit.js';
import { createEnvironment } from '../../src/core/ops/environments.js';
import { initProject } from '../../src/core/ops/init.js';
import { changeMember, createKey } from '../../src/core/ops/members.js';
import { promoteEnvironment } from '../../src/core/ops/promote.js';
import { rollbackEnvironment } from '../../src/core/ops/rollback.js';
import { scaffoldResource } from '../../src/core/ops/scaffold.js';
import { setAccountSetting } from '../../src/core/ops/settings.js';
import { coreOptionsFor, diskFs, GIT_ENV, git } from '../helpers/repo.js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * One table of scenarios, each run through the three entry points that judge
 * a change: `commit` in a working tree, `check` of a branch, and a plain-git
 * push to a bare repository with knock-env's pre-receive hook. Each must name
 * the same verdict codes (the policy's rule codes and the validation codes).
 * Where an entry point cannot see a scenario, the row says why.
 */

type Entry = 'commit' | 'check' | 'hook';

interface Actor {
  email?: string;
  key?: string;
}

interface Row {
  name: string;
  fixture: 'off' | 'on';
  env: string;
  as?: Actor;
  edit: (dir: string) => Promise<void>;
  expected: string[];
  /** Entry points that cannot see the scenario, with the reason. */
  skip?: Partial<Record<Entry, string>>;
}

const ADA = { name: 'Ada Lovelace', email: 'ada@example.com' };
const WELCOME = 'workflows/welcome-email/workflow.yaml';
const LEGAL = 'workflows/legal-notice/workflow.yaml';
const ROLE_UNKNOWN_TO_CHECK = 'check judges a pull request before anyone merges it: it knows no principal';

const workflow = (origin?: string, extra = '') => `${origin ? `origin_environment: ${origin}\n` : ''}name: New\ndescription: New.\nsteps: []\n${extra}`;
const put = async (dir: string, path: string, text: string) => {
  await mkdir(join(dir, path, '..'), { recursive: true });
  await writeFile(join(dir, path), text);
};
const edit = async (dir: string, path: string, change: (text: string) => string) => writeFile(join(dir, path), change(await readFile(join(dir, path), 'utf8')));
const putPartial = async (dir: string, key: string) => {
  await put(dir, `partials/${key}/partial.yaml`, 'name: Promo footer\ntype: text\ncontent@: content.txt\n');
  await put(dir, `partials/${key}/content.txt`, '{{ text | default: "Hello" }}\n');
};
const describeIt = (text: string) => text.replace('description: Describe when this workflow runs.', 'description: Changed.');

const ROWS: Row[] = [
  { name: 'an edit of a development workflow in development', fixture: 'off', env: 'development', edit: (d) => edit(d, WELCOME, describeIt), expected: [] },
  { name: 'an edit of a production-owned workflow in development', fixture: 'off', env: 'development', edit: (d) => edit(d, LEGAL, describeIt), expected: ['owned-elsewhere'] },
  { name: 'an edit of a development workflow in staging', fixture: 'off', env: 'staging', edit: (d) => edit(d, WELCOME, describeIt), expected: ['owned-elsewhere'] },
  { name: 'an edit of a development workflow in production', fixture: 'off', env: 'production', edit: (d) => edit(d, WELCOME, describeIt), expected: ['owned-elsewhere'] },
  { name: 'a deletion of a development workflow in staging', fixture: 'off', env: 'staging', edit: (d) => rm(join(d, 'workflows/welcome-email'), { recursive: true }), expected: ['owned-elsewhere'] },
  { name: 'a deletion of a development workflow in development', fixture: 'off', env: 'development', edit: (d) => rm(join(d, 'workflows/welcome-email'), { recursive: true }), expected: [] },
  { name: '(a) a key development has, created in staging', fixture: 'on', env: 'staging', edit: (d) => put(d, 'workflows/dev-only/workflow.yaml', workflow('staging')), expected: ['key-exists'] },
  { name: '(a) a key development has, created in production', fixture: 'on', env: 'production', edit: (d) => put(d, 'workflows/dev-only/workflow.yaml', workflow('production')), expected: ['key-exists'] },
  {
    name: '(b) a resource created in staging without origin_environment',
    fixture: 'on',
    env: 'staging',
    edit: (d) => put(d, 'workflows/fresh/workflow.yaml', workflow()),
    expected: ['origin-missing'],
    skip: { commit: 'commit writes origin_environment itself (tested in flow.test.ts)' },
  },
  { name: '(b) a resource created in staging with origin_environment: staging', fixture: 'on', env: 'staging', edit: (d) => put(d, 'workflows/fresh/workflow.yaml', workflow('staging')), expected: [] },
  { name: 'a resource created in staging that claims production', fixture: 'on', env: 'staging', edit: (d) => put(d, 'workflows/fresh/workflow.yaml', workflow('production')), expected: ['origin-mismatch'] },
  { name: 'a resource created above development while production write access is off', fixture: 'off', env: 'staging', edit: (d) => put(d, 'workflows/fresh/workflow.yaml', workflow('staging')), expected: ['write-access-off'] },
  { name: '(c) README.md changed in staging', fixture: 'off', env: 'staging', edit: (d) => put(d, 'README.md', '# Notes\n'), expected: ['owned-elsewhere'], skip: { commit: 'commit takes only knock-env.yaml, workflows/, guides/ and environments/' } },
  { name: '(c) README.md changed in development', fixture: 'off', env: 'development', edit: (d) => put(d, 'README.md', '# Notes\n'), expected: [], skip: { commit: 'commit takes only knock-env.yaml, workflows/, guides/ and environments/' } },
  { name: '(d) a new resource whose origin_environment names no environment', fixture: 'off', env: 'development', edit: (d) => put(d, 'workflows/fresh/workflow.yaml', workflow('uat-eu')), expected: ['unknown-origin'] },
  { name: '(d) origin_environment of an existing resource changed to no environment', fixture: 'off', env: 'development', edit: (d) => edit(d, WELCOME, (t) => t.replace('origin_environment: development', 'origin_environment: uat-eu')), expected: ['origin-changed', 'unknown-origin'] },
  { name: 'origin_environment of an existing resource changed to production', fixture: 'off', env: 'development', edit: (d) => edit(d, WELCOME, (t) => t.replace('origin_environment: development', 'origin_environment: production')), expected: ['origin-changed'] },
  { name: '(e) an invalid edit of a production-owned workflow in development', fixture: 'off', env: 'development', edit: (d) => edit(d, LEGAL, (t) => t.replace('steps:', 'steps: 3\nsteps_old:')), expected: ['owned-elsewhere', 'schema'] },
  { name: '(f) the last owner demoted with plain git', fixture: 'off', env: 'production', edit: (d) => edit(d, 'knock-env.yaml', (t) => t.replace('role: owner', 'role: admin')), expected: ['account-edit', 'config-rule'] },
  { name: 'knock-env.yaml edited in development', fixture: 'off', env: 'development', edit: (d) => edit(d, 'knock-env.yaml', (t) => t.replace('production_write_access: false', 'production_write_access: true')), expected: ['account-edit'] },
  {
    name: 'two API keys with the same name in knock-env.yaml',
    fixture: 'off',
    env: 'production',
    edit: (d) => edit(d, 'knock-env.yaml', (t) => t.replace('name: other-ci', 'name: staging-ci')),
    expected: ['account-edit', 'config-rule'],
  },
  { name: "production's variables changed in development", fixture: 'off', env: 'development', edit: (d) => put(d, 'environments/production/variables.yaml', 'app_url: https://example.com\n'), expected: ['owned-elsewhere'] },
  { name: "staging's variables changed in staging by the owner", fixture: 'off', env: 'staging', edit: (d) => put(d, 'environments/staging/variables.yaml', 'app_url: https://staging.example.com\n'), expected: [] },
  { name: "staging's variables changed in staging by a member", fixture: 'off', env: 'staging', as: { email: 'mo@example.com' }, edit: (d) => put(d, 'environments/staging/variables.yaml', 'app_url: https://staging.example.com\n'), expected: ['role'], skip: { check: ROLE_UNKNOWN_TO_CHECK } },
  { name: 'a support member edits a development workflow', fixture: 'off', env: 'development', as: { email: 'sam@example.com' }, edit: (d) => edit(d, WELCOME, describeIt), expected: ['role'], skip: { check: ROLE_UNKNOWN_TO_CHECK } },
  { name: 'a member edits a development workflow', fixture: 'off', env: 'development', as: { email: 'mo@example.com' }, edit: (d) => edit(d, WELCOME, describeIt), expected: [] },
  { name: "a staging key edits development's workflow", fixture: 'off', env: 'development', as: { key: 'staging-ci' }, edit: (d) => edit(d, WELCOME, describeIt), expected: ['role'], skip: { check: ROLE_UNKNOWN_TO_CHECK } },
  { name: "a staging key (member role) changes staging's variables", fixture: 'off', env: 'staging', as: { key: 'staging-ci' }, edit: (d) => put(d, 'environments/staging/variables.yaml', 'app_url: https://s.example.com\n'), expected: ['role'], skip: { check: ROLE_UNKNOWN_TO_CHECK } },
  { name: 'a resource folder with an invalid key', fixture: 'off', env: 'development', edit: (d) => put(d, 'workflows/Bad_Key/workflow.yaml', workflow()), expected: ['invalid-key'] },
  {
    name: 'a template whose Liquid does not parse',
    fixture: 'off',
    env: 'development',
    edit: (d) => writeFile(join(d, 'workflows/welcome-email/email_1/html_body.html'), '<p>{% for x in items %}{{ x }}</p>\n'),
    expected: ['liquid-syntax'],
  },
  { name: 'a new workflow that breaks the schema', fixture: 'off', env: 'development', edit: (d) => put(d, 'workflows/fresh/workflow.yaml', 'name: Fresh\nsteps:\n  - ref: a\n    type: chanel\n'), expected: ['schema'] },
  { name: 'a direct commit in production with write access on', fixture: 'on', env: 'production', edit: (d) => put(d, 'workflows/fresh/workflow.yaml', workflow('production')), expected: [] },
  { name: 'a production_member edits a production workflow', fixture: 'on', env: 'production', as: { email: 'pat@example.com' }, edit: (d) => edit(d, LEGAL, describeIt), expected: [] },
  { name: 'a production_member edits in development', fixture: 'on', env: 'development', as: { email: 'pat@example.com' }, edit: (d) => edit(d, WELCOME, describeIt), expected: ['role'], skip: { check: ROLE_UNKNOWN_TO_CHECK } },
  { name: 'a development workflow edited in production with write access on (origin protection)', fixture: 'on', env: 'production', edit: (d) => edit(d, WELCOME, describeIt), expected: ['owned-elsewhere'] },
  // Types without origin protection (layouts, partials, ...) belong to development; production write access does not cover them.
  { name: 'a partial created in development', fixture: 'off', env: 'development', edit: (d) => putPartial(d, 'promo-footer'), expected: [] },
  { name: 'a partial created in production with write access on', fixture: 'on', env: 'production', edit: (d) => putPartial(d, 'promo-footer'), expected: ['owned-elsewhere'] },
  { name: 'a member edits a production workflow with write access on', fixture: 'on', env: 'production', as: { email: 'mo@example.com' }, edit: (d) => edit(d, LEGAL, describeIt), expected: [] },
];

interface Fixture {
  dir: string;
  bare: string;
  keys: Record<string, string>;
}

const dirs: string[] = [];
async function temp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'knock-env-parity-'));
  dirs.push(dir);
  return dir;
}

/** development → staging → production; welcome-email from development, legal-notice from production, dev-only in development alone. */
async function fixture(writeAccess: boolean): Promise<Fixture> {
  const root = await temp();
  const dir = join(root, 'project');
  const as = () => coreOptionsFor(dir, ADA);
  await initProject(as());
  await createEnvironment({ ...as(), slug: 'staging' });
  await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'welcome-email' });
  await commitChanges({ ...as(), message: 'Welcome' });
  await promoteEnvironment({ ...as(), environment: 'staging' });
  await promoteEnvironment({ ...as(), environment: 'production' });
  await setAccountSetting({ ...as(), name: 'production-write-access', value: true });
  await checkoutEnvironment({ ...as(), environment: 'production' });
  await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'legal-notice' });
  await commitChanges({ ...as(), message: 'Legal notice' });
  await checkoutEnvironment({ ...as(), environment: 'development' });
  await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'dev-only' });
  await commitChanges({ ...as(), message: 'Not promoted yet' });
  if (writeAccess) await changeMember({ ...as(), change: { action: 'add', email: 'pat@example.com', role: 'production_member' } });
  else await setAccountSetting({ ...as(), name: 'production-write-access', value: false });
  await changeMember({ ...as(), change: { action: 'add', email: 'mo@example.com', role: 'member' } });
  await changeMember({ ...as(), change: { action: 'add', email: 'sam@example.com', role: 'support' } });
  const keys = { 'staging-ci': (await createKey({ ...as(), environment: 'staging', name: 'staging-ci' })).secret };
  await createKey({ ...as(), environment: 'development', name: 'other-ci' });
  const bare = join(root, 'project.git');
  await git(root, 'init', '--bare', '-q', bare);
  await git(dir, 'push', '-q', bare, '--all');
  await installServer(bare);
  return { dir, bare, keys };
}

const fixtures: Partial<Record<Row['fixture'], Fixture>> = {};

beforeAll(async () => {
  fixtures.off = await fixture(false);
  fixtures.on = await fixture(true);
}, 120_000);

afterAll(async () => {
  while (dirs.length > 0) await rm(dirs.pop()!, { recursive: true, force: true });
});

async function refsOf(dir: string): Promise<[string, string][]> {
  return (await git(dir, 'for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads')).split('\n').map((l) => l.split(' ') as [string, string]);
}

/** Puts the clone back as it was: every branch, the working tree, the index. */
async function restore(dir: string, refs: [string, string][], env: string): Promise<void> {
  await execa('git', ['update-ref', '--stdin'], { cwd: dir, env: GIT_ENV, input: refs.map(([ref, oid]) => `update ${ref} ${oid}\n`).join('') });
  if (env === '') return;
  await git(dir, 'checkout', '-q', '-f', env);
  await git(dir, 'clean', '-q', '-fdx');
}

const uniq = (codes: string[]) => [...new Set(codes)].sort();

async function viaCommit(f: Fixture, row: Row): Promise<string[]> {
  const actor = row.as?.email ? { name: row.as.email, email: row.as.email } : ADA;
  try {
    await commitChanges({ ...coreOptionsFor(f.dir, actor), ...(row.as?.key ? { apiKey: f.keys[row.as.key]! } : {}), message: row.name });
    return [];
  } catch (error) {
    if (!isKnockEnvError(error)) throw error;
    if (error.code === 'FORBIDDEN' && !error.data?.problems) return ['role'];
    const data = error.data as { problems?: { code: string }[]; issues?: { code: string }[] } | undefined;
    const codes = [...(data?.problems ?? []), ...(data?.issues ?? [])].map((p) => p.code);
    expect(codes.length, `${error.code}: ${error.message}`).toBeGreaterThan(0);
    return uniq(codes);
  }
}

async function viaCheck(f: Fixture, row: Row): Promise<string[]> {
  const result = await checkRange({ fs: diskFs, dir: f.dir, base: row.env, head: 'pr' });
  return uniq(result.issues.map((i) => i.rule ?? i.code));
}

async function viaHook(f: Fixture, row: Row): Promise<string[]> {
  const before = await git(f.bare, 'rev-parse', row.env);
  const env = { ...GIT_ENV, ...(row.as?.key ? { [PUSH_API_KEY_ENV]: f.keys[row.as.key]! } : { REMOTE_USER: row.as?.email ?? ADA.email }) };
  const pushed = await execa('git', ['push', '--porcelain', f.bare, `pr:refs/heads/${row.env}`], { cwd: f.dir, env, reject: false });
  if (pushed.exitCode === 0) {
    await git(f.bare, 'update-ref', `refs/heads/${row.env}`, before);
    return [];
  }
  expect(pushed.stderr).toMatch(/knock-env refused this push/);
  // Rejections without a rule (the chain: a plain-git commit above development has no merge-down pushed with it) are not verdicts.
  return uniq([...pushed.stderr.matchAll(/rule ([a-z-]+)\)/g)].map((m) => m[1]!));
}

describe('parity: commit, check and the server hook give the same verdicts', () => {
  it('holds at least 30 scenarios, every case (a) to (f) among them', () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(30);
    for (const tag of ['(a)', '(b)', '(c)', '(d)', '(e)', '(f)']) expect(ROWS.some((r) => r.name.startsWith(tag)), tag).toBe(true);
  });

  for (const row of ROWS) {
    it(row.name, async () => {
      const f = fixtures[row.fixture]!;
      const refs = await refsOf(f.dir);
      await restore(f.dir, refs, row.env);
      const got: Partial<Record<Entry, string[]>> = {};
      if (!row.skip?.commit) {
        await row.edit(f.dir);
        got.commit = await viaCommit(f, row);
        await restore(f.dir, refs, row.env);
      }
      await git(f.dir, 'checkout', '-q', '-B', 'pr', row.env);
      await row.edit(f.dir);
      await git(f.dir, 'add', '-A');
      await git(f.dir, 'commit', '-q', '-m', row.name);
      if (!row.skip?.check) got.check = await viaCheck(f, row);
      if (!row.skip?.hook) got.hook = await viaHook(f, row);
      await restore(f.dir, refs, 'development');
      await git(f.dir, 'branch', '-q', '-D', 'pr');
      const expected = uniq(row.expected);
      for (const [entry, codes] of Object.entries(got)) expect(codes, entry).toEqual(expected);
    }, 60_000);
  }
});

describe('parity: rollbacks and merge-downs', () => {
  it('a knock-env rollback is accepted by the hook; the same commit with smuggled content is refused', async () => {
    const f = fixtures.off!;
    const refs = await refsOf(f.dir);
    const as = () => coreOptionsFor(f.dir, ADA);
    await edit(f.dir, WELCOME, describeIt);
    await commitChanges({ ...as(), message: 'Change' });
    await promoteEnvironment({ ...as(), environment: 'staging' });
    await promoteEnvironment({ ...as(), environment: 'production' });
    const promoted = await git(f.dir, 'rev-parse', 'production');
    await execa('git', ['push', '-q', f.bare, 'development', 'staging', 'production'], { cwd: f.dir, env: { ...GIT_ENV, REMOTE_USER: ADA.email } });
    await rollbackEnvironment({ ...as(), environment: 'production' });
    const rollback = await git(f.dir, 'rev-parse', 'production');
    const push = (...specs: string[]) => execa('git', ['push', '--porcelain', f.bare, ...specs], { cwd: f.dir, env: { ...GIT_ENV, REMOTE_USER: ADA.email }, reject: false });
    // Smuggled: the rollback's message and parent, with content the restored state never had.
    await git(f.dir, 'checkout', '-q', '-B', 'forged', promoted);
    await git(f.dir, 'checkout', rollback, '--', '.');
    await put(f.dir, 'workflows/welcome-email/extra.txt', 'smuggled\n');
    await git(f.dir, 'add', '-A');
    await execa('git', ['commit', '-q', '-m', await git(f.dir, 'log', '-1', '--format=%B', rollback)], { cwd: f.dir, env: GIT_ENV });
    const forged = await push('forged:refs/heads/production');
    expect(forged.exitCode).not.toBe(0);
    expect([...forged.stderr.matchAll(/rule ([a-z-]+)\)/g)].map((m) => m[1])).toContain('rollback-content');
    // knock-env's own rollback, pushed with the merge-downs it made.
    const real = await push('development', 'staging', `${rollback}:refs/heads/production`);
    expect(real.exitCode, real.stderr).toBe(0);
    await restore(f.dir, refs, 'development');
    await git(f.dir, 'branch', '-q', '-D', 'forged');
    await restore(f.bare, refs, '');
  }, 120_000);

  it("a plain-git merge of development into staging is refused: development's paths reach staging by promotion", async () => {
    const f = fixtures.on!;
    const refs = await refsOf(f.dir);
    await git(f.dir, 'checkout', '-q', '-B', 'merge', 'staging');
    await execa('git', ['merge', '-q', '--no-ff', '-m', 'Merge development', 'development'], { cwd: f.dir, env: GIT_ENV });
    const pushed = await execa('git', ['push', '--porcelain', f.bare, 'merge:refs/heads/staging'], { cwd: f.dir, env: { ...GIT_ENV, REMOTE_USER: ADA.email }, reject: false });
    expect(pushed.exitCode).not.toBe(0);
    expect([...pushed.stderr.matchAll(/rule ([a-z-]+)\)/g)].map((m) => m[1])).toContain('merge-down-lower');
    await restore(f.dir, refs, 'development');
    await git(f.dir, 'branch', '-q', '-D', 'merge');
  }, 60_000);
});
