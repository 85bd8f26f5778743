import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { deployEnvironment, describeDrift, type DeployPlan, type DeployResult } from '../../core/deploy/deploy.js';
import { driftReport, type DriftReport } from '../../core/deploy/drift.js';
import { importFromKnock } from '../../core/deploy/import-from-knock.js';
import { knockEnvironmentOf } from '../../core/deploy/record.js';
import { mapKnockEnvironment } from '../../core/deploy/settings.js';
import type { PlannedResource } from '../../core/deploy/plan.js';
import { KnockEnvError } from '../../core/errors.js';
import type { KnockConnection } from '../../core/knock-api/client.js';
import { loadConfig, openProject } from '../../core/project.js';
import { coreOptions, fs, readerOptions } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { printResourceReport } from '../format.js';
import { confirmOrRefuse, line, writeJson, type Io } from '../io.js';
import { importExitCode } from '../format.js';

export interface KnockFlags {
  tokenFile?: string;
}

/**
 * The Management API connection: the service token from KNOCK_SERVICE_TOKEN or
 * the file --token-file names, the base URL from KNOCK_MGMT_BASE_URL (Knock's own
 * by default). The token goes to the client and nowhere else.
 */
export function knockConnection(io: Io, flags: KnockFlags): KnockConnection {
  let token = io.env.KNOCK_SERVICE_TOKEN;
  if (flags.tokenFile) {
    try {
      token = readFileSync(resolve(io.cwd, flags.tokenFile), 'utf8').trim();
    } catch {
      throw new KnockEnvError('USAGE', `The token file ${flags.tokenFile} cannot be read.`, { hint: 'Pass --token-file a file holding only the Knock service token.' });
    }
  }
  if (!token) {
    throw new KnockEnvError('USAGE', 'No Knock service token: KNOCK_SERVICE_TOKEN is not set and no --token-file was given.', {
      hint: 'Create a service token in Knock (Settings → Service tokens) and set KNOCK_SERVICE_TOKEN, or pass --token-file <file>.',
    });
  }
  const retries = io.env.KNOCK_ENV_KNOCK_RETRIES;
  return {
    serviceToken: token,
    ...(io.env.KNOCK_MGMT_BASE_URL ? { baseURL: io.env.KNOCK_MGMT_BASE_URL } : {}),
    ...(retries !== undefined && retries !== '' ? { maxRetries: Number(retries) } : {}),
  };
}

const SIGN: Record<PlannedResource['status'], string> = { created: '+', updated: '~', unchanged: '=', deleted: '-', 'only-in-knock': '?' };

function actionText(plan: DeployPlan, r: PlannedResource): string {
  switch (r.action) {
    case 'upsert':
      return 'upsert and commit';
    case 'promote':
      return r.promoteCommit ? `promote ${plan.lower?.knockEnvironment ?? ''} commit ${r.promoteCommit}` : 'promote';
    case 'write':
      return r.force ? 'write directly (--force)' : `write directly (origin ${plan.environment})`;
    case 'retire':
      return r.kind === 'guide' ? 'deactivate or archive' : 'deactivate';
    default:
      return r.status === 'only-in-knock' ? 'left untouched' : '';
  }
}

function resourceLine(plan: DeployPlan, r: PlannedResource): string {
  const what = r.status === 'updated' ? `updated: ${(r.fields ?? []).join(', ')}` : r.status === 'deleted' ? 'deleted in git' : r.status === 'only-in-knock' ? 'only in Knock' : r.status;
  const action = actionText(plan, r);
  const notes = [r.drift ? `drift: ${describeDrift(r, plan.knockEnvironment)}` : null, r.blocked ?? null].filter(Boolean);
  return `  ${SIGN[r.status]} ${r.kind} ${r.key}  ${what}${action ? ` → ${action}` : ''}${notes.length > 0 ? `  [${notes.join('; ')}]` : ''}`;
}

