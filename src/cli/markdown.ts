import type { EnvironmentDiff } from '../core/ops/diff.js';
import type { FileTexts } from '../core/ops/plan-details.js';
import type { ChangePlan, CommitSummary, ResourcePlan } from '../core/ops/plan.js';
import type { PromotionPlan } from '../core/ops/promote.js';
import { RESOURCE_TYPES, resourceId } from '../core/resources.js';
import { unifiedDiff } from '../core/textdiff.js';
import type { ValidationIssue } from '../core/validate/types.js';

/**
 * Plans as Markdown for a pull-request comment: a header with the
 * environments and commits, a table of resources, and per resource the fields
 * and steps that change and a unified diff of each file. Every file of the
 * plan gets a `#### ` heading naming it, so the comment lists exactly the files
 * `git diff` does.
 */

export interface MarkdownOptions {
  /** Diff lines shown per file before the rest is left to `git diff`. Default 400. */
  maxDiffLines?: number;
  /** Lines of context in diffs. Default 3. */
  context?: number;
  /**
   * Characters of diffs in all (GitHub refuses comments over 65,536 characters); files past
   * it are listed without their diff. Default 50,000.
   */
  maxDiffChars?: number;
}

type Settings = Required<MarkdownOptions> & { left: number };

export interface PlanHeading {
  title: string;
  /** Rows of the header table: label and value (already Markdown). */
  rows: [string, string][];
  /** The two revisions `git diff` compares to show the same files, e.g. "production staging". */
  range: string;
  commits: CommitSummary[];
  /** Said when the plan is empty. */
  empty: string;
  /** Where the changes land, for notes on new and deleted resources ("production"). */
  target: string;
  issues?: ValidationIssue[];
}

const MARKER: Record<string, string> = { added: '**added**', modified: '**changed**', deleted: '**deleted**' };
const FILE_STATUS: Record<string, string> = { added: 'added', modified: 'changed', deleted: 'deleted' };

/** Inline code that survives backticks in the text. */
export function code(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') || text.startsWith(' ') || text.endsWith(' ') ? ' ' : '';
  return `${fence}${pad}${text.replace(/\n/g, ' ')}${pad}${fence}`;
}

