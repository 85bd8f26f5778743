/**
 * Knock's conditions, evaluated locally. A condition is `variable operator
 * argument`; the variable is a path (`recipient.email`, `data.plan`,
 * `refs.email_1.status`) or a literal, the argument a literal written as a
 * string ("5", "true", "null", "pro"), a path, or a message status
 * (`$message.seen`).
 *
 * Message statuses are simulated: a channel step that ran has a message whose
 * status is `sent` (unless the caller sets another), a step that was skipped
 * or not reached has `not_sent`. Statuses are ordered as a message advances:
 *
 *   not_sent (also undelivered, bounced) < queued < sent (also delivery_attempted)
 *   < delivered < seen < read < interacted (also link_clicked) < archived
 *
 * so `refs.in_app_feed_1.status less_than $message.seen` holds for a message
 * that was sent but not seen. `$message.unseen` and `$message.unread` equal
 * any status below seen and read respectively.
 *
 * A condition whose truth cannot be known here (audience membership, run
 * state) is `unknown`: it is reported as not evaluated, and the run proceeds
 * as if it held.
 */

export type Truth = boolean | 'unknown';

export interface ConditionReport {
  variable: string;
  operator: string;
  argument: string | null;
  /** The variable's value (absent when it is undefined). */
  value?: unknown;
  /** The argument's value when it was a path or a message status. */
  argumentValue?: unknown;
  result: Truth;
  /** Why the result is unknown, or a note on how it was reached. */
  reason?: string;
}

export interface ConditionGroupReport {
  mode: 'all' | 'any';
  result: Truth;
  conditions: (ConditionReport | ConditionGroupReport)[];
}

export interface ConditionScope {
  recipient: unknown;
  actor: unknown;
  data: unknown;
  tenant: unknown;
  vars: unknown;
  workflow: unknown;
  /** Simulated status of each channel step's message, by ref. */
  statuses: ReadonlyMap<string, string>;
  now: Date;
}

export const STATUS_LEVEL: Readonly<Record<string, number>> = {
  not_sent: 0,
  undelivered: 0,
  bounced: 0,
  queued: 1,
  sent: 2,
  delivery_attempted: 2,
  delivered: 3,
  seen: 4,
  read: 5,
  interacted: 6,
  link_clicked: 6,
  archived: 7,
};

/** Statuses that stand for "below a level" rather than a level. */
const BELOW: Readonly<Record<string, number>> = { unseen: 4, unread: 5 };

export const MESSAGE_STATUSES = [...Object.keys(STATUS_LEVEL), ...Object.keys(BELOW)];

export const OPERATORS = [
  'equal_to',
  'not_equal_to',
  'greater_than',
  'less_than',
  'greater_than_or_equal_to',
  'less_than_or_equal_to',
  'contains',
  'not_contains',
  'contains_all',
  'not_contains_all',
  'empty',
  'not_empty',
  'exists',
  'not_exists',
  'is_timestamp',
  'is_not_timestamp',
  'is_timestamp_before',
  'is_timestamp_after',
  'is_timestamp_on_or_after',
  'is_timestamp_before_date',
  'is_timestamp_after_date',
  'is_timestamp_on_or_after_date',
  'is_timestamp_between',
  'is_audience_member',
  'is_not_audience_member',
] as const;

const PATH_ROOTS = ['recipient', 'actor', 'data', 'tenant', 'vars', 'refs', 'workflow'];
/** Roots Knock knows but a local run cannot: the run's own state. */
const UNKNOWABLE_ROOTS = ['run'];

