import { Option, type Command } from 'commander';
import type { Action } from '../command.js';
import { diffEnvironments } from '../../core/ops/diff.js';
import { planFileTextsIn } from '../../core/ops/plan-details.js';
import { fs, readerOptions } from '../context.js';
import { formatCommits, formatPlanBody, planCounts } from '../format.js';
import { line, writeJson, type Io } from '../io.js';
import { environmentDiffMarkdown } from '../markdown.js';
import type { PlanFormat } from './promote.js';

export function register(program: Command, io: Io, run: Action): void {
  program
    .command('diff <from-env> <to-env>')
    .description('what <from-env> would take from <to-env> (the same as git diff <from-env> <to-env>)')
    .addOption(new Option('--format <format>', 'output format (markdown: the plan for a pull-request comment)').choices(['text', 'json', 'markdown']).default('text'))
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExample: what promoting production would bring\n  $ knock-env diff production staging')
    .action(run(async (from: string, to: string, opts: { json?: boolean; format?: string }) => runDiff(io, from, to, opts)));
}

export async function runDiff(io: Io, from: string, to: string, opts: { json?: boolean; format?: string }): Promise<number> {
  const format = (opts.json ? 'json' : opts.format ?? 'text') as PlanFormat;
  const diff = await diffEnvironments({ ...readerOptions(io, io.cwd), from, to });
  if (format === 'markdown') {
    io.out.write(environmentDiffMarkdown(diff, await planFileTextsIn({ fs, dir: io.cwd }, diff)));
    return 0;
  }
  if (format === 'json') {
    const { differences, ...rest } = diff;
    writeJson(io, { ...rest, files: differences.map((d) => ({ path: d.path, status: d.status })) });
    return 0;
  }
  const c = io.color;
  const n = planCounts(diff);
  line(io.out, `${c.bold(`${from} → ${to}`)}: ${n.added} added, ${n.modified} changed, ${n.deleted} deleted ${c.dim(`(git diff ${from} ${to})`)}`);
  for (const l of formatPlanBody(diff, c)) line(io.out, l);
  if (diff.commits.length > 0) {
    line(io.out, `  commits in ${to} not in ${from}:`);
    for (const l of formatCommits(diff.commits, c)) line(io.out, `  ${l}`);
  }
  return 0;
}
