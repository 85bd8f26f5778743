import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import type { CoreOptions } from '../../src/core/context.js';
import { isKnockEnvError } from '../../src/core/errors.js';
import { commitChanges } from '../../src/core/ops/commit.js';
import { createEnvironment } from '../../src/core/ops/environments.js';
import { initProject } from '../../src/core/ops/init.js';
import { readLog } from '../../src/core/ops/log.js';
import { changeMember, createKey, revokeKey, whoAmI } from '../../src/core/ops/members.js';
import { promoteEnvironment } from '../../src/core/ops/promote.js';
import { rollbackEnvironment } from '../../src/core/ops/rollback.js';
import { scaffoldResource } from '../../src/core/ops/scaffold.js';
import { setAccountSetting } from '../../src/core/ops/settings.js';
import { diffEnvironments } from '../../src/core/ops/diff.js';
import { checkoutEnvironment } from '../../src/core/ops/checkout.js';
import { coreOptionsFor, diskFs, git, tempDir } from '../helpers/repo.js';

const ROLES = ['owner', 'admin', 'member', 'production_member', 'support'] as const;
type Role = (typeof ROLES)[number];
const as = (dir: string, role: Role | 'stranger'): CoreOptions => coreOptionsFor(dir, { name: role, email: `${role}@example.com` });

/** A project with staging, one promoted workflow, write access on, and one member of each role. */
async function team(): Promise<string> {
  const dir = await tempDir();
  await initProject(coreOptionsFor(dir));
  await createEnvironment({ ...coreOptionsFor(dir), slug: 'staging' });
  await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'welcome-email' });
  await commitChanges({ ...coreOptionsFor(dir), message: 'Add welcome' });
  await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'staging' });
  await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'production' });
  await setAccountSetting({ ...coreOptionsFor(dir), name: 'production-write-access', value: true });
  for (const role of ROLES) await changeMember({ ...coreOptionsFor(dir), change: { action: 'add', email: `${role}@example.com`, role } });
  return dir;
}

const refs = (dir: string) => git(dir, 'for-each-ref', '--format=%(refname) %(objectname)');

/** Runs an action; a refusal must be FORBIDDEN and leave every ref as it was. */
async function attempt(dir: string, action: () => Promise<unknown>): Promise<'allowed' | 'forbidden'> {
  const before = await refs(dir);
  try {
    await action();
    return 'allowed';
  } catch (error) {
    if (!isKnockEnvError(error, 'FORBIDDEN')) throw error;
    expect(await refs(dir)).toBe(before);
    return 'forbidden';
  }
}

async function editWelcome(dir: string, text: string) {
  const path = `${dir}/workflows/welcome-email/workflow.yaml`;
  await writeFile(path, (await readFile(path, 'utf8')).replace(/^description: .*$/m, `description: ${text}`));
}

describe('roles against commands and environments (DESIGN.md section 6)', () => {
  const expected: Record<string, Record<Role, 'allowed' | 'forbidden'>> = {
    'commit in development': { owner: 'allowed', admin: 'allowed', member: 'allowed', production_member: 'forbidden', support: 'forbidden' },
    'commit in production': { owner: 'allowed', admin: 'allowed', member: 'allowed', production_member: 'allowed', support: 'forbidden' },
    'promote staging': { owner: 'allowed', admin: 'allowed', member: 'allowed', production_member: 'forbidden', support: 'forbidden' },
    'promote production': { owner: 'allowed', admin: 'allowed', member: 'allowed', production_member: 'allowed', support: 'forbidden' },
    'roll back production': { owner: 'allowed', admin: 'allowed', member: 'allowed', production_member: 'allowed', support: 'forbidden' },
    'read development': { owner: 'allowed', admin: 'allowed', member: 'allowed', production_member: 'forbidden', support: 'allowed' },
    'change settings': { owner: 'allowed', admin: 'allowed', member: 'forbidden', production_member: 'forbidden', support: 'forbidden' },
    'create an environment': { owner: 'allowed', admin: 'allowed', member: 'forbidden', production_member: 'forbidden', support: 'forbidden' },
    'manage members': { owner: 'allowed', admin: 'allowed', member: 'forbidden', production_member: 'forbidden', support: 'forbidden' },
    'create API keys': { owner: 'allowed', admin: 'allowed', member: 'forbidden', production_member: 'forbidden', support: 'forbidden' },
  };
  const actions: Record<string, (dir: string, role: Role) => Promise<unknown>> = {
    'commit in development': async (dir, role) => {
      await editWelcome(dir, `edited by ${role}`);
      try {
        return await commitChanges({ ...as(dir, role), message: `edit by ${role}` });
      } finally {
        await git(dir, 'checkout', '--', '.');
      }
    },
    'commit in production': async (dir, role) => {
      await checkoutEnvironment({ ...coreOptionsFor(dir), environment: 'production' });
      await scaffoldResource({ fs: diskFs, dir, kind: 'guide', key: `guide-${role.replace('_', '-')}` });
      try {
        return await commitChanges({ ...as(dir, role), message: `guide by ${role}` });
      } finally {
        await git(dir, 'clean', '-fdq');
      }
    },
    'promote staging': (dir, role) => promoteEnvironment({ ...as(dir, role), environment: 'staging' }),
    'promote production': (dir, role) => promoteEnvironment({ ...as(dir, role), environment: 'production' }),
    'roll back production': (dir, role) => rollbackEnvironment({ ...as(dir, role), environment: 'production' }),
    'read development': (dir, role) => readLog({ fs: diskFs, dir, actor: as(dir, role).actor, environment: 'development' }),
    'change settings': (dir, role) => setAccountSetting({ ...as(dir, role), name: 'production-write-access', value: true }),
    'create an environment': (dir, role) => createEnvironment({ ...as(dir, role), slug: `qa-${role.replace('_', '-')}` }),
    'manage members': (dir, role) => changeMember({ ...as(dir, role), change: { action: 'add', email: `new-${role}@example.com`, role: 'member' } }),
    'create API keys': (dir, role) => createKey({ ...as(dir, role), environment: 'staging', name: `key-${role}` }),
  };

  /** Something to promote, committed by the owner before each attempt. */
  const setups: Record<string, (dir: string, role: Role) => Promise<unknown>> = {
    'promote staging': async (dir, role) => {
      await editWelcome(dir, `to promote for ${role}`);
      await commitChanges({ ...coreOptionsFor(dir), message: `to promote for ${role}` });
    },
    'promote production': async (dir, role) => {
      await editWelcome(dir, `to promote for ${role}`);
      await commitChanges({ ...coreOptionsFor(dir), message: `to promote for ${role}` });
      await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'staging' });
    },
    // A promotion of production to roll back: the rollback then succeeds for every role allowed to make it.
    'roll back production': async (dir, role) => {
      await editWelcome(dir, `to roll back for ${role}`);
      await commitChanges({ ...coreOptionsFor(dir), message: `to roll back for ${role}` });
      await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'staging' });
      await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'production' });
    },
  };

  it.each(Object.keys(expected))('%s', async (name) => {
    const dir = await team();
    const outcomes: Record<string, string> = {};
    for (const role of ROLES) {
      await setups[name]?.(dir, role);
      outcomes[role] = await attempt(dir, () => actions[name]!(dir, role));
      await checkoutEnvironment({ ...coreOptionsFor(dir), environment: 'development' });
    }
    expect(outcomes).toEqual(expected[name]);
  });

  it('refuses someone who is not a member, saying who can grant access', async () => {
    const dir = await team();
    await editWelcome(dir, 'stranger');
    const error = await commitChanges({ ...as(dir, 'stranger'), message: 'x' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'FORBIDDEN' });
    expect((error as Error).message).toContain('stranger@example.com is not a member');
    expect((error as { hint: string }).hint).toContain('ada@example.com');
  });
});

