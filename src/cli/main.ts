import { Command, CommanderError, Option } from 'commander';
import { isKnockEnvError } from '../core/errors.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { createIo, line, type Io } from './io.js';
import { registerServerCommands } from './commands/server.js';
import { registerDeployCommands } from './commands/deploy.js';

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
    .option('--api-key <secret>', 'act as an API key (also KNOCK_ENV_API_KEY); the key acts in its one environment only')
    .option('--remote <name>', 'the remote to act against (also KNOCK_ENV_REMOTE; default origin when it is an HTTP(S) remote)')
    .option('--offline', 'act on the local branches only, even when a remote is configured (also KNOCK_ENV_OFFLINE=1)')
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

  const env = program.command('env').description('list, create and configure environments');
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

  env
    .command('set <env> <setting> <value>')
    .description('set a per-environment setting: obfuscate-recipient-data on|off, show-message-contents on|off')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nCommitted on production and merged down, like every account change (owner or admin only).\nDefaults: production obfuscates recipient data and hides message contents; every other\nenvironment shows both. They decide what `knock-env run` shows in that environment; no\ncommand-line flag overrides them.\n\nExamples:\n  $ knock-env env set staging obfuscate-recipient-data on\n  $ knock-env env set production show-message-contents on')
    .action(run(async (environment: string, setting: string, value: string, opts: { json?: boolean }) => (await import('./commands/env-set.js')).runEnvSet(io, environment, setting, value, opts)));

  program
    .command('run <workflow>')
    .description('run a workflow locally as it stands in an environment and print each message it would send; nothing is sent')
    .option('--env <env>', 'environment whose head to run (default: the checked-out one)')
    .option('--working-tree', 'run the working tree of the checked-out environment instead of its head')
    .requiredOption('--recipient <json-or-file>', 'the recipient: inline JSON, a JSON file, or an id')
    .option('--data <json-or-file>', 'trigger data: inline JSON or a JSON file')
    .option('--actor <json-or-file>', 'the actor: inline JSON, a JSON file, or an id')
    .option('--tenant <json-or-file>', 'the tenant: inline JSON, a JSON file, or an id')
    .option('--message-status <ref=status>', "simulate the status of a channel step's message (repeatable), e.g. in_app_feed_1=seen", (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--show-contents', "ask to show message contents; the environment's show-message-contents setting still decides")
    .option('--json', 'print the run as JSON')
    .addHelpText('after', "\nChecks the trigger data against trigger_data_json_schema, evaluates the workflow's and each\nstep's conditions, follows branches, reports what delay, batch, throttle, fetch and other\nfunction steps would do, and renders every channel step's template with Liquid (recipient,\nactor, data, tenant, vars and the data's keys in scope; secrets show as [secret NAME]).\nA channel step's message counts as sent (later conditions such as `refs.in_app_feed_1.status\nless_than $message.seen` see `sent`) unless --message-status says otherwise; statuses rank\nnot_sent < queued < sent < delivered < seen < read < interacted < archived.\nA batch is this one trigger; a throttle lets it through. With obfuscate-recipient-data on,\nrecipient fields other than id and collection are masked, also in what templates render;\nwith show-message-contents off, only channels, steps, field names and sizes are shown.\nExits 0 when the run completed or halted on conditions, 3 on a Liquid error or trigger data\nthe schema refuses.\n\nExamples:\n  $ knock-env run comments --recipient '{\"id\":\"u1\",\"email\":\"ada@example.com\"}' --data data.json\n  $ knock-env run comments --working-tree --recipient u1 --actor u2 --message-status in_app_feed_1=seen\n  $ knock-env run welcome --env production --recipient recipient.json --json")
    .action(run(async (workflow: string, opts: { env?: string; workingTree?: boolean; recipient: string; data?: string; actor?: string; tenant?: string; messageStatus?: string[]; showContents?: boolean; json?: boolean }) => (await import('./commands/run.js')).runRun(io, workflow, opts)));

  for (const kind of ['workflow', 'guide'] as const) {
    const group = program.command(kind).description(`${kind} resources (${kind}s/<key>/${kind}.yaml)`);
    group
      .command('new <key>')
      .description(`scaffold a valid ${kind} in the working tree`)
      .option('--json', 'print the written files as JSON')
      .action(run(async (key: string, opts: { json?: boolean }) => (await import('./commands/scaffold.js')).runScaffold(io, kind, key, opts)));
  }

  program
    .command('import [knock-dir]')
    .description("import workflows and guides from a folder in the Knock CLI's layout (or from Knock itself) into the working tree")
    .option('--from-knock <env>', "read a live Knock environment's committed resources instead of a folder (needs KNOCK_SERVICE_TOKEN)")
    .option('--token-file <file>', 'with --from-knock: file holding the Knock service token')
    .option('--force', 'replace resource folders that already exist in the working tree')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nReads workflows/<key>/workflow.json and guides/<key>/guide.json with the files their "@" fields\nreference, and writes workflows/<key>/workflow.yaml (guides/<key>/guide.yaml) with the same files.\nNothing is committed: run `knock-env commit` next. $schema and __readonly are dropped; partials,\nlayouts, translations and message types are reported as not imported.\nExits 0 when everything was imported, 3 when something could not be (invalid key or content),\n4 when resources already exist (pass --force to replace them).\n\nExamples:\n  $ knock-env import ../knock-pull\n  $ knock-env import ../knock-pull --force --json\n  $ KNOCK_SERVICE_TOKEN=... knock-env import --from-knock development')
    .action(run(async (source: string | undefined, opts: { force?: boolean; json?: boolean; fromKnock?: string; tokenFile?: string }) => (await import('./commands/import.js')).runImportCommand(io, source, opts)));

  program
    .command('export <dir>')
    .description("write an environment's committed workflows and guides in the Knock CLI's layout")
    .option('--env <env>', 'environment to export (default: the checked-out one)')
    .option('--force', 'write into a folder that is not empty (the exported resource folders are replaced)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nReads the environment\'s head, never the working tree. Writes workflows/<key>/workflow.json and\nguides/<key>/guide.json (2-space JSON, fields in the YAML\'s order, without origin_environment,\nwith Knock\'s $schema) and every referenced file byte for byte. Exits 3 if a resource could not be exported.\n\nExamples:\n  $ knock-env export ../knock --env production\n  $ knock workflow push --all --workflows-dir ../knock/workflows')
    .action(run(async (dir: string, opts: { env?: string; force?: boolean; json?: boolean }) => (await import('./commands/export.js')).runExport(io, dir, opts)));

  program
    .command('schemas')
    .description('where the JSON Schemas are, and how to point an editor at them')
    .option('--write', 'copy them into .knock-env/schemas/ of the project (then commit that folder with git)')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nFiles knock-env writes start with `# yaml-language-server: $schema=../../.knock-env/schemas/<kind>.schema.json`,\nwhich resolves once `knock-env schemas --write` has copied the schemas into the project.')
    .action(run(async (opts: { write?: boolean; json?: boolean }) => (await import('./commands/schemas.js')).runSchemas(io, opts)));

  program
    .command('validate [paths...]')
    .description('check resources: YAML, schema, @ file references, keys; every problem in every file')
    .addOption(new Option('--format <format>', 'output format (github: workflow commands that annotate the diff)').choices(['text', 'json', 'github']).default('text'))
    .option('--json', 'same as --format json')
    .addHelpText('after', '\nWith no paths, checks knock-env.yaml and every workflow and guide.\nPaths may be resource folders, files in them, or workflows/ and guides/.\nExits 3 when any problem is found.\n\nExamples:\n  $ knock-env validate\n  $ knock-env validate workflows/welcome-email --format json')
    .action(run(async (paths: string[], opts: { format?: string; json?: boolean }) => (await import('./commands/validate.js')).runValidate(io, paths, opts)));

  program
    .command('check')
    .description('check a pull request: validate what it changes and hold it to the ownership rules of the environment it targets')
    .requiredOption('--base <rev>', 'the revision the pull request targets: a branch (development, origin/development), a commit id or HEAD')
    .option('--head <rev>', 'the pull request revision', 'HEAD')
    .option('--env <env>', 'the environment the pull request targets (default: the one --base names or points at)')
    .addOption(new Option('--format <format>', 'output format (github: workflow commands that annotate the diff)').choices(['text', 'json', 'github']).default('text'))
    .option('--json', 'same as --format json')
    .addHelpText('after', '\nChecks what the pull request changes: the merge base of --base and --head against --head\n(as `git diff <base>...<head>` shows it, merge commits included). Exits 0 when clean,\n3 for validation problems only, 4 when a change breaks the ownership rules.\n\nExamples:\n  $ knock-env check --base development\n  $ knock-env check --base origin/development --head HEAD --format github')
    .action(run(async (opts: { base: string; head?: string; env?: string; format?: string; json?: boolean }) => (await import('./commands/check.js')).runCheck(io, opts)));

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
    .addOption(new Option('--format <format>', 'output format (markdown: the plan for a pull-request comment)').choices(['text', 'json', 'markdown']).default('text'))
    .option('--json', 'print the plan and result as JSON')
    .addHelpText('after', '\nValidates what is promoted and shows the plan first: resources added, changed and\ndeleted, and for each changed workflow the steps added, removed, changed, reordered.\nNever merges: refuses with exit 5 when it is not a fast-forward.\n\nExamples:\n  $ knock-env promote staging --dry-run\n  $ knock-env promote production --to 1a2b3c4 --yes')
    .action(run(async (environment: string, opts: { to?: string; dryRun?: boolean; yes?: boolean; json?: boolean; format?: string }) => (await import('./commands/promote.js')).runPromote(io, environment, opts)));

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
    .command('whoami')
    .description('who commands act as (member by git user.email, or API key), with role and what you may do where')
    .option('--json', 'print as JSON')
    .action(run(async (opts: { json?: boolean }) => (await import('./commands/access.js')).runWhoAmI(io, opts)));

  const members = program.command('members').description('members and their roles (owner or admin to change)');
  members
    .command('list', { isDefault: true })
    .description('list members')
    .option('--json', 'print as JSON')
    .action(run(async (opts: { json?: boolean }) => (await import('./commands/access.js')).runMembersList(io, opts)));
  members
    .command('add <email>')
    .description('add a member')
    .requiredOption('--role <role>', 'owner, admin, member, production_member or support')
    .option('--name <name>', 'display name')
    .option('--json', 'print the result as JSON')
    .action(run(async (email: string, opts: { role: string; name?: string; json?: boolean }) => (await import('./commands/access.js')).runMembersChange(io, { action: 'add', email, role: opts.role, ...(opts.name ? { name: opts.name } : {}) }, opts)));
  members
    .command('set-role <email> <role>')
    .description("change a member's role (the last owner stays an owner)")
    .option('--json', 'print the result as JSON')
    .action(run(async (email: string, role: string, opts: { json?: boolean }) => (await import('./commands/access.js')).runMembersChange(io, { action: 'set-role', email, role }, opts)));
  members
    .command('remove <email>')
    .description('remove a member (not the last owner)')
    .option('--json', 'print the result as JSON')
    .action(run(async (email: string, opts: { json?: boolean }) => (await import('./commands/access.js')).runMembersChange(io, { action: 'remove', email }, opts)));

  const keys = program.command('keys').description('API keys, each acting in one environment only');
  keys
    .command('create')
    .description('create a key; its secret is printed once, only its hash is stored')
    .requiredOption('--env <env>', 'the one environment the key acts in')
    .requiredOption('--name <name>', 'a name to list and revoke it by')
    .option('--role <role>', 'the role the key acts with', 'member')
    .option('--json', 'print the key (with its secret) as JSON')
    .addHelpText('after', '\nExample (a CI job that promotes into staging):\n  $ knock-env keys create --env staging --name ci-staging\n  $ KNOCK_ENV_API_KEY=<secret> knock-env promote staging --yes')
    .action(run(async (opts: { env: string; name: string; role?: string; json?: boolean }) => (await import('./commands/access.js')).runKeysCreate(io, opts)));
  keys
    .command('list', { isDefault: true })
    .description('names, environments, roles and creation times (never secrets)')
    .option('--json', 'print as JSON')
    .action(run(async (opts: { json?: boolean }) => (await import('./commands/access.js')).runKeysList(io, opts)));
  keys
    .command('revoke <name>')
    .description('revoke a key; it stops working at once')
    .option('--json', 'print the result as JSON')
    .action(run(async (name: string, opts: { json?: boolean }) => (await import('./commands/access.js')).runKeysRevoke(io, name, opts)));

  const remoteHelp = `
The remote is origin (or --remote <name>), an http:// or https:// URL. Credentials come from
KNOCK_ENV_GIT_USERNAME / KNOCK_ENV_GIT_PASSWORD, else an API key (--api-key, KNOCK_ENV_API_KEY)
as the password, else git's credential helpers; knock-env never stores them. A refused login
stops the command at once (exit 4), without retrying.`;
  program
    .command('fetch')
    .description('fetch every environment branch and the audit trail; tell how each stands against the remote')
    .option('--json', 'print the branches and their state as JSON')
    .addHelpText('after', `${remoteHelp}

Moves no local branch.

Example:
  $ knock-env fetch`)
    .action(run(async (opts: { json?: boolean }) => (await import('./commands/remote.js')).runFetch(io, opts)));
  program
    .command('pull')
    .description('bring the local environment branches up to the remote (fast-forwards only)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', `${remoteHelp}

The checked-out branch brings the working tree along and refuses if local edits would be
overwritten. Branches with local commits are reported, never merged. Completes a push an
earlier command left midway.

Example:
  $ knock-env pull`)
    .action(run(async (opts: { json?: boolean }) => (await import('./commands/remote.js')).runPull(io, opts)));
  program
    .command('push')
    .description('push the environment branches with new commits, lowest first, and the audit trail')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', `${remoteHelp}

Each branch is pushed on its own as a compare-and-swap, development first and production
last, so the remote keeps the chain of environments at every moment. A branch that has
diverged from the remote stops the push before anything moves. If the push stops midway,
the next knock-env command (or knock-env doctor --fix) completes it.

With a remote, commit, promote, rollback and the account commands push by themselves:
they fetch, check against the remote's state, and push; pass --offline to act locally.

Example:
  $ knock-env push`)
    .action(run(async (opts: { json?: boolean }) => (await import('./commands/remote.js')).runPush(io, opts)));

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
    .addOption(new Option('--format <format>', 'output format (markdown: the plan for a pull-request comment)').choices(['text', 'json', 'markdown']).default('text'))
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExample: what promoting production would bring\n  $ knock-env diff production staging')
    .action(run(async (from: string, to: string, opts: { json?: boolean; format?: string }) => (await import('./commands/diff.js')).runDiff(io, from, to, opts)));

  program
    .command('log [env]')
    .description('commits and promotions of an environment (default: the checked-out one)')
    .option('-n, --limit <n>', 'how many entries', '50')
    .option('--promotions', 'only promotions and rollbacks')
    .option('--json', 'print as JSON')
    .action(run(async (environment: string | undefined, opts: { json?: boolean; limit?: string; promotions?: boolean }) => (await import('./commands/log.js')).runLog(io, environment, opts)));

  registerServerCommands(program, io, run);
  registerDeployCommands(program, io, run);

  return program;
}

/** Runs the CLI and returns the exit code; never throws. */
export async function main(argv: string[], io: Io = createIo()): Promise<number> {
  let code: number = EXIT.success;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  // --api-key, --remote and --offline may appear anywhere on the line; each becomes the environment variable every command reads.
  const globals: Record<string, string> = { '--api-key': 'KNOCK_ENV_API_KEY', '--remote': 'KNOCK_ENV_REMOTE' };
  const args = [...argv];
  for (let i = 2; i < args.length; i++) {
    const arg = args[i]!;
    const name = arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : arg;
    const variable = globals[name];
    if (arg === '--offline') {
      io.env = { ...io.env, KNOCK_ENV_OFFLINE: '1' };
      args.splice(i, 1);
      i--;
    } else if (variable && arg === name && i + 1 < args.length) {
      io.env = { ...io.env, [variable]: args[i + 1]! };
      args.splice(i, 2);
      i--;
    } else if (variable && arg !== name) {
      io.env = { ...io.env, [variable]: arg.slice(name.length + 1) };
      args.splice(i, 1);
      i--;
    }
  }
  argv = args;
  try {
    if (argv.length <= 2) {
      program.outputHelp();
      return EXIT.usage;
    }
    // `doctor` without --fix reports an interrupted operation instead of finishing it.
    if (!(argv[2] === 'doctor' && !argv.includes('--fix'))) await (await import('./recover.js')).finishInterruptedFirst(io);
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
