import type { Command } from 'commander';
import type { Action } from '../command.js';
import { fetchRemote, pullRemote, pushRemote, type BranchState, type SyncReport } from '../../core/remote/sync.js';
import { coreOptions, findGitdirSync } from '../context.js';
import { requireRemoteAccess } from '../remote.js';
import { line, writeJson, type Io } from '../io.js';

export function register(program: Command, io: Io, run: Action): void {
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
    .action(run(async (opts: { json?: boolean }) => runFetch(io, opts)));
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
    .action(run(async (opts: { json?: boolean }) => runPull(io, opts)));
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
    .action(run(async (opts: { json?: boolean }) => runPush(io, opts)));
}

/** Core options with the remote these commands need (an error when there is none to use). */
function remoteOptions(io: Io) {
  const gitdir = findGitdirSync(io.cwd);
  return { ...coreOptions(io, io.cwd, gitdir), remote: requireRemoteAccess(io, gitdir) };
}

function describe(io: Io, state: BranchState): string {
  const c = io.color;
  const n = (count: number) => `${count >= 1000 ? '1000+' : count} commit${count === 1 ? '' : 's'}`;
  switch (state.relation) {
    case 'up-to-date':
      return state.local === null ? c.dim('absent on both sides') : `${c.green('up to date')} ${c.dim(state.local.slice(0, 7))}`;
    case 'behind':
      return `${c.yellow(`behind by ${n(state.behind)}`)} (knock-env pull)`;
    case 'ahead':
      return `${c.yellow(`ahead by ${n(state.ahead)}`)} (knock-env push)`;
    case 'local-only':
      return `${c.yellow('not on the remote yet')} (knock-env push)`;
    case 'hidden':
      return c.dim('not shown by the remote to these credentials');
    case 'remote-only':
      return `${c.yellow('only on the remote')} (knock-env pull)`;
    case 'diverged':
      return `${c.red(`diverged: ${n(state.ahead)} here, ${n(state.behind)} there`)} (knock-env doctor)`;
  }
}

function printStates(io: Io, report: SyncReport): void {
  line(io.out, `${io.color.bold(report.remote)} ${io.color.dim(report.url)}`);
  const width = Math.max(...report.branches.map((b) => b.branch.length));
  for (const state of report.branches) line(io.out, `  ${state.branch.padEnd(width)}  ${describe(io, state)}`);
}

/** Prints what pull or push moved (a completed earlier push first), or that nothing needed to, then every branch's state. */
function printMoves(io: Io, report: SyncReport, moves: { branch: string; from: string | null; to: string }[], nothing: string): void {
  const c = io.color;
  if (report.resumed) line(io.err, `${c.green('✔')} Completed an interrupted push: ${report.resumed.map((m) => m.branch).join(', ')}.`);
  for (const m of moves) line(io.err, `${c.green('✔')} ${m.branch}: ${m.from ? m.from.slice(0, 7) : 'new'} → ${m.to.slice(0, 7)}`);
  if (moves.length === 0) line(io.err, nothing);
  printStates(io, report);
}

export async function runFetch(io: Io, opts: { json?: boolean }): Promise<number> {
  const report = await fetchRemote(remoteOptions(io));
  if (opts.json) writeJson(io, report);
  else printStates(io, report);
  return 0;
}

export async function runPull(io: Io, opts: { json?: boolean }): Promise<number> {
  const report = await pullRemote(remoteOptions(io));
  if (opts.json) writeJson(io, report);
  else printMoves(io, report, report.updated, `Everything is up to date with ${report.remote}.`);
  return 0;
}

export async function runPush(io: Io, opts: { json?: boolean }): Promise<number> {
  const report = await pushRemote(remoteOptions(io));
  if (opts.json) writeJson(io, report);
  else printMoves(io, report, report.pushed.map((p) => ({ branch: p.branch, from: p.old, to: p.new })), `Nothing to push: ${report.remote} has every local commit.`);
  return 0;
}
