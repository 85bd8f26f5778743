import type { GitStore } from '../git/objects.js';
import { CONFIG_FILE, ENVIRONMENTS_DIR, resourceOfPath } from '../resources.js';
import { treeView, type ContentView } from './changes.js';
import { originOf } from './origin.js';

/** Who owns a path: an environment's slug, or "account" for knock-env.yaml (which counts as the highest environment). */
export type Owner = string;
export const ACCOUNT: Owner = 'account';

/**
 * The owner of a path (DESIGN.md §3), given the origin the resource holding
 * it claims (undefined: the path is in no resource, or the resource exists in
 * none of the trees judged): a resource belongs to its origin_environment (to
 * the lowest environment without one, or with one that names no
 * environment), environments/<env>/ to <env>, knock-env.yaml to the account,
 * anything else to the lowest environment.
 */
export function ownerOfPath(path: string, environments: string[], claim: { origin: string | null } | undefined): Owner {
  const lowest = environments[0]!;
  if (path === CONFIG_FILE) return ACCOUNT;
  if (claim !== undefined) return claim.origin !== null && environments.includes(claim.origin) ? claim.origin : lowest;
  if (path.startsWith(`${ENVIRONMENTS_DIR}/`)) {
    const env = path.split('/')[1] ?? '';
    return environments.includes(env) ? env : lowest;
  }
  return lowest;
}

/** Position of an owner in the chain; the account counts as the highest environment. */
export function rankOf(owner: Owner, environments: string[]): number {
  return owner === ACCOUNT ? environments.length - 1 : Math.max(0, environments.indexOf(owner));
}

/**
 * Judges ownership of paths against one or more trees: a resource belongs to
 * its origin_environment as committed in the first tree that has it.
 */
export class OwnershipJudge {
  private readonly claimsByDir = new Map<string, Promise<(Owner | undefined)[]>>();
  private readonly views: ContentView[];

  constructor(
    store: GitStore,
    private readonly environments: string[],
    trees: string[],
  ) {
    this.views = trees.map((tree) => treeView(store, tree));
  }

  /**
   * The owner each tree gives the resource a path belongs to, in the order of
   * the trees (undefined where a tree lacks the resource); null for a path
   * outside the resource folders.
   */
  async claims(path: string): Promise<{ dir: string; origins: (Owner | undefined)[] } | null> {
    const resource = resourceOfPath(path);
    if (!resource || resource.keyProblem !== null) return null;
    let found = this.claimsByDir.get(resource.dir);
    if (!found) {
      const file = resource.file;
      found = Promise.all(this.views.map(async (view) => ((await view.hasFolder(resource.dir)) ? ownerOfPath(file, this.environments, { origin: originOf(await view.read(file)) }) : undefined)));
      this.claimsByDir.set(resource.dir, found);
    }
    return { dir: resource.dir, origins: await found };
  }

  async ownerOf(path: string): Promise<Owner> {
    const claims = await this.claims(path);
    return claims?.origins.find((owner) => owner !== undefined) ?? ownerOfPath(path, this.environments, undefined);
  }

  rank(owner: Owner): number {
    return rankOf(owner, this.environments);
  }
}
