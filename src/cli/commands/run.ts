import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { ChalkInstance } from 'chalk';
import { KnockEnvError } from '../../core/errors.js';
import { runWorkflow, type RenderedField, type RunReport, type StepReport } from '../../core/ops/run.js';
import type { ConditionGroupReport, ConditionReport } from '../../core/run/conditions.js';
import { readerOptions } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { escapeControlDeep } from '../format.js';
import { line, writeJson, type Io } from '../io.js';

export interface RunCommandOptions {
  env?: string;
  workingTree?: boolean;
  recipient?: string;
  data?: string;
  actor?: string;
  tenant?: string;
  messageStatus?: string[];
  showContents?: boolean;
  json?: boolean;
}

/**
 * A JSON value given on the command line: inline JSON, or the path of a JSON
 * file. For a recipient, actor or tenant a bare word is taken as an id.
 */
export function readJsonArgument(io: Io, value: string, option: string, idAllowed: boolean): unknown {
  const text = value.trim();
  if (/^[[{"]/.test(text)) return parseJson(text, `--${option}`);
  const path = isAbsolute(text) ? text : resolve(io.cwd, text);
  if (/\.json$/i.test(text) || text.includes('/') || existsSync(path)) {
    let content: string;
    try {
      content = readFileSync(path, 'utf8');
    } catch {
      throw new KnockEnvError('USAGE', `--${option} ${value}: no such file.`, { hint: `Pass JSON inline (--${option} '{"id":"user_1"}') or the path of a JSON file.` });
    }
    return parseJson(content, `--${option} ${value}`);
  }
  if (idAllowed) return text;
  return parseJson(text, `--${option}`);
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new KnockEnvError('USAGE', `${where} is not valid JSON: ${error instanceof Error ? error.message : String(error)}.`, {
      hint: 'Quote inline JSON for the shell, e.g. --data \'{"page_name":"Roadmap"}\', or pass a .json file.',
    });
  }
}

export function parseMessageStatuses(values: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const value of values ?? []) {
    const match = /^([^=\s]+)=([a-z_]+)$/.exec(value.trim());
    if (match === null) {
      throw new KnockEnvError('USAGE', `--message-status ${value}: expected <step_ref>=<status>.`, { hint: 'E.g. --message-status in_app_feed_1=seen.' });
    }
    out[match[1]!] = match[2]!;
  }
  return out;
}

export async function runRun(io: Io, workflow: string, opts: RunCommandOptions): Promise<number> {
  if (opts.recipient === undefined) {
    throw new KnockEnvError('USAGE', 'run needs a recipient.', { hint: `Pass --recipient '{"id":"user_1","email":"ada@example.com"}', a JSON file, or an id.` });
  }
  const trigger = {
    recipient: readJsonArgument(io, opts.recipient, 'recipient', true),
    ...(opts.actor !== undefined ? { actor: readJsonArgument(io, opts.actor, 'actor', true) } : {}),
    ...(opts.data !== undefined ? { data: readJsonArgument(io, opts.data, 'data', false) } : {}),
    ...(opts.tenant !== undefined ? { tenant: readJsonArgument(io, opts.tenant, 'tenant', true) } : {}),
  };
  const fixed = io.env.KNOCK_ENV_NOW;
  const report = await runWorkflow({
    ...readerOptions(io, io.cwd),
    ...(fixed ? { now: () => new Date(fixed) } : {}),
    workflow,
    ...(opts.env !== undefined ? { environment: opts.env } : {}),
    workingTree: Boolean(opts.workingTree),
    trigger,
    messageStatuses: parseMessageStatuses(opts.messageStatus),
    showContentsRequested: Boolean(opts.showContents),
  });
  const failed = report.issues.length > 0 || !report.triggerData.valid;
  if (opts.json) writeJson(io, report);
  else printReport(io, escapeControlDeep(report));
  return failed ? EXIT.validationFailed : EXIT.success;
}

function printReport(io: Io, report: RunReport): void {
  const c = io.color;
  const at = report.source.kind === 'commit' ? `${report.environment} at ${report.source.commit.slice(0, 7)}` : `the working tree of ${report.environment}`;
  line(io.out, c.bold(`Run of ${report.workflow.key} ("${report.workflow.name}") in ${at}; nothing is sent`));
  const recipient = String(report.recipient.id ?? '');
  line(
    io.out,
    report.settings.obfuscate_recipient_data
      ? `  recipient ${recipient}${report.recipient.collection ? ` in ${String(report.recipient.collection)}` : ''} ${c.dim(`(recipient data obfuscated in ${report.environment}${report.redactedFields.length ? `: ${report.redactedFields.join(', ')} hidden` : ''})`)}`
      : `  recipient ${recipient}`,
  );
  if (!report.settings.show_message_contents) line(io.out, c.dim(`  message contents are hidden in ${report.environment}: fields and sizes only`));
  if (report.triggerData.schema) {
    line(io.out, report.triggerData.valid ? `  trigger data ${c.green('matches')} trigger_data_json_schema` : `  trigger data ${c.red('does not match')} trigger_data_json_schema:`);
    for (const issue of report.triggerData.issues) line(io.out, `    ${c.red('✗')} ${issue.message}`);
  }
  if (report.conditions !== null) {
    line(io.out, `  trigger conditions ${truth(report.conditions.result, c)}`);
    printConditions(io, report.conditions, '    ');
  }
  line(io.out);
  if (report.steps.length > 0) {
    for (const step of report.steps) printStep(io, step);
    line(io.out);
  }
  const outcome =
    report.outcome === 'completed' ? c.green('completed') : report.outcome === 'terminated' ? c.yellow('terminated') : c.red('halted');
  line(io.out, `${outcome}: ${report.messageCount} message${report.messageCount === 1 ? '' : 's'} would be sent${report.reason ? `. ${report.reason}` : '.'}`);
  if (report.issues.length > 0) {
    line(io.out);
    line(io.out, c.bold('Liquid problems:'));
    for (const issue of report.issues) {
      const where = issue.line !== undefined ? `${issue.file}:${issue.line}:${issue.column ?? 1}` : issue.file;
      line(io.out, `  ${c.bold(where)} ${c.red('error')} ${issue.message} ${c.dim(`[${issue.code}] (${issue.step}, ${issue.field})`)}`);
    }
  }
  for (const warning of report.warnings) line(io.err, `${c.yellow('warning')} ${warning}`);
  for (const note of report.notes) line(io.err, `${c.cyan('note')} ${note}`);
}

function truth(result: boolean | 'unknown', c: ChalkInstance): string {
  return result === true ? c.green('hold') : result === false ? c.red('do not hold') : c.yellow('could not be evaluated (assumed to hold)');
}

function show(value: unknown): string {
  return value === undefined ? 'undefined' : JSON.stringify(value);
}

function printConditions(io: Io, group: ConditionGroupReport, indent: string): void {
  const c = io.color;
  if (group.conditions.length > 1) line(io.out, c.dim(`${indent}${group.mode === 'all' ? 'all of' : 'any of'}:`));
  for (const item of group.conditions) {
    if ('mode' in item) {
      printConditions(io, item, `${indent}  `);
      continue;
    }
    const condition: ConditionReport = item;
    const mark = condition.result === true ? c.green('✓') : condition.result === false ? c.red('✗') : c.yellow('?');
    const argument = condition.argument === null ? '' : ` ${condition.argument}`;
    const values = `${show(condition.value)}${condition.argumentValue !== undefined ? ` vs ${show(condition.argumentValue)}` : ''}`;
    line(io.out, `${indent}${mark} ${condition.variable} ${condition.operator}${argument} ${c.dim(`(${values}${condition.reason ? `; ${condition.reason}` : ''})`)}`);
  }
}

function printFields(io: Io, fields: RenderedField[], indent: string): void {
  const c = io.color;
  for (const field of fields) {
    const size = field.failed ? c.red('failed to render') : `${field.size} B`;
    line(io.out, `${indent}${c.bold(field.name)} ${c.dim(`(${size}, ${field.file})`)}`);
    if (field.text === undefined) continue;
    // Blank lines around the text are left out; its own indentation is kept.
    const text = field.text.replace(/^(?:[ \t]*\n)+/, '').replace(/\s+$/, '');
    if (text === '') line(io.out, c.dim(`${indent}  │ (empty)`));
    else for (const textLine of text.split('\n')) line(io.out, `${indent}  │ ${textLine}`);
  }
}

function printStep(io: Io, step: StepReport): void {
  const c = io.color;
  const depth = step.position.split('.').length - 1;
  const indent = '  '.repeat(depth);
  const name = step.name ? ` ${c.dim(step.name)}` : '';
  const skipped = step.status === 'skipped';
  const head = `${indent}${step.position}. ${skipped ? c.dim(step.ref) : c.bold(step.ref)} ${c.cyan(step.type)}${name}`;
  line(io.out, head);
  const body = `${indent}   `;
  if (step.conditions !== null) printConditions(io, step.conditions, `${body}`);
  if (step.channelConditions) {
    line(io.out, c.dim(`${body}channel conditions:`));
    printConditions(io, step.channelConditions, `${body}  `);
  }
  line(io.out, `${body}${skipped ? c.yellow(step.summary) : step.summary}`);
  if (step.branches) {
    for (const branch of step.branches) {
      const mark = branch.chosen ? c.green('→') : ' ';
      line(io.out, `${body}${mark} ${branch.name}${branch.default ? c.dim(' (default)') : ''}`);
      if (branch.conditions !== null) printConditions(io, branch.conditions, `${body}    `);
    }
  }
  if (step.message) printFields(io, step.message.fields, `${body}`);
  if (step.request) printFields(io, step.request.fields, `${body}`);
}
