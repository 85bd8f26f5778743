import { Command, CommanderError, Option } from 'commander';
import { isKnockEnvError } from '../core/errors.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { createIo, line, type Io } from './io.js';

const VERSION = '0.1.0';

function buildProgram(io: Io, setCode: (code: number) => void): Command {
  const program = new Command();
  const run = (fn: (...args: never[]) => Promise<number>) =>
    async (...args: unknown[]) => {
      setCode(await (fn as (...a: unknown[]) => Promise<number>)(...args));
    };
  program
    .name('knock-env')
    .description('Version control for Knock workflows and guides: one git branch per environment,\nchanges committed in development and promoted upward as fast-forwards.')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => io.out.write(s), writeErr: (s) => io.err.write(s) })
    .exitOverride();
  program.addHelpText('after', `
Typical loop:
  $ knock-env init my-notifications && cd my-notifications
  $ knock-env workflow new welcome-email     # scaffold workflows/welcome-email/
  $ knock-env commit -m "Add welcome email"  # validated, committed to development
  $ knock-env env create staging             # development → staging → production
  $ knock-env promote staging --dry-run      # the plan, nothing moves
  $ knock-env promote staging --yes
  $ knock-env promote production --yes

Exit codes: 0 ok, 1 failure, 2 usage, 3 validation failed, 4 refused by rules,
            5 not a fast-forward, 6 concurrent update (see README).`);

  program
    .command('init [dir]')
    .description('create a knock-env project (knock-env.yaml, development and production branches)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nWorks in an empty folder or in a git repository that is not a knock-env project yet.\nThe person running it becomes the owner. Refuses to initialise twice.')
    .action(run(async (dir: string | undefined, opts: { json?: boolean }) => (await import('./commands/init.js')).runInit(io, dir, opts)));

  const env = program.command('env').description('list and create environments');
  env
    .command('list')
    .description('environments, lowest first, with their heads and settings')
    .option('--json', 'print as JSON')
    .action(run(async (opts: { json?: boolean }) => (await import('./commands/env.js')).runEnvList(io, opts)));
  env
    .command('create <slug>')
    .description('add an environment directly below production')
    .option('--name <name>', 'display name')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nThe new branch starts at the head of the environment directly below it.\nSlugs match ^[a-z0-9][a-z0-9_-]{2,254}$. Environments are never reordered.\n\nExample:\n  $ knock-env env create staging')
    .action(run(async (slug: string, opts: { name?: string; json?: boolean }) => (await import('./commands/env.js')).runEnvCreate(io, slug, opts)));

  for (const kind of ['workflow', 'guide'] as const) {
    const group = program.command(kind).description(`${kind} resources (${kind}s/<key>/${kind}.yaml)`);
    group
      .command('new <key>')
      .description(`scaffold a valid ${kind} in the working tree`)
      .option('--json', 'print the written files as JSON')
      .action(run(async (key: string, opts: { json?: boolean }) => (await import('./commands/scaffold.js')).runScaffold(io, kind, key, opts)));
  }

  program
    .command('validate [paths...]')
    .description('check resources: YAML, schema, @ file references, keys; every problem in every file')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--json', 'same as --format json')
    .addHelpText('after', '\nWith no paths, checks knock-env.yaml and every workflow and guide.\nPaths may be resource folders, files in them, or workflows/ and guides/.\nExits 3 when any problem is found.\n\nExamples:\n  $ knock-env validate\n  $ knock-env validate workflows/welcome-email --format json')
    .action(run(async (paths: string[], opts: { format?: string; json?: boolean }) => (await import('./commands/validate.js')).runValidate(io, paths, opts)));

  program
    .command('status')
    .description('resources added, changed and deleted in the working tree, with their validity')
    .option('--json', 'print as JSON')
    .action(run(async (opts: { json?: boolean }) => (await import('./commands/status.js')).runStatus(io, opts)));

  program
    .command('commit [paths...]')
    .description('validate and commit the changed resources to the checked-out environment')
    .requiredOption('-m, --message <message>', 'commit message')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nSets origin_environment on new resources. Refuses (and writes nothing) when any\nchanged resource is invalid or belongs to another environment.\n\nExamples:\n  $ knock-env commit -m "Add welcome email"\n  $ knock-env commit workflows/welcome-email -m "Only this one"')
    .action(run(async (paths: string[], opts: { message: string; json?: boolean }) => (await import('./commands/commit.js')).runCommit(io, paths, opts)));

  program
    .command('promote <env>')
    .description('fast-forward <env> to the head of the environment directly below it')
    .option('--to <commit>', 'promote only up to this commit of the environment below')
    .option('--dry-run', 'show the plan and change nothing')
    .option('-y, --yes', 'do not ask for confirmation (needed without a terminal)')
    .option('--json', 'print the plan and result as JSON')
    .addHelpText('after', '\nValidates what is promoted and shows the plan first: resources added, changed and\ndeleted, and for each changed workflow the steps added, removed, changed, reordered.\nNever merges: refuses with exit 5 when it is not a fast-forward.\n\nExamples:\n  $ knock-env promote staging --dry-run\n  $ knock-env promote production --to 1a2b3c4 --yes')
    .action(run(async (environment: string, opts: { to?: string; dryRun?: boolean; yes?: boolean; json?: boolean }) => (await import('./commands/promote.js')).runPromote(io, environment, opts)));

  program
    .command('rollback <env>')
    .description('return an environment to an earlier state with a new commit (history is never rewritten)')
    .option('--to <promotion-or-commit>', 'a promotion (its id in `log --promotions`) or a commit of <env>; default: before its last promotion')
    .option('--dry-run', 'show the plan and change nothing')
    .option('-y, --yes', 'do not ask for confirmation (needed without a terminal)')
    .option('--json', 'print the plan and result as JSON')
    .addHelpText('after', '\nThe new commit restores what lower environments promoted into <env>, and keeps what\n<env> owns itself (its direct edits, channels, variables, branding). Lower environments\nkeep their content; the next promotion brings it up again.\n\nExamples:\n  $ knock-env rollback production --dry-run\n  $ knock-env rollback production --to 1a2b3c4 --yes')
    .action(run(async (environment: string, opts: { to?: string; dryRun?: boolean; yes?: boolean; json?: boolean }) => (await import('./commands/rollback.js')).runRollback(io, environment, opts)));

  program
    .command('checkout <env>')
    .alias('switch')
    .description("switch the working tree to an environment's branch (refused while there are uncommitted changes)")
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nstatus and commit act on the checked-out environment. Example:\n  $ knock-env checkout production   # with production write access on, edit and commit there')
    .action(run(async (environment: string, opts: { json?: boolean }) => (await import('./commands/checkout.js')).runCheckout(io, environment, opts)));

  const settings = program.command('settings').description('account settings (committed on production, effective everywhere at once)');
  settings
    .command('list', { isDefault: true })
    .description('show the account settings')
    .option('--json', 'print as JSON')
    .action(run(async (opts: { json?: boolean }) => (await import('./commands/settings.js')).runSettingsList(io, opts)));
  settings
    .command('set <name> <value>')
    .description('set an account setting: production-write-access on|off')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nWhile production-write-access is on, workflows and guides can also be created in any\nenvironment above development, and are then editable only there. Turning it off hides\nor loses nothing.\n\nExample:\n  $ knock-env settings set production-write-access on')
    .action(run(async (name: string, value: string, opts: { json?: boolean }) => (await import('./commands/settings.js')).runSettingsSet(io, name, value, opts)));

  program
    .command('doctor')
    .description("check the chain of environments, ownership of paths, every head's validity and the audit trail")
    .option('--fix', 'repair the chain and owned paths with new commits (history is never rewritten)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nExits 0 when healthy (warnings allowed) or when --fix repaired every error, 4 when errors remain.\n\nExamples:\n  $ knock-env doctor\n  $ knock-env doctor --fix --json')
    .action(run(async (opts: { fix?: boolean; json?: boolean }) => (await import('./commands/doctor.js')).runDoctor(io, opts)));

  program
    .command('diff <from-env> <to-env>')
    .description('what <from-env> would take from <to-env> (the same as git diff <from-env> <to-env>)')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExample: what promoting production would bring\n  $ knock-env diff production staging')
    .action(run(async (from: string, to: string, opts: { json?: boolean }) => (await import('./commands/diff.js')).runDiff(io, from, to, opts)));

  program
    .command('log [env]')
    .description('commits and promotions of an environment (default: the checked-out one)')
    .option('-n, --limit <n>', 'how many entries', '50')
    .option('--promotions', 'only promotions and rollbacks')
    .option('--json', 'print as JSON')
    .action(run(async (environment: string | undefined, opts: { json?: boolean; limit?: string; promotions?: boolean }) => (await import('./commands/log.js')).runLog(io, environment, opts)));

  return program;
}

/** Runs the CLI and returns the exit code; never throws. */
export async function main(argv: string[], io: Io = createIo()): Promise<number> {
  let code: number = EXIT.success;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    if (argv.length <= 2) {
      program.outputHelp();
      return EXIT.usage;
    }
    await program.parseAsync(argv);
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return EXIT.success;
      return EXIT.usage;
    }
    if (isKnockEnvError(error)) {
      const c = io.color;
      line(io.err, `${c.red('error')} ${error.message}`);
      const issues = (error.data?.issues as { file: string; line?: number; column?: number; pointer?: string; message: string; code: string }[] | undefined) ?? [];
      if (issues.length > 0) {
        const { formatIssues } = await import('./format.js');
        line(io.err, formatIssues(issues as never, c).replace(/^/gm, '  '));
      }
      if (error.hint) line(io.err, `${c.cyan('hint')} ${error.hint}`);
      return exitCodeFor(error.code);
    }
    line(io.err, `${io.color.red('error')} ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    line(io.err, `${io.color.cyan('hint')} This is a bug in knock-env; please report it with the command you ran.`);
    return EXIT.failure;
  }
}
