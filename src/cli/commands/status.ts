import type { Command } from 'commander';
import type { Action } from '../command.js';
import { analyseWorkingTree } from '../../core/ops/analyse.js';
import { readerOptions } from '../context.js';
import { colourStatus, formatIssues } from '../format.js';
import { line, writeJson, type Io } from '../io.js';

export function register(program: Command, io: Io, run: Action): void {
  program
    .command('status')
    .description('resources added, changed and deleted in the working tree, with their validity')
    .option('--json', 'print as JSON')
    .action(run(async (opts: { json?: boolean }) => runStatus(io, opts)));
}

export async function runStatus(io: Io, opts: { json?: boolean }): Promise<number> {
  const a = await analyseWorkingTree(readerOptions(io, io.cwd));
  const resources = a.resources.map((r) => ({
    kind: r.kind,
    key: r.key,
    status: r.status,
    valid: r.issues.length === 0,
    issues: r.issues,
    files: r.paths.map((p) => ({ path: p.path, status: p.status })),
  }));
  const others = a.others.map((o) => ({ path: o.change.path, status: o.change.status, scope: o.scope, ...(o.environment ? { environment: o.environment } : {}), valid: o.issues.length === 0, issues: o.issues }));
  if (opts.json) {
    writeJson(io, { environment: a.environment, head: a.head, clean: resources.length + others.length === 0, resources, others });
    return 0;
  }
  const c = io.color;
  line(io.out, `On environment ${c.bold(a.environment)} at ${c.yellow(a.head.slice(0, 7))}`);
  if (resources.length + others.length === 0) {
    line(io.out, c.dim('Nothing changed: the working tree matches the head.'));
    return 0;
  }
  for (const r of resources) {
    const mark = r.status === 'deleted' ? '' : r.valid ? c.green(' ✔ valid') : c.red(` ✖ ${r.issues.length} problem${r.issues.length === 1 ? '' : 's'}`);
    line(io.out, `  ${colourStatus(r.status, c)(`${r.status.padEnd(9)} ${r.kind} ${r.key}`)}${mark}`);
    if (!r.valid) line(io.out, formatIssues(r.issues, c).replace(/^/gm, '      '));
  }
  for (const o of others) {
    line(io.out, `  ${colourStatus(o.status, c)(`${o.status.padEnd(9)} ${o.path}`)} ${c.dim(`(${o.scope})`)}${o.valid ? '' : c.red(' ✖')}`);
    if (!o.valid) line(io.out, formatIssues(o.issues, c).replace(/^/gm, '      '));
  }
  return 0;
}
