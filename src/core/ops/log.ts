import { authorizeRead } from '../access.js';
import type { CoreOptions } from '../context.js';
import { parseTrailers, readCommit, subjectOf } from '../git/commit.js';
import { currentBranch } from '../git/refs.js';
import { headOf, loadConfig, openProject, requireEnvironment } from '../project.js';
import { readAuditTrail } from './audit.js';
import { TRAILER } from './shared.js';

export interface LogEntry {
  type: 'commit' | 'merge-down' | 'init' | 'env-create' | 'settings' | 'repair' | 'promotion' | 'rollback' | 'deploy' | 'git-commit';
  environment: string;
  /** The commit (for commits) or the audit record (for promotions and rollbacks). */
  id: string;
  subject: string;
  author: { name: string; email: string };
  time: string;
  /** For promotions and rollbacks: the branch moved from → to; the source environment. */
  from?: string | null;
  to?: string;
  source?: string;
}

const LOGGED_OPERATIONS = ['commit', 'merge-down', 'init', 'env-create', 'settings', 'repair', 'rollback'] as const;

export interface LogOptions extends Pick<CoreOptions, 'fs' | 'dir'>, Partial<Pick<CoreOptions, 'actor' | 'apiKey'>> {
  environment?: string;
  limit?: number;
  promotionsOnly?: boolean;
}

/** An environment's history: its commits (first-parent) and the promotions into it, newest first. */
export async function readLog(options: LogOptions): Promise<{ environment: string; entries: LogEntry[] }> {
  const project = await openProject(options);
  const config = await loadConfig(project);
  const environment = options.environment ?? (await currentBranch(project)) ?? 'development';
  requireEnvironment(config, environment);
  authorizeRead(config, options.actor, options.apiKey, [environment]);
  const limit = options.limit ?? 50;
  const commits: LogEntry[] = [];
  /** The listed commits end before the environment's first commit (`limit` reached). */
  let truncated = false;
  if (!options.promotionsOnly) {
    let oid: string | undefined = await headOf(project, environment);
    const seen = new Set<string>();
    while (oid && !seen.has(oid)) {
      if (commits.length >= limit) {
        truncated = true;
        break;
      }
      seen.add(oid);
      const commit = await readCommit(project, oid);
      const trailers = parseTrailers(commit.message);
      const operation = trailers[TRAILER.operation];
      commits.push({
        type: operation !== undefined && (LOGGED_OPERATIONS as readonly string[]).includes(operation) ? (operation as LogEntry['type']) : 'git-commit',
        environment: trailers[TRAILER.environment] ?? environment,
        id: commit.oid,
        subject: subjectOf(commit.message),
        author: { name: commit.author.name, email: commit.author.email },
        time: new Date(commit.author.timestamp * 1000).toISOString(),
      });
      oid = commit.parents[0];
    }
  }
  const events: LogEntry[] = [];
  for (const event of await readAuditTrail(project)) {
    if (event.environment !== environment) continue;
    events.push({
      // A deploy to Knock moves no branch: it says which commit Knock's environment holds.
      type: event.operation === 'rollback' ? 'rollback' : event.operation === 'deploy' ? 'deploy' : 'promotion',
      environment,
      id: event.id,
      subject: event.message,
      author: event.actor,
      time: event.time,
      from: event.from,
      to: event.to,
      ...(event.source ? { source: event.source } : {}),
    });
  }
  return { environment, entries: inHistoryOrder(commits, events, truncated).slice(0, limit) };
}

/**
 * Commits (first-parent, newest first) and the promotions and rollbacks into the
 * environment (the audit trail's order, newest first) as one list ordered by history,
 * never by their one-second timestamps: an event comes just before the commit it moved
 * the branch to, after every commit made on top of it. An event whose commit is not
 * listed stays in the audit trail's order: after the listed commits when the list was
 * cut short (its commit is older), else beside the newer event before it.
 */
function inHistoryOrder(commits: LogEntry[], events: LogEntry[], truncated: boolean): LogEntry[] {
  const position = new Map<string, number>();
  commits.forEach((commit, index) => {
    if (!position.has(commit.id)) position.set(commit.id, index);
  });
  const before: LogEntry[][] = commits.map(() => []);
  const after: LogEntry[] = [];
  let last = 0;
  for (const event of events) {
    const found = event.to === undefined ? undefined : position.get(event.to);
    const at = Math.max(last, found ?? (truncated ? commits.length : last));
    last = at;
    if (at >= commits.length) after.push(event);
    else before[at]!.push(event);
  }
  return [...commits.flatMap((commit, index) => [...before[index]!, commit]), ...after];
}
