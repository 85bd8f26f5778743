import { authenticate, type Principal } from '../access.js';
import { isKnockEnvError } from '../errors.js';
import type { KnockEnvConfig } from '../validate/config.js';

/**
 * Who pushed, as the git server in front of the hook names them. Every forge
 * runs the pre-receive hook with its own variables for the pusher; each name
 * is turned into a member of the account here, and only here:
 *
 *   1. An API key (KNOCK_ENV_PUSH_API_KEY, which only `knock-env serve` sets)
 *      is the key, whatever else is set.
 *   2. A forge's own variables (GitLab, GitHub Enterprise Server, Gitea or
 *      Forgejo, gitolite) come before REMOTE_USER: a forge sets them after its
 *      own authentication, while REMOTE_USER may come from a web server in
 *      front of it (gitolite over HTTP sets both, from the same login).
 *      Variables of two different forges at once are refused: no forge sets
 *      another's, so the server's environment is not what it seems.
 *   3. REMOTE_USER (a web server's authenticated user, `knock-env serve`'s member).
 *
 * A name becomes a member's email through the server repository's git config,
 * `knock-env.identity.<forge>.<user> = <email>` (a mapping always wins), else
 * through the email the forge gives (Gitea's GITEA_PUSHER_EMAIL) or a name
 * that is itself an email. An email must belong to a member of the account.
 */

export const PUSH_API_KEY_VARIABLE = 'KNOCK_ENV_PUSH_API_KEY';

/** The forges whose pushers the hook knows, and `remote-user` for REMOTE_USER. */
export const IDENTITY_SOURCES = ['gitlab', 'github-enterprise', 'gitea', 'gitolite', 'remote-user'] as const;
export type IdentitySource = (typeof IDENTITY_SOURCES)[number];

/** A pusher as the server's environment names them. */
export interface PusherClaim {
  source: IdentitySource;
  /** The forge's user name (or id), as mapped in git config. */
  user: string;
  /** The variable the name came from. */
  variable: string;
  /** An email the forge vouches for (Gitea), used when no mapping exists. */
  email?: string;
}

type Variables = Readonly<Record<string, string | undefined>>;

const LABEL: Record<IdentitySource, string> = {
  gitlab: 'GitLab',
  'github-enterprise': 'GitHub Enterprise Server',
  gitea: 'Gitea',
  gitolite: 'gitolite',
  'remote-user': 'a web server',
};

function value(variables: Variables, name: string): string | undefined {
  const text = variables[name]?.trim();
  return text ? text : undefined;
}

/** The claim each forge's variables make, in the order of LABEL; REMOTE_USER last. */
function forgeClaims(variables: Variables): PusherClaim[] {
  const claims: PusherClaim[] = [];
  const gitlabName = value(variables, 'GL_USERNAME');
  const gitlabId = value(variables, 'GL_ID');
  if (gitlabName) claims.push({ source: 'gitlab', user: gitlabName, variable: 'GL_USERNAME' });
  else if (gitlabId) claims.push({ source: 'gitlab', user: gitlabId, variable: 'GL_ID' });
  const github = value(variables, 'GITHUB_USER_LOGIN');
  if (github) claims.push({ source: 'github-enterprise', user: github, variable: 'GITHUB_USER_LOGIN' });
  const giteaName = value(variables, 'GITEA_PUSHER_NAME');
  const giteaEmail = value(variables, 'GITEA_PUSHER_EMAIL');
  if (giteaName || giteaEmail) {
    claims.push({ source: 'gitea', user: giteaName ?? giteaEmail!, variable: giteaName ? 'GITEA_PUSHER_NAME' : 'GITEA_PUSHER_EMAIL', ...(giteaEmail ? { email: giteaEmail } : {}) });
  }
  const gitolite = value(variables, 'GL_USER');
  if (gitolite) claims.push({ source: 'gitolite', user: gitolite, variable: 'GL_USER' });
  return claims;
}

/**
 * The git config name that maps a forge user to an email. A name git accepts
 * as a variable name (letters, digits and "-", starting with a letter) is the
 * variable itself; any other (with ".", "_", "@" or a leading digit) goes into
 * the subsection: `knock-env.identity.<forge>.<user>.email`. The two forms
 * never collide, because the first has no dot in the user part.
 */
export function identityConfigKey(source: IdentitySource, user: string): string {
  return /^[A-Za-z][A-Za-z0-9-]*$/.test(user) ? `knock-env.identity.${source}.${user}` : `knock-env.identity.${source}.${user}.email`;
}

/** The name as `git config --get-regexp` prints it: section and variable in lower case, subsection as written. */
function canonicalKey(source: IdentitySource, user: string): string {
  return /^[A-Za-z][A-Za-z0-9-]*$/.test(user) ? `knock-env.identity.${source}.${user.toLowerCase()}` : `knock-env.identity.${source}.${user}.email`;
}

