import { diffEnvironments } from '../../core/ops/diff.js';
import { planFileTextsIn } from '../../core/ops/plan-details.js';
import { fs, readerOptions } from '../context.js';
import { formatCommits, formatPlanBody, planCounts } from '../format.js';
import { line, writeJson, type Io } from '../io.js';
import { environmentDiffMarkdown } from '../markdown.js';
import type { PlanFormat } from './promote.js';

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
