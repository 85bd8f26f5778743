import type { CoreOptions } from '../context.js';
import { authenticate, authorize } from '../access.js';
import { KnockEnvError } from '../errors.js';
import { formatMessage, isAncestor, readCommit, writeCommit } from '../git/commit.js';
import { currentBranch, updateRef } from '../git/refs.js';
import { applyChanges, diffTrees, type FileChange } from '../git/tree.js';
import { OwnershipJudge } from '../ownership.js';
import { branchRef, environmentSlugs, headOf, loadConfig, openProject, requireEnvironment, type Project } from '../project.js';
import type { KnockEnvConfig } from '../validate/config.js';
import type { ValidationIssue } from '../validate/types.js';
import { appendAuditEvent, readAuditTrail } from './audit.js';
import { followCheckedOutBranch } from './commit.js';
import { mergeDown, type BranchMove } from './mergeDown.js';
import { planTreeChanges, validatePlan, type ChangePlan } from './plan.js';
import { resolveCommitish } from './promote.js';
import { TRAILER, shortOid, signatureOf, withRepositoryLock } from './shared.js';

export interface RollbackPlan extends ChangePlan {
  environment: string;
  /** The earlier state whose promoted content is restored. */
  restores: string;
  /** How the state was chosen. */
  reason: string;
  /** Paths the environment (or one above it) owns, which keep their current content. */
  kept: string[];
  issues: ValidationIssue[];
  /** The tree the rollback commit will have. */
  tree: string;
}

export interface RollbackOptions extends CoreOptions {
  environment: string;
  /** A promotion (audit record id) or a commit of the environment's history; default: before its last promotion. */
  to?: string;
  dryRun?: boolean;
  confirm?: (plan: RollbackPlan) => Promise<boolean>;
}

export interface RollbackResult {
  plan: RollbackPlan;
  rolledBack: boolean;
  commit?: string;
  mergedInto: BranchMove[];
  auditEvent?: string;
}

async function chooseTarget(project: Project, environment: string, head: string, to: string | undefined): Promise<{ commit: string; reason: string }> {
  const events = (await readAuditTrail(project)).filter((e) => e.environment === environment);
  if (to === undefined) {
    const last = events.find((e) => e.operation === 'promote');
    if (!last || !last.from) {
      throw new KnockEnvError('REFUSED', `${environment} has no promotion to roll back.`, {
        hint: `Give the state to return to with --to <commit> (see \`knock-env log ${environment}\`).`,
      });
    }
    return { commit: last.from, reason: `before the promotion of ${last.time} (${shortOid(last.from)}..${shortOid(last.to)})` };
  }
  const event = /^[0-9a-f]{4,40}$/.test(to) ? events.find((e) => e.id.startsWith(to) && e.operation === 'promote') : undefined;
  if (event?.from) return { commit: event.from, reason: `before the promotion of ${event.time}` };
  const commit = await resolveCommitish(project, to, head);
  if (!(await isAncestor(project, commit, head))) {
    throw new KnockEnvError('REFUSED', `${shortOid(commit)} is not in the history of ${environment}.`, {
      hint: `Pick a commit or a promotion from \`knock-env log ${environment}\`.`,
    });
  }
  return { commit, reason: `the state at ${shortOid(commit)}` };
}

/**
 * The rollback plan: the environment's tree with every path owned by a lower
 * environment (promoted content) taken from the earlier state, and every path
 * it or an environment above it owns kept as it is now.
 */
export async function planRollback(project: Project, environment: string, to?: string, loaded?: KnockEnvConfig): Promise<RollbackPlan> {
  const config = loaded ?? (await loadConfig(project));
  const position = requireEnvironment(config, environment);
  const slugs = environmentSlugs(config);
  const head = await headOf(project, environment);
  const target = await chooseTarget(project, environment, head, to);
  const [now, then] = [await readCommit(project, head), await readCommit(project, target.commit)];
  const judge = new OwnershipJudge(project, slugs, [now.tree, then.tree]);
  const changes = new Map<string, FileChange | null>();
  const kept: string[] = [];
  for (const d of await diffTrees(project, now.tree, then.tree)) {
    const owner = await judge.ownerOf(d.path);
    if (judge.rank(owner) < position) changes.set(d.path, d.newOid ? { oid: d.newOid, mode: d.newMode ?? '100644' } : null);
    else kept.push(d.path);
  }
  const tree = await applyChanges(project, now.tree, changes);
  const plan = await planTreeChanges(project, { commit: head, tree: now.tree }, { commit: target.commit, tree });
  const issues = await validatePlan(project, plan);
  return { ...plan, environment, restores: target.commit, reason: target.reason, kept, issues, tree };
}

