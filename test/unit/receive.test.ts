import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { isKnockEnvError } from '../../src/core/errors.js';
import { readObject, type GitStore } from '../../src/core/git/objects.js';
import { checkoutEnvironment } from '../../src/core/ops/checkout.js';
import { commitChanges } from '../../src/core/ops/commit.js';
import { createEnvironment } from '../../src/core/ops/environments.js';
import { initProject } from '../../src/core/ops/init.js';
import { changeMember, createKey, revokeKey } from '../../src/core/ops/members.js';
import { promoteEnvironment } from '../../src/core/ops/promote.js';
import { rollbackEnvironment } from '../../src/core/ops/rollback.js';
import { scaffoldResource } from '../../src/core/ops/scaffold.js';
import { setAccountSetting } from '../../src/core/ops/settings.js';
import { checkPush, parseHookInput, type PushVerdict } from '../../src/core/server/receive.js';
import { quarantineObjectDirs } from '../../src/cli/commands/server.js';
import { coreOptionsFor, diskFs, GIT_ENV, git, tempDir } from '../helpers/repo.js';

/**
 * The server's rules on real repositories, without a server: the "server" is
 * a bare clone; a push is offered by fetching the project's objects into it
 * (under refs/incoming/, which is no environment) and asking checkPush about
 * the ref updates, then applied with git update-ref when accepted.
 */

const ADA = 'ada@example.com';

async function project(): Promise<string> {
  const dir = await tempDir();
  const as = () => coreOptionsFor(dir);
  await initProject(as());
  await createEnvironment({ ...as(), slug: 'staging' });
  await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'welcome-email' });
  await commitChanges({ ...as(), message: 'Add welcome' });
  await promoteEnvironment({ ...as(), environment: 'staging' });
  await promoteEnvironment({ ...as(), environment: 'production' });
  await changeMember({ ...as(), change: { action: 'add', email: 'mo@example.com', role: 'member' } });
  await changeMember({ ...as(), change: { action: 'add', email: 'sam@example.com', role: 'support' } });
  return dir;
}

async function serverOf(dir: string): Promise<string> {
  const bare = `${await tempDir()}/server.git`;
  await git(dir, 'clone', '-q', '--bare', dir, bare);
  return bare;
}

const rev = async (dir: string, ref: string): Promise<string | null> => (await git(dir, 'rev-parse', '--verify', '--quiet', ref).catch(() => '')) || null;

/** Offers the project's branches `names` to the server in one push. */
async function offer(server: string, dir: string, names: string[], who: { remoteUser?: string; apiKey?: string } = { remoteUser: ADA }): Promise<PushVerdict> {
  await git(server, 'fetch', '-q', dir, '+refs/heads/*:refs/incoming/*');
  const updates = [];
  for (const name of names) updates.push({ ref: `refs/heads/${name}`, old: await rev(server, `refs/heads/${name}`), new: await rev(dir, `refs/heads/${name}`) });
  return checkPush({ store: { fs: diskFs, gitdir: server, cache: {} }, updates, ...who });
}

async function apply(server: string, dir: string, names: string[]): Promise<void> {
  for (const name of names) await git(server, 'update-ref', `refs/heads/${name}`, (await rev(dir, `refs/heads/${name}`))!);
}

/** Offers and applies each branch in turn, lowest first; every step must be accepted. */
async function pushOneByOne(server: string, dir: string, names: string[], who?: { remoteUser?: string; apiKey?: string }): Promise<void> {
  for (const name of names) {
    if ((await rev(server, `refs/heads/${name}`)) === (await rev(dir, `refs/heads/${name}`))) continue;
    const verdict = await offer(server, dir, [name], who);
    expect(verdict.rejections, name).toEqual([]);
    await apply(server, dir, [name]);
  }
}

const messages = (verdict: PushVerdict) => verdict.rejections.map((r) => `${r.ref}: ${r.message}`).join('\n');

