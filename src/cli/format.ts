import { EXIT } from './exit-codes.js';
import type { ChalkInstance } from 'chalk';
import type { ChangePlan, CommitSummary, ResourcePlan } from '../core/ops/plan.js';
import type { ValidationIssue } from '../core/validate/types.js';
import { keyProblem } from '../core/keys.js';
import { line, type Io } from './io.js';

// Matching control characters is the point here.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Control characters other than tab and newline written as `\u001b`: text
 * that comes from files or trigger data never reaches a terminal as escape
 * sequences (clearing it, retitling it, hiding lines).
 */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** `escapeControl` applied to every string in a JSON-like value. */
export function escapeControlDeep<T>(value: T): T {
  if (typeof value === 'string') return escapeControl(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => escapeControlDeep(v)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) Object.defineProperty(out, escapeControl(key), { value: escapeControlDeep(v), enumerable: true, writable: true, configurable: true });
    return out as T;
  }
  return value;
}

export function issueLocation(issue: ValidationIssue): string {
  const where = issue.line !== undefined ? `${issue.file}:${issue.line}:${issue.column ?? 1}` : issue.file;
  return issue.pointer ? `${where} (${issue.pointer === '' ? '/' : issue.pointer})` : where;
}

export function formatIssues(issues: ValidationIssue[], c: ChalkInstance): string {
  return issues.map((i) => `${c.bold(escapeControl(issueLocation(i)))} ${c.red('error')} ${escapeControl(i.message)} ${c.dim(`[${i.code}]`)}`).join('\n');
}

const SIGN: Record<string, string> = { added: '+', modified: '~', deleted: '-' };

export function colourStatus(status: string, c: ChalkInstance): (s: string) => string {
  return status === 'added' ? c.green : status === 'deleted' ? c.red : c.yellow;
}

export function formatResourcePlan(r: ResourcePlan, c: ChalkInstance): string[] {
  const paint = colourStatus(r.status, c);
  const lines = [paint(`  ${SIGN[r.status]} ${r.kind} ${r.key} (${r.status})`)];
  if (r.status === 'modified') {
    if (r.fields.length > 0) lines.push(`      fields changed: ${r.fields.join(', ')}`);
    const s = r.steps;
    if (s.added.length) lines.push(c.green(`      ${r.items} added: ${s.added.join(', ')}`));
    if (s.removed.length) lines.push(c.red(`      ${r.items} removed: ${s.removed.join(', ')}`));
    if (s.changed.length) lines.push(c.yellow(`      ${r.items} changed: ${s.changed.join(', ')}`));
    if (s.reordered.length) lines.push(c.cyan(`      ${r.items} reordered: ${s.reordered.join(', ')}`));
  } else if (r.steps.added.length || r.steps.removed.length) {
    const steps = r.status === 'added' ? r.steps.added : r.steps.removed;
    if (steps.length) lines.push(c.dim(`      ${r.items}: ${steps.join(', ')}`));
  }
  return lines;
}

export function formatPlanBody(plan: ChangePlan, c: ChalkInstance): string[] {
  const lines: string[] = [];
  if (plan.resources.length === 0 && plan.others.length === 0) return [c.dim('  no changes')];
  for (const r of plan.resources) lines.push(...formatResourcePlan(r, c));
  for (const o of plan.others) lines.push(colourStatus(o.status, c)(`  ${SIGN[o.status]} ${o.path} (${o.scope}, ${o.status})`));
  return lines;
}

export function formatCommits(commits: CommitSummary[], c: ChalkInstance, max = 10): string[] {
  const lines = commits.slice(0, max).map((k) => `  ${c.yellow(k.oid.slice(0, 7))} ${k.subject} ${c.dim(`(${k.author}, ${k.time})`)}`);
  if (commits.length > max) lines.push(c.dim(`  ... and ${commits.length - max} more`));
  return lines;
}

export function planCounts(plan: ChangePlan): Record<'added' | 'modified' | 'deleted', number> {
  const count = (s: string) => plan.resources.filter((r) => r.status === s).length;
  return { added: count('added'), modified: count('modified'), deleted: count('deleted') };
}

/**
 * One line per resource an import or export handled (`done` or skipped, with
 * the reason), and its notes below it; the kind starts at column `width`.
 */
export function printResourceReport(
  io: Io,
  resources: { kind: string; key: string; status: string; reason?: string; notes: string[]; replaced?: boolean }[],
  done: string,
  width: number,
): void {
  const c = io.color;
  for (const r of resources) {
    // A name that is not a valid key is shown quoted: it may hold control characters.
    const name = keyProblem(r.key) === null ? r.key : JSON.stringify(r.key);
    if (r.status === done) line(io.out, `${c.green(done)}${' '.repeat(width - done.length)}${r.kind} ${c.bold(name)}${r.replaced ? c.dim(' (replaced)') : ''}`);
    else line(io.out, `${c.red('skipped')}${' '.repeat(width - 'skipped'.length)}${r.kind} ${c.bold(name)}: ${r.reason ?? ''}`);
    for (const note of r.notes) line(io.out, c.dim(`${' '.repeat(width)}note: ${note}`));
  }
}

/**
 * Exit code of an import: 0 when every resource was imported, 3 when some
 * could not be (invalid key or content), else 4 when some already exist and
 * need --force.
 */
export function importExitCode(resources: { status: string; code?: string }[]): number {
  const skipped = resources.filter((r) => r.status === 'skipped');
  if (skipped.length === 0) return EXIT.success;
  return skipped.some((r) => r.code !== 'exists') ? EXIT.validationFailed : EXIT.refused;
}