/**
 * Rolls an environment back without rewriting history: one new commit whose
 * tree restores the promoted content of an earlier state, then a merge into
 * every lower environment that takes nothing of it, so they keep their content
 * and the next promotion brings it up again.
 */
export async function rollbackEnvironment(options: RollbackOptions): Promise<RollbackResult> {
  const project = await openProject(options);
  const config = await loadConfig(project);
  requireEnvironment(config, options.environment);
  authorize(config, authenticate(config, options.actor, options.apiKey), 'promote', options.environment, `roll back ${options.environment}`);
  const plan = await planRollback(project, options.environment, options.to, config);
  if (plan.issues.length > 0) {
    throw new KnockEnvError('VALIDATION_FAILED', `The state to roll back to has ${plan.issues.length} invalid resource file${plan.issues.length === 1 ? '' : 's'}; nothing changed.`, {
      hint: 'Roll back to another state (--to), or fix forward in development and promote.',
      data: { issues: plan.issues },
    });
  }
  if (plan.differences.length === 0 || options.dryRun) return { plan, rolledBack: false, mergedInto: [] };
  if (options.confirm && !(await options.confirm(plan))) {
    throw new KnockEnvError('REFUSED', `Rollback of ${plan.environment} cancelled; nothing changed.`, { hint: 'Run it again and answer yes, or pass --yes.' });
  }
  return withRepositoryLock(project, options, async () => {
    const head = await headOf(project, plan.environment);
    if (head !== plan.from.commit) {
      throw new KnockEnvError('CONCURRENT_UPDATE', `${plan.environment} moved to ${shortOid(head)} while the plan was shown; nothing was rolled back.`, {
        hint: `Run \`knock-env rollback ${plan.environment}\` again to see the new plan.`,
      });
    }
    const signature = signatureOf(options);
    const slugs = environmentSlugs(await loadConfig(project));
    const message = formatMessage(`Roll back ${plan.environment} to ${shortOid(plan.restores)}`, `Restores the promoted content of ${plan.reason}; what ${plan.environment} owns is kept.`, {
      [TRAILER.operation]: 'rollback',
      [TRAILER.environment]: plan.environment,
      [TRAILER.from]: head,
      [TRAILER.to]: plan.restores,
    });
    const commit = await writeCommit(project, { tree: plan.tree, parents: [head], author: signature, committer: signature, message });
    await updateRef(project, { ref: branchRef(plan.environment), oldOid: head, newOid: commit, reflogMessage: `knock-env rollback ${plan.environment} to ${shortOid(plan.restores)}`, committer: signature });
    const mergedInto = await mergeDown(project, slugs, slugs.indexOf(plan.environment), commit, new Map(), signature);
    const auditEvent = await appendAuditEvent(
      project,
      {
        operation: 'rollback',
        environment: plan.environment,
        from: head,
        to: commit,
        subject: `Roll back ${plan.environment}: ${shortOid(head)}..${shortOid(commit)}, restoring ${shortOid(plan.restores)}`,
        body: `Restores the promoted content of ${plan.reason}.\n${plan.resources.map((r) => `${r.status} ${r.kind} ${r.key}`).join('\n')}`,
      },
      signature,
    );
    const checkedOut = await currentBranch(project);
    const moved = [...mergedInto, { environment: plan.environment, from: head, to: commit }].find((m) => m.environment === checkedOut);
    if (moved) await followCheckedOutBranch(project, moved.from, moved.to);
    return { plan, rolledBack: true, commit, mergedInto, auditEvent };
  });
}