async function plainCommit(dir: string, message: string, author = ADA): Promise<string> {
  await git(dir, 'add', '-A');
  await execa('git', ['commit', '-q', '-m', message], { cwd: dir, env: { ...GIT_ENV, GIT_AUTHOR_EMAIL: author, GIT_COMMITTER_EMAIL: author } });
  return git(dir, 'rev-parse', 'HEAD');
}

describe('who pushes', () => {
  it('refuses every update when the server did not authenticate the pusher, or does not know them', async () => {
    const dir = await project();
    const server = await serverOf(dir);
    await writeFile(`${dir}/notes.md`, 'notes\n');
    await plainCommit(dir, 'Notes');
    const none = await offer(server, dir, ['development'], {});
    expect(none.accepted).toBe(false);
    expect(messages(none)).toMatch(/the server did not authenticate the pusher/);
    expect(messages(await offer(server, dir, ['development'], { remoteUser: 'eve@example.com' }))).toMatch(/eve@example\.com is not a member/);
    expect(messages(await offer(server, dir, ['development'], { apiKey: 'kenv_development_nope' }))).toMatch(/The API key is not valid/);
    expect((await offer(server, dir, ['development'], { remoteUser: 'MO@example.com' })).accepted).toBe(true);
  });

  it('parses the hook input, all-zero ids meaning created or deleted', () => {
    const a = 'a'.repeat(40);
    expect(parseHookInput(`${'0'.repeat(40)} ${a} refs/heads/x\n${a} ${'0'.repeat(40)} refs/tags/v1\n\ngarbage\n`)).toEqual([
      { ref: 'refs/heads/x', old: null, new: a },
      { ref: 'refs/tags/v1', old: a, new: null },
    ]);
  });
});

describe('environment branches', () => {
  it("accepts knock-env env create pushed all at once or lowest first, and refuses production first (the chain)", async () => {
    const dir = await project();
    const server = await serverOf(dir);
    const other = await serverOf(dir);
    const third = await serverOf(dir);
    await createEnvironment({ ...coreOptionsFor(dir), slug: 'uat' });
    const all = ['development', 'staging', 'uat', 'production'];
    expect(messages(await offer(server, dir, all))).toBe('');
    const first = await offer(other, dir, ['production']);
    expect(messages(first)).toMatch(/refs\/heads\/production: after this push production \(\w+\) would not be an ancestor of staging/);
    await pushOneByOne(other, dir, all);
    // Creating an environment is an account change: a member cannot.
    const refused = await offer(third, dir, all, { remoteUser: 'mo@example.com' });
    expect(messages(refused)).toMatch(/You are mo@example\.com \(member\): you cannot change the account \(knock-env\.yaml\) in production/);
  });

  it('leaves feature branches and tags alone, and refuses other branches under knock-env/', async () => {
    const dir = await project();
    const server = await serverOf(dir);
    await git(dir, 'checkout', '-q', '-b', 'feature/anything', 'development');
    await mkdir(`${dir}/environments/production`, { recursive: true });
    await writeFile(`${dir}/environments/production/variables.yaml`, 'x: 1\n');
    await plainCommit(dir, 'Anything goes on a feature branch');
    await git(dir, 'branch', 'knock-env/mine');
    expect((await offer(server, dir, ['feature/anything'], { remoteUser: 'sam@example.com' })).accepted).toBe(true);
    expect(messages(await offer(server, dir, ['knock-env/mine']))).toMatch(/reserved/);
  });
});