export function printDeployPlan(io: Io, plan: DeployPlan): void {
  const c = io.color;
  const n = plan.counts;
  line(io.out, `${c.bold(`Deploy ${plan.environment} → Knock ${plan.knockEnvironment}`)} at ${c.yellow(plan.commit.slice(0, 7))} (last deployed: ${plan.lastDeployed ? plan.lastDeployed.slice(0, 7) : 'never'}${plan.resumes ? `; completes the interrupted deploy of ${plan.resumes.slice(0, 7)}` : ''})`);
  line(io.out, `  ${n.created} created, ${n.updated} updated, ${n.unchanged} unchanged, ${n.deleted} deleted in git, ${n.onlyInKnock} only in Knock, ${n.drift} drifted`);
  for (const r of plan.resources) if (r.status !== 'unchanged' || r.drift) line(io.out, resourceLine(plan, r));
  if (plan.unsupportedKinds.length > 0) line(io.out, c.dim(`  not deployed yet: ${plan.unsupportedKinds.join(', ')} (no Knock API mapping)`));
}

export function deployPlanMarkdown(plan: DeployPlan): string {
  const n = plan.counts;
  const rows = plan.resources
    .filter((r) => r.status !== 'unchanged' || r.drift)
    .map((r) => `| ${r.kind} | \`${r.key}\` | ${r.status}${r.fields?.length ? `: ${r.fields.map((f) => `\`${f}\``).join(', ')}` : ''} | ${actionText(plan, r)} | ${[r.drift ? describeDrift(r, plan.knockEnvironment) : '', r.blocked ?? ''].filter(Boolean).join('; ')} |`);
  return [
    `### Deploy \`${plan.environment}\` → Knock \`${plan.knockEnvironment}\` at \`${plan.commit.slice(0, 7)}\``,
    '',
    `${n.created} created, ${n.updated} updated, ${n.unchanged} unchanged, ${n.deleted} deleted in git, ${n.onlyInKnock} only in Knock, ${n.drift} drifted.`,
    '',
    ...(rows.length > 0 ? ['| type | key | change | how | notes |', '|---|---|---|---|---|', ...rows, ''] : ['Knock already holds what the branch holds.', '']),
  ].join('\n');
}

export function deployJson(result: DeployResult, dryRun: boolean): unknown {
  return { deployed: result.deployed, dryRun, writes: result.writes, knockCommits: result.knockCommits, auditEvent: result.auditEvent, plan: result.plan };
}

export async function runDeploy(io: Io, environment: string, opts: KnockFlags & { dryRun?: boolean; yes?: boolean; force?: boolean; json?: boolean; format?: string }): Promise<number> {
  const c = io.color;
  const format = opts.json ? 'json' : (opts.format ?? 'text');
  let shown = false;
  const show = (plan: DeployPlan): void => {
    shown = true;
    if (format === 'markdown') io.out.write(deployPlanMarkdown(plan));
    else if (format === 'text') printDeployPlan(io, plan);
  };
  const progress = io.err.isTTY && format !== 'json';
  const result = await deployEnvironment({
    ...coreOptions(io, io.cwd),
    environment,
    knock: knockConnection(io, opts),
    dryRun: Boolean(opts.dryRun),
    force: Boolean(opts.force),
    onPlan: (plan) => {
      show(plan);
      if (format === 'json') writeJson(io, { deployed: false, dryRun: Boolean(opts.dryRun), refused: true, plan });
    },
    confirm: async (plan) => {
      show(plan);
      return confirmOrRefuse(io, opts.yes, { doing: `Deploying ${plan.environment} to Knock`, question: `Deploy ${plan.environment} to Knock's ${plan.knockEnvironment} (${plan.counts.writes} change${plan.counts.writes === 1 ? '' : 's'})?`, verb: 'deploy' });
    },
    ...(progress ? { onProgress: (done: number, total: number) => io.err.write(`\r  ${done}/${total} written${done === total ? '\n' : ''}`) } : {}),
  });
  if (format === 'json') {
    writeJson(io, deployJson(result, Boolean(opts.dryRun)));
    return EXIT.success;
  }
  const plan = result.plan;
  if (!shown) show(plan);
  if (opts.dryRun) line(io.err, c.dim('Dry run: nothing was sent to Knock. Run without --dry-run to deploy.'));
  else if (result.deployed) line(io.err, `${c.green('✔')} Knock's ${plan.knockEnvironment} holds ${plan.environment} at ${plan.commit.slice(0, 7)}: ${result.writes} write${result.writes === 1 ? '' : 's'}, read back and equal; recorded (${result.auditEvent?.slice(0, 7)}).`);
  else if (plan.counts.writes === 0) line(io.err, `${c.green('✔')} Knock's ${plan.knockEnvironment} already holds ${plan.environment} at ${plan.commit.slice(0, 7)}; nothing to deploy.`);
  else line(io.err, 'Nothing was sent to Knock.');
  return EXIT.success;
}

