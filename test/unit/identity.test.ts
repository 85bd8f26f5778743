import { readFile, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { hashSecret } from '../../src/core/access.js';
import { defaultConfig } from '../../src/core/ops/init.js';
import { identifyPusher, identityConfigKey, identityEntries, pusherClaim, type PusherVerdict } from '../../src/core/server/identity.js';
import type { KnockEnvConfig } from '../../src/core/validate/config.js';
import { GIT_ENV, git, tempDir } from '../helpers/repo.js';

/**
 * Who pushed, per forge: each forge's variables name the pusher, a mapping in
 * the server repository's git config (read here from a real repository with
 * the git binary) turns a name into a member, and everyone else is refused
 * with the command that maps them.
 */

const ADA = 'ada@example.com';
const MO = 'mo@example.com';

function account(): KnockEnvConfig {
  const config = defaultConfig({ name: 'Ada Lovelace', email: ADA });
  config.members.push({ email: MO, role: 'member' });
  config.api_keys.push({ name: 'ci', environment: 'production', role: 'member', hash: hashSecret('kenv_production_secret'), created_at: '2026-01-01T00:00:00.000Z' } as KnockEnvConfig['api_keys'][number]);
  return config;
}

/** The identity mappings of a real repository written by `git config`, as the hook reads them; the same as git reads them back. */
async function mappingsOf(entries: [string, string][]): Promise<Map<string, string>> {
  const repo = await tempDir();
  await git(repo, 'init', '-q', '--bare');
  for (const [key, value] of entries) await git(repo, 'config', key, value);
  const read = identityEntries(await readFile(`${repo}/config`, 'utf8'));
  const out = await execa('git', ['config', '-z', '--get-regexp', '^knock-env\\.identity\\.'], { cwd: repo, env: GIT_ENV, reject: false });
  const byGit = new Map(out.stdout.split('\0').filter((e) => e !== '').map((e) => [e.slice(0, e.indexOf('\n')), e.slice(e.indexOf('\n') + 1)] as [string, string]));
  expect(read).toEqual(byGit);
  return read;
}

function identify(variables: Record<string, string>, identities = new Map<string, string>()): PusherVerdict {
  return identifyPusher(account(), { pusher: { variables, identities, repository: '/srv/notifications.git' } });
}

const email = (verdict: PusherVerdict): string | null => ('principal' in verdict && verdict.principal.kind === 'member' ? verdict.principal.email : null);
const refusal = (verdict: PusherVerdict) => ('refusal' in verdict ? verdict.refusal : null);

describe('the mapping key', () => {
  it('is the variable name for names git accepts there, and the subsection otherwise; git stores and reads both back', async () => {
    expect(identityConfigKey('gitlab', 'alice')).toBe('knock-env.identity.gitlab.alice');
    expect(identityConfigKey('gitlab', 'john.doe')).toBe('knock-env.identity.gitlab.john.doe.email');
    expect(identityConfigKey('gitolite', 'bob_smith')).toBe('knock-env.identity.gitolite.bob_smith.email');
    expect(identityConfigKey('github-enterprise', '1password')).toBe('knock-env.identity.github-enterprise.1password.email');
    const users = ['Alice', 'john.doe', 'bob_smith', '1password', 'carol@example.com'];
    const identities = await mappingsOf(users.map((user, i) => [identityConfigKey('gitlab', user), `user${i}@example.com`]));
    users.forEach((user, i) => expect(email(identifyPusher({ ...account(), members: [{ email: `user${i}@example.com`, role: 'member' }] }, { pusher: { variables: { GL_USERNAME: user }, identities } })), user).toBe(`user${i}@example.com`));
    // "john" is not "john.doe": the forms never collide.
    expect(refusal(identify({ GL_USERNAME: 'john' }, identities))?.reason).toBe('unmapped');
  });
});

describe('reading the mappings without git', () => {
  it('reads a hand-edited config file as git does (quotes, escapes, comments, continuations, case), then GIT_CONFIG_COUNT entries', async () => {
    const repo = await tempDir();
    await git(repo, 'init', '-q', '--bare');
    const text = [
      '[core]\n\tbare = true',
      '[Knock-Env "identity.gitlab"]',
      '\tAlice = ada@example.com ; who she is',
      '\tbob = "mo@example.com" # quoted',
      '\tcarol = "  spaced \\"x\\"  "',
      '\tdave = first\\',
      'second',
      '[knock-env "identity.gitolite.bob_smith"]',
      '\temail = mo@example.com',
      '\temail = ada@example.com',
      '[other "identity.gitlab"]\n\teve = nobody@example.com',
      '',
    ].join('\n');
    await writeFile(`${repo}/config`, text);
    const out = await execa('git', ['config', '-z', '--get-regexp', '^knock-env\\.identity\\.'], { cwd: repo, env: GIT_ENV });
    const byGit = new Map<string, string>();
    for (const entry of out.stdout.split('\0').filter((e) => e !== '')) byGit.set(entry.slice(0, entry.indexOf('\n')), entry.slice(entry.indexOf('\n') + 1));
    expect(identityEntries(text)).toEqual(byGit);
    expect(byGit.get('knock-env.identity.gitlab.carol')).toBe('  spaced "x"  ');
    expect(byGit.get('knock-env.identity.gitolite.bob_smith.email')).toBe(ADA);
    const passed = identityEntries(text, { GIT_CONFIG_COUNT: '2', GIT_CONFIG_KEY_0: 'Knock-Env.identity.github-enterprise.Octocat', GIT_CONFIG_VALUE_0: MO, GIT_CONFIG_KEY_1: 'transfer.hideRefs', GIT_CONFIG_VALUE_1: 'x' });
    expect(passed.get('knock-env.identity.github-enterprise.octocat')).toBe(MO);
    expect(passed.has('transfer.hiderefs')).toBe(false);
  });
});

describe('each forge names the pusher', () => {
  it('GitLab: GL_USERNAME, else GL_ID (user-<id>, key-<id>), through the mapping', async () => {
    const identities = await mappingsOf([[identityConfigKey('gitlab', 'mo'), MO], [identityConfigKey('gitlab', 'user-42'), ADA]]);
    expect(email(identify({ GL_USERNAME: 'mo', GL_ID: 'user-42', GL_PROTOCOL: 'ssh' }, identities))).toBe(MO);
    expect(email(identify({ GL_ID: 'user-42' }, identities))).toBe(ADA);
    const unknown = refusal(identify({ GL_USERNAME: 'eve', GL_ID: 'user-7' }, identities));
    expect(unknown?.reason).toBe('unmapped');
    expect(unknown?.message).toBe('GitLab user eve (GL_USERNAME) is not mapped to a member of the account.');
    expect(unknown?.hint).toContain('`git -C /srv/notifications.git config knock-env.identity.gitlab.eve <member-email>`');
  });

  it('GitHub Enterprise Server: GITHUB_USER_LOGIN, through the mapping', async () => {
    const identities = await mappingsOf([[identityConfigKey('github-enterprise', 'octocat'), ADA]]);
    expect(email(identify({ GITHUB_USER_LOGIN: 'octocat', GITHUB_REPO_NAME: 'org/notifications' }, identities))).toBe(ADA);
    expect(refusal(identify({ GITHUB_USER_LOGIN: 'hubot' }, identities))?.hint).toContain('config knock-env.identity.github-enterprise.hubot <member-email>');
  });

  it('Gitea and Forgejo: the email Gitea gives, unless the name is mapped (a mapping wins)', async () => {
    const identities = await mappingsOf([[identityConfigKey('gitea', 'ada'), MO]]);
    expect(email(identify({ GITEA_PUSHER_NAME: 'mo', GITEA_PUSHER_EMAIL: 'MO@example.com' }))).toBe(MO);
    expect(email(identify({ GITEA_PUSHER_NAME: 'ada', GITEA_PUSHER_EMAIL: ADA }, identities))).toBe(MO);
    const stranger = refusal(identify({ GITEA_PUSHER_NAME: 'eve', GITEA_PUSHER_EMAIL: 'eve@example.com' }));
    expect(stranger?.reason).toBe('not-a-member');
    expect(stranger?.message).toBe('eve@example.com is not a member of the account (Gitea user eve, GITEA_PUSHER_EMAIL).');
    expect(stranger?.hint).toContain('config knock-env.identity.gitea.eve <member-email>');
  });

  it('gitolite: GL_USER, mapped or itself an email', async () => {
    const identities = await mappingsOf([[identityConfigKey('gitolite', 'alice'), ADA]]);
    expect(email(identify({ GL_USER: 'alice', GL_REPO: 'notifications' }, identities))).toBe(ADA);
    expect(email(identify({ GL_USER: MO }, identities))).toBe(MO);
    expect(refusal(identify({ GL_USER: 'bob_smith' }, identities))?.hint).toContain("config knock-env.identity.gitolite.bob_smith.email <member-email>");
  });

  it('REMOTE_USER: a member email as today, or a web server user name through the remote-user mapping', async () => {
    const identities = await mappingsOf([[identityConfigKey('remote-user', 'ada'), ADA]]);
    expect(email(identifyPusher(account(), { remoteUser: MO }))).toBe(MO);
    expect(email(identify({ REMOTE_USER: 'ada' }, identities))).toBe(ADA);
    expect(refusal(identify({ REMOTE_USER: 'mallory' }, identities))?.message).toBe('user mallory (REMOTE_USER) is not mapped to a member of the account.');
    expect(refusal(identify({ REMOTE_USER: 'eve@example.com' }, identities))?.message).toBe('eve@example.com is not a member of the account (REMOTE_USER).');
  });

  it('a mapping to an email the account does not list is refused, naming the mapping', async () => {
    const identities = await mappingsOf([[identityConfigKey('gitlab', 'ghost'), 'ghost@example.com']]);
    const verdict = refusal(identify({ GL_USERNAME: 'ghost' }, identities));
    expect(verdict?.reason).toBe('not-a-member');
    expect(verdict?.message).toContain('is mapped to ghost@example.com (git config knock-env.identity.gitlab.ghost on the server)');
  });
});

describe('precedence', () => {
  it('an API key first, then the forge, then REMOTE_USER; two forges at once are refused', async () => {
    const identities = await mappingsOf([[identityConfigKey('gitolite', 'alice'), ADA]]);
    const key = identify({ KNOCK_ENV_PUSH_API_KEY: 'kenv_production_secret', GL_USERNAME: 'eve' });
    expect('principal' in key && key.principal.kind === 'key' ? key.principal.name : null).toBe('ci');
    expect(refusal(identify({ KNOCK_ENV_PUSH_API_KEY: 'wrong' }))?.reason).toBe('invalid-key');
    // gitolite over HTTP: GL_USER and REMOTE_USER both set; gitolite's name is the one taken.
    expect(email(identify({ GL_USER: 'alice', REMOTE_USER: MO }, identities))).toBe(ADA);
    const mixed = refusal(identify({ GL_USERNAME: 'alice', GITHUB_USER_LOGIN: 'alice' }, identities));
    expect(mixed?.reason).toBe('ambiguous');
    expect(mixed?.message).toContain('GL_USERNAME (GitLab: alice) and GITHUB_USER_LOGIN (GitHub Enterprise Server: alice)');
    expect(pusherClaim({ REMOTE_USER: '  ' })).toBeNull();
    expect(refusal(identify({}))?.reason).toBe('unauthenticated');
  });
});
