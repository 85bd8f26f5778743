import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { KnockEnvError } from '../errors.js';
import type { Identity } from '../git/commit.js';
import type { KnockEnvConfig, Role } from '../validate/config.js';

/** What a command needs to be allowed to do (DESIGN.md, section 6). */
export type Capability = 'read' | 'edit-resources' | 'promote' | 'configure-environment' | 'manage-account';

export const CAPABILITIES: readonly Capability[] = ['read', 'edit-resources', 'promote', 'configure-environment', 'manage-account'];

const DESCRIBE: Record<Capability, string> = {
  read: 'read resources, history and diffs',
  'edit-resources': 'edit and commit workflows and guides',
  promote: 'promote and roll back',
  'configure-environment': 'change channels, variables, branding and API keys',
  'manage-account': 'manage environments, members and settings',
};

/** Where a role may use a capability: every environment, the highest one only, or nowhere. */
export type Reach = 'all' | 'highest' | 'none';

/**
 * The README's "Who may do what", as data: one row per role, one column per
 * capability. The two footnotes of the table are the two lists below it.
 */
export const ROLE_TABLE: Readonly<Record<Role, Readonly<Record<Capability, Reach>>>> = {
  owner: { read: 'all', 'edit-resources': 'all', promote: 'all', 'configure-environment': 'all', 'manage-account': 'all' },
  admin: { read: 'all', 'edit-resources': 'all', promote: 'all', 'configure-environment': 'all', 'manage-account': 'all' },
  member: { read: 'all', 'edit-resources': 'all', promote: 'all', 'configure-environment': 'none', 'manage-account': 'none' },
  production_member: { read: 'highest', 'edit-resources': 'highest', promote: 'highest', 'configure-environment': 'none', 'manage-account': 'none' },
  support: { read: 'all', 'edit-resources': 'none', promote: 'none', 'configure-environment': 'none', 'manage-account': 'none' },
};

/** Capabilities used only in the lowest environment while production write access is off ("*" in the table). */
export const LOWEST_ONLY_WITHOUT_WRITE_ACCESS: readonly Capability[] = ['edit-resources'];

/** Roles that act only while production write access is on. */
export const ROLES_NEEDING_WRITE_ACCESS: readonly Role[] = ['production_member'];

/** Who a command acts as: a member (by git identity) or an API key's service identity. */
export type Principal =
  | { kind: 'member'; email: string; name: string; role: Role }
  | { kind: 'key'; name: string; environment: string; role: Role };

export function describePrincipal(p: Principal): string {
  return p.kind === 'member' ? `${p.email} (${p.role})` : `API key "${p.name}" (${p.role} in ${p.environment})`;
}

export function hashSecret(secret: string): string {
  return `sha256:${createHash('sha256').update(secret, 'utf8').digest('hex')}`;
}

export function newSecret(environment: string): string {
  return `kenv_${environment.replace(/[^a-z0-9]/g, '')}_${randomBytes(24).toString('base64url')}`;
}

/** Compares a presented secret with every stored hash, in constant time per comparison. */
function findKey(config: KnockEnvConfig, secret: string) {
  const presented = Buffer.from(hashSecret(secret), 'utf8');
  let found: KnockEnvConfig['api_keys'][number] | undefined;
  for (const key of config.api_keys ?? []) {
    const stored = Buffer.from(key.hash, 'utf8');
    if (stored.length === presented.length && timingSafeEqual(stored, presented) && !found) found = key;
  }
  return found;
}

/** The member a git identity is, if any. */
export function memberOf(config: KnockEnvConfig, identity: Identity): Principal | null {
  const email = identity.email.toLowerCase();
  const member = (config.members ?? []).find((m) => m.email.toLowerCase() === email);
  return member ? { kind: 'member', email: member.email, name: member.name ?? member.email, role: member.role } : null;
}

/**
 * The principal a command acts as, judged by the account as committed before
 * the command's own change (so nobody can grant themselves a role in the same
 * change that uses it).
 */
export function authenticate(config: KnockEnvConfig, identity: Identity, apiKey?: string): Principal {
  if (apiKey !== undefined && apiKey !== '') {
    const key = findKey(config, apiKey);
    if (!key) {
      throw new KnockEnvError('FORBIDDEN', 'The API key is not valid (unknown or revoked).', {
        hint: 'Ask an owner or admin for a key: `knock-env keys create --env <env> --name <name>`.',
      });
    }
    return { kind: 'key', name: key.name, environment: key.environment, role: key.role };
  }
  const member = memberOf(config, identity);
  if (!member) {
    throw new KnockEnvError('FORBIDDEN', `${identity.email} is not a member of this knock-env project.`, {
      hint: `Ask an owner or admin (${grantors(config)}) to run \`knock-env members add ${identity.email} --role member\`, or set git's user.email to your member address.`,
      data: { email: identity.email },
    });
  }
  return member;
}

export function grantors(config: KnockEnvConfig): string {
  const list = (config.members ?? []).filter((m) => m.role === 'owner' || m.role === 'admin').map((m) => m.email);
  return list.length > 0 ? list.join(', ') : 'none listed';
}

/** Whether the principal may use a capability in an environment; the reason when not. */
export function permission(config: KnockEnvConfig, who: Principal, capability: Capability, environment: string): string | null {
  const slugs = config.environments.map((e) => e.slug);
  const lowest = slugs[0];
  const highest = slugs[slugs.length - 1];
  const writeAccess = Boolean(config.settings?.production_write_access);
  if (who.kind === 'key' && who.environment !== environment) return `the key acts in ${who.environment} only`;
  const role = who.role;
  if (ROLES_NEEDING_WRITE_ACCESS.includes(role) && !writeAccess) return `the ${role} role acts only while production write access is on`;
  const reach = ROLE_TABLE[role][capability];
  if (reach === 'none') return `the ${role} role cannot ${DESCRIBE[capability]}`;
  if (reach === 'highest' && environment !== highest) return `the ${role} role can ${DESCRIBE[capability]} in ${highest} only`;
  if (LOWEST_ONLY_WITHOUT_WRITE_ACCESS.includes(capability) && environment !== lowest && !writeAccess) {
    return `workflows and guides are edited in ${lowest} only while production write access is off`;
  }
  return null;
}

/** The refusal a missing permission gives: who you are, what you tried, what is missing, who can grant it. */
export function permissionError(config: KnockEnvConfig, who: Principal, capability: Capability, environment: string, reason: string, action?: string): KnockEnvError {
  return new KnockEnvError('FORBIDDEN', `You are ${describePrincipal(who)}: you cannot ${action ?? DESCRIBE[capability]} in ${environment}: ${reason}.`, {
    hint: `An owner or admin (${grantors(config)}) can grant it with \`knock-env members set-role\`${who.kind === 'key' ? ' or a key for that environment' : ''}.`,
    data: { principal: who, capability, environment },
  });
}

/** Refuses, naming who you are, what you tried, what is missing and who can grant it. */
export function authorize(config: KnockEnvConfig, who: Principal, capability: Capability, environment: string, action?: string): void {
  const reason = permission(config, who, capability, environment);
  if (reason !== null) throw permissionError(config, who, capability, environment, reason, action);
}