/** A config name as git prints it: section and variable in lower case, the subsection between them as written. */
function canonicalConfigName(name: string): string {
  const first = name.indexOf('.');
  const last = name.lastIndexOf('.');
  if (first < 0) return name.toLowerCase();
  return first === last ? name.toLowerCase() : `${name.slice(0, first).toLowerCase()}${name.slice(first, last + 1)}${name.slice(last + 1).toLowerCase()}`;
}

const PREFIX = 'knock-env.identity.';

/**
 * The `knock-env.identity.*` entries the hook maps pushers with: those of the
 * repository's own config file (the text of `<repo>/config`, where
 * `git -C <repo> config` writes), then those git passes to its children in
 * GIT_CONFIG_COUNT / GIT_CONFIG_KEY_<n> / GIT_CONFIG_VALUE_<n>; a later value
 * wins, as in git. Read without starting git: the hook runs on every push.
 * Include files and the global and system files are not read.
 */
export function identityEntries(configText: string, variables: Variables = {}): Map<string, string> {
  const entries = new Map<string, string>();
  const text = configText.replace(/\r\n/g, '\n');
  let section = '';
  let i = 0;
  const atEnd = () => i >= text.length;
  const skipLine = () => {
    while (!atEnd() && text[i] !== '\n') i++;
  };
  while (!atEnd()) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n') {
      i++;
    } else if (c === '#' || c === ';') {
      skipLine();
    } else if (c === '[') {
      i++;
      let name = '';
      while (!atEnd() && !' \t"]\n'.includes(text[i]!)) name += text[i++];
      while (text[i] === ' ' || text[i] === '\t') i++;
      let sub: string | undefined;
      if (text[i] === '"') {
        sub = '';
        i++;
        while (!atEnd() && text[i] !== '"' && text[i] !== '\n') {
          if (text[i] === '\\') i++;
          sub += text[i++] ?? '';
        }
        i++;
      }
      section = sub === undefined ? name.toLowerCase() : `${name.toLowerCase()}.${sub}`;
      skipLine();
    } else if (/[A-Za-z]/.test(c)) {
      let key = '';
      while (!atEnd() && /[A-Za-z0-9-]/.test(text[i]!)) key += text[i++];
      while (text[i] === ' ' || text[i] === '\t') i++;
      let value = '';
      if (text[i] === '=') {
        i++;
        while (text[i] === ' ' || text[i] === '\t') i++;
        let quoted = false;
        let kept = 0;
        while (!atEnd()) {
          const ch = text[i]!;
          if (ch === '\n' && !quoted) break;
          if (!quoted && (ch === '#' || ch === ';')) {
            skipLine();
            break;
          }
          i++;
          if (ch === '"') {
            quoted = !quoted;
            kept = value.length;
          } else if (ch === '\\') {
            const next = text[i++] ?? '';
            if (next !== '\n') value += next === 'n' ? '\n' : next === 't' ? '\t' : next === 'b' ? '\b' : next;
            kept = value.length;
          } else {
            value += ch;
            if (quoted || (ch !== ' ' && ch !== '\t')) kept = value.length;
          }
        }
        value = value.slice(0, kept);
      } else {
        skipLine();
      }
      const name = `${section}.${key.toLowerCase()}`;
      if (name.startsWith(PREFIX)) entries.set(name, value);
    } else {
      skipLine();
    }
  }
  const count = Number(variables.GIT_CONFIG_COUNT ?? 0);
  for (let n = 0; Number.isInteger(count) && n < Math.min(count, 10_000); n++) {
    const key = variables[`GIT_CONFIG_KEY_${n}`];
    if (key === undefined) continue;
    const name = canonicalConfigName(key);
    if (name.startsWith(PREFIX)) entries.set(name, variables[`GIT_CONFIG_VALUE_${n}`] ?? '');
  }
  return entries;
}

export interface PusherInput {
  /** The member's email the server authenticated (what `knock-env serve` passes as REMOTE_USER). */
  remoteUser?: string;
  /** An API key's secret the server authenticated. */
  apiKey?: string;
  /** The hook's environment and the server's identity mappings, when the hook runs under a forge or web server. */
  pusher?: PusherEnvironment;
}

export interface PusherEnvironment {
  /** The hook's environment variables. */
  variables: Variables;
  /** `knock-env.identity.*` entries of the server repository's git config (identityEntries). */
  identities: ReadonlyMap<string, string>;
  /** The server repository, for the `git -C <repo> config` a refusal suggests. */
  repository?: string;
}

export type PusherRefusal = {
  /** unauthenticated: nothing names the pusher; ambiguous: two forges' variables; unmapped: a name with no email; not-a-member: an email the account does not list; invalid-key: an unknown or revoked API key. */
  reason: 'unauthenticated' | 'ambiguous' | 'unmapped' | 'not-a-member' | 'invalid-key';
  message: string;
  hint: string;
};

