import type { CoreOptions } from '../context.js';
import { authenticate, authorize } from '../access.js';
import { KnockEnvError } from '../errors.js';
import { isAncestor, readCommit } from '../git/commit.js';
import { currentBranch, readRef, updateRef } from '../git/refs.js';
import { branchRef, environmentSlugs, headOf, loadConfig, openProject, requireEnvironment, type Project } from '../project.js';
import type { KnockEnvConfig } from '../validate/config.js';
import type { ValidationIssue } from '../validate/types.js';
import { appendAuditEvent } from './audit.js';
import { followCheckedOutBranch } from './commit.js';
import { commitsBetween, planChanges, validatePlan, type ChangePlan, type CommitSummary } from './plan.js';
import { signatureOf, shortOid, withRepositoryLock } from './shared.js';

export interface PromotionPlan extends ChangePlan {
  environment: string;
  /** The environment directly below, whose commits are promoted. */
  source: string;
  upToDate: boolean;
  commits: CommitSummary[];
  issues: ValidationIssue[];
}

export interface PromoteOptions extends CoreOptions {
  environment: string;
  /** A commit (full or abbreviated id, or a ref) on the environment below; default its head. */
  to?: string;
  dryRun?: boolean;
  /** Called with the plan before anything moves; return false to cancel. */
  confirm?: (plan: PromotionPlan) => Promise<boolean>;
}

export interface PromotionResult {
  plan: PromotionPlan;
  promoted: boolean;
  auditEvent?: string;
}

/** Resolves a user-given commit: full id, abbreviated id (unique among the candidates' history), or a branch name. */
export async function resolveCommitish(project: Project, value: string, candidatesFrom: string): Promise<string> {
  const trimmed = value.trim();
  const asBranch = await readRef(project, branchRef(trimmed));
  if (asBranch) return asBranch;
  if (!/^[0-9a-f]{4,40}$/.test(trimmed)) {
    throw new KnockEnvError('USAGE', `"${value}" is not a commit id or environment name.`, { hint: 'Give a commit id from `knock-env log`.' });
  }
  const matches = new Set<string>();
  const seen = new Set<string>();
  const stack = [candidatesFrom];
  while (stack.length > 0) {
    const oid = stack.pop()!;
    if (seen.has(oid)) continue;
    seen.add(oid);
    if (oid.startsWith(trimmed)) matches.add(oid);
    stack.push(...(await readCommit(project, oid)).parents);
  }
  if (matches.size === 1) return [...matches][0]!;
  if (matches.size > 1) {
    throw new KnockEnvError('USAGE', `Commit id "${value}" is ambiguous.`, { hint: 'Give more characters of it.' });
  }
  throw new KnockEnvError('NOT_FOUND', `Commit "${value}" is not in the history of ${candidatesFrom.slice(0, 7)}.`, {
    hint: 'Pick a commit from `knock-env log <environment below>`.',
  });
}

export async function planPromotion(project: Project, environment: string, to?: string, loaded?: KnockEnvConfig): Promise<PromotionPlan> {
  const config = loaded ?? (await loadConfig(project));
  const position = requireEnvironment(config, environment);
  const slugs = environmentSlugs(config);
  if (position === 0) {
    throw new KnockEnvError('REFUSED', `${environment} is the lowest environment; nothing is promoted into it.`, {
      hint: `Commit to ${environment} with \`knock-env commit\`, then promote ${slugs[1] ?? 'the next environment'}.`,
    });
  }
  const source = slugs[position - 1]!;
  const sourceHead = await headOf(project, source);
  const current = await headOf(project, environment);
  const target = to === undefined ? sourceHead : await resolveCommitish(project, to, sourceHead);
  if (!(await isAncestor(project, target, sourceHead))) {
    throw new KnockEnvError('REFUSED', `${shortOid(target)} is not a commit of ${source}.`, {
      hint: `Promote a commit from \`knock-env log ${source}\`.`,
    });
  }
  if (!(await isAncestor(project, current, target))) {
    const ahead = await commitsBetween(project, target, current, 20);
    const behind = await isAncestor(project, target, current);
    throw new KnockEnvError(
      'NOT_FAST_FORWARD',
      behind
        ? `${environment} is already past ${shortOid(target)}: promoting it would move ${environment} backwards.`
        : `${environment} has ${ahead.length} commit${ahead.length === 1 ? '' : 's'} that ${source} lacks (${ahead.slice(0, 3).map((c) => `${shortOid(c.oid)} "${c.subject}"`).join(', ')}); promotion must be a fast-forward.`,
      {
        hint: behind
          ? `To return ${environment} to an earlier state, use \`knock-env rollback ${environment}\`.`
          : 'Run `knock-env doctor` to see and repair the chain of environments.',
        data: { environment, source, current, target, ahead },
      },
    );
  }
  const plan = await planChanges(project, current, target);
  const issues = await validatePlan(project, plan);
  const commits = current === target ? [] : await commitsBetween(project, current, target);
  return { ...plan, environment, source, upToDate: current === target, commits, issues };
}

