import { withRemote } from '../../core/remote/sync.js';
import { rollbackEnvironment, type RollbackPlan } from '../../core/ops/rollback.js';
import { coreOptions } from '../context.js';
import { formatPlanBody, planCounts } from '../format.js';
import { confirmOrRefuse, line, writeJson, type Io } from '../io.js';

function printRollbackPlan(io: Io, plan: RollbackPlan): void {
  const c = io.color;
  const n = planCounts(plan);
  line(io.out, `${c.bold(`Roll back ${plan.environment}`)} to ${plan.reason}: a new commit on ${c.yellow(plan.from.commit.slice(0, 7))}, history kept`);
  line(io.out, `  ${n.added} restored, ${n.modified} changed back, ${n.deleted} removed`);
  for (const l of formatPlanBody(plan, c)) line(io.out, l);
  if (plan.kept.length > 0) line(io.out, c.dim(`  kept (owned by ${plan.environment} or above): ${plan.kept.length} file${plan.kept.length === 1 ? '' : 's'}`));
}

export async function runRollback(io: Io, environment: string, opts: { to?: string; dryRun?: boolean; yes?: boolean; json?: boolean }): Promise<number> {
  const result = await withRemote({
    ...coreOptions(io, io.cwd),
    environment,
    ...(opts.to ? { to: opts.to } : {}),
    dryRun: Boolean(opts.dryRun),
    confirm: async (plan) => {
      if (!opts.json) printRollbackPlan(io, plan);
      return confirmOrRefuse(io, opts.yes, { doing: `Rolling back ${plan.environment}`, question: `Roll back ${plan.environment}?`, verb: 'roll back' });
    },
  }, rollbackEnvironment);
  if (opts.json) {
    const { differences, ...plan } = result.plan;
    writeJson(io, { rolledBack: result.rolledBack, dryRun: Boolean(opts.dryRun), commit: result.commit ?? null, auditEvent: result.auditEvent ?? null, mergedInto: result.mergedInto, plan: { ...plan, files: differences.map((d) => ({ path: d.path, status: d.status })) } });
    return 0;
  }
  if (result.plan.differences.length === 0) line(io.err, `${environment} already has the promoted content of ${result.plan.reason}; nothing to roll back.`);
  else if (!result.rolledBack) {
    printRollbackPlan(io, result.plan);
    line(io.err, io.color.dim('Dry run: nothing moved. Run without --dry-run to roll back.'));
  } else {
    line(io.err, `${io.color.green('✔')} Rolled back ${environment}: new commit ${result.commit!.slice(0, 7)}; lower environments keep their content, and the next promotion brings it up again.`);
  }
  return 0;
}