describe('rules are read from the state before the change', () => {
  it('does not let a member make themselves admin and use it in the same change', async () => {
    const dir = await team();
    // Editing knock-env.yaml by hand to grant a role is an account change: refused whoever commits it.
    const path = `${dir}/knock-env.yaml`;
    await writeFile(path, (await readFile(path, 'utf8')).replace(/email: member@example.com\n(\s*)role: member/, 'email: member@example.com\n$1role: admin'));
    const before = await refs(dir);
    const error = await commitChanges({ ...as(dir, 'member'), message: 'promote myself' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'OWNERSHIP' });
    expect(await refs(dir)).toBe(before);
    await git(dir, 'checkout', '--', 'knock-env.yaml');
    // And a member cannot grant it through the members command either.
    expect(await attempt(dir, () => changeMember({ ...as(dir, 'member'), change: { action: 'set-role', email: 'member@example.com', role: 'admin' } }))).toBe('forbidden');
  });

  it('keeps the last owner', async () => {
    const dir = await team();
    await changeMember({ ...coreOptionsFor(dir), change: { action: 'remove', email: 'owner@example.com' } });
    await expect(changeMember({ ...coreOptionsFor(dir), change: { action: 'set-role', email: 'ada@example.com', role: 'admin' } })).rejects.toMatchObject({ code: 'REFUSED' });
    await expect(changeMember({ ...coreOptionsFor(dir), change: { action: 'remove', email: 'ada@example.com' } })).rejects.toMatchObject({ code: 'REFUSED' });
  });
});

describe('API keys', () => {
  it('act in one environment only, are stored as hashes, and stop working when revoked', async () => {
    const dir = await team();
    const key = await createKey({ ...coreOptionsFor(dir), environment: 'staging', name: 'ci-staging' });
    const account = await git(dir, 'show', 'production:knock-env.yaml');
    expect(account).not.toContain(key.secret);
    expect(account).toContain('name: ci-staging');
    const withKey = { ...coreOptionsFor(dir, { name: 'CI', email: 'ci@example.com' }), apiKey: key.secret };
    expect((await whoAmI(withKey)).principal).toEqual({ kind: 'key', name: 'ci-staging', environment: 'staging', role: 'member' });
    await editWelcome(dir, 'for the key');
    await commitChanges({ ...coreOptionsFor(dir), message: 'for the key' });
    expect((await promoteEnvironment({ ...withKey, environment: 'staging' })).promoted).toBe(true);
    // Production can be neither changed nor read through the staging key.
    expect(await attempt(dir, () => promoteEnvironment({ ...withKey, environment: 'production' }))).toBe('forbidden');
    expect(await attempt(dir, () => rollbackEnvironment({ ...withKey, environment: 'production', to: 'staging' }))).toBe('forbidden');
    expect(await attempt(dir, () => readLog({ fs: diskFs, dir, apiKey: key.secret, environment: 'production' }))).toBe('forbidden');
    expect(await attempt(dir, () => diffEnvironments({ fs: diskFs, dir, apiKey: key.secret, from: 'staging', to: 'production' }))).toBe('forbidden');
    expect(await attempt(dir, () => checkoutEnvironment({ ...withKey, environment: 'production' }))).toBe('forbidden');
    await revokeKey({ ...coreOptionsFor(dir), name: 'ci-staging' });
    await expect(readLog({ fs: diskFs, dir, apiKey: key.secret, environment: 'staging' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(readLog({ fs: diskFs, dir, apiKey: 'kenv_staging_forged', environment: 'staging' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });
});
