import type { ValidationIssue } from '../core/validate/types.js';

/**
 * GitHub Actions workflow commands
 * (https://docs.github.com/actions/reference/workflow-commands-for-github-actions):
 * a line `::error file=...,line=...,col=...,title=...::message` printed on
 * stdout becomes an annotation on that line of the pull request's diff.
 */

export type AnnotationLevel = 'error' | 'warning' | 'notice';

export interface WorkflowCommand {
  command: string;
  properties: Record<string, string>;
  message: string;
}

/** Escapes a command's message as GitHub's toolkit does: %, CR and LF. */
export function escapeData(value: string): string {
  return value.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Escapes a property value: as a message, plus ":" and "," which delimit properties. */
export function escapeProperty(value: string): string {
  return escapeData(value).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

function unescape(value: string, property: boolean): string {
  const codes: Record<string, string> = { '%0D': '\r', '%0A': '\n', '%25': '%', ...(property ? { '%3A': ':', '%2C': ',' } : {}) };
  return value.replace(/%(?:0D|0A|25|3A|2C)/g, (code) => codes[code] ?? code);
}

/** One workflow command line, properties in the order given. */
export function workflowCommand(command: string, properties: Record<string, string | number | undefined>, message: string): string {
  const props = Object.entries(properties)
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
    .map(([key, value]) => `${key}=${escapeProperty(String(value))}`)
    .join(',');
  return `::${command}${props === '' ? '' : ` ${props}`}::${escapeData(message)}`;
}

/** Reads a workflow command line back (null for a line that is not one), undoing the escapes. */
export function parseWorkflowCommand(line: string): WorkflowCommand | null {
  const match = /^::([A-Za-z-]+)(?: ([^:]*))?::(.*)$/.exec(line);
  if (!match) return null;
  const properties: Record<string, string> = {};
  for (const pair of (match[2] ?? '').split(',').filter((p) => p !== '')) {
    const eq = pair.indexOf('=');
    if (eq < 0) return null;
    properties[pair.slice(0, eq)] = unescape(pair.slice(eq + 1), true);
  }
  return { command: match[1]!, properties, message: unescape(match[3]!, false) };
}

/** The message shown for an issue: its text, and where in the document when that is known. */
export function annotationMessage(issue: ValidationIssue): string {
  return issue.pointer !== undefined && issue.pointer !== '' ? `${issue.message} (at ${issue.pointer})` : issue.message;
}

/** The annotation for one issue: on its file, at its line and column when known, titled by its code. */
export function issueAnnotation(issue: ValidationIssue, level: AnnotationLevel = 'error'): string {
  return workflowCommand(
    level,
    {
      file: issue.file,
      line: issue.line,
      col: issue.line !== undefined ? issue.column : undefined,
      title: issue.code,
    },
    annotationMessage(issue),
  );
}

/** One annotation per issue, then a plain summary line. */
export function githubReport(issues: ValidationIssue[], summary: string): string[] {
  return [...issues.map((issue) => issueAnnotation(issue)), summary];
}
