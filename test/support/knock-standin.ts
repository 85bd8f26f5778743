import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for Knock's Management API on 127.0.0.1, written from the API's
 * public definition (the OpenAPI file behind @knocklabs/mgmt) and Knock's
 * documented version-control semantics:
 *
 * - an upsert saves a draft; a commit makes it live (scoped by resource type and id);
 *   `commit=true` on the upsert does both;
 * - reads show drafts unless `hide_uncommitted_changes=true`;
 * - commits move up by promotion, one environment at a time: every unpromoted commit of
 *   the environment below (`PUT /v1/commits/promote?to_environment=`) or one by id;
 * - content is edited only in its origin environment (development, or the environment a
 *   resource was created in where direct writes are allowed), unless `force=true`;
 * - workflows are deactivated, guides archived: nothing is deleted;
 * - `annotate=true` adds `__annotation` (which fields go to files, which are read-only);
 * - 401 without the token, 404 for unknown resources, 422 with field errors, pages of at most
 *   100 entries, and injected faults: 429 with `retry-after`, 5xx, a dropped connection.
 */

export type StandinKind = 'workflow' | 'guide';

const COLLECTION: Record<string, StandinKind> = { workflows: 'workflow', guides: 'guide' };
const UNMODELLED = ['email_layouts', 'partials', 'translations', 'message_types', 'audiences'];

type Content = Record<string, unknown>;

interface Resource {
  key: string;
  /** Committed content, or null before the first commit. */
  committed: Content | null;
  /** Uncommitted draft, or null when there are no uncommitted changes. */
  draft: Content | null;
  origin: string;
  active: boolean;
  archived: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface StandinCommit {
  id: string;
  environment: string;
  resource: { type: StandinKind; identifier: string };
  commit_message: string;
  author: { email: string; name: string };
  created_at: string;
  promoted: boolean;
  content: Content;
}

export interface StandinCall {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
}

export interface StandinOptions {
  token?: string;
  environments?: string[];
  /** Environments where resources may be created directly (Knock's production write access). */
  directWrites?: string[];
  /** The account's channels: a step naming another channel_key is refused (422), as Knock does. */
  channels?: string[];
}

/** Faults to inject: each counter is consumed by the matching requests. */
export interface StandinFaults {
  /** Answer this many requests with 429 and `retry-after`. */
  rateLimited?: number;
  retryAfterSeconds?: number;
  /** Answer this many requests with this 5xx status. */
  serverErrors?: number;
  serverErrorStatus?: number;
  /** After this many more successful writes, answer every write with 503 (until cleared). */
  failWritesAfter?: number;
  /** Close the connection of this many requests without answering. */
  dropConnections?: number;
}

/** Fields Knock generates; never taken from a request body. */
const SYSTEM_FIELDS = ['key', 'environment', 'created_at', 'updated_at', 'sha', 'active', 'valid', 'deleted_at', 'archived_at', '__annotation', '__readonly'];

/** Template fields Knock's annotations mark as extractable into files (`knock pull` writes them as files). */
const EXTRACTABLE: Record<string, string> = {
  html_body: 'html',
  text_body: 'txt',
  markdown_body: 'md',
  json_body: 'json',
  visual_blocks: 'json',
  content: 'md',
};

export class KnockStandin {
  readonly token: string;
  readonly environments: string[];
  readonly directWrites: Set<string>;
  readonly channels: Set<string> | null;
  readonly calls: StandinCall[] = [];
  faults: StandinFaults = {};
  private server: Server | null = null;
  private port = 0;
  private readonly data = new Map<string, Map<string, Resource>>();
  private readonly commits: StandinCommit[] = [];
  private sequence = 0;
  private clock = Date.parse('2026-03-01T00:00:00Z');

