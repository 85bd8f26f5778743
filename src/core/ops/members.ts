import type YAML from 'yaml';
import { authenticate, authorize, hashSecret, newSecret, permission, type Capability, type Principal } from '../access.js';
import type { CoreOptions } from '../context.js';
import { KnockEnvError } from '../errors.js';
import { HIGHEST_ENVIRONMENT, loadConfig, openProject, requireEnvironment } from '../project.js';
import { ROLES, type KnockEnvConfig, type Member, type Role } from '../validate/config.js';
import { commitAccountChange } from './account.js';
import { withRepositoryLock } from './shared.js';

function assertRole(role: string, config: KnockEnvConfig): Role {
  if (!(ROLES as readonly string[]).includes(role)) {
    throw new KnockEnvError('USAGE', `"${role}" is not a role.`, { hint: `Roles: ${ROLES.join(', ')}.` });
  }
  if (role === 'production_member' && !config.settings?.production_write_access) {
    throw new KnockEnvError('REFUSED', 'The production_member role exists only while production write access is on.', {
      hint: 'Turn it on first: `knock-env settings set production-write-access on`.',
    });
  }
  return role as Role;
}

function normaliseEmail(email: string): string {
  const trimmed = email.trim();
  if (!/^[^\s@<>]+@[^\s@<>]+$/.test(trimmed)) throw new KnockEnvError('USAGE', `"${email}" is not an email address.`, { hint: 'Give the address the person uses as git user.email.' });
  return trimmed;
}

export async function listMembers(options: Pick<CoreOptions, 'fs' | 'dir'>): Promise<Member[]> {
  return (await loadConfig(await openProject(options))).members ?? [];
}

type MemberChange = { action: 'add'; email: string; role: string; name?: string } | { action: 'set-role'; email: string; role: string } | { action: 'remove'; email: string };

/** Adds, re-roles or removes a member (owner or admin only; the last owner stays). */
export async function changeMember(options: CoreOptions & { change: MemberChange }): Promise<{ members: Member[]; commit: string }> {
  const project = await openProject(options);
  return withRepositoryLock(project, options, async () => {
    const config = await loadConfig(project);
    authorize(config, authenticate(config, options.actor, options.apiKey), 'manage-account', HIGHEST_ENVIRONMENT, 'manage members');
    const { change } = options;
    const email = normaliseEmail(change.email);
    const members = config.members ?? [];
    const index = members.findIndex((m) => m.email.toLowerCase() === email.toLowerCase());
    if (change.action === 'add' && index >= 0) throw new KnockEnvError('REFUSED', `${email} is already a member (${members[index]!.role}).`, { hint: 'Use `knock-env members set-role` to change the role.' });
    if (change.action !== 'add' && index < 0) throw new KnockEnvError('NOT_FOUND', `${email} is not a member.`, { hint: 'See `knock-env members list`.' });
    const role = change.action === 'remove' ? undefined : assertRole(change.role, config);
    const owners = members.filter((m) => m.role === 'owner').length;
    if (index >= 0 && members[index]!.role === 'owner' && owners === 1 && (change.action === 'remove' || role !== 'owner')) {
      throw new KnockEnvError('REFUSED', `${email} is the last owner; the project must keep one.`, { hint: 'Make someone else an owner first.' });
    }
    const result = await commitAccountChange(project, options, {
      subject: change.action === 'add' ? `Add member ${email} as ${role}` : change.action === 'set-role' ? `Make ${email} ${role}` : `Remove member ${email}`,
      operation: 'settings',
      edit: (doc: YAML.Document) => {
        if (!doc.has('members')) doc.set('members', doc.createNode([]));
        const seq = doc.get('members') as YAML.YAMLSeq;
        if (change.action === 'add') seq.items.push(doc.createNode({ email, ...(change.name ? { name: change.name } : {}), role }));
        else if (change.action === 'set-role') doc.setIn(['members', index, 'role'], role);
        else seq.items.splice(index, 1);
      },
    });
    return { members: result.config.members ?? [], commit: result.commit };
  });
}

