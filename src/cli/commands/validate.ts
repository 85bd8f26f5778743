import { Option, type Command } from 'commander';
import type { Action } from '../command.js';
import { validateWorkingTree } from '../../core/ops/validate.js';
import { githubReport } from '../annotations.js';
import { fs } from '../context.js';
import { formatIssues } from '../format.js';
import { line, writeJson, type Io } from '../io.js';

export function register(program: Command, io: Io, run: Action): void {
  program
    .command('validate [paths...]')
    .description('check resources: YAML, schema, @ file references, keys; every problem in every file')
    .addOption(new Option('--format <format>', 'output format (github: workflow commands that annotate the diff)').choices(['text', 'json', 'github']).default('text'))
    .option('--json', 'same as --format json')
    .addHelpText('after', '\nWith no paths, checks knock-env.yaml and every workflow and guide.\nPaths may be resource folders, files in them, or workflows/ and guides/.\nExits 3 when any problem is found.\n\nExamples:\n  $ knock-env validate\n  $ knock-env validate workflows/welcome-email --format json')
    .action(run(async (paths: string[], opts: { format?: string; json?: boolean }) => runValidate(io, paths, opts)));
}

export type ReportFormat = 'text' | 'json' | 'github';

export async function runValidate(io: Io, paths: string[], opts: { format?: string; json?: boolean }): Promise<number> {
  const format = (opts.json ? 'json' : opts.format ?? 'text') as ReportFormat;
  const spinner = format === 'text' && io.err.isTTY ? (await import('ora')).default({ text: 'Validating…', stream: io.err }).start() : null;
  const report = await validateWorkingTree({ fs, dir: io.cwd, paths });
  spinner?.stop();
  const issues = [...report.other, ...report.resources.flatMap((r) => r.issues)];
  if (format === 'json') {
    writeJson(io, {
      valid: issues.length === 0,
      checked: report.resources.length,
      issueCount: issues.length,
      issues,
      resources: report.resources.map((r) => ({ kind: r.kind, key: r.key, valid: r.valid, issueCount: r.issues.length })),
    });
  } else if (format === 'github') {
    const files = new Set(issues.map((i) => i.file)).size;
    const summary = `knock-env validate: ${report.resources.length} resource${report.resources.length === 1 ? '' : 's'} checked, ${issues.length === 0 ? 'no problems' : `${issues.length} problem${issues.length === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'}`}`;
    for (const l of githubReport(issues, summary)) line(io.out, l);
  } else {
    const c = io.color;
    if (issues.length > 0) line(io.out, formatIssues(issues, c));
    const summary = `${report.resources.length} resource${report.resources.length === 1 ? '' : 's'} checked, ${issues.length} problem${issues.length === 1 ? '' : 's'}`;
    line(io.err, issues.length === 0 ? `${c.green('✔')} ${summary}` : `${c.red('✖')} ${summary}`);
  }
  return issues.length === 0 ? 0 : 3;
}
