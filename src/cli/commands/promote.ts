import { withRemote } from '../../core/remote/sync.js';
import { planFileTextsIn } from '../../core/ops/plan-details.js';
import { promoteEnvironment, type PromotionPlan } from '../../core/ops/promote.js';
import { coreOptions, fs } from '../context.js';
import { formatCommits, formatPlanBody, planCounts } from '../format.js';
import { confirmOrRefuse, line, writeJson, type Io } from '../io.js';
import { promotionMarkdown } from '../markdown.js';

export type PlanFormat = 'text' | 'json' | 'markdown';

export function printPromotionPlan(io: Io, plan: PromotionPlan): void {
  const c = io.color;
  const n = planCounts(plan);
  line(io.out, `${c.bold(`Promote ${plan.source} → ${plan.environment}`)}: ${c.yellow(plan.from.commit.slice(0, 7))} → ${c.yellow(plan.to.commit.slice(0, 7))} (fast-forward)`);
  line(io.out, `  ${n.added} added, ${n.modified} changed, ${n.deleted} deleted`);
  for (const l of formatPlanBody(plan, c)) line(io.out, l);
  if (plan.commits.length > 0) {
    line(io.out, `  commits:`);
    for (const l of formatCommits(plan.commits, c)) line(io.out, `  ${l}`);
  }
}

export function planJson(plan: PromotionPlan): unknown {
  const { differences, ...rest } = plan;
  return { ...rest, files: differences.map((d) => ({ path: d.path, status: d.status })) };
}

async function printPromotionMarkdown(io: Io, plan: PromotionPlan): Promise<void> {
  io.out.write(promotionMarkdown(plan, await planFileTextsIn({ fs, dir: io.cwd }, plan)));
}

export async function runPromote(io: Io, environment: string, opts: { to?: string; dryRun?: boolean; yes?: boolean; json?: boolean; format?: string }): Promise<number> {
  const c = io.color;
  const format = (opts.json ? 'json' : opts.format ?? 'text') as PlanFormat;
  const json = format === 'json';
  const markdown = format === 'markdown';
  const result = await withRemote({
    ...coreOptions(io, io.cwd),
    environment,
    ...(opts.to ? { to: opts.to } : {}),
    dryRun: Boolean(opts.dryRun),
    confirm: async (plan) => {
      if (markdown) await printPromotionMarkdown(io, plan);
      else if (!json) printPromotionPlan(io, plan);
      return confirmOrRefuse(io, opts.yes, { doing: `Promoting ${plan.environment}`, question: `Promote ${plan.environment} to ${plan.to.commit.slice(0, 7)}?`, verb: 'promote' });
    },
  }, promoteEnvironment);
  if (json) {
    writeJson(io, { promoted: result.promoted, upToDate: result.plan.upToDate, dryRun: Boolean(opts.dryRun), auditEvent: result.auditEvent ?? null, plan: planJson(result.plan) });
    return 0;
  }
  if (result.plan.upToDate) {
    if (markdown) await printPromotionMarkdown(io, result.plan);
    line(io.err, `${c.green('✔')} ${environment} is already at ${result.plan.source}'s head (${result.plan.to.commit.slice(0, 7)}); nothing to promote.`);
  } else if (!result.promoted) {
    if (markdown) await printPromotionMarkdown(io, result.plan);
    else printPromotionPlan(io, result.plan);
    line(io.err, c.dim(`Dry run: nothing moved. Run without --dry-run to promote.`));
  } else {
    line(io.err, `${c.green('✔')} Promoted ${result.plan.environment} to ${result.plan.to.commit.slice(0, 7)} (fast-forward from ${result.plan.from.commit.slice(0, 7)})`);
  }
  return 0;
}
