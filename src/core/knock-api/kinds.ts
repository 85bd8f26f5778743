import type KnockMgmt from '@knocklabs/mgmt';
import type { ResourceKind } from '../resources.js';

/** A resource as Knock's Management API returns it: the content plus fields Knock generates. */
export type ApiResource = Record<string, unknown> & { key: string };

export interface ReadParams {
  environment: string;
  /** Committed content only (Knock's `hide_uncommitted_changes`); otherwise drafts are shown. */
  committedOnly: boolean;
  annotate?: boolean;
}

export interface WriteParams {
  environment: string;
  /** The resource as the API takes it: JSON with every `@` field's content inline. */
  body: Record<string, unknown>;
  commitMessage: string;
  /** Knock's `force`: writes past its development-only and origin checks. */
  force: boolean;
}

/**
 * How one resource type of knock-env reaches Knock's Management API: its name in
 * Knock's commits, the client's methods for it, the fields Knock generates (left out
 * of every comparison) and how a resource deleted in git is retired (Knock deletes
 * nothing). Everything that deploys, compares or imports iterates this table, so a
 * new type is one entry.
 */
export interface KnockApiKind {
  kind: ResourceKind;
  /** Knock's name for the type in commits (`resource_type`). */
  apiType: 'workflow' | 'guide' | 'email_layout' | 'partial' | 'translation' | 'message_type' | 'audience';
  /** Fields Knock sets itself; never sent, never compared. */
  generatedFields: readonly string[];
  list(client: KnockMgmt, params: ReadParams): AsyncIterable<ApiResource>;
  retrieve(client: KnockMgmt, key: string, params: ReadParams): Promise<ApiResource>;
  /** Upsert and commit in one call, so nothing is left as a draft between the two. */
  upsertCommitted(client: KnockMgmt, key: string, params: WriteParams): Promise<void>;
  /** Whether Knock still serves the resource (a deactivated workflow, an archived guide: no). */
  isLive(resource: ApiResource): boolean;
  /**
   * Takes a resource deleted in git out of service in one environment. Workflows are
   * deactivated. Knock archives a guide in every environment at once, so a guide is
   * deactivated below the highest environment and archived when the highest deploys.
   */
  retire(client: KnockMgmt, key: string, environment: string, highest: boolean): Promise<'deactivated' | 'archived'>;
}

const COMMON_GENERATED = ['key', 'environment', 'created_at', 'updated_at', 'sha', 'active', 'valid', 'deleted_at', '__annotation', '__readonly', '$schema'] as const;

function readQuery(params: ReadParams): { environment: string; hide_uncommitted_changes?: boolean; annotate?: boolean } {
  return { environment: params.environment, ...(params.committedOnly ? { hide_uncommitted_changes: true } : {}), ...(params.annotate ? { annotate: true } : {}) };
}

function writeQuery(params: WriteParams): { environment: string; commit: true; commit_message: string; force?: boolean } {
  return { environment: params.environment, commit: true, commit_message: params.commitMessage, ...(params.force ? { force: true } : {}) };
}

// The client's request types describe what Knock accepts today; knock-env sends the resource as committed
// in git (validated by knock-env's own schemas), so the bodies are passed through as they are.
type Loose = never;

const workflow: KnockApiKind = {
  kind: 'workflow',
  apiType: 'workflow',
  generatedFields: COMMON_GENERATED,
  list: (client, params) => client.workflows.list({ ...readQuery(params), limit: 100 }) as unknown as AsyncIterable<ApiResource>,
  retrieve: async (client, key, params) => (await client.workflows.retrieve(key, readQuery(params))) as unknown as ApiResource,
  upsertCommitted: async (client, key, params) => {
    await client.workflows.upsert(key, { ...writeQuery(params), workflow: params.body as Loose });
  },
  isLive: (resource) => resource.active !== false,
  retire: async (client, key, environment) => {
    await client.workflows.activate(key, { environment, status: false });
    return 'deactivated';
  },
};

const guide: KnockApiKind = {
  kind: 'guide',
  apiType: 'guide',
  generatedFields: [...COMMON_GENERATED, 'archived_at'],
  list: (client, params) => client.guides.list({ ...readQuery(params), limit: 100 }) as unknown as AsyncIterable<ApiResource>,
  retrieve: async (client, key, params) => (await client.guides.retrieve(key, readQuery(params))) as unknown as ApiResource,
  upsertCommitted: async (client, key, params) => {
    await client.guides.upsert(key, { ...writeQuery(params), guide: params.body as Loose });
  },
  isLive: (resource) => resource.active !== false && (resource.archived_at === null || resource.archived_at === undefined),
  retire: async (client, key, environment, highest) => {
    if (!highest) {
      await client.guides.activate(key, { environment, status: false });
      return 'deactivated';
    }
    await client.guides.archive(key);
    return 'archived';
  },
};

/**
 * The API mapping of each resource type knock-env manages. A type the resource
 * registry knows without an entry here is reported by `deploy` as not deployable yet.
 */
export const KNOCK_API_KINDS: Partial<Record<ResourceKind, KnockApiKind>> = { workflow, guide };

export function apiKindOf(kind: ResourceKind): KnockApiKind | undefined {
  return KNOCK_API_KINDS[kind];
}
