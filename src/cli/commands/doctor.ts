import type { Command } from 'commander';
import type { Action } from '../command.js';
import { diagnoseWithRemote } from '../../core/remote/sync.js';
import type { ChalkInstance } from 'chalk';
import { DOCTOR_CHECKS, type DoctorCheck, type DoctorFinding, type DoctorReport } from '../../core/ops/doctor.js';
import { coreOptions, readerOptions } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { line, writeJson, type Io } from '../io.js';

export function register(program: Command, io: Io, run: Action): void {
  program
    .command('doctor')
    .description("check the chain of environments, ownership of paths, every head's validity and the audit trail")
    .option('--fix', 'repair the chain and owned paths with new commits (history is never rewritten)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nExits 0 when healthy (warnings allowed) or when --fix repaired every error, 4 when errors remain.\n\nExamples:\n  $ knock-env doctor\n  $ knock-env doctor --fix --json')
    .action(run(async (opts: { fix?: boolean; json?: boolean }) => runDoctor(io, opts)));
}

const TITLES: Record<DoctorCheck, string> = {
  chain: 'Chain of environments',
  ownership: 'Ownership of paths',
  schema: 'Validity of every head',
  audit: 'Audit trail',
  deploy: 'Deploys to Knock',
};

function location(f: DoctorFinding): string {
  // A message that names its path already needs no prefix, unless a position is added to it.
  const path = f.path === undefined ? '' : f.line !== undefined ? `${f.path}:${f.line}:${f.column ?? 1}` : f.message.includes(f.path) ? '' : f.path;
  const where = [f.environment, path].filter(Boolean).join(' ');
  return where === '' ? '' : `${where}:`;
}

export function formatFinding(f: DoctorFinding, c: ChalkInstance): string {
  const mark = f.fixed ? c.green('✔ fixed  ') : f.severity === 'error' ? c.red('✖ error  ') : c.yellow('! warning');
  const where = location(f);
  return `  ${mark} ${where ? `${c.bold(where)} ` : ''}${f.message} ${c.dim(`[${f.code}]`)}${f.fixed ? '' : ` ${c.cyan('hint')} ${f.hint}`}`;
}

function summary(report: DoctorReport, c: ChalkInstance): string {
  const open = report.findings.filter((f) => f.fixed !== true);
  const errors = open.filter((f) => f.severity === 'error').length;
  const warnings = open.length - errors;
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const parts = [count(errors, 'error'), count(warnings, 'warning')];
  if (report.fixed > 0) parts.push(`${report.fixed} fixed`);
  const envs = report.environments.join(' → ');
  if (report.healthy) return `${c.green('✔')} ${envs}: healthy (${parts.join(', ')})`;
  const fixable = open.filter((f) => f.severity === 'error' && f.fixable).length;
  const next = fixable > 0 ? `; ${fixable} can be repaired with ${c.bold('knock-env doctor --fix')}` : '';
  return `${c.red('✖')} ${envs || 'project'}: ${parts.join(', ')}${next}`;
}

/** Checks the project (and with --fix repairs what it can); exits 0 when healthy, 4 when errors remain. */
export async function runDoctor(io: Io, opts: { fix?: boolean; json?: boolean }): Promise<number> {
  const reader = readerOptions(io, io.cwd);
  // Looking needs no git identity; repairing writes commits, so it does.
  const base = opts.fix ? coreOptions(io, io.cwd) : { ...reader, actor: reader.actor ?? { name: '', email: '' } };
  const report = await diagnoseWithRemote({ ...base, fix: Boolean(opts.fix) });
  const code = report.healthy ? EXIT.success : EXIT.refused;
  if (opts.json) {
    writeJson(io, report);
    return code;
  }
  const c = io.color;
  for (const check of DOCTOR_CHECKS) {
    const findings = report.findings.filter((f) => f.check === check);
    if (findings.length === 0) continue;
    line(io.out, c.bold(TITLES[check]));
    for (const f of findings) line(io.out, formatFinding(f, c));
  }
  for (const r of report.repairs) {
    const kind = r.parents.length > 1 ? `merged ${r.source} into ${r.environment}` : `restored ${r.environment}'s copies of paths owned by ${r.source} and above`;
    line(io.err, `${c.green('✔')} ${kind}: ${c.yellow(r.to.slice(0, 7))} (${r.paths.length} path${r.paths.length === 1 ? '' : 's'} taken from ${r.source})`);
  }
  line(io.err, summary(report, c));
  return code;
}
