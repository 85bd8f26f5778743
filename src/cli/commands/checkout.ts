import type { Command } from 'commander';
import type { Action } from '../command.js';
import { checkoutEnvironment } from '../../core/ops/checkout.js';
import { coreOptions } from '../context.js';
import { line, writeJson, type Io } from '../io.js';

export function register(program: Command, io: Io, run: Action): void {
  program
    .command('checkout <env>')
    .alias('switch')
    .description("switch the working tree to an environment's branch (refused while there are uncommitted changes)")
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nstatus and commit act on the checked-out environment. Example:\n  $ knock-env checkout production   # with production write access on, edit and commit there')
    .action(run(async (environment: string, opts: { json?: boolean }) => runCheckout(io, environment, opts)));
}

export async function runCheckout(io: Io, environment: string, opts: { json?: boolean }): Promise<number> {
  const result = await checkoutEnvironment({ ...coreOptions(io, io.cwd), environment });
  if (opts.json) writeJson(io, result);
  else {
    const c = io.color;
    line(io.err, `${c.green('✔')} On ${c.bold(environment)} at ${c.yellow(result.head.slice(0, 7))}${result.previous && result.previous !== environment ? ` (was ${result.previous}; ${result.files} file${result.files === 1 ? '' : 's'} updated)` : ''}`);
    line(io.err, c.dim(`  status and commit now act on ${environment}`));
  }
  return 0;
}
