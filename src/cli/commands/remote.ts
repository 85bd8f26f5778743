import { fetchRemote, pullRemote, pushRemote, type BranchState, type SyncReport } from '../../core/remote/sync.js';
import { coreOptions, findGitdirSync } from '../context.js';
import { requireRemoteAccess } from '../remote.js';
import { line, writeJson, type Io } from '../io.js';

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
  const width = Math.max(...report.branches.map((b) => b.branch.length));
  for (const state of report.branches) line(io.out, `  ${state.branch.padEnd(width)}  ${describe(io, state)}`);
}

function printResumed(io: Io, report: SyncReport): void {
  if (report.resumed) line(io.err, `${io.color.green('✔')} Completed an interrupted push: ${report.resumed.map((m) => m.branch).join(', ')}.`);
}

export async function runFetch(io: Io, opts: { json?: boolean }): Promise<number> {
  const report = await fetchRemote(remoteOptions(io));
  if (opts.json) return writeJson(io, report), 0;
  line(io.out, `${io.color.bold(report.remote)} ${io.color.dim(report.url)}`);
  printStates(io, report);
  return 0;
}

export async function runPull(io: Io, opts: { json?: boolean }): Promise<number> {
  const report = await pullRemote(remoteOptions(io));
  if (opts.json) return writeJson(io, report), 0;
  printResumed(io, report);
  for (const u of report.updated) line(io.err, `${io.color.green('✔')} ${u.branch}: ${u.from ? u.from.slice(0, 7) : 'new'} → ${u.to.slice(0, 7)}`);
  if (report.updated.length === 0) line(io.err, `Everything is up to date with ${report.remote}.`);
  line(io.out, `${io.color.bold(report.remote)} ${io.color.dim(report.url)}`);
  printStates(io, report);
  return 0;
}

export async function runPush(io: Io, opts: { json?: boolean }): Promise<number> {
  const report = await pushRemote(remoteOptions(io));
  if (opts.json) return writeJson(io, report), 0;
  printResumed(io, report);
  for (const p of report.pushed) line(io.err, `${io.color.green('✔')} ${p.branch}: ${p.old ? p.old.slice(0, 7) : 'new'} → ${p.new.slice(0, 7)}`);
  if (report.pushed.length === 0) line(io.err, `Nothing to push: ${report.remote} has every local commit.`);
  line(io.out, `${io.color.bold(report.remote)} ${io.color.dim(report.url)}`);
  printStates(io, report);
  return 0;
}
