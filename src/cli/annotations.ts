import type { ValidationIssue } from '../core/validate/types.js';

/**
 * GitHub Actions workflow commands
 * (https://docs.github.com/actions/reference/workflow-commands-for-github-actions):
 * a line `::error file=...,line=...,col=...,title=...::message` printed on
 * stdout becomes an annotation on that line of the pull request's diff.
 */

export type AnnotationLevel = 'error' | 'warning' | 'notice';

/** Escapes a command's message as GitHub's toolkit does: %, CR and LF. */
export function escapeData(value: string): string {
  return value.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Escapes a property value: as a message, plus ":" and "," which delimit properties. */
export function escapeProperty(value: string): string {
  return escapeData(value).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/** One workflow command line, properties in the order given. */
export function workflowCommand(command: string, properties: Record<string, string | number | undefined>, message: string): string {
  const props = Object.entries(properties)
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
    .map(([key, value]) => `${key}=${escapeProperty(String(value))}`)
    .join(',');
  return `::${command}${props === '' ? '' : ` ${props}`}::${escapeData(message)}`;
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