  constructor(options: StandinOptions = {}) {
    this.token = options.token ?? 'sk_test_standin';
    this.environments = options.environments ?? ['development', 'staging', 'production'];
    this.directWrites = new Set(options.directWrites ?? []);
    this.channels = options.channels ? new Set(options.channels) : null;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Write calls (PUT, POST, DELETE) answered with success. */
  writes(): StandinCall[] {
    return this.calls.filter((c) => c.method !== 'GET' && c.status < 400);
  }

  reads(): StandinCall[] {
    return this.calls.filter((c) => c.method === 'GET');
  }

  resetCalls(): void {
    this.calls.length = 0;
  }

  // ---- direct access for tests (what a dashboard user would do) ----

  /** The content a read shows: the draft if any (unless committedOnly), else the committed content. */
  content(environment: string, kind: StandinKind, key: string, committedOnly = false): Content | null {
    const r = this.bucket(environment, kind).get(key);
    if (!r) return null;
    return (committedOnly ? r.committed : r.draft ?? r.committed) ?? null;
  }

  resource(environment: string, kind: StandinKind, key: string): Readonly<Resource> | undefined {
    return this.bucket(environment, kind).get(key);
  }

  commitsOf(environment: string): StandinCommit[] {
    return this.commits.filter((c) => c.environment === environment);
  }

  /** An edit in Knock's dashboard: a draft, committed when `commit` is set. */
  dashboardEdit(environment: string, kind: StandinKind, key: string, content: Content, options: { commit?: boolean; author?: string } = {}): void {
    const bucket = this.bucket(environment, kind);
    const now = this.tick();
    const existing = bucket.get(key);
    const r: Resource = existing ?? { key, committed: null, draft: null, origin: environment, active: true, archived: false, createdAt: now, updatedAt: now };
    r.draft = stripSystem(content);
    r.updatedAt = now;
    bucket.set(key, r);
    if (options.commit) this.commitResource(environment, kind, r, 'Edited in the dashboard', options.author ?? 'dashboard@example.com');
  }

  // ---- HTTP ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const query = Object.fromEntries(url.searchParams.entries());
    const method = req.method ?? 'GET';
    const call: StandinCall = { method, path: url.pathname, query, status: 0 };
    this.calls.push(call);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      call.status = status;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    const body = await readBody(req);
    const f = this.faults;
    if (f.dropConnections && f.dropConnections > 0) {
      f.dropConnections--;
      call.status = -1;
      req.socket.destroy();
      return;
    }
    if (f.rateLimited && f.rateLimited > 0) {
      f.rateLimited--;
      return send(429, { code: 'rate_limited', message: 'Too many requests', status: 429 }, { 'retry-after': String(f.retryAfterSeconds ?? 0) });
    }
    if (f.serverErrors && f.serverErrors > 0) {
      f.serverErrors--;
      const status = f.serverErrorStatus ?? 500;
      return send(status, { code: 'server_error', message: 'Internal server error', status });
    }
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      return send(401, { code: 'unauthenticated', message: 'The service token is missing or invalid.', status: 401 });
    }
    if (method !== 'GET' && f.failWritesAfter !== undefined) {
      if (f.failWritesAfter <= 0) return send(503, { code: 'unavailable', message: 'Service unavailable', status: 503 });
      f.failWritesAfter--;
    }
    try {
      const answer = this.route(method, url.pathname.split('/').filter(Boolean), query, body);
      send(answer.status, answer.body);
    } catch (error) {
      if (error instanceof ApiFailure) send(error.status, error.body);
      else send(500, { code: 'server_error', message: String(error), status: 500 });
    }
  }

