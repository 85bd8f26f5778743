import type { Command } from 'commander';
import type { Action } from '../command.js';
import { existsSync } from 'node:fs';
import { PROJECT_SCHEMAS_DIR } from '../../core/knock-format/import.js';
import { importKnockDirectory } from '../../core/ops/import.js';
import { fs } from '../context.js';
import { importExitCode, printResourceReport } from '../format.js';
import { line, writeJson, type Io } from '../io.js';

export function register(program: Command, io: Io, run: Action): void {
  program
    .command('import [knock-dir]')
    .description("import resources of every type from a folder in the Knock CLI's layout (or from Knock itself) into the working tree")
    .option('--from-knock <env>', "read a live Knock environment's committed resources instead of a folder (needs KNOCK_SERVICE_TOKEN)")
    .option('--token-file <file>', 'with --from-knock: file holding the Knock service token')
    .option('--force', 'replace resource folders that already exist in the working tree')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nReads the layout `knock pull --all` writes (workflows/<key>/workflow.json, guides/, layouts/,\npartials/, translations/<locale>/, message-types/, audiences/) with the files their "@" fields\nreference, and writes workflows/<key>/workflow.yaml (layouts/<key>/layout.yaml, ...) with the same\nfiles; translation files are copied as they are. Nothing is committed: run `knock-env commit` next.\n$schema and __readonly are dropped.\nExits 0 when everything was imported, 3 when something could not be (invalid key or content),\n4 when resources already exist (pass --force to replace them).\n\nExamples:\n  $ knock-env import ../knock-pull\n  $ knock-env import ../knock-pull --force --json\n  $ KNOCK_SERVICE_TOKEN=... knock-env import --from-knock development')
    .action(run(async (source: string | undefined, opts: { force?: boolean; json?: boolean; fromKnock?: string; tokenFile?: string }) => runImportCommand(io, source, opts)));
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

/** `import <dir>` or `import --from-knock <env>`: exactly one source. */
export async function runImportCommand(io: Io, source: string | undefined, opts: { json?: boolean; force?: boolean; fromKnock?: string; tokenFile?: string }): Promise<number> {
  if ((source === undefined) === (opts.fromKnock === undefined)) {
    const { KnockEnvError } = await import('../../core/errors.js');
    throw new KnockEnvError('USAGE', source === undefined ? 'Say what to import: a folder in the Knock CLI\'s layout, or --from-knock <env>.' : 'Import from a folder or from Knock, not both.', {
      hint: 'For example `knock-env import ../knock-pull` or `knock-env import --from-knock development`.',
    });
  }
  if (opts.fromKnock !== undefined) return (await import('./deploy-run.js')).runImportFromKnock(io, opts.fromKnock, opts);
  return runImport(io, source!, opts);
}
