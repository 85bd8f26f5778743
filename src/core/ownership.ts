import type { GitStore } from './git/objects.js';
import { readObject } from './git/objects.js';
import { entryAt } from './git/tree.js';
import { originOf } from './ops/analyse.js';
import { CONFIG_FILE, ENVIRONMENTS_DIR, RESOURCE_TYPES, resourceOfPath } from './resources.js';

/** Who owns a path: an environment's slug, or "account" for knock-env.yaml (which outranks every environment). */
export type Owner = string;
export const ACCOUNT: Owner = 'account';

/**
 * Judges ownership of paths against one or more trees: a resource belongs to
 * its origin_environment as committed in the first tree that has it (a
 * resource without one belongs to the lowest environment), environments/<env>/
 * to <env>, knock-env.yaml to the account, anything else to the lowest environment.
 */
export class OwnershipJudge {
  private readonly origins = new Map<string, Promise<string | null>>();

  constructor(
    private readonly store: GitStore,
    private readonly environments: string[],
    private readonly trees: string[],
  ) {}

  private origin(dir: string, file: string): Promise<string | null> {
    let found = this.origins.get(dir);
    if (!found) {
      found = (async () => {
        for (const tree of this.trees) {
          const entry = await entryAt(this.store, tree, file);
          if (entry) return originOf((await readObject(this.store, entry.oid)).content);
        }
        return null;
      })();
      this.origins.set(dir, found);
    }
    return found;
  }

  async ownerOf(path: string): Promise<Owner> {
    const lowest = this.environments[0]!;
    if (path === CONFIG_FILE) return ACCOUNT;
    const resource = resourceOfPath(path);
    if (resource && resource.keyProblem === null) {
      const origin = await this.origin(resource.dir, `${resource.dir}/${RESOURCE_TYPES[resource.kind].file}`);
      return origin !== null && this.environments.includes(origin) ? origin : lowest;
    }
    if (path.startsWith(`${ENVIRONMENTS_DIR}/`)) {
      const env = path.split('/')[1] ?? '';
      return this.environments.includes(env) ? env : lowest;
    }
    return lowest;
  }

  /** Position of an owner in the chain; the account ranks above the highest environment. */
  rank(owner: Owner): number {
    return owner === ACCOUNT ? this.environments.length : this.environments.indexOf(owner);
  }
}