  private route(method: string, parts: string[], query: Record<string, string>, body: unknown): { status: number; body: unknown } {
    const ok = (value: unknown) => ({ status: 200, body: value });
    if (parts[0] !== 'v1') throw notFound('route');
    const [, collection, id, action] = parts;
    if (collection === 'whoami' && method === 'GET') return ok({ account_name: 'Stand-in', account_slug: 'standin', service_token_name: 'test', type: 'service' });
    if (collection === 'environments' && method === 'GET') {
      const entries = this.environments.map((slug, order) => ({ slug, name: slug, order, owner: 'system', created_at: this.epoch(), updated_at: this.epoch() }));
      if (id) {
        const found = entries.find((e) => e.slug === id);
        if (!found) throw notFound('environment');
        return ok(found);
      }
      return ok(page(entries, query));
    }
    if (collection === 'commits') return ok(this.routeCommits(method, id, action, query));
    // Types knock-env does not deploy yet: listed (empty), so Knock's CLI can pull a whole environment.
    if (collection && UNMODELLED.includes(collection) && method === 'GET' && !id) return ok(page([], query));
    const kind = collection ? COLLECTION[collection] : undefined;
    if (!kind) throw notFound('route');
    const environment = this.requireEnvironment(query.environment);
    const bucket = this.bucket(environment, kind);
    const hide = query.hide_uncommitted_changes === 'true';
    const annotate = query.annotate === 'true';
    if (method === 'GET' && !id) {
      const entries = [...bucket.values()]
        .filter((r) => !r.archived && (hide ? r.committed : r.draft ?? r.committed))
        .sort((a, b) => (a.key < b.key ? -1 : 1))
        .map((r) => this.view(kind, environment, r, hide, annotate));
      return ok(page(entries, query));
    }
    if (!id) throw notFound('route');
    if (method === 'GET' && !action) {
      const r = bucket.get(id);
      if (!r || r.archived || !(hide ? r.committed : r.draft ?? r.committed)) throw notFound(kind);
      return ok(this.view(kind, environment, r, hide, annotate));
    }
    if (method === 'PUT' && !action) return ok({ [kind]: this.upsert(kind, environment, id, body, query, annotate) });
    if (method === 'PUT' && action === 'activate') {
      const r = bucket.get(id);
      if (!r) throw notFound(kind);
      const status = (body as { status?: unknown } | null)?.status;
      if (typeof status !== 'boolean') throw invalid([{ field: 'status', message: 'must be a boolean' }]);
      r.active = status;
      r.updatedAt = this.tick();
      return ok({ [kind]: this.view(kind, environment, r, false, false) });
    }
    if (method === 'DELETE' && kind === 'guide' && !action) {
      // Knock archives a guide across every environment.
      let found = false;
      for (const env of this.environments) {
        const r = this.bucket(env, 'guide').get(id);
        if (r) {
          r.archived = true;
          found = true;
        }
      }
      if (!found) throw notFound(kind);
      return ok({ result: 'success' });
    }
    throw notFound('route');
  }

  private upsert(kind: StandinKind, environment: string, key: string, body: unknown, query: Record<string, string>, annotate: boolean): Content {
    const content = (body as Record<string, unknown> | null)?.[kind];
    if (content === null || typeof content !== 'object' || Array.isArray(content)) throw invalid([{ field: kind, message: 'is required' }]);
    const errors = validateContent(kind, content as Content, this.channels);
    if (errors.length > 0) throw invalid(errors);
    const bucket = this.bucket(environment, kind);
    const existing = bucket.get(key);
    const force = query.force === 'true';
    if (!force) {
      if (existing && existing.origin !== environment) {
        throw invalid([{ field: 'environment', message: `${kind} "${key}" can only be edited in its origin environment (${existing.origin}); promote changes instead` }]);
      }
      if (!existing && environment !== this.environments[0] && !this.directWrites.has(environment)) {
        throw invalid([{ field: 'environment', message: `${kind}s can only be created in ${this.environments[0]}` }]);
      }
    }
    const now = this.tick();
    const r: Resource = existing ?? { key, committed: null, draft: null, origin: environment, active: true, archived: false, createdAt: now, updatedAt: now };
    r.draft = stripSystem(content as Content);
    r.archived = false;
    r.updatedAt = now;
    bucket.set(key, r);
    if (query.commit === 'true') this.commitResource(environment, kind, r, query.commit_message ?? '', 'service-token@knock.app');
    return this.view(kind, environment, r, false, annotate);
  }

