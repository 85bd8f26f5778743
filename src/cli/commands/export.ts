import type { Command } from 'commander';
import type { Action } from '../command.js';
import { exportEnvironment } from '../../core/ops/export.js';
import { readerOptions } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { printResourceReport } from '../format.js';
import { line, writeJson, type Io } from '../io.js';

export function register(program: Command, io: Io, run: Action): void {
  program
    .command('export <dir>')
    .description("write an environment's committed resources in the Knock CLI's layout")
    .option('--env <env>', 'environment to export (default: the checked-out one)')
    .option('--force', 'write into a folder that is not empty (the exported resource folders are replaced)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nReads the environment\'s head, never the working tree. Writes workflows/<key>/workflow.json,\nguides/<key>/guide.json, layouts/<key>/layout.json and the other types (2-space JSON, fields in the YAML\'s order, without origin_environment,\nwith Knock\'s $schema) and every referenced file byte for byte. Exits 3 if a resource could not be exported.\n\nExamples:\n  $ knock-env export ../knock --env production\n  $ knock workflow push --all --workflows-dir ../knock/workflows')
    .action(run(async (dir: string, opts: { env?: string; force?: boolean; json?: boolean }) => runExport(io, dir, opts)));
}

export async function runExport(io: Io, target: string, opts: { env?: string; json?: boolean; force?: boolean }): Promise<number> {
  const result = await exportEnvironment({
    ...readerOptions(io, io.cwd),
    target,
    ...(opts.env !== undefined ? { environment: opts.env } : {}),
    force: Boolean(opts.force),
  });
  // A committed resource that cannot be exported is invalid: `knock-env validate` or `doctor` says why.
  const code = result.skipped > 0 ? EXIT.validationFailed : EXIT.success;
  if (opts.json) {
    writeJson(io, result);
    return code;
  }
  const c = io.color;
  printResourceReport(io, result.resources, 'exported', 10);
  line(
    io.err,
    `${result.skipped > 0 ? c.yellow('!') : c.green('✔')} ${result.exported} exported from ${c.bold(result.environment)} at ${c.yellow(result.commit.slice(0, 7))} to ${result.target}${result.skipped > 0 ? `, ${result.skipped} skipped` : ''}.`,
  );
  if (result.exported > 0) {
    line(io.err, c.dim(`  in the Knock CLI's layout, e.g. knock workflow push --all --workflows-dir ${JSON.stringify(`${result.target}/workflows`)}`));
  }
  return code;
}
