import type { Command } from 'commander';
import type { Action } from '../command.js';
import { readLog } from '../../core/ops/log.js';
import { readerOptions } from '../context.js';
import { line, writeJson, type Io } from '../io.js';

export function register(program: Command, io: Io, run: Action): void {
  program
    .command('log [env]')
    .description('commits and promotions of an environment (default: the checked-out one)')
    .option('-n, --limit <n>', 'how many entries', '50')
    .option('--promotions', 'only promotions and rollbacks')
    .option('--json', 'print as JSON')
    .action(run(async (environment: string | undefined, opts: { json?: boolean; limit?: string; promotions?: boolean }) => runLog(io, environment, opts)));
}

export async function runLog(io: Io, environment: string | undefined, opts: { json?: boolean; limit?: string; promotions?: boolean }): Promise<number> {
  const limit = opts.limit === undefined ? 50 : Number(opts.limit);
  const log = await readLog({ ...readerOptions(io, io.cwd), ...(environment ? { environment } : {}), limit, promotionsOnly: Boolean(opts.promotions) });
  if (opts.json) {
    writeJson(io, log);
    return 0;
  }
  const c = io.color;
  line(io.out, c.bold(`History of ${log.environment} (newest first)`));
  for (const e of log.entries) {
    const tag = e.type === 'promotion' ? c.magenta('promotion') : e.type === 'rollback' ? c.red('rollback ') : e.type === 'deploy' ? c.blue('deploy   ') : e.type === 'merge-down' ? c.cyan('merge    ') : c.green(e.type.padEnd(9));
    const id = e.type === 'promotion' || e.type === 'rollback' || e.type === 'deploy' ? `${(e.from ?? '0000000').slice(0, 7)}..${(e.to ?? '').slice(0, 7)}` : c.yellow(e.id.slice(0, 7));
    line(io.out, `${tag} ${id} ${e.subject}`);
    line(io.out, c.dim(`          ${e.author.name} <${e.author.email}>, ${e.time}`));
  }
  return 0;
}