/**
 * Moves an environment's branch forward to the head of the environment below
 * it (or to a commit on it), only as a fast-forward and only when every
 * resource being promoted is valid. Records the promotion in the audit trail.
 */
export async function promoteEnvironment(options: PromoteOptions): Promise<PromotionResult> {
  const project = await openProject(options);
  const config = await loadConfig(project);
  requireEnvironment(config, options.environment);
  authorize(config, authenticate(config, options.actor, options.apiKey), 'promote', options.environment, `promote into ${options.environment}`);
  const plan = await planPromotion(project, options.environment, options.to, config);
  if (plan.issues.length > 0) {
    throw new KnockEnvError('VALIDATION_FAILED', `${plan.issues.length} problem${plan.issues.length === 1 ? '' : 's'} in what would be promoted to ${plan.environment}; nothing was promoted.`, {
      hint: `Fix them in ${plan.source} and commit, then promote again.`,
      data: { issues: plan.issues, plan },
    });
  }
  if (plan.upToDate || options.dryRun) return { plan, promoted: false };
  if (options.confirm && !(await options.confirm(plan))) {
    throw new KnockEnvError('REFUSED', `Promotion of ${plan.environment} cancelled; nothing changed.`, { hint: 'Run it again and answer yes, or pass --yes.' });
  }
  return withRepositoryLock(project, options, async () => {
    const signature = signatureOf(options);
    const now = await headOf(project, plan.environment);
    if (now !== plan.from.commit) {
      throw new KnockEnvError('CONCURRENT_UPDATE', `${plan.environment} moved to ${shortOid(now)} while the plan was shown; nothing was promoted.`, {
        hint: `Run \`knock-env promote ${plan.environment}\` again to see the new plan.`,
      });
    }
    await updateRef(project, {
      ref: branchRef(plan.environment),
      oldOid: plan.from.commit,
      newOid: plan.to.commit,
      reflogMessage: `knock-env promote ${plan.environment}: fast-forward to ${plan.source} ${shortOid(plan.to.commit)}`,
      committer: signature,
    });
    const counts = ['added', 'modified', 'deleted'].map((s) => `${plan.resources.filter((r) => r.status === s).length} ${s}`).join(', ');
    const auditEvent = await appendAuditEvent(
      project,
      {
        operation: 'promote',
        environment: plan.environment,
        source: plan.source,
        from: plan.from.commit,
        to: plan.to.commit,
        subject: `Promote ${plan.source} to ${plan.environment}: ${shortOid(plan.from.commit)}..${shortOid(plan.to.commit)}`,
        body: `Resources: ${counts}.\n${plan.resources.map((r) => `${r.status} ${r.kind} ${r.key}`).join('\n')}`,
      },
      signature,
    );
    if ((await currentBranch(project)) === plan.environment) await followCheckedOutBranch(project, plan.from.commit, plan.to.commit);
    return { plan, promoted: true, auditEvent };
  });
}
