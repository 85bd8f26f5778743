import { Command, CommanderError } from 'commander';
import { isKnockEnvError } from '../core/errors.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { createIo, line, type Io } from './io.js';
import type { Action, RegisterCommands } from './command.js';

const VERSION = '0.1.0';

function buildProgram(io: Io, commands: RegisterCommands[], setCode: (code: number) => void): Command {
  const program = new Command();
  const run: Action = (fn) =>
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

  for (const register of commands) register(program, io, run);
  return program;
}

/**
 * Every command file (the scaffold's names are the registry's kinds, checked by a test), in the order `--help` lists their commands, with the top-level
 * names each defines. A command line loads only the file of the command it names
 * (each file brings the core it needs); help and unknown names load them all.
 */
export const COMMAND_FILES: { names: string[]; load: () => Promise<RegisterCommands> }[] = [
  { names: ['init'], load: async () => (await import('./commands/init.js')).register },
  { names: ['env'], load: async () => (await import('./commands/env.js')).register },
  { names: ['run'], load: async () => (await import('./commands/run.js')).register },
  { names: ['workflow', 'guide', 'layout', 'partial', 'translation', 'message-type', 'audience'], load: async () => (await import('./commands/scaffold.js')).register },
  { names: ['import'], load: async () => (await import('./commands/import.js')).register },
  { names: ['export'], load: async () => (await import('./commands/export.js')).register },
  { names: ['schemas'], load: async () => (await import('./commands/schemas.js')).register },
  { names: ['validate'], load: async () => (await import('./commands/validate.js')).register },
  { names: ['check'], load: async () => (await import('./commands/check.js')).register },
  { names: ['status'], load: async () => (await import('./commands/status.js')).register },
  { names: ['commit'], load: async () => (await import('./commands/commit.js')).register },
  { names: ['promote'], load: async () => (await import('./commands/promote.js')).register },
  { names: ['rollback'], load: async () => (await import('./commands/rollback.js')).register },
  { names: ['checkout', 'switch'], load: async () => (await import('./commands/checkout.js')).register },
  { names: ['settings'], load: async () => (await import('./commands/settings.js')).register },
  { names: ['whoami', 'members', 'keys'], load: async () => (await import('./commands/access.js')).register },
  { names: ['fetch', 'pull', 'push'], load: async () => (await import('./commands/remote.js')).register },
  { names: ['doctor'], load: async () => (await import('./commands/doctor.js')).register },
  { names: ['diff'], load: async () => (await import('./commands/diff.js')).register },
  { names: ['log'], load: async () => (await import('./commands/log.js')).register },
  { names: ['hook', 'server', 'serve'], load: async () => (await import('./commands/server.js')).registerServerCommands },
  { names: ['deploy', 'drift'], load: async () => (await import('./commands/deploy.js')).registerDeployCommands },
];

/** The command files a command line needs: the one that defines the command it names, else all. */
async function commandsFor(argv: string[]): Promise<RegisterCommands[]> {
  const name = argv[2];
  const named = COMMAND_FILES.filter((file) => name !== undefined && file.names.includes(name));
  return Promise.all((named.length > 0 ? named : COMMAND_FILES).map((file) => file.load()));
}

/** Runs the CLI and returns the exit code; never throws. */
export async function main(argv: string[], io: Io = createIo()): Promise<number> {
  let code: number = EXIT.success;
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
  const program = buildProgram(io, await commandsFor(argv), (c) => {
    code = c;
  });
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