/** Whether a variable or argument string is a path (as opposed to a literal). */
export function isPath(text: string): boolean {
  const root = /^([A-Za-z_]+)(?:$|[.[])/.exec(text)?.[1];
  return root !== undefined && (PATH_ROOTS.includes(root) || UNKNOWABLE_ROOTS.includes(root));
}

/** Segments of a path: `a.b[0].c` → a, b, 0, c. */
export function pathSegments(path: string): string[] {
  const out: string[] = [];
  for (const part of path.split('.')) {
    const match = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (match === null) {
      out.push(part);
      continue;
    }
    if (match[1] !== '') out.push(match[1]!);
    for (const index of match[2]!.matchAll(/\[(\d+)\]/g)) out.push(index[1]!);
  }
  return out;
}

/** Own-property lookup along segments. */
export function lookup(root: unknown, segments: string[]): unknown {
  let node = root;
  for (const segment of segments) {
    if (node === null || node === undefined) return undefined;
    if (Array.isArray(node)) {
      node = /^\d+$/.test(segment) ? node[Number(segment)] : segment === 'size' ? node.length : undefined;
    } else if (typeof node === 'object') {
      node = Object.prototype.hasOwnProperty.call(node, segment) ? (node as Record<string, unknown>)[segment] : undefined;
    } else {
      return undefined;
    }
  }
  return node;
}

interface Resolved {
  known: boolean;
  value: unknown;
  /** A message status when the value is one (`refs.x.status`, `$message.seen`). */
  status?: string;
}

function messageRefs(statuses: ReadonlyMap<string, string>, ref: string): Record<string, string> {
  const status = statuses.get(ref) ?? 'not_sent';
  const level = STATUS_LEVEL[status] ?? 0;
  return {
    status,
    delivery_status: level >= STATUS_LEVEL.delivered! ? 'delivered' : status,
    engagement_status: level >= STATUS_LEVEL.seen! ? status : 'unseen',
  };
}

export function resolvePath(path: string, scope: ConditionScope): Resolved {
  const segments = pathSegments(path);
  const root = segments[0]!;
  if (UNKNOWABLE_ROOTS.includes(root)) return { known: false, value: undefined };
  if (root === 'refs') {
    const ref = segments[1];
    if (ref === undefined) return { known: true, value: undefined };
    const value = lookup(messageRefs(scope.statuses, ref), segments.slice(2));
    return typeof value === 'string' && value in { ...STATUS_LEVEL, ...BELOW } ? { known: true, value, status: value } : { known: true, value };
  }
  const roots: Record<string, unknown> = {
    recipient: scope.recipient,
    actor: scope.actor,
    data: scope.data,
    tenant: scope.tenant,
    vars: scope.vars,
    workflow: scope.workflow,
  };
  return { known: true, value: lookup(roots[root], segments.slice(1)) };
}

/** A literal written as a string: numbers, booleans and null are read as such. */
export function parseLiteral(text: string): unknown {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text === 'null' || text === 'nil') return null;
  if (/^-?(?:\d+|\d*\.\d+)$/.test(text)) return Number(text);
  return text;
}

function resolveOperand(text: string | null | undefined, scope: ConditionScope): Resolved & { path: boolean } {
  if (text === null || text === undefined) return { known: true, value: null, path: false };
  const status = /^\$message\.([a-z_]+)$/.exec(text)?.[1];
  if (status !== undefined) {
    if (!(status in STATUS_LEVEL) && !(status in BELOW)) return { known: false, value: text, path: true };
    return { known: true, value: status, status, path: true };
  }
  if (isPath(text)) return { ...resolvePath(text, scope), path: true };
  return { known: true, value: parseLiteral(text), path: false };
}

// ---------------------------------------------------------------------------
// Comparisons

function isNumeric(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  return typeof value === 'string' && /^\s*-?(?:\d+|\d*\.\d+)(?:e[-+]?\d+)?\s*$/i.test(value);
}

export function looseEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if ((a === null || a === undefined) && (b === null || b === undefined)) return true;
  if (a === null || a === undefined || b === null || b === undefined) return false;
  if (isNumeric(a) && isNumeric(b)) return Number(a) === Number(b);
  if (typeof a === 'boolean' || typeof b === 'boolean') return String(a) === String(b);
  if (typeof a === 'object' || typeof b === 'object') return JSON.stringify(a) === JSON.stringify(b);
  return String(a) === String(b);
}

/** Order of two values: numbers numerically, strings by code point; undefined when they do not compare. */
function order(a: unknown, b: unknown): number | undefined {
  if (a === null || a === undefined || b === null || b === undefined) return undefined;
  if (isNumeric(a) && isNumeric(b)) return Number(a) - Number(b);
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  return undefined;
}

function contains(haystack: unknown, needle: unknown): boolean {
  if (Array.isArray(haystack)) return haystack.some((item) => looseEqual(item, needle));
  if (typeof haystack === 'string') return needle !== null && needle !== undefined && haystack.includes(String(needle));
  if (haystack !== null && typeof haystack === 'object') return Object.prototype.hasOwnProperty.call(haystack, String(needle));
  return false;
}

function listOf(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (typeof value === 'string') return value.split(',').map((s) => parseLiteral(s.trim()));
  return value === null || value === undefined ? [] : [value];
}

