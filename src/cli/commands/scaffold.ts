import type { Command } from 'commander';
import type { Action } from '../command.js';
import { scaffoldResource } from '../../core/ops/scaffold.js';
import { RESOURCE_MODULES, type ResourceKind } from '../../core/resources.js';
import { fs } from '../context.js';
import { line, writeJson, type Io } from '../io.js';

/** `<kind> new <key>` for every resource type of the registry, with the options its module declares. */
export function register(program: Command, io: Io, run: Action): void {
  for (const type of RESOURCE_MODULES) {
    const group = program.command(type.kind).description(type.description);
    const command = group.command(`new <${type.scaffoldArgument ?? 'key'}>`).description(`scaffold a valid ${type.noun} in the working tree`);
    for (const option of type.scaffoldOptions ?? []) {
      const choices = option.choices ? ` (${option.choices.join('|')})` : '';
      command.option(`--${option.name} <${option.name}>`, `${option.description}${choices}`, option.default);
    }
    command
      .option('--json', 'print the written files as JSON')
      .action(run(async (key: string, opts: { json?: boolean }) => runScaffold(io, type.kind, key, opts)));
  }
}

export async function runScaffold(io: Io, kind: ResourceKind, key: string, opts: { json?: boolean } & Record<string, unknown>): Promise<number> {
  const options = Object.fromEntries(Object.entries(opts).filter(([name, value]) => name !== 'json' && typeof value === 'string')) as Record<string, string>;
  const result = await scaffoldResource({ fs, dir: io.cwd, kind, key, options });
  if (opts.json) writeJson(io, result);
  else {
    line(io.err, `${io.color.green('✔')} Created ${kind} ${io.color.bold(key)}:`);
    for (const f of result.files) line(io.out, `  ${f}`);
    line(io.err, `  next: edit it, then ${io.color.bold('knock-env commit -m "Add ' + key + '"')}`);
  }
  return 0;
}
