import type KnockMgmt from '@knocklabs/mgmt';
import { contentHash, contentOf } from '../knock-api/body.js';
import { knockError } from '../knock-api/client.js';
import { KNOCK_API_KINDS, type ApiResource, type KnockApiKind } from '../knock-api/kinds.js';
import { resourceId, type ResourceKind } from '../resources.js';

/** One resource as a Knock environment holds it. */
export interface LiveResource {
  kind: ResourceKind;
  key: string;
  api: KnockApiKind;
  /** Committed content (without generated fields), or null when only a draft exists. */
  committed: Record<string, unknown> | null;
  committedHash: string | null;
  /** The uncommitted draft when it differs from the committed content, else null. */
  draft: Record<string, unknown> | null;
  /** Whether Knock serves it (not deactivated or archived). */
  live: boolean;
}

export type LiveState = Map<string, LiveResource>;

async function collect(iterable: AsyncIterable<ApiResource>): Promise<ApiResource[]> {
  const out: ApiResource[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/**
 * What a Knock environment holds, every deployable type: one listing of the
 * committed content and one with drafts (Knock shows drafts unless asked not to),
 * page by page (100 a page), the two views at once.
 */
export async function readLiveState(client: KnockMgmt, environment: string, options: { withDrafts: boolean }): Promise<LiveState> {
  const state: LiveState = new Map();
  for (const api of Object.values(KNOCK_API_KINDS)) {
    if (!api) continue;
    let committed: ApiResource[];
    let current: ApiResource[];
    try {
      [committed, current] = await Promise.all([
        collect(api.list(client, { environment, committedOnly: true })),
        options.withDrafts ? collect(api.list(client, { environment, committedOnly: false })) : Promise.resolve([] as ApiResource[]),
      ]);
    } catch (error) {
      throw knockError(error, `listing the ${api.kind}s of Knock's ${environment} environment`);
    }
    for (const resource of committed) {
      const content = contentOf(api, resource);
      state.set(resourceId({ kind: api.kind, key: resource.key }), {
        kind: api.kind,
        key: resource.key,
        api,
        committed: content,
        committedHash: contentHash(content),
        draft: null,
        live: api.isLive(resource),
      });
    }
    for (const resource of current) {
      const id = resourceId({ kind: api.kind, key: resource.key });
      const content = contentOf(api, resource);
      const known = state.get(id);
      if (known && known.committedHash === contentHash(content)) continue;
      if (known) known.draft = content;
      else state.set(id, { kind: api.kind, key: resource.key, api, committed: null, committedHash: null, draft: content, live: api.isLive(resource) });
    }
  }
  return state;
}
