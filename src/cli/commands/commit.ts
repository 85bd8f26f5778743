import type { Command } from 'commander';
import type { Action } from '../command.js';
import { withRemote } from '../../core/remote/sync.js';
import { commitChanges } from '../../core/ops/commit.js';
import { coreOptions } from '../context.js';
import { line, writeJson, type Io } from '../io.js';

export function register(program: Command, io: Io, run: Action): void {
  program
    .command('commit [paths...]')
    .description('validate and commit the changed resources to the checked-out environment')
    .requiredOption('-m, --message <message>', 'commit message')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nSets origin_environment on new resources. Refuses (and writes nothing) when any\nchanged resource is invalid or belongs to another environment.\n\nExamples:\n  $ knock-env commit -m "Add welcome email"\n  $ knock-env commit workflows/welcome-email -m "Only this one"')
    .action(run(async (paths: string[], opts: { message: string; json?: boolean }) => runCommit(io, paths, opts)));
}

export async function runCommit(io: Io, paths: string[], opts: { message: string; json?: boolean }): Promise<number> {
  const result = await withRemote({ ...coreOptions(io, io.cwd), message: opts.message, paths }, commitChanges);
  if (opts.json) {
    writeJson(io, result);
    return 0;
  }
  const c = io.color;
  line(io.out, `${c.green('✔')} [${result.environment} ${c.yellow(result.commit.slice(0, 7))}] ${opts.message.split('\n')[0]}`);
  for (const r of result.resources) line(io.out, `  ${r.status.padEnd(9)} ${r.kind} ${r.key}`);
  const others = result.files.filter((f) => !f.path.startsWith('workflows/') && !f.path.startsWith('guides/'));
  for (const f of others) line(io.out, `  ${f.status.padEnd(9)} ${f.path}`);
  for (const m of result.mergedInto) line(io.err, c.dim(`  merged down into ${m.environment} (${m.to.slice(0, 7)})`));
  return 0;
}