export interface KeySummary {
  name: string;
  environment: string;
  role: Role;
  created_at: string;
  created_by?: string;
}

export async function listKeys(options: Pick<CoreOptions, 'fs' | 'dir'>): Promise<KeySummary[]> {
  const config = await loadConfig(await openProject(options));
  return (config.api_keys ?? []).map((k) => ({ name: k.name, environment: k.environment, role: k.role, created_at: k.created_at, ...(k.created_by ? { created_by: k.created_by } : {}) }));
}

/** Creates an API key for one environment; the secret is returned once and only its hash is stored. */
export async function createKey(options: CoreOptions & { environment: string; name: string; role?: string }): Promise<KeySummary & { secret: string; commit: string }> {
  const project = await openProject(options);
  return withRepositoryLock(project, options, async () => {
    const config = await loadConfig(project);
    requireEnvironment(config, options.environment);
    const who = authenticate(config, options.actor, options.apiKey);
    authorize(config, who, 'configure-environment', options.environment, 'create API keys');
    const role = assertRole(options.role ?? 'member', config);
    const name = options.name.trim();
    if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,254}$/.test(name)) throw new KnockEnvError('USAGE', `"${options.name}" is not a usable key name.`, { hint: 'Letters, digits, space, ".", "_" and "-".' });
    if ((config.api_keys ?? []).some((k) => k.name === name)) throw new KnockEnvError('REFUSED', `A key named "${name}" exists already.`, { hint: 'Revoke it first, or choose another name.' });
    const secret = newSecret(options.environment);
    const created_at = (options.now ? options.now() : new Date()).toISOString();
    const created_by = who.kind === 'member' ? who.email : `key:${who.name}`;
    const result = await commitAccountChange(project, options, {
      subject: `Create API key "${name}" for ${options.environment}`,
      operation: 'settings',
      edit: (doc) => {
        if (!doc.has('api_keys')) doc.set('api_keys', doc.createNode([]));
        (doc.get('api_keys') as YAML.YAMLSeq).items.push(doc.createNode({ name, environment: options.environment, role, hash: hashSecret(secret), created_at, created_by }));
      },
    });
    return { name, environment: options.environment, role, created_at, created_by, secret, commit: result.commit };
  });
}

/** Revokes a key at once: it is removed from the account, so it no longer authenticates. */
export async function revokeKey(options: CoreOptions & { name: string }): Promise<{ name: string; commit: string }> {
  const project = await openProject(options);
  return withRepositoryLock(project, options, async () => {
    const config = await loadConfig(project);
    const index = (config.api_keys ?? []).findIndex((k) => k.name === options.name);
    if (index < 0) throw new KnockEnvError('NOT_FOUND', `There is no API key named "${options.name}".`, { hint: 'See `knock-env keys list`.' });
    const key = config.api_keys[index]!;
    authorize(config, authenticate(config, options.actor, options.apiKey), 'configure-environment', key.environment, 'revoke API keys');
    const result = await commitAccountChange(project, options, {
      subject: `Revoke API key "${options.name}"`,
      operation: 'settings',
      edit: (doc) => (doc.get('api_keys') as YAML.YAMLSeq).items.splice(index, 1),
    });
    return { name: options.name, commit: result.commit };
  });
}

export interface WhoAmI {
  principal: Principal;
  /** Per environment, the capabilities the principal has there. */
  environments: { environment: string; capabilities: Capability[] }[];
}

export async function whoAmI(options: Pick<CoreOptions, 'fs' | 'dir' | 'actor' | 'apiKey'>): Promise<WhoAmI> {
  const config = await loadConfig(await openProject(options));
  const principal = authenticate(config, options.actor, options.apiKey);
  const all: Capability[] = ['read', 'edit-resources', 'promote', 'configure-environment', 'manage-account'];
  return {
    principal,
    environments: config.environments.map((e) => ({ environment: e.slug, capabilities: all.filter((c) => permission(config, principal, c, e.slug) === null) })),
  };
}
