import { KnockEnvError, isKnockEnvError } from '../errors.js';
import { readCommit } from '../git/commit.js';
import { readObject, type GitStore } from '../git/objects.js';
import { entryAt, isTreeMode, listFiles, MODE_EXEC, MODE_FILE, readTree } from '../git/tree.js';
import { keyProblem } from '../keys.js';
import { apiBodyOf, contentHash } from '../knock-api/body.js';
import { apiKindOf, type KnockApiKind } from '../knock-api/kinds.js';
import { ORIGIN_FIELD } from '../knock-format/import.js';
import { RESOURCE_KINDS, RESOURCE_TYPES, resourceId, type ResourceKind } from '../resources.js';
import { parseYaml } from '../validate/yaml.js';

/** One resource of a git commit, as Knock's API would hold it. */
export interface DesiredResource {
  kind: ResourceKind;
  key: string;
  api: KnockApiKind;
  /** The environment the resource was created in (`origin_environment`). */
  origin: string | null;
  /** The body the API takes: Knock's JSON with `@` files inline. */
  body: Record<string, unknown>;
  hash: string;
}

export interface DesiredState {
  commit: string;
  /** By `kind:key`. */
  resources: Map<string, DesiredResource>;
  /** Resource types the registry knows that have no Knock API mapping yet. */
  unsupportedKinds: ResourceKind[];
}

/** Converted resources by the git tree id of their folder: the same folder in two commits is read once. */
export type DesiredCache = Map<string, DesiredResource>;

/**
 * Every resource of every deployable type at a commit, converted to the
 * API's form. A resource that does not convert stops the deploy with a
 * validation error naming it: Knock is never sent half a repository.
 */
export async function desiredStateAt(store: GitStore, commit: string, cache: DesiredCache = new Map()): Promise<DesiredState> {
  const tree = (await readCommit(store, commit)).tree;
  const resources = new Map<string, DesiredResource>();
  const unsupportedKinds: ResourceKind[] = [];
  const problems: { kind: ResourceKind; key: string; message: string }[] = [];
  for (const kind of RESOURCE_KINDS) {
    const type = RESOURCE_TYPES[kind];
    const api = apiKindOf(kind);
    const folder = await entryAt(store, tree, type.dir);
    if (folder === null || !isTreeMode(folder.mode)) continue;
    if (!api) {
      unsupportedKinds.push(kind);
      continue;
    }
    for (const entry of await readTree(store, folder.oid)) {
      const key = entry.name;
      if (keyProblem(key) !== null || !isTreeMode(entry.mode)) {
        problems.push({ kind, key, message: `${type.dir}/${key} is not a resource folder with a valid key` });
        continue;
      }
      const cached = cache.get(`${kind}:${entry.oid}`);
      if (cached) {
        resources.set(resourceId({ kind, key }), cached);
        continue;
      }
      const files = new Map<string, Uint8Array>();
      for (const file of await listFiles(store, entry.oid)) {
        if (file.mode === MODE_FILE || file.mode === MODE_EXEC) files.set(file.path, (await readObject(store, file.oid)).content);
      }
      try {
        const body = apiBodyOf(kind, key, files);
        const desired: DesiredResource = { kind, key, api, origin: originOf(files.get(type.file)), body, hash: contentHash(body) };
        cache.set(`${kind}:${entry.oid}`, desired);
        resources.set(resourceId({ kind, key }), desired);
      } catch (error) {
        if (!isKnockEnvError(error)) throw error;
        problems.push({ kind, key, message: error.message });
      }
    }
  }
  if (problems.length > 0) {
    throw new KnockEnvError('VALIDATION_FAILED', `${problems.length} resource${problems.length === 1 ? '' : 's'} at ${commit.slice(0, 7)} cannot be sent to Knock: ${problems.slice(0, 5).map((p) => p.message).join('; ')}${problems.length > 5 ? '; …' : ''}.`, {
      hint: 'Run `knock-env validate`, fix what it names, commit, and deploy again.',
      data: { problems },
    });
  }
  return { commit, resources, unsupportedKinds };
}

function originOf(main: Uint8Array | undefined): string | null {
  if (!main) return null;
  const data = parseYaml(new TextDecoder().decode(main), 'main').data as Record<string, unknown> | undefined;
  const origin = data?.[ORIGIN_FIELD];
  return typeof origin === 'string' ? origin : null;
}