export type PusherVerdict = { principal: Principal; claim: PusherClaim | null } | { refusal: PusherRefusal };

function shellWord(text: string): string {
  return /^[A-Za-z0-9@%+=:,./_-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Which claim names the pusher (rule 2 and 3 above), or why none does. */
export function pusherClaim(variables: Variables): PusherClaim | PusherRefusal | null {
  const forges = forgeClaims(variables);
  if (forges.length > 1) {
    const named = forges.map((c) => `${c.variable} (${LABEL[c.source]}: ${c.user})`).join(' and ');
    return {
      reason: 'ambiguous',
      message: `the server names the pusher through ${named}; no forge sets another's variables, so knock-env cannot tell which one authenticated you.`,
      hint: "Ask the server's administrator to remove the variables the forge does not set from the environment git runs in.",
    };
  }
  if (forges.length === 1) return forges[0]!;
  const remoteUser = value(variables, 'REMOTE_USER');
  return remoteUser ? { source: 'remote-user', user: remoteUser, variable: 'REMOTE_USER' } : null;
}

/**
 * The principal a push acts as, or why it has none. The account is the one
 * on the server's production branch before the push.
 */
export function identifyPusher(config: KnockEnvConfig, input: PusherInput): PusherVerdict {
  const variables: Variables = input.pusher?.variables ?? { REMOTE_USER: input.remoteUser, [PUSH_API_KEY_VARIABLE]: input.apiKey };
  const apiKey = input.apiKey ?? value(variables, PUSH_API_KEY_VARIABLE);
  const asMember = (email: string): Principal | PusherRefusal => {
    try {
      return authenticate(config, { name: email, email }, undefined);
    } catch (error) {
      if (!isKnockEnvError(error)) throw error;
      return { reason: 'not-a-member', message: error.message, hint: error.hint ?? '' };
    }
  };
  if (apiKey) {
    try {
      return { principal: authenticate(config, { name: '', email: '' }, apiKey), claim: null };
    } catch (error) {
      if (!isKnockEnvError(error)) throw error;
      return { refusal: { reason: 'invalid-key', message: error.message, hint: error.hint ?? '' } };
    }
  }
  const claim = pusherClaim(variables);
  if (claim === null) {
    return {
      refusal: {
        reason: 'unauthenticated',
        message: 'the server did not authenticate the pusher, so it cannot tell what you may do.',
        hint: 'Push through `knock-env serve` with your email and token (or an API key), or through a git server knock-env knows (GitLab, GitHub Enterprise Server, Gitea or Forgejo, gitolite) or a web server that sets REMOTE_USER.',
      },
    };
  }
  if ('reason' in claim) return { refusal: claim };
  const key = identityConfigKey(claim.source, claim.user);
  const mapCommand = (email: '<member-email>'): string => `git ${input.pusher?.repository ? `-C ${shellWord(input.pusher.repository)} ` : ''}config ${shellWord(key)} ${email}`;
  const members = config.members.map((m) => m.email);
  const who = `${claim.source === 'remote-user' ? 'user' : `${LABEL[claim.source]} user`} ${claim.user} (${claim.variable})`;
  const mapped = input.pusher?.identities.get(canonicalKey(claim.source, claim.user));
  if (mapped !== undefined) {
    const member = asMember(mapped.trim());
    if ('reason' in member) {
      return {
        refusal: {
          reason: 'not-a-member',
          message: `${who} is mapped to ${mapped.trim()} (git config ${key} on the server), which is not a member of the account.`,
          hint: `Add ${mapped.trim()} as a member (\`knock-env members add ${mapped.trim()} --role member\`, then push), or map ${claim.user} to a member on the server: \`${mapCommand('<member-email>')}\`.`,
        },
      };
    }
    return { principal: member, claim };
  }
  const email = claim.email ?? (claim.user.includes('@') ? claim.user : undefined);
  if (email !== undefined) {
    const member = asMember(email);
    if (!('reason' in member)) return { principal: member, claim };
    return {
      refusal: {
        reason: 'not-a-member',
        message: `${email} is not a member of the account (${claim.source === 'remote-user' ? 'REMOTE_USER' : `${LABEL[claim.source]} user ${claim.user}, ${claim.email ? 'GITEA_PUSHER_EMAIL' : claim.variable}`}).`,
        hint: `Map ${claim.user} to a member on the server: \`${mapCommand('<member-email>')}\` (members: ${members.join(', ') || 'none'}), or add ${email} as a member (\`knock-env members add ${email} --role member\`, then push).`,
      },
    };
  }
  return {
    refusal: {
      reason: 'unmapped',
      message: `${who} is not mapped to a member of the account.`,
      hint: `Map them on the server, in the repository's git config: \`${mapCommand('<member-email>')}\` (members: ${members.join(', ') || 'none'}).`,
    },
  };
}
