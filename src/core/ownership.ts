import type { GitStore } from './git/objects.js';
import { readObject } from './git/objects.js';
import { entryAt, isTreeMode } from './git/tree.js';
import { originOf } from './ops/analyse.js';
import { CONFIG_FILE, ENVIRONMENTS_DIR, RESOURCE_TYPES, resourceOfPath } from './resources.js';

/** Who owns a path: an environment's slug, or "account" for knock-env.yaml (which counts as the highest environment). */
export type Owner = string;
export const ACCOUNT: Owner = 'account';

/**
 * Judges ownership of paths against one or more trees: a resource belongs to
 * its origin_environment as committed in the first tree that has it (a
 * resource without one belongs to the lowest environment), environments/<env>/
 * to <env>, knock-env.yaml to the account, anything else to the lowest environment.
 */
export class OwnershipJudge {
  private readonly claimsByDir = new Map<string, Promise<(string | undefined)[]>>();

  constructor(
    private readonly store: GitStore,
    private readonly environments: string[],
    private readonly trees: string[],
  ) {}

  private normalise(origin: string | null): string {
    return origin !== null && this.environments.includes(origin) ? origin : this.environments[0]!;
  }

  private async claimIn(tree: string, dir: string, file: string): Promise<string | undefined> {
    const folder = await entryAt(this.store, tree, dir);
    if (folder === null || !isTreeMode(folder.mode)) return undefined;
    const main = await entryAt(this.store, tree, file);
    if (main === null || isTreeMode(main.mode)) return this.normalise(null);
    return this.normalise(originOf((await readObject(this.store, main.oid)).content));
  }

  /**
   * The origin each tree gives the resource a path belongs to, in the order of
   * the trees (undefined where a tree lacks the resource); null for a path
   * outside workflows/ and guides/.
   */
  async claims(path: string): Promise<{ dir: string; origins: (string | undefined)[] } | null> {
    const resource = resourceOfPath(path);
    if (!resource || resource.keyProblem !== null) return null;
    let found = this.claimsByDir.get(resource.dir);
    if (!found) {
      const file = `${resource.dir}/${RESOURCE_TYPES[resource.kind].file}`;
      found = Promise.all(this.trees.map((tree) => this.claimIn(tree, resource.dir, file)));
      this.claimsByDir.set(resource.dir, found);
    }
    return { dir: resource.dir, origins: await found };
  }

  async ownerOf(path: string): Promise<Owner> {
    const lowest = this.environments[0]!;
    if (path === CONFIG_FILE) return ACCOUNT;
    const claims = await this.claims(path);
    if (claims) return claims.origins.find((origin) => origin !== undefined) ?? lowest;
    if (path.startsWith(`${ENVIRONMENTS_DIR}/`)) {
      const env = path.split('/')[1] ?? '';
      return this.environments.includes(env) ? env : lowest;
    }
    return lowest;
  }

  /** Position of an owner in the chain; the account counts as the highest environment. */
  rank(owner: Owner): number {
    return owner === ACCOUNT ? this.environments.length - 1 : Math.max(0, this.environments.indexOf(owner));
  }
}