/** Plain text made inert: Markdown punctuation escaped, line breaks flattened. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()<>#+!|~]/g, (ch) => `\\${ch}`).replace(/\r?\n/g, ' ');
}

/** A table cell: pipes escaped even inside code spans, as GitHub's tables need. */
function cell(markdown: string): string {
  return markdown.replace(/(?<!\\)\|/g, '\\|');
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function list(items: string[]): string {
  return items.map(code).join(', ');
}

/** A fenced block whose fence is longer than any run of backticks inside it. */
function fenced(body: string, info: string): string[] {
  const longest = Math.max(0, ...[...body.matchAll(/`{3,}/g)].map((m) => m[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return [`${fence}${info}`, ...body.replace(/\n$/, '').split('\n'), fence];
}

function stepsSummary(r: ResourcePlan): string {
  const s = r.steps;
  return [
    s.added.length ? `${s.added.length} added` : '',
    s.removed.length ? `${s.removed.length} removed` : '',
    s.changed.length ? `${s.changed.length} changed` : '',
    s.reordered.length ? `${s.reordered.length} reordered` : '',
  ]
    .filter(Boolean)
    .join(', ');
}

function fileSection(file: FileTexts | undefined, path: string, status: string, options: Settings, range: string): string[] {
  const out = [`#### ${code(path)} (${FILE_STATUS[status] ?? status})`, ''];
  if (file === undefined) return out;
  if (file.binary) {
    out.push(`Binary file${file.beforeSize !== null && file.afterSize !== null ? ` (${file.beforeSize} → ${file.afterSize} bytes)` : ` (${file.afterSize ?? file.beforeSize} bytes)`}; not shown.`, '');
    return out;
  }
  if (file.tooLarge) {
    out.push(`Too large to show here; see ${code(`git diff ${range} -- ${path}`)}.`, '');
    return out;
  }
  const diff = unifiedDiff(file.status === 'added' ? null : file.before, file.status === 'deleted' ? null : file.after, path, { context: options.context });
  if (diff === '') {
    out.push('Only the file mode changed.', '');
    return out;
  }
  const lines = diff.replace(/\n$/, '').split('\n');
  const shown = lines.slice(0, options.maxDiffLines);
  const body = shown.join('\n');
  if (body.length > options.left) {
    out.push(`Diff not shown, to keep this comment within GitHub's size limit: ${code(`git diff ${range} -- ${path}`)}`, '');
    return out;
  }
  options.left -= body.length;
  out.push(...fenced(body, 'diff'));
  if (lines.length > shown.length) out.push(`… ${count(lines.length - shown.length, 'more line')}: ${code(`git diff ${range} -- ${path}`)}`);
  out.push('');
  return out;
}

function resourceSection(r: ResourcePlan, files: Map<string, FileTexts>, heading: PlanHeading, options: Settings): string[] {
  const out = [`### ${r.kind} ${code(r.key)}: ${MARKER[r.status]}`, ''];
  const Items = r.items.charAt(0).toUpperCase() + r.items.slice(1);
  if (r.status === 'added') {
    out.push(`> **new**: this ${RESOURCE_TYPES[r.kind].noun} does not exist in ${heading.target} yet.`, '');
    if (r.steps.added.length) out.push(`- ${Items}: ${list(r.steps.added)}`, '');
  } else if (r.status === 'deleted') {
    out.push(`> **deleted**: this ${RESOURCE_TYPES[r.kind].noun} is removed from ${heading.target}.`, '');
    if (r.steps.removed.length) out.push(`- ${Items} removed with it: ${list(r.steps.removed)}`, '');
  } else {
    const facts = [
      r.fields.length ? `- Fields changed: ${list(r.fields)}` : '',
      r.steps.added.length ? `- ${Items} added: ${list(r.steps.added)}` : '',
      r.steps.removed.length ? `- ${Items} removed: ${list(r.steps.removed)}` : '',
      r.steps.changed.length ? `- ${Items} changed: ${list(r.steps.changed)}` : '',
      r.steps.reordered.length ? `- ${Items} reordered: ${list(r.steps.reordered)}` : '',
    ].filter(Boolean);
    if (facts.length) out.push(...facts, '');
  }
  for (const f of r.files) out.push(...fileSection(files.get(f.path), f.path, f.status, options, heading.range));
  return out;
}

function issueLine(issue: ValidationIssue): string {
  const where = issue.line !== undefined ? `${issue.file}:${issue.line}:${issue.column ?? 1}` : issue.file;
  return `- ${code(where)} ${escapeMarkdown(issue.message)} (${code(issue.code)})`;
}

/** Renders a plan with its file texts (from planFileTexts) under a heading. */
export function renderPlanMarkdown(plan: ChangePlan, texts: FileTexts[], heading: PlanHeading, options: MarkdownOptions = {}): string {
  const maxDiffChars = options.maxDiffChars ?? 50_000;
  const opts: Settings = { maxDiffLines: options.maxDiffLines ?? 400, context: options.context ?? 3, maxDiffChars, left: maxDiffChars };
  const files = new Map(texts.map((t) => [t.path, t]));
  const n = (status: string) => plan.resources.filter((r) => r.status === status).length;
  const out: string[] = [`## ${heading.title}`, '', '| | |', '|---|---|', ...heading.rows.map(([k, v]) => `| ${cell(k)} | ${cell(v)} |`), ''];
  if (plan.resources.length === 0 && plan.others.length === 0) {
    out.push(heading.empty, '');
    return `${out.join('\n').trimEnd()}\n`;
  }
  out.push(
    `${n('added')} ${MARKER.added} · ${n('modified')} ${MARKER.modified} · ${n('deleted')} ${MARKER.deleted} · ${count(plan.differences.length, 'file')} (${code(`git diff --no-renames --name-only ${heading.range}`)})`,
    '',
  );
  if (heading.issues && heading.issues.length > 0) {
    out.push(`### Problems (${heading.issues.length})`, '', ...heading.issues.map(issueLine), '');
  }
  if (plan.resources.length > 0) {
    out.push('### Resources', '', '| resource | kind | change | steps | files |', '|---|---|---|---|---|');
    const sorted = [...plan.resources].sort((a, b) => (resourceId(a) < resourceId(b) ? -1 : 1));
    for (const r of sorted) {
      const change = r.status === 'added' ? `${MARKER.added} (new)` : MARKER[r.status]!;
      out.push(`| ${cell(code(r.key))} | ${r.kind} | ${change} | ${stepsSummary(r)} | ${r.files.length} |`);
    }
    out.push('');
  }
  if (heading.commits.length > 0) {
    out.push(`### Commits (${heading.commits.length})`, '');
    for (const k of heading.commits.slice(0, 50)) out.push(`- ${code(k.oid.slice(0, 7))} ${escapeMarkdown(k.subject)} (${escapeMarkdown(k.author)}, ${k.time})`);
    if (heading.commits.length > 50) out.push(`- … and ${heading.commits.length - 50} more`);
    out.push('');
  }
  for (const r of plan.resources) out.push(...resourceSection(r, files, heading, opts));
  if (plan.others.length > 0) {
    out.push('### Other files', '', '| file | scope | change |', '|---|---|---|');
    for (const o of plan.others) out.push(`| ${cell(code(o.path))} | ${o.scope} | ${MARKER[o.status]} |`);
    out.push('');
    for (const o of plan.others) out.push(...fileSection(files.get(o.path), o.path, o.status, opts, heading.range));
  }
  return `${out.join('\n').trimEnd()}\n`;
}

/** `promote <env> --format markdown`. */
export function promotionMarkdown(plan: PromotionPlan, texts: FileTexts[], options: MarkdownOptions = {}): string {
  const from = plan.from.commit.slice(0, 7);
  const to = plan.to.commit.slice(0, 7);
  return renderPlanMarkdown(
    plan,
    texts,
    {
      title: `Promote ${code(plan.source)} → ${code(plan.environment)}`,
      rows: [
        ['environment', `${code(plan.environment)} (fast-forward, never a merge)`],
        ['from', `${code(plan.environment)} at ${code(from)}`],
        ['to', `${code(plan.source)} at ${code(to)}`],
        ['commits', String(plan.commits.length)],
      ],
      range: `${plan.environment} ${to}`,
      commits: plan.commits,
      empty: `Nothing to promote: ${code(plan.environment)} is already at ${code(to)}.`,
      target: plan.environment,
      issues: plan.issues,
    },
    options,
  );
}

/** `diff <from-env> <to-env> --format markdown`. */
export function environmentDiffMarkdown(diff: EnvironmentDiff, texts: FileTexts[], options: MarkdownOptions = {}): string {
  return renderPlanMarkdown(
    diff,
    texts,
    {
      title: `What ${code(diff.fromEnvironment)} would take from ${code(diff.toEnvironment)}`,
      rows: [
        ['from', `${code(diff.fromEnvironment)} at ${code(diff.from.commit.slice(0, 7))}`],
        ['to', `${code(diff.toEnvironment)} at ${code(diff.to.commit.slice(0, 7))}`],
        ['commits', `${diff.commits.length} in ${code(diff.toEnvironment)} not in ${code(diff.fromEnvironment)}`],
      ],
      range: `${diff.fromEnvironment} ${diff.toEnvironment}`,
      commits: diff.commits,
      empty: `No differences: ${code(diff.fromEnvironment)} and ${code(diff.toEnvironment)} have the same content.`,
      target: diff.fromEnvironment,
    },
    options,
  );
}
