import { formatMessage, parseTrailers, readCommit, subjectOf, writeCommit, type Signature } from '../git/commit.js';
import { EMPTY_TREE_OID, writeObject, type GitStore } from '../git/objects.js';
import { readRef, updateRef } from '../git/refs.js';
import { AUDIT_REF } from '../project.js';
import { TRAILER, type OperationName } from './shared.js';

export interface AuditEvent {
  /** The audit commit recording the event. */
  id: string;
  operation: OperationName;
  environment: string;
  /** The environment the content came from (promotion) or was restored from (rollback). */
  source?: string;
  from: string | null;
  to: string;
  message: string;
  actor: { name: string; email: string };
  time: string;
}

/**
 * Appends an event to the audit trail: a branch of empty-tree commits whose
 * trailers say who moved which environment from which commit to which. It is
 * an ordinary branch, so it travels with every clone and push.
 */
export async function appendAuditEvent(
  store: GitStore,
  event: {
    operation: OperationName;
    environment: string;
    source?: string;
    from: string | null;
    to: string;
    subject: string;
    body?: string;
    /** More trailers an operation records (a deploy: the Knock environment and Knock's commit ids). */
    trailers?: Record<string, string>;
  },
  signature: Signature,
): Promise<string> {
  await writeObject(store, 'tree', Buffer.alloc(0));
  const parent = await readRef(store, AUDIT_REF);
  const trailers: Record<string, string> = {
    [TRAILER.operation]: event.operation,
    [TRAILER.environment]: event.environment,
    ...(event.source ? { [TRAILER.source]: event.source } : {}),
    [TRAILER.from]: event.from ?? 'none',
    [TRAILER.to]: event.to,
    ...event.trailers,
  };
  const message = formatMessage(event.subject, event.body, trailers);
  const oid = await writeCommit(store, { tree: EMPTY_TREE_OID, parents: parent ? [parent] : [], author: signature, committer: signature, message });
  await updateRef(store, { ref: AUDIT_REF, oldOid: parent, newOid: oid, reflogMessage: `knock-env audit: ${event.subject}`, committer: signature });
  return oid;
}

export async function readAuditTrail(store: GitStore, limit = Infinity): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  let oid = await readRef(store, AUDIT_REF);
  while (oid && out.length < limit) {
    const commit = await readCommit(store, oid);
    const t = parseTrailers(commit.message);
    const from = t[TRAILER.from];
    out.push({
      id: commit.oid,
      operation: (t[TRAILER.operation] ?? 'promote') as OperationName,
      environment: t[TRAILER.environment] ?? '',
      ...(t[TRAILER.source] ? { source: t[TRAILER.source] } : {}),
      from: from && from !== 'none' ? from : null,
      to: t[TRAILER.to] ?? '',
      message: subjectOf(commit.message),
      actor: { name: commit.author.name, email: commit.author.email },
      time: new Date(commit.author.timestamp * 1000).toISOString(),
    });
    oid = commit.parents[0] ?? null;
  }
  return out;
}
