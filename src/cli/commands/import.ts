import type { Command } from 'commander';
import type { Action } from '../command.js';
import { existsSync } from 'node:fs';
import { PROJECT_SCHEMAS_DIR } from '../../core/knock-format/import.js';
import { importKnockDirectory } from '../../core/ops/import.js';
import { fs } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { printResourceReport } from '../format.js';
import { line, writeJson, type Io } from '../io.js';

export function register(program: Command, io: Io, run: Action): void {
  program
    .command('import <knock-dir>')
    .description("import resources of every type from a folder in the Knock CLI's layout into the working tree")
    .option('--force', 'replace resource folders that already exist in the working tree')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nReads the layout `knock pull --all` writes (workflows/<key>/workflow.json, guides/, layouts/,\npartials/, translations/<locale>/, message-types/, audiences/) with the files their "@" fields\nreference, and writes workflows/<key>/workflow.yaml (layouts/<key>/layout.yaml, ...) with the same\nfiles; translation files are copied as they are. Nothing is committed: run `knock-env commit` next.\n$schema and __readonly are dropped.\nExits 0 when everything was imported, 3 when something could not be (invalid key or content),\n4 when resources already exist (pass --force to replace them).\n\nExamples:\n  $ knock-env import ../knock-pull\n  $ knock-env import ../knock-pull --force --json')
    .action(run(async (source: string, opts: { force?: boolean; json?: boolean }) => runImport(io, source, opts)));
}

/**
 * Exit code of an import: 0 when every resource was imported, 3 when some
 * could not be (invalid key or content), else 4 when some already exist and
 * need --force.
 */
export function importExitCode(resources: { status: string; code?: string }[]): number {
  const skipped = resources.filter((r) => r.status === 'skipped');
  if (skipped.length === 0) return EXIT.success;
  return skipped.some((r) => r.code !== 'exists') ? EXIT.validationFailed : EXIT.refused;
}

export async function runImport(io: Io, source: string, opts: { json?: boolean; force?: boolean }): Promise<number> {
  const result = await importKnockDirectory({ fs, dir: io.cwd, source, force: Boolean(opts.force) });
  const code = importExitCode(result.resources);
  if (opts.json) {
    writeJson(io, result);
    return code;
  }
  const c = io.color;
  // Columns line up with "not imported" below.
  printResourceReport(io, result.resources, 'imported', 14);
  for (const other of result.notImported) line(io.out, `${c.yellow('not imported')}  ${JSON.stringify(other.path).slice(1, -1)}: ${other.reason}`);
  const summary = `${result.imported} imported into the working tree${result.skipped > 0 ? `, ${result.skipped} skipped` : ''}`;
  line(io.err, `${result.skipped > 0 ? c.yellow('!') : c.green('✔')} ${summary}.`);
  if (result.resources.some((r) => r.code === 'exists')) line(io.err, `  ${c.dim('pass --force to replace resources that already exist')}`);
  if (result.imported > 0) {
    line(io.err, `  next: ${c.bold('knock-env status')}, then ${c.bold('knock-env commit -m "Import from Knock"')}`);
    if (!existsSync(`${result.project}/${PROJECT_SCHEMAS_DIR}`)) {
      line(io.err, c.dim(`  editors: ${c.bold('knock-env schemas --write')} once, so the $schema line of each file resolves`));
    }
  }
  return code;
}
