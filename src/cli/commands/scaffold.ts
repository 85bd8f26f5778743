import type { Command } from 'commander';
import type { Action } from '../command.js';
import { scaffoldResource } from '../../core/ops/scaffold.js';
import type { ResourceKind } from '../../core/resources.js';
import { fs } from '../context.js';
import { line, writeJson, type Io } from '../io.js';

export function register(program: Command, io: Io, run: Action): void {
  for (const kind of ['workflow', 'guide'] as const) {
    const group = program.command(kind).description(`${kind} resources (${kind}s/<key>/${kind}.yaml)`);
    group
      .command('new <key>')
      .description(`scaffold a valid ${kind} in the working tree`)
      .option('--json', 'print the written files as JSON')
      .action(run(async (key: string, opts: { json?: boolean }) => runScaffold(io, kind, key, opts)));
  }
}

export async function runScaffold(io: Io, kind: ResourceKind, key: string, opts: { json?: boolean }): Promise<number> {
  const result = await scaffoldResource({ fs, dir: io.cwd, kind, key });
  if (opts.json) writeJson(io, result);
  else {
    line(io.err, `${io.color.green('✔')} Created ${kind} ${io.color.bold(key)}:`);
    for (const f of result.files) line(io.out, `  ${f}`);
    line(io.err, `  next: edit it, then ${io.color.bold('knock-env commit -m "Add ' + key + '"')}`);
  }
  return 0;
}
