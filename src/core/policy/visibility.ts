import type { Identity } from '../git/commit.js';
import type { KnockEnvConfig } from '../validate/config.js';
import { authenticate, authorize, memberOf, type Principal } from './roles.js';

function slugsOf(config: KnockEnvConfig): string[] {
  return config.environments.map((e) => e.slug);
}

/**
 * The environments a principal reads, fetches and sees through knock-env's
 * commands on a clone: an API key its own environment only; a
 * production_member the highest only; everyone else every environment.
 */
export function readableEnvironments(config: KnockEnvConfig, who: Principal | null): string[] {
  const slugs = slugsOf(config);
  if (who === null) return slugs;
  if (who.kind === 'key') return slugs.filter((env) => env === who.environment);
  return slugs.filter((env) => permissionToRead(config, who, env));
}

function permissionToRead(config: KnockEnvConfig, who: Principal, env: string): boolean {
  try {
    authorize(config, who, 'read', env);
    return true;
  } catch {
    return false;
  }
}

/**
 * The environment branches a team server advertises and serves to a
 * principal; null for a member, who sees every branch.
 *
 * A key sees more on the server than on a clone, for two reasons: the
 * environment directly below its own is what it promotes into its own (a
 * promotion is a fast-forward onto that head, so the key must fetch it), and
 * the environments above are ancestors of its own head by the chain, so they
 * hold nothing it does not already have. A member sees every branch because a
 * direct commit above development is merged down into every lower one.
 */
export function servedEnvironments(config: KnockEnvConfig, who: Principal): string[] | null {
  if (who.kind === 'member') return null;
  const slugs = slugsOf(config);
  const position = slugs.indexOf(who.environment);
  return position < 0 ? [] : slugs.slice(Math.max(0, position - 1));
}

/**
 * Reading: an API key reads its own environment only, and a production_member
 * production only. Anyone else who can open the repository can read it with
 * plain git anyway, so reading is not refused to them.
 */
export function authorizeRead(config: KnockEnvConfig, actor: Identity | undefined, apiKey: string | undefined, environments: string[]): Principal | null {
  let who: Principal | null = null;
  if (apiKey) who = authenticate(config, actor ?? { name: '', email: '' }, apiKey);
  else if (actor) who = memberOf(config, actor);
  if (who) for (const env of environments) authorize(config, who, 'read', env, `read ${env}`);
  return who;
}
