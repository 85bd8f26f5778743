import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { KnockEnvError } from './errors.js';
import type { Identity } from './git/commit.js';
import type { KnockEnvConfig, Role } from './validate/config.js';

/** What a command needs to be allowed to do (DESIGN.md, section 6). */
export type Capability =
  | 'read'
  | 'edit-resources'
  | 'promote'
  | 'configure-environment'
  | 'manage-account';

const DESCRIBE: Record<Capability, string> = {
  read: 'read resources, history and diffs',
  'edit-resources': 'edit and commit workflows and guides',
  promote: 'promote and roll back',
  'configure-environment': 'change channels, variables, branding and API keys',
  'manage-account': 'manage environments, members and settings',
};

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
  const email = identity.email.toLowerCase();
  const member = (config.members ?? []).find((m) => m.email.toLowerCase() === email);
  if (!member) {
    throw new KnockEnvError('FORBIDDEN', `${identity.email} is not a member of this knock-env project.`, {
      hint: `Ask an owner or admin (${grantors(config)}) to run \`knock-env members add ${identity.email} --role member\`, or set git's user.email to your member address.`,
      data: { email: identity.email },
    });
  }
  return { kind: 'member', email: member.email, name: member.name ?? member.email, role: member.role };
}

function grantors(config: KnockEnvConfig): string {
  const list = (config.members ?? []).filter((m) => m.role === 'owner' || m.role === 'admin').map((m) => m.email);
  return list.length > 0 ? list.join(', ') : 'none listed';
}

/** Whether the principal may use a capability in an environment; the reason when not. */
export function permission(config: KnockEnvConfig, who: Principal, capability: Capability, environment: string): string | null {
  const slugs = config.environments.map((e) => e.slug);
  const lowest = slugs[0];
  const highest = slugs[slugs.length - 1];
  const writeAccess = Boolean(config.settings?.production_write_access);
  if (who.kind === 'key' && who.environment !== environment) {
    return `the key acts in ${who.environment} only`;
  }
  const role = who.role;
  const admin = role === 'owner' || role === 'admin';
  if (role === 'production_member' && !writeAccess) return 'the production_member role acts only while production write access is on';
  switch (capability) {
    case 'read':
      if (role === 'production_member' && environment !== highest) return `a production_member reads ${highest} only`;
      return null;
    case 'edit-resources':
      if (role === 'support') return 'the support role cannot edit';
      if (role === 'production_member') return environment === highest ? null : `a production_member edits in ${highest} only`;
      if (environment !== lowest && !writeAccess) return `workflows and guides are edited in ${lowest} only while production write access is off`;
      return null;
    case 'promote':
      if (role === 'support') return 'the support role cannot promote or roll back';
      if (role === 'production_member' && environment !== highest) return `a production_member promotes into ${highest} only`;
      return null;
    case 'configure-environment':
    case 'manage-account':
      return admin ? null : `only an owner or admin can ${DESCRIBE[capability]}`;
  }
}

/** Refuses, naming who you are, what you tried, what is missing and who can grant it. */
export function authorize(config: KnockEnvConfig, who: Principal, capability: Capability, environment: string, action?: string): void {
  const reason = permission(config, who, capability, environment);
  if (reason === null) return;
  throw new KnockEnvError('FORBIDDEN', `You are ${describePrincipal(who)}: you cannot ${action ?? DESCRIBE[capability]} in ${environment}: ${reason}.`, {
    hint: `An owner or admin (${grantors(config)}) can grant it with \`knock-env members set-role\`${who.kind === 'key' ? ' or a key for that environment' : ''}.`,
    data: { principal: who, capability, environment },
  });
}

/**
 * Reading: an API key reads its own environment only, and a production_member
 * production only. Anyone else who can open the repository can read it with
 * plain git anyway, so reading is not refused to them.
 */
export function authorizeRead(config: KnockEnvConfig, actor: Identity | undefined, apiKey: string | undefined, environments: string[]): Principal | null {
  let who: Principal | null = null;
  if (apiKey) who = authenticate(config, actor ?? { name: '', email: '' }, apiKey);
  else if (actor) {
    const member = (config.members ?? []).find((m) => m.email.toLowerCase() === actor.email.toLowerCase());
    if (member) who = { kind: 'member', email: member.email, name: member.name ?? member.email, role: member.role };
  }
  if (who) for (const env of environments) authorize(config, who, 'read', env, `read ${env}`);
  return who;
}