describe('commits new to the server', () => {
  it('judges a commit by the environment its trailer names: a forged trailer does not move a change elsewhere', async () => {
    const dir = await project();
    const server = await serverOf(dir);
    await git(dir, 'checkout', '-q', 'development');
    const path = `${dir}/workflows/welcome-email/workflow.yaml`;
    await writeFile(path, (await readFile(path, 'utf8')).replace(/^description: .*$/m, 'description: forged'));
    await git(dir, 'add', '-A');
    await execa('git', ['commit', '-q', '-m', 'Edit\n\nKnock-Env-Operation: commit\nKnock-Env-Environment: production'], { cwd: dir, env: GIT_ENV });
    expect(messages(await offer(server, dir, ['development']))).toMatch(/workflow "welcome-email" belongs to development \(its origin environment\); it cannot be changed in production/);
  });

  it('treats a development commit pushed to every environment at once as a promotion: a development key cannot', async () => {
    const dir = await project();
    const key = await createKey({ ...coreOptionsFor(dir), environment: 'development', name: 'ci-dev' });
    const server = await serverOf(dir);
    const path = `${dir}/workflows/welcome-email/workflow.yaml`;
    await writeFile(path, (await readFile(path, 'utf8')).replace(/^description: .*$/m, 'description: from CI'));
    await commitChanges({ ...coreOptionsFor(dir), message: 'From CI' });
    for (const env of ['staging', 'production']) await git(dir, 'branch', '-f', env, 'development');
    const all = await offer(server, dir, ['development', 'staging', 'production'], { apiKey: key.secret });
    expect(messages(all)).toMatch(/refs\/heads\/staging: You are API key "ci-dev" .*cannot promote in staging/);
    expect(messages(all)).toMatch(/refs\/heads\/production: You are API key "ci-dev" .*cannot promote in production/);
    expect((await offer(server, dir, ['development'], { apiKey: key.secret })).accepted).toBe(true);
    // The same push by a member is a commit and two promotions, and fine.
    expect(messages(await offer(server, dir, ['development', 'staging', 'production'], { remoteUser: 'mo@example.com' }))).toBe('');
  });

  it("accepts a plain-git merge of a feature branch into development, and refuses one that brings development's changes into staging", async () => {
    const dir = await project();
    const server = await serverOf(dir);
    await git(dir, 'checkout', '-q', '-b', 'feature/copy', 'development');
    const path = `${dir}/workflows/welcome-email/workflow.yaml`;
    await writeFile(path, (await readFile(path, 'utf8')).replace(/^description: .*$/m, 'description: reviewed'));
    await plainCommit(dir, 'Reviewed copy');
    await git(dir, 'checkout', '-q', 'development');
    await execa('git', ['merge', '-q', '--no-ff', '-m', 'Merge feature/copy', 'feature/copy'], { cwd: dir, env: GIT_ENV });
    expect(messages(await offer(server, dir, ['development'], { remoteUser: 'mo@example.com' }))).toBe('');
    expect(messages(await offer(server, dir, ['development'], { remoteUser: 'sam@example.com' }))).toMatch(/the support role cannot edit/);
    await apply(server, dir, ['development']);
    await git(dir, 'checkout', '-q', 'staging');
    await execa('git', ['merge', '-q', '--no-ff', '-m', 'Merge development into staging', 'development'], { cwd: dir, env: GIT_ENV });
    expect(messages(await offer(server, dir, ['staging']))).toMatch(/The merge into staging changes workflows\/welcome-email\/workflow\.yaml, which belongs to development, an environment below staging/);
  });

  it('keeps origin_environment, and creation above development needs production write access', async () => {
    const dir = await project();
    const server = await serverOf(dir);
    const path = `${dir}/workflows/welcome-email/workflow.yaml`;
    await writeFile(path, (await readFile(path, 'utf8')).replace(/^origin_environment: .*$/m, 'origin_environment: production'));
    await plainCommit(dir, 'Take it over');
    expect(messages(await offer(server, dir, ['development']))).toMatch(/workflow "welcome-email": origin_environment cannot change \(it is development; the change makes it production\)/);
    await git(dir, 'reset', '-q', '--hard', 'HEAD~1');
    await git(dir, 'checkout', '-q', 'production');
    await mkdir(`${dir}/workflows/prod-only`, { recursive: true });
    await writeFile(`${dir}/workflows/prod-only/workflow.yaml`, 'origin_environment: production\nname: Prod only\nsteps: []\n');
    await plainCommit(dir, 'Create in production');
    expect(messages(await offer(server, dir, ['production']))).toMatch(/workflow "prod-only" cannot be created in production: production write access is off/);
  });

  it("accepts knock-env rollback, and refuses a rollback commit whose content is not the state it names", async () => {
    const dir = await project();
    const server = await serverOf(dir);
    const result = await rollbackEnvironment({ ...coreOptionsFor(dir), environment: 'production' });
    expect(result.rolledBack).toBe(true);
    expect(messages(await offer(server, dir, ['development', 'staging', 'production', 'knock-env/audit']))).toBe('');
    // Same commit message, but a workflow that was not in the restored state.
    await git(dir, 'checkout', '-q', 'production');
    await git(dir, 'reset', '-q', '--hard', 'HEAD~1');
    await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'smuggled' });
    await writeFile(`${dir}/workflows/smuggled/workflow.yaml`, `origin_environment: development\n${await readFile(`${dir}/workflows/smuggled/workflow.yaml`, 'utf8')}`);
    await git(dir, 'add', '-A');
    const message = await git(dir, 'log', '-1', '--format=%B', result.commit!);
    await execa('git', ['commit', '-q', '-m', message], { cwd: dir, env: GIT_ENV });
    expect(messages(await offer(server, dir, ['production']))).toMatch(/The rollback gives workflows\/smuggled\/[\w/.]+ content it did not have in the state it restores/);
  });
});