function isEmpty(value: unknown): boolean {
  if (value === null || value === undefined || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.keys(value).length === 0;
  return false;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** A timestamp: an ISO 8601 string, a Unix time in seconds or milliseconds, or "now". */
export function toTimestamp(value: unknown, now: Date): Date | undefined {
  if (value instanceof Date) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return new Date(value < 1e11 ? value * 1000 : value);
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (text === 'now') return now;
  if (/^\d{9,13}$/.test(text)) return toTimestamp(Number(text), now);
  if (!ISO_DATE.test(text)) return undefined;
  const date = new Date(text.length === 10 ? `${text}T00:00:00Z` : text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Whether a value is a timestamp in itself: an ISO 8601 string or a Unix time ("now" is only an argument). */
function isTimestamp(value: unknown, now: Date): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  return typeof value === 'string' && value.trim() !== 'now' && toTimestamp(value, now) !== undefined;
}

function dayOf(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** The two ends of an is_timestamp_between argument: "start,end", "start..end", [start, end] or { start, end }. */
function rangeOf(value: unknown, now: Date): [Date, Date] | undefined {
  let ends: unknown[] | undefined;
  if (Array.isArray(value)) ends = value;
  else if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    ends = [record.start ?? record.from, record.end ?? record.to];
  } else if (typeof value === 'string') {
    const text = value.trim();
    if (text.startsWith('{') || text.startsWith('[')) {
      try {
        return rangeOf(JSON.parse(text), now);
      } catch {
        return undefined;
      }
    }
    ends = text.includes('..') ? text.split('..') : text.split(',');
  }
  if (ends === undefined || ends.length !== 2) return undefined;
  const start = toTimestamp(ends[0], now);
  const end = toTimestamp(ends[1], now);
  return start && end ? [start, end] : undefined;
}

function compareStatuses(operator: string, value: Resolved, argument: Resolved): Truth | undefined {
  if (argument.status === undefined) return undefined;
  const status = value.status ?? (typeof value.value === 'string' ? value.value : undefined);
  if (status === undefined || !(status in STATUS_LEVEL)) return value.value === undefined ? false : 'unknown';
  const level = STATUS_LEVEL[status]!;
  const target = argument.status;
  const below = BELOW[target];
  if (below !== undefined) {
    if (operator === 'equal_to') return level < below;
    if (operator === 'not_equal_to') return level >= below;
  }
  const targetLevel = below ?? STATUS_LEVEL[target]!;
  switch (operator) {
    case 'equal_to':
      return level === targetLevel;
    case 'not_equal_to':
      return level !== targetLevel;
    case 'less_than':
      return level < targetLevel;
    case 'less_than_or_equal_to':
      return level <= targetLevel;
    case 'greater_than':
      return level > targetLevel;
    case 'greater_than_or_equal_to':
      return level >= targetLevel;
    default:
      return undefined;
  }
}

function apply(operator: string, value: Resolved, argument: Resolved, now: Date): { result: Truth; reason?: string } {
  const statusResult = compareStatuses(operator, value, argument);
  if (statusResult !== undefined) return { result: statusResult, reason: 'message statuses compared by how far a message has advanced' };
  const v = value.value;
  const a = argument.value;
  const ordered = (test: (n: number) => boolean): Truth => {
    const o = order(v, a);
    return o === undefined ? false : test(o);
  };
  const timestamps = (test: (t: Date, u: Date) => boolean): { result: Truth; reason?: string } => {
    const t = toTimestamp(v, now);
    const u = toTimestamp(a, now);
    if (u === undefined) return { result: 'unknown', reason: `the argument ${JSON.stringify(a)} is not a timestamp (ISO 8601, Unix time or "now")` };
    return { result: t !== undefined && test(t, u) };
  };
  switch (operator) {
    case 'equal_to':
      return { result: looseEqual(v, a) };
    case 'not_equal_to':
      return { result: !looseEqual(v, a) };
    case 'greater_than':
      return { result: ordered((o) => o > 0) };
    case 'less_than':
      return { result: ordered((o) => o < 0) };
    case 'greater_than_or_equal_to':
      return { result: ordered((o) => o >= 0) };
    case 'less_than_or_equal_to':
      return { result: ordered((o) => o <= 0) };
    case 'contains':
      return { result: contains(v, a) };
    case 'not_contains':
      return { result: !contains(v, a) };
    case 'contains_all':
      return { result: listOf(a).every((item) => contains(v, item)) };
    case 'not_contains_all':
      return { result: !listOf(a).every((item) => contains(v, item)) };
    case 'empty':
      return { result: isEmpty(v) };
    case 'not_empty':
      return { result: !isEmpty(v) };
    case 'exists':
      return { result: v !== undefined && v !== null };
    case 'not_exists':
      return { result: v === undefined || v === null };
    case 'is_timestamp':
      return { result: isTimestamp(v, now) };
    case 'is_not_timestamp':
      return { result: !isTimestamp(v, now) };
    case 'is_timestamp_before':
      return timestamps((t, u) => t.getTime() < u.getTime());
    case 'is_timestamp_after':
      return timestamps((t, u) => t.getTime() > u.getTime());
    case 'is_timestamp_on_or_after':
      return timestamps((t, u) => t.getTime() >= u.getTime());
    case 'is_timestamp_before_date':
      return timestamps((t, u) => dayOf(t) < dayOf(u));
    case 'is_timestamp_after_date':
      return timestamps((t, u) => dayOf(t) > dayOf(u));
    case 'is_timestamp_on_or_after_date':
      return timestamps((t, u) => dayOf(t) >= dayOf(u));
    case 'is_timestamp_between': {
      const range = rangeOf(a, now);
      if (range === undefined) return { result: 'unknown', reason: 'the argument is not a range of two timestamps ("start,end")' };
      const t = toTimestamp(v, now);
      return { result: t !== undefined && t.getTime() >= range[0].getTime() && t.getTime() <= range[1].getTime() };
    }
    case 'is_audience_member':
    case 'is_not_audience_member':
      return { result: 'unknown', reason: 'audience membership lives in Knock; not evaluated locally' };
    default:
      return { result: 'unknown', reason: `operator "${operator}" is not known to knock-env` };
  }
}

export function evaluateCondition(condition: Record<string, unknown>, scope: ConditionScope): ConditionReport {
  const variable = typeof condition.variable === 'string' ? condition.variable : String(condition.variable ?? '');
  const operator = typeof condition.operator === 'string' ? condition.operator : String(condition.operator ?? '');
  const argument = typeof condition.argument === 'string' ? condition.argument : condition.argument === undefined || condition.argument === null ? null : String(condition.argument);
  const report: ConditionReport = { variable, operator, argument, result: 'unknown' };
  const value = resolveOperand(variable, scope);
  const arg = resolveOperand(argument, scope);
  if (value.value !== undefined) report.value = value.value;
  if (arg.path && arg.value !== undefined) report.argumentValue = arg.value;
  if (!value.known || !arg.known) {
    const which = !value.known ? variable : argument;
    report.reason = `${which} cannot be known in a local run; not evaluated`;
    return report;
  }
  const outcome = apply(operator, value, arg, scope.now);
  report.result = outcome.result;
  if (outcome.reason !== undefined) report.reason = outcome.reason;
  return report;
}

function combine(mode: 'all' | 'any', results: Truth[]): Truth {
  if (mode === 'all') {
    if (results.includes(false)) return false;
    return results.includes('unknown') ? 'unknown' : true;
  }
  if (results.includes(true)) return true;
  return results.includes('unknown') ? 'unknown' : results.length === 0;
}

/**
 * Evaluates a condition group (`{ all: [...] }` or `{ any: [...] }`, where an
 * item of `any` may be an `all` group). Returns null when there are none.
 */
export function evaluateConditions(conditions: unknown, scope: ConditionScope): ConditionGroupReport | null {
  if (conditions === null || conditions === undefined || typeof conditions !== 'object' || Array.isArray(conditions)) return null;
  const group = conditions as Record<string, unknown>;
  const mode: 'all' | 'any' | undefined = Array.isArray(group.all) ? 'all' : Array.isArray(group.any) ? 'any' : undefined;
  if (mode === undefined) return null;
  const items = group[mode] as unknown[];
  const reports: (ConditionReport | ConditionGroupReport)[] = [];
  for (const item of items) {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) continue;
    const nested = 'variable' in item ? null : evaluateConditions(item, scope);
    reports.push(nested ?? evaluateCondition(item as Record<string, unknown>, scope));
  }
  return { mode, result: combine(mode, reports.map((r) => r.result)), conditions: reports };
}
