import type { Command } from 'commander';
import type { Action } from '../command.js';
import { registerEnvSet } from './env-set.js';
import { withRemote } from '../../core/remote/sync.js';
import { createEnvironment, listEnvironments } from '../../core/ops/environments.js';
import { coreOptions, readerOptions } from '../context.js';
import { line, writeJson, type Io } from '../io.js';

export function register(program: Command, io: Io, run: Action): void {
  const env = program.command('env').description('list, create and configure environments');
  env
    .command('list')
    .description('environments, lowest first, with their heads and settings')
    .option('--json', 'print as JSON')
    .action(run(async (opts: { json?: boolean }) => runEnvList(io, opts)));
  env
    .command('create <slug>')
    .description('add an environment directly below production')
    .option('--name <name>', 'display name')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nThe new branch starts at the head of the environment directly below it.\nSlugs match ^[a-z0-9][a-z0-9_-]{2,254}$. Environments are never reordered.\n\nExample:\n  $ knock-env env create staging')
    .action(run(async (slug: string, opts: { name?: string; json?: boolean }) => runEnvCreate(io, slug, opts)));
  registerEnvSet(env, io, run);
}

export async function runEnvList(io: Io, opts: { json?: boolean }): Promise<number> {
  const envs = await listEnvironments(readerOptions(io, io.cwd));
  if (opts.json) {
    writeJson(io, { environments: envs });
    return 0;
  }
  const c = io.color;
  for (const e of envs) {
    const flags = [e.settings.obfuscate_recipient_data ? 'recipient data obfuscated' : null, e.settings.show_message_contents ? null : 'message contents hidden'].filter(Boolean);
    line(io.out, `${e.checkedOut ? c.green('*') : ' '} ${String(e.position + 1).padStart(2)}. ${c.bold(e.slug.padEnd(16))} ${c.yellow(e.head.slice(0, 7))}${flags.length ? c.dim(`  ${flags.join(', ')}`) : ''}`);
  }
  return 0;
}

export async function runEnvCreate(io: Io, slug: string, opts: { name?: string; json?: boolean }): Promise<number> {
  const result = await withRemote({ ...coreOptions(io, io.cwd), slug, ...(opts.name ? { name: opts.name } : {}) }, createEnvironment);
  if (opts.json) writeJson(io, result);
  else {
    line(io.err, `${io.color.green('✔')} Created environment ${io.color.bold(slug)} at ${result.head.slice(0, 7)}`);
    line(io.err, `  environments: ${result.environments.join(' → ')}`);
    line(io.err, `  next: ${io.color.bold(`knock-env promote ${slug}`)} moves it to the head of the environment below it`);
  }
  return 0;
}
