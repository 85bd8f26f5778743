import { Option, type Command } from 'commander';
import type { Action } from '../command.js';
import { isKnockEnvError } from '../../core/errors.js';
import { checkRange, isOwnershipIssue, type CheckResult } from '../../core/ops/check.js';
import { githubReport, workflowCommand } from '../annotations.js';
import { fs } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { colourStatus, formatIssues } from '../format.js';
import { line, writeJson, type Io } from '../io.js';

export function register(program: Command, io: Io, run: Action): void {
  program
    .command('check')
    .description('check a pull request: validate what it changes and hold it to the ownership rules of the environment it targets')
    .requiredOption('--base <rev>', 'the revision the pull request targets: a branch (development, origin/development), a commit id or HEAD')
    .option('--head <rev>', 'the pull request revision', 'HEAD')
    .option('--env <env>', 'the environment the pull request targets (default: the one --base names or points at)')
    .addOption(new Option('--format <format>', 'output format (github: workflow commands that annotate the diff)').choices(['text', 'json', 'github']).default('text'))
    .option('--json', 'same as --format json')
    .addHelpText('after', '\nChecks what the pull request changes: the merge base of --base and --head against --head\n(as `git diff <base>...<head>` shows it, merge commits included). Exits 0 when clean,\n3 for validation problems only, 4 when a change breaks the ownership rules.\n\nExamples:\n  $ knock-env check --base development\n  $ knock-env check --base origin/development --head HEAD --format github')
    .action(run(async (opts: { base: string; head?: string; env?: string; format?: string; json?: boolean }) => runCheck(io, opts)));
}

export type CheckFormat = 'text' | 'json' | 'github';

export interface CheckCommandOptions {
  base: string;
  head?: string;
  env?: string;
  format?: string;
  json?: boolean;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** 0 clean, 3 validation issues only, 4 when any change breaks the ownership rules. */
export function checkExitCode(result: CheckResult): number {
  if (result.issues.some(isOwnershipIssue)) return EXIT.refused;
  return result.issues.length > 0 ? EXIT.validationFailed : EXIT.success;
}

/** The stable JSON shape of `check --format json` (documented in the README). */
export function checkJson(result: CheckResult): unknown {
  return {
    ok: result.issues.length === 0,
    base: result.base,
    head: result.head,
    mergeBase: result.mergeBase,
    environment: result.environment,
    issueCount: result.issues.length,
    issues: result.issues,
    resources: result.resources.map((r) => ({ kind: r.kind, key: r.key, status: r.status, valid: r.valid })),
  };
}

export function checkSummary(result: CheckResult): string {
  const ownership = result.issues.filter(isOwnershipIssue).length;
  const validation = result.issues.length - ownership;
  const changed = `${count(result.resources.length, 'resource')} and ${count(result.others.length, 'other file')} changed`;
  const problems =
    result.issues.length === 0
      ? 'no problems'
      : [ownership > 0 ? count(ownership, 'ownership problem') : '', validation > 0 ? count(validation, 'validation problem') : ''].filter(Boolean).join(', ');
  return `knock-env check into ${result.environment} (${result.mergeBase.slice(0, 7)}..${result.head.slice(0, 7)}): ${changed}; ${problems}`;
}

function printText(io: Io, result: CheckResult): void {
  const c = io.color;
  line(io.out, `${c.bold(`Pull request into ${result.environment}`)}: ${c.yellow(result.mergeBase.slice(0, 7))}..${c.yellow(result.head.slice(0, 7))}${result.mergeBase === result.base ? '' : c.dim(` (merge base of ${result.base.slice(0, 7)} and ${result.head.slice(0, 7)})`)}`);
  if (result.resources.length + result.others.length === 0) line(io.out, c.dim('  no changes'));
  for (const r of result.resources) {
    const verdict = r.issues.length === 0 ? c.green(' ✔') : c.red(` ✖ ${count(r.issues.length, 'problem')}`);
    line(io.out, `  ${colourStatus(r.status, c)(`${r.status.padEnd(9)} ${r.kind} ${r.key}`)}${verdict}`);
  }
  for (const o of result.others) {
    line(io.out, `  ${colourStatus(o.status, c)(`${o.status.padEnd(9)} ${o.path}`)} ${c.dim(`(${o.scope})`)}${o.issues.length === 0 ? '' : c.red(' ✖')}`);
  }
  if (result.issues.length > 0) line(io.out, formatIssues(result.issues, c));
  const summary = checkSummary(result);
  line(io.err, result.issues.length === 0 ? `${c.green('✔')} ${summary}` : `${c.red('✖')} ${summary}`);
}

/** Checks a pull request's range: validation and ownership as the target environment would judge them on commit. */
export async function runCheck(io: Io, opts: CheckCommandOptions): Promise<number> {
  const format = (opts.json ? 'json' : opts.format ?? 'text') as CheckFormat;
  let result: CheckResult;
  try {
    result = await checkRange({
      fs,
      dir: io.cwd,
      base: opts.base,
      ...(opts.head !== undefined ? { head: opts.head } : {}),
      ...(opts.env !== undefined ? { environment: opts.env } : {}),
    });
  } catch (error) {
    // In CI the error also becomes an annotation, so it shows on the run's summary page.
    if (format === 'github' && isKnockEnvError(error)) {
      line(io.out, workflowCommand('error', { title: 'knock-env check' }, error.hint ? `${error.message} ${error.hint}` : error.message));
    }
    throw error;
  }
  if (format === 'json') writeJson(io, checkJson(result));
  else if (format === 'github') for (const l of githubReport(result.issues, checkSummary(result))) line(io.out, l);
  else printText(io, result);
  return checkExitCode(result);
}