  private routeCommits(method: string, id: string | undefined, action: string | undefined, query: Record<string, string>): unknown {
    if (method === 'GET' && !id) {
      const environment = this.requireEnvironment(query.environment);
      const types = query.resource_type ? query.resource_type.split(',') : null;
      const entries = this.commits
        .filter((c) => c.environment === environment)
        .filter((c) => query.promoted === undefined || String(c.promoted) === query.promoted)
        .filter((c) => !types || types.includes(c.resource.type))
        .filter((c) => !query.resource_id || c.resource.identifier === query.resource_id)
        .slice()
        .reverse()
        .map(commitView);
      return page(entries, query);
    }
    if (method === 'GET' && id && !action) {
      const c = this.commits.find((x) => x.id === id);
      if (!c) throw notFound('commit');
      return commitView(c);
    }
    if (method === 'PUT' && !id) {
      const environment = this.requireEnvironment(query.environment);
      const types = query.resource_type ? (query.resource_type.split(',') as StandinKind[]) : (['workflow', 'guide'] as StandinKind[]);
      for (const kind of types) {
        for (const r of this.bucket(environment, kind).values()) {
          if (r.draft === null) continue;
          if (query.resource_id && r.key !== query.resource_id) continue;
          this.commitResource(environment, kind, r, query.commit_message ?? '', 'service-token@knock.app');
        }
      }
      return { result: 'success' };
    }
    if (method === 'PUT' && id === 'promote' && !action) {
      const to = this.requireEnvironment(query.to_environment);
      const index = this.environments.indexOf(to);
      if (index === 0) throw invalid([{ field: 'to_environment', message: 'cannot promote into the first environment' }]);
      const from = this.environments[index - 1]!;
      const types = query.resource_type ? query.resource_type.split(',') : null;
      for (const c of this.commits.filter((x) => x.environment === from && !x.promoted)) {
        if (types && !types.includes(c.resource.type)) continue;
        if (query.resource_id && c.resource.identifier !== query.resource_id) continue;
        this.promote(c);
      }
      return { result: 'success' };
    }
    if (method === 'PUT' && id && action === 'promote') {
      const c = this.commits.find((x) => x.id === id);
      if (!c) throw notFound('commit');
      const index = this.environments.indexOf(c.environment);
      if (index === this.environments.length - 1) throw invalid([{ field: 'id', message: `commit is in ${c.environment}, the last environment` }]);
      return { commit: commitView(this.promote(c)) };
    }
    throw notFound('route');
  }

  /** Moves a commit's content into the next environment up and marks it (and earlier ones of its resource) promoted. */
  private promote(c: StandinCommit): StandinCommit {
    const to = this.environments[this.environments.indexOf(c.environment) + 1]!;
    for (const earlier of this.commits) {
      if (earlier.environment === c.environment && earlier.resource.type === c.resource.type && earlier.resource.identifier === c.resource.identifier && !earlier.promoted) {
        earlier.promoted = true;
        if (earlier === c) break;
      }
    }
    const lower = this.bucket(c.environment, c.resource.type).get(c.resource.identifier)!;
    const bucket = this.bucket(to, c.resource.type);
    const now = this.tick();
    const r: Resource = bucket.get(c.resource.identifier) ?? { key: c.resource.identifier, committed: null, draft: null, origin: lower.origin, active: true, archived: false, createdAt: now, updatedAt: now };
    r.committed = structuredClone(c.content);
    r.draft = null;
    r.updatedAt = now;
    bucket.set(r.key, r);
    const promoted: StandinCommit = { ...c, id: this.newId(), environment: to, promoted: false, created_at: now, content: structuredClone(c.content) };
    this.commits.push(promoted);
    return promoted;
  }

  private commitResource(environment: string, kind: StandinKind, r: Resource, message: string, author: string): void {
    if (r.draft === null) return;
    r.committed = r.draft;
    r.draft = null;
    this.commits.push({
      id: this.newId(),
      environment,
      resource: { type: kind, identifier: r.key },
      commit_message: message,
      author: { email: author, name: author.split('@')[0]! },
      created_at: this.tick(),
      promoted: false,
      content: structuredClone(r.committed),
    });
  }

  private view(kind: StandinKind, environment: string, r: Resource, hide: boolean, annotate: boolean): Content {
    const content = structuredClone((hide ? r.committed : r.draft ?? r.committed) ?? {});
    const out: Content = {
      ...content,
      key: r.key,
      environment,
      active: r.active,
      valid: true,
      sha: `sha-${JSON.stringify(content).length}-${r.updatedAt}`,
      created_at: r.createdAt,
      updated_at: r.updatedAt,
      ...(kind === 'guide' ? { archived_at: r.archived ? r.updatedAt : null } : {}),
    };
    if (annotate) {
      annotateTemplates(out);
      out.__annotation = { extractable_fields: {}, readonly_fields: SYSTEM_FIELDS.filter((f) => !f.startsWith('__')) };
    }
    return out;
  }

  private bucket(environment: string, kind: StandinKind): Map<string, Resource> {
    const id = `${environment}/${kind}`;
    let bucket = this.data.get(id);
    if (!bucket) {
      bucket = new Map();
      this.data.set(id, bucket);
    }
    return bucket;
  }

