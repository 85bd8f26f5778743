import type { Principal } from '../access.js';
import { environmentSlugs } from '../project.js';
import type { KnockEnvConfig } from '../validate/config.js';

/**
 * The environments an API key sees: its own and those above it (each an
 * ancestor of its environment's head anyway, by the chain). Null for a member:
 * members see every branch, since a direct commit above development must merge
 * down into every lower environment.
 */
export function visibleEnvironments(config: KnockEnvConfig, who: Principal): string[] | null {
  if (who.kind === 'member') return null;
  const slugs = environmentSlugs(config);
  const position = slugs.indexOf(who.environment);
  // The environment directly below is what the key promotes into its own: it must see that too.
  return position < 0 ? [] : slugs.slice(Math.max(0, position - 1));
}
