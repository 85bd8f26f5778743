import type { Command } from 'commander';
import type { Action } from '../command.js';
import { resolve } from 'node:path';
import { initProject } from '../../core/ops/init.js';
import { coreOptions } from '../context.js';
import { line, writeJson, type Io } from '../io.js';

export function register(program: Command, io: Io, run: Action): void {
  program
    .command('init [dir]')
    .description('create a knock-env project (knock-env.yaml, development and production branches)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nWorks in an empty folder or in a git repository that is not a knock-env project yet.\nThe person running it becomes the owner. Refuses to initialise twice.')
    .action(run(async (dir: string | undefined, opts: { json?: boolean }) => runInit(io, dir, opts)));
}

export async function runInit(io: Io, dir: string | undefined, opts: { json?: boolean }): Promise<number> {
  const target = resolve(io.cwd, dir ?? '.');
  const result = await initProject({ ...coreOptions(io, target, `${target}/.git`) });
  if (opts.json) writeJson(io, result);
  else {
    const c = io.color;
    line(io.err, `${c.green('✔')} Initialised knock-env in ${result.dir}${result.createdRepository ? ' (new git repository)' : ''}`);
    line(io.err, `  environments: ${result.environments.join(' → ')}   first commit ${result.commit.slice(0, 7)}`);
    line(io.err, `  next: ${c.bold('knock-env workflow new <key>')}, then ${c.bold('knock-env commit -m "..."')}`);
  }
  return 0;
}