  private requireEnvironment(slug: string | undefined): string {
    if (!slug) throw invalid([{ field: 'environment', message: 'is required' }]);
    if (!this.environments.includes(slug)) throw notFound('environment');
    return slug;
  }

  private newId(): string {
    this.sequence++;
    return `00000000-0000-4000-8000-${String(this.sequence).padStart(12, '0')}`;
  }

  private tick(): string {
    this.clock += 1000;
    return new Date(this.clock).toISOString();
  }

  private epoch(): string {
    return '2026-01-01T00:00:00.000Z';
  }
}

class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`HTTP ${status}`);
  }
}

function notFound(what: string): ApiFailure {
  return new ApiFailure(404, { code: 'resource_missing', message: `The ${what} was not found.`, status: 404 });
}

function invalid(errors: { field: string; message: string }[]): ApiFailure {
  return new ApiFailure(422, { code: 'invalid_params', message: 'The request is invalid.', status: 422, errors: errors.map((e) => ({ ...e, type: null })) });
}

function stripSystem(content: Content): Content {
  return Object.fromEntries(Object.entries(structuredClone(content)).filter(([field]) => !SYSTEM_FIELDS.includes(field) && field !== '$schema'));
}

/** Knock's basic checks: a name, steps with unique refs on channels the account has; for guides a channel. */
function validateContent(kind: StandinKind, content: Content, channels: Set<string> | null): { field: string; message: string }[] {
  const errors: { field: string; message: string }[] = [];
  if (typeof content.name !== 'string' || content.name.trim() === '') errors.push({ field: 'name', message: "can't be blank" });
  if (!Array.isArray(content.steps)) errors.push({ field: 'steps', message: 'must be a list' });
  else {
    const refs = new Set<string>();
    content.steps.forEach((step: unknown, i) => {
      const ref = (step as { ref?: unknown } | null)?.ref;
      if (typeof ref !== 'string' || ref === '') errors.push({ field: `steps[${i}].ref`, message: "can't be blank" });
      else if (refs.has(ref)) errors.push({ field: `steps[${i}].ref`, message: `duplicate step ref "${ref}"` });
      else refs.add(ref);
      const channel = (step as { channel_key?: unknown } | null)?.channel_key;
      if (channels && typeof channel === 'string' && !channels.has(channel)) errors.push({ field: `steps[${i}].channel_key`, message: `channel "${channel}" does not exist` });
    });
  }
  if (kind === 'guide' && typeof content.channel_key !== 'string') errors.push({ field: 'channel_key', message: "can't be blank" });
  return errors;
}

/** Adds Knock's `__annotation.extractable_fields` to every object holding a field that `knock pull` writes to a file. */
function annotateTemplates(value: unknown): void {
  if (Array.isArray(value)) {
    for (const item of value) annotateTemplates(item);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const record = value as Record<string, unknown>;
  const extractable: Record<string, { default: boolean; file_ext: string }> = {};
  for (const [field, item] of Object.entries(record)) {
    const ext = EXTRACTABLE[field];
    if (ext && (typeof item === 'string' || (field === 'visual_blocks' && Array.isArray(item)))) extractable[field] = { default: true, file_ext: ext };
    annotateTemplates(item);
  }
  if (Object.keys(extractable).length > 0) record.__annotation = { extractable_fields: extractable, readonly_fields: [] };
}

function commitView(c: StandinCommit): Omit<StandinCommit, 'content' | 'promoted'> {
  const { content: _content, promoted: _promoted, ...rest } = c;
  return rest;
}

/** Knock's cursor pagination: at most 100 entries a page; `after` is the last entry's position. */
function page<T>(entries: T[], query: Record<string, string>): { entries: T[]; page_info: { after: string | null; before: string | null; page_size: number } } {
  const limit = Math.min(100, Math.max(1, Number(query.limit ?? 50) || 50));
  const start = query.after ? Number(Buffer.from(query.after, 'base64url').toString()) : 0;
  const slice = entries.slice(start, start + limit);
  const end = start + slice.length;
  return {
    entries: slice,
    page_info: { after: end < entries.length ? Buffer.from(String(end)).toString('base64url') : null, before: null, page_size: limit },
  };
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (chunks.length === 0) return null;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return null;
  }
}