export function printDrift(io: Io, report: DriftReport): void {
  const c = io.color;
  line(io.out, `${c.bold(`Knock ${report.knockEnvironment}`)} against ${report.environment} at ${report.commit.slice(0, 7)} (last deployed: ${report.lastDeployed ? report.lastDeployed.slice(0, 7) : 'never'})`);
  if (report.inSync) line(io.out, `  ${c.green('in sync')}: Knock holds what the branch holds, committed, with nothing changed in Knock.`);
  for (const e of report.entries) line(io.out, `  ${e.reason.padEnd(17)} ${e.kind} ${e.key}: ${e.detail}`);
}

export async function runDrift(io: Io, environment: string, opts: KnockFlags & { json?: boolean }): Promise<number> {
  const report = await driftReport({ ...readerOptions(io, io.cwd), environment, knock: knockConnection(io, opts) });
  if (opts.json) writeJson(io, report);
  else printDrift(io, report);
  return report.inSync ? EXIT.success : EXIT.refused;
}

export async function runMap(io: Io, environment: string, knockEnvironment: string, opts: { json?: boolean }): Promise<number> {
  const result = await mapKnockEnvironment({ ...coreOptions(io, io.cwd), environment, knockEnvironment });
  if (opts.json) writeJson(io, result);
  else if (!result.changed) line(io.err, `${environment} already deploys to Knock's ${knockEnvironment}; nothing changed.`);
  else line(io.err, `${io.color.green('✔')} ${environment} deploys to Knock's ${io.color.bold(knockEnvironment)} (${result.commit!.slice(0, 7)} on the highest environment, merged down)`);
  return EXIT.success;
}

/** `knock-env import --from-knock <env>`: the live environment's resources into the working tree. */
export async function runImportFromKnock(io: Io, environment: string, opts: KnockFlags & { json?: boolean; force?: boolean }): Promise<number> {
  let knockEnvironment = environment;
  try {
    knockEnvironment = knockEnvironmentOf(await loadConfig(await openProject({ fs, dir: io.cwd })), environment);
  } catch {
    // Not a knock-env environment of this project: taken as Knock's own slug.
  }
  const result = await importFromKnock({ fs, dir: io.cwd, knockEnvironment, knock: knockConnection(io, opts), force: Boolean(opts.force) });
  const code = importExitCode(result.resources);
  if (opts.json) {
    writeJson(io, result);
    return code;
  }
  printResourceReport(io, result.resources, 'imported', 14);
  line(io.err, `${result.skipped > 0 ? io.color.yellow('!') : io.color.green('✔')} ${result.imported} imported from Knock's ${knockEnvironment}${result.skipped > 0 ? `, ${result.skipped} skipped` : ''}.`);
  if (result.imported > 0) line(io.err, `  next: ${io.color.bold('knock-env status')}, then ${io.color.bold(`knock-env commit -m "Import from Knock ${knockEnvironment}"`)}`);
  return code;
}