/**
 * A plain-git clone of `dir` in which `branch` gets a merge whose second
 * parent is `from` and whose tree is the branch's with `paths` as `from` has
 * them. Returns the clone (offer its branches) and the merge.
 */
async function mergeRestoring(dir: string, branch: string, from: string, paths: string[]): Promise<{ clone: string; merge: string }> {
  const clone = `${await tempDir()}/clone`;
  await git(dir, 'clone', '-q', dir, clone);
  await git(clone, 'checkout', '-q', '-B', branch, `origin/${branch}`);
  await git(clone, 'checkout', from, '--', ...paths);
  const merge = await git(clone, 'commit-tree', await git(clone, 'write-tree'), '-p', 'HEAD', '-p', from, '-m', `Merge ${shortOid(from)} into ${branch}`);
  await git(clone, 'reset', '-q', '--hard', merge);
  return { clone, merge };
}

const shortOid = (oid: string) => oid.slice(0, 7);

describe('content owned above the environment it reaches', () => {
  it("refuses a merge that brings back production's earlier state: the account, its files, a resource it deleted", async () => {
    const dir = await project();
    const as = () => coreOptionsFor(dir);
    await setAccountSetting({ ...as(), name: 'production-write-access', value: true });
    await changeMember({ ...as(), change: { action: 'set-role', email: 'mo@example.com', role: 'admin' } });
    await checkoutEnvironment({ ...as(), environment: 'production' });
    await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'prod-alert' });
    await mkdir(`${dir}/environments/production`, { recursive: true });
    await writeFile(`${dir}/environments/production/variables.yaml`, 'app_url: https://old.example.com\n');
    await commitChanges({ ...as(), message: 'Production alert and variables' });
    const earlier = (await rev(dir, 'production'))!;
    // Production moves on: mo is demoted, the alert deleted, the variables changed.
    await changeMember({ ...as(), change: { action: 'set-role', email: 'mo@example.com', role: 'member' } });
    await rm(`${dir}/workflows/prod-alert`, { recursive: true });
    await writeFile(`${dir}/environments/production/variables.yaml`, 'app_url: https://new.example.com\n');
    await commitChanges({ ...as(), message: 'Drop the alert, new URL' });
    await checkoutEnvironment({ ...as(), environment: 'development' });
    const server = await serverOf(dir);
    const cases = [
      { paths: ['knock-env.yaml'], path: /^knock-env\.yaml$/, owner: /\(owned by the account, committed on production\)/, hint: /^Change the account in production with knock-env/ },
      { paths: ['environments/production/variables.yaml'], path: /^environments\/production\/variables\.yaml$/, owner: /\(owned by production\)/, hint: /^Change it in production with knock-env/ },
      { paths: ['workflows/prod-alert'], path: /^workflows\/prod-alert\//, owner: /\(owned by production\)/, hint: /^Change it in production with knock-env/ },
    ];
    for (const { paths, path, owner, hint } of cases) {
      const { clone, merge } = await mergeRestoring(dir, 'development', earlier, paths);
      // Not a matter of role: the owner is refused as well as the demoted member.
      for (const who of [{ remoteUser: 'mo@example.com' }, { remoteUser: ADA }]) {
        const verdict = await offer(server, clone, ['development'], who);
        expect(verdict.accepted, paths[0]).toBe(false);
        const refusal = verdict.rejections.find((r) => r.commit === merge && path.test(r.path ?? ''));
        expect(refusal, messages(verdict)).toBeDefined();
        expect(refusal!.message).toMatch(/^The merge into development gives \S+ /);
        expect(refusal!.message).toMatch(owner);
        expect(refusal!.message).toMatch(/content that is neither production's current content nor that of a commit made for production on top of its current head/);
        expect(refusal!.environment).toBe('production');
        expect(refusal!.hint).toMatch(hint);
      }
      // Pushed to every environment at once: refused all the same.
      for (const env of ['staging', 'production']) await git(clone, 'branch', '-f', env, merge);
      expect((await offer(server, clone, ['development', 'staging', 'production'])).accepted, paths[0]).toBe(false);
    }
  });

  it('refuses to move an environment onto content its owner no longer has, when it is on the server already', async () => {
    const dir = await project();
    const as = () => coreOptionsFor(dir);
    const before = (await rev(dir, 'production'))!;
    await createKey({ ...as(), environment: 'staging', name: 'ci-old' });
    const withKey = (await rev(dir, 'production'))!;
    await revokeKey({ ...as(), name: 'ci-old' });
    // A server whose development took the merge before this rule (development is not checked by a fast-forward of staging).
    const { clone, merge } = await mergeRestoring(dir, 'development', withKey, ['knock-env.yaml']);
    const server = await serverOf(dir);
    await git(server, 'fetch', '-q', clone, '+refs/heads/*:refs/incoming/*');
    await apply(server, clone, ['development']);
    expect(before).not.toBe(withKey);
    for (const env of ['staging', 'production']) await git(clone, 'branch', '-f', env, merge);
    // Staging on its own; production with staging (the chain), where production's own update is the one refused.
    for (const [env, names] of [['staging', ['staging']], ['production', ['staging', 'production']]] as const) {
      const verdict = await offer(server, clone, [...names]);
      expect(verdict.accepted).toBe(false);
      const refusals = verdict.rejections.filter((r) => r.ref === `refs/heads/${env}`);
      expect(refusals.map((r) => r.message)).toEqual([
        `${env} would get knock-env.yaml (owned by the account, committed on production) with content that is neither production's current content nor that of a commit made for production on top of its current head; ${env} takes it only as production has it or is about to get it.`,
      ]);
      expect(refusals[0]).toMatchObject({ path: 'knock-env.yaml', environment: 'production' });
      expect(refusals[0]!.hint).toMatch(/^Make the change in production with knock-env/);
    }
  });

  it("takes an account change as production's pending commit, lowest first or all at once, needs the account role to bring it up, and not once production moved past it", async () => {
    const dir = await project();
    const as = () => coreOptionsFor(dir);
    const server = await serverOf(dir);
    const base = (await rev(dir, 'production'))!;
    await createKey({ ...as(), environment: 'staging', name: 'ci-pending' });
    const pending = (await rev(dir, 'production'))!;
    // knock-env's client order: the merge-downs arrive first, production's own commit last.
    await pushOneByOne(server, dir, ['development', 'staging']);
    expect(await rev(server, 'refs/heads/production')).toBe(base);
    // Moving production onto it, or promoting it from staging, is the account change itself: a member cannot.
    const byMember = await offer(server, dir, ['production'], { remoteUser: 'mo@example.com' });
    expect(messages(byMember)).toMatch(/You are mo@example\.com \(member\): you cannot move production onto a change of the account \(knock-env\.yaml\) in production/);
    await git(dir, 'branch', '-f', 'production', 'staging');
    expect(messages(await offer(server, dir, ['production'], { remoteUser: 'mo@example.com' }))).toMatch(/you cannot move production onto a change of the account/);
    expect(messages(await offer(server, dir, ['production']))).toBe('');
    await git(dir, 'branch', '-f', 'production', pending);

    // The same state all at once, on a copy of the server: accepted for the owner.
    const copy = `${await tempDir()}/copy.git`;
    await git(server, 'clone', '-q', '--bare', server, copy);
    expect(messages(await offer(copy, dir, ['development', 'staging', 'production']))).toBe('');

    // Production moves past it instead: another account change, made on production as the server has it.
    await git(dir, 'branch', '-f', 'production', base);
    await changeMember({ ...as(), change: { action: 'add', email: 'pat@example.com', role: 'member' } });
    await pushOneByOne(server, dir, ['development', 'staging', 'production']);
    expect(await git(server, 'show', 'production:knock-env.yaml')).not.toMatch(/name: ci-pending/);
    // The overtaken commit is in every branch's history but no longer pending: its knock-env.yaml does not come back.
    const { clone } = await mergeRestoring(dir, 'development', pending, ['knock-env.yaml']);
    expect(messages(await offer(server, clone, ['development']))).toMatch(/gives knock-env\.yaml \(owned by the account, committed on production\) content that is neither production's current content/);
  });
});

describe('object reader: further object directories', () => {
  it('reads loose and packed objects from objectDirs and info/alternates, and reports a miss as NOT_FOUND', async () => {
    const a = await tempDir();
    const b = await tempDir();
    await git(a, 'init', '-q');
    await git(b, 'init', '-q');
    await writeFile(`${b}/loose.txt`, 'only in b, loose\n');
    await writeFile(`${b}/packed.txt`, 'only in b, packed\n');
    const packed = await git(b, 'hash-object', '-w', 'packed.txt');
    await git(b, 'add', 'packed.txt');
    await git(b, 'commit', '-qm', 'packed');
    await git(b, 'repack', '-adq');
    const loose = await git(b, 'hash-object', '-w', 'loose.txt');
    const plain: GitStore = { fs: diskFs, gitdir: `${a}/.git`, cache: {} };
    for (const oid of [loose, packed]) {
      await expect(readObject(plain, oid)).rejects.toSatisfy((e: unknown) => isKnockEnvError(e, 'NOT_FOUND'));
    }
    const quarantine: GitStore = { fs: diskFs, gitdir: `${a}/.git`, cache: {}, objectDirs: [`${b}/.git/objects`] };
    expect((await readObject(quarantine, loose)).content.toString()).toBe('only in b, loose\n');
    expect((await readObject(quarantine, packed)).content.toString()).toBe('only in b, packed\n');
    await writeFile(`${a}/.git/objects/info/alternates`, `${b}/.git/objects\n`);
    const alternates: GitStore = { fs: diskFs, gitdir: `${a}/.git`, cache: {} };
    expect((await readObject(alternates, packed)).type).toBe('blob');
    await expect(readObject(alternates, 'f'.repeat(40))).rejects.toSatisfy((e: unknown) => isKnockEnvError(e, 'NOT_FOUND'));
  });

  it("takes the hook's object directories from git's quarantine variables", () => {
    const dirs = quarantineObjectDirs(
      { GIT_QUARANTINE_PATH: '/srv/r.git/objects/tmp_objdir-incoming-x', GIT_OBJECT_DIRECTORY: '/srv/r.git/objects/tmp_objdir-incoming-x', GIT_ALTERNATE_OBJECT_DIRECTORIES: '/srv/r.git/objects:"/other/ob:jects"' },
      '/srv/r.git',
      (base, path) => (path.startsWith('/') ? path : `${base}/${path}`),
    );
    expect(dirs).toEqual(['/srv/r.git/objects/tmp_objdir-incoming-x', '/other/ob:jects']);
  });
});
