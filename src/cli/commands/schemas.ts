import type { Command } from 'commander';
import type { Action } from '../command.js';
import { describeSchemas } from '../../core/ops/schemas.js';
import { fs } from '../context.js';
import { line, writeJson, type Io } from '../io.js';

export function register(program: Command, io: Io, run: Action): void {
  program
    .command('schemas')
    .description('where the JSON Schemas are, and how to point an editor at them')
    .option('--write', 'copy them into .knock-env/schemas/ of the project (then commit that folder with git)')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nFiles knock-env writes start with `# yaml-language-server: $schema=../../.knock-env/schemas/<kind>.schema.json`,\nwhich resolves once `knock-env schemas --write` has copied the schemas into the project.')
    .action(run(async (opts: { write?: boolean; json?: boolean }) => runSchemas(io, opts)));
}

export async function runSchemas(io: Io, opts: { json?: boolean; write?: boolean }): Promise<number> {
  const report = await describeSchemas({ fs, dir: io.cwd, write: Boolean(opts.write) });
  if (opts.json) {
    writeJson(io, report);
    return 0;
  }
  const c = io.color;
  const width = Math.max(...report.schemas.map((s) => s.name.length));
  for (const schema of report.schemas) line(io.out, `${schema.name.padEnd(width)}  ${schema.path}`);
  if (report.written !== null) {
    const changed = report.written.files.filter((f) => f.status !== 'unchanged').length;
    line(io.err, `${c.green('✔')} ${changed === 0 ? 'Up to date' : `Wrote ${changed} schema${changed === 1 ? '' : 's'}`} in ${report.written.directory}`);
    line(io.err, `  next: commit it with git on development (${c.bold('git add .knock-env/schemas && git commit')}), so every clone has it`);
  }
  const workflow = report.schemas.find((s) => s.name === 'workflow');
  // Before --write the project has no copy, so the hint names the installed file.
  const modeline = report.written !== null ? workflow?.modeline : `# yaml-language-server: $schema=${workflow?.path ?? ''}`;
  line(io.err, c.dim(`editors: first line of workflows/<key>/workflow.yaml: ${modeline ?? ''}`));
  line(io.err, c.dim(`  or in VS Code settings.json: "yaml.schemas": ${JSON.stringify(report.vscode['yaml.schemas'])}`));
  if (report.written === null) line(io.err, c.dim(`  knock-env schemas --write copies them into the project, where the $schema line of every file knock-env writes points`));
  return 0;
}
