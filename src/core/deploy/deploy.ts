import type KnockMgmt from '@knocklabs/mgmt';
import { authenticate, authorize } from '../access.js';
import type { CoreOptions } from '../context.js';
import { KnockEnvError } from '../errors.js';
import { readCommit, subjectOf } from '../git/commit.js';
import { knockClient, knockError, type KnockConnection } from '../knock-api/client.js';
import { contentHash, contentOf } from '../knock-api/body.js';
import { KNOCK_API_KINDS, type KnockApiKind } from '../knock-api/kinds.js';
import { appendAuditEvent } from '../ops/audit.js';
import { signatureOf, withRepositoryLock } from '../ops/shared.js';
import { headOf, loadConfig, openProject, requireEnvironment } from '../project.js';
import { resourceId } from '../resources.js';
import { desiredStateAt, type DesiredCache, type DesiredResource, type DesiredState } from './desired.js';
import { KNOCK_ENVIRONMENT_TRAILER, KNOCK_COMMITS_TRAILER, knockEnvironmentOf, lastDeployOf, withDeployLock } from './record.js';
import { clearDeploy, readDeployJournal, recordDeployProgress, recordDeployStart } from '../git/deploy-journal.js';
import { readLiveState } from './live.js';
import { classifyResources, countPlan, type PlanCounts, type PlannedResource } from './plan.js';
import { inPool, REQUESTS_IN_FLIGHT } from './pool.js';

export interface DeployOptions extends CoreOptions {
  environment: string;
  knock: KnockConnection;
  dryRun?: boolean;
  /** Overwrite drift, and write directly above development where promotion cannot bring the content. */
  force?: boolean;
  /** Shown the plan before anything is written; false stops the deploy (nothing written). */
  confirm?: (plan: DeployPlan) => Promise<boolean>;
  /** Called with the plan before a refusal, so the caller can show what was refused. */
  onPlan?: (plan: DeployPlan) => void;
  /** Progress of the writes: done of total. */
  onProgress?: (done: number, total: number) => void;
  /** A client for tests that count requests; default: one made from `knock`. */
  client?: KnockMgmt;
}

export interface DeployPlan {
  environment: string;
  knockEnvironment: string;
  /** The environment below (whose Knock commits are promoted), or null for the lowest. */
  lower: { environment: string; knockEnvironment: string } | null;
  /** The git commit being deployed: the branch's head. */
  commit: string;
  /** What knock-env last deployed there, or null. */
  lastDeployed: string | null;
  /** An interrupted deploy this one completes. */
  resumes: string | null;
  resources: PlannedResource[];
  counts: PlanCounts;
  /** Resource types knock-env manages that deploy does not send yet. */
  unsupportedKinds: string[];
  /** What stops the deploy (drift, versions the environment below never held); empty with --force. */
  refusals: { kind: string; key: string; reason: string }[];
}

export interface DeployResult {
  plan: DeployPlan;
  /** Whether Knock was changed (false for a dry run, a refusal at the prompt, or nothing to do). */
  deployed: boolean;
  /** Knock's commits made or promoted. */
  knockCommits: string[];
  /** The audit event recording the deploy, or null. */
  auditEvent: string | null;
  /** Write requests sent. */
  writes: number;
}

const READBACK_LIST_THRESHOLD = 100;

/**
 * Makes Knock's environment hold, as committed content, what the branch holds
 * (DESIGN.md section 9): plan, refuse drift and versions that cannot be
 * promoted, apply (upsert and commit in development; promote the commit the
 * environment below holds above it; direct writes for resources whose origin is
 * the environment), read back and compare, record in the audit trail. A journal
 * marks the deploy until it is recorded, so an interrupted one is completed by
 * the next.
 */
export async function deployEnvironment(options: DeployOptions): Promise<DeployResult> {
  const project = await openProject(options);
  const config = await loadConfig(project);
  const index = requireEnvironment(config, options.environment);
  authorize(config, authenticate(config, options.actor, options.apiKey), 'promote', options.environment, `deploy ${options.environment} to Knock`);
  const client = options.client ?? knockClient(options.knock);
  return withDeployLock(project, options, async () => {
    const plan = await planDeployment(project, options, client, config, index, new Map());
    const result = (deployed: boolean, extra: Partial<DeployResult> = {}): DeployResult => ({ plan, deployed, knockCommits: [], auditEvent: null, writes: 0, ...extra });
    if (plan.refusals.length > 0 && !options.force) {
      options.onPlan?.(plan);
      throw refusal(plan);
    }
    const work = plan.resources.filter((r) => r.action !== 'none');
    if (options.dryRun) return result(false);
    if (work.length === 0) {
      if (plan.lastDeployed === plan.commit && plan.resumes === null) return result(false);
      // Knock already holds the commit (deployed by hand, or an interrupted deploy that had finished writing).
      const auditEvent = await record(project, options, plan, []);
      await clearDeploy(project.fs, project.gitdir, options.environment);
      return result(true, { auditEvent });
    }
    if (options.confirm && !(await options.confirm(plan))) return result(false);

    await recordDeployStart(project.fs, project.gitdir, {
      environment: plan.environment,
      knockEnvironment: plan.knockEnvironment,
      commit: plan.commit,
      previous: plan.lastDeployed,
      startedAt: (options.now?.() ?? new Date()).toISOString(),
      planned: work.length,
      confirmed: 0,
    });
    const desired = (await desiredStateAt(project, plan.commit)).resources;
    const message = commitMessage(plan, subjectOf((await readCommit(project, plan.commit)).message));
    const knockCommits: string[] = [];
    let done = 0;
    try {
      await inPool(work, REQUESTS_IN_FLIGHT, async (r) => {
        const id = resourceId(r);
        const target = desired.get(id);
        const doing = `deploying ${r.kind} "${r.key}" to ${plan.knockEnvironment}`;
        try {
          if (r.action === 'promote') {
            const answer = await client.commits.promoteOne(r.promoteCommit!);
            knockCommits.push(answer.commit.id);
          } else if (r.action === 'retire') {
            await apiOf(r).retire(client, r.key, plan.knockEnvironment, index === config.environments.length - 1);
          } else {
            await target!.api.upsertCommitted(client, r.key, { environment: plan.knockEnvironment, body: target!.body, commitMessage: message, force: Boolean(r.force) });
          }
        } catch (error) {
          throw knockError(error, doing, `Fix what Knock names in ${r.kind} "${r.key}", commit, and deploy again; the writes Knock confirmed stay and the next deploy completes the rest.`);
        }
        done++;
        options.onProgress?.(done, work.length);
      });
    } finally {
      // How far it got, for `doctor`; the next deploy re-plans against Knock whatever this says.
      await recordDeployProgress(project.fs, project.gitdir, options.environment, done);
    }
    if (work.some((r) => r.action === 'upsert' || r.action === 'write')) knockCommits.push(...(await commitsWithMessage(client, plan.knockEnvironment, message, work.length)));

    await readBack(client, plan, work, desired);
    const auditEvent = await record(project, options, plan, knockCommits);
    await clearDeploy(project.fs, project.gitdir, options.environment);
    return result(true, { knockCommits, auditEvent, writes: work.length });
  });
}

/** Resources in a plan come from the API kinds table, so their entry exists. */
function apiOf(r: PlannedResource): KnockApiKind {
  return KNOCK_API_KINDS[r.kind]!;
}

/** The plan of a deploy: what Knock holds against what the branch holds, with promotions resolved. */
export async function planDeployment(
  project: Awaited<ReturnType<typeof openProject>>,
  options: Pick<DeployOptions, 'environment' | 'force'>,
  client: KnockMgmt,
  config: Awaited<ReturnType<typeof loadConfig>>,
  index: number,
  cache: DesiredCache,
  what: { resolvePromotions: boolean } = { resolvePromotions: true },
): Promise<DeployPlan> {
  const environment = options.environment;
  const knockEnvironment = knockEnvironmentOf(config, environment);
  const lowerSlug = index > 0 ? config.environments[index - 1]!.slug : null;
  const lower = lowerSlug ? { environment: lowerSlug, knockEnvironment: knockEnvironmentOf(config, lowerSlug) } : null;
  const commit = await headOf(project, environment);
  const last = await lastDeployOf(project, environment);
  const journal = (await readDeployJournal(project.fs, project.gitdir)).find((e) => e.environment === environment) ?? null;
  const desired = await desiredStateAt(project, commit, cache);
  const lastDeployed = last ? await stateIfPresent(project, last, cache) : null;
  const interrupted = journal ? await stateIfPresent(project, journal.commit, cache) : null;
  const live = await readLiveState(client, knockEnvironment, { withDrafts: true });
  const resources = classifyResources({ environment, lower: lowerSlug, desired, lastDeployed, interrupted, live });
  if (lower && what.resolvePromotions) await resolvePromotions(client, resources, desired, lower, Boolean(options.force));
  await nameDriftAuthors(client, resources, knockEnvironment);
  const refusals: DeployPlan['refusals'] = [];
  for (const r of resources) {
    if (r.action === 'none') continue;
    if (r.drift) refusals.push({ kind: r.kind, key: r.key, reason: describeDrift(r, knockEnvironment) });
    if (r.blocked) refusals.push({ kind: r.kind, key: r.key, reason: r.blocked });
  }
  return {
    environment,
    knockEnvironment,
    lower,
    commit,
    lastDeployed: last,
    resumes: journal?.commit ?? null,
    resources,
    counts: countPlan(resources),
    unsupportedKinds: desired.unsupportedKinds,
    refusals,
  };
}

async function stateIfPresent(project: Awaited<ReturnType<typeof openProject>>, commit: string, cache: DesiredCache): Promise<DesiredState | null> {
  try {
    return await desiredStateAt(project, commit, cache);
  } catch {
    // A deployed commit that is gone (a rewritten branch) or no longer converts: no baseline.
    return null;
  }
}

export function describeDrift(r: PlannedResource, knockEnvironment: string): string {
  if (!r.drift) return '';
  const who = r.drift.by ? ` by ${r.drift.by}` : '';
  return r.drift.reason === 'uncommitted-draft'
    ? `has uncommitted changes in Knock's ${knockEnvironment}${who}`
    : `was changed in Knock's ${knockEnvironment} since knock-env last deployed it${who}`;
}

/**
 * Above development a changed resource reaches the environment by promoting
 * the Knock commit that the environment below holds with exactly the branch's
 * content; when it holds something else, the deploy says what to deploy first
 * (or, with --force, writes directly).
 */
async function resolvePromotions(client: KnockMgmt, resources: PlannedResource[], desired: DesiredState, lower: { environment: string; knockEnvironment: string }, force: boolean): Promise<void> {
  const pending = resources.filter((r) => r.action === 'promote');
  await inPool(pending, REQUESTS_IN_FLIGHT, async (r) => {
    const target = desired.resources.get(resourceId(r))!;
    const held = await committedHash(client, target, lower.knockEnvironment);
    if (held === target.hash) {
      const commits = await client.commits
        .list({ environment: lower.knockEnvironment, resource_type: target.api.apiType, resource_id: r.key, limit: 1 })
        .catch((error: unknown) => {
          throw knockError(error, `reading the commits of ${r.kind} "${r.key}" in ${lower.knockEnvironment}`);
        });
      const latest = commits.entries[0];
      if (latest) {
        r.promoteCommit = latest.id;
        return;
      }
    }
    const why = `Knock's ${lower.knockEnvironment} never held this version (${held === null ? 'it does not have it' : 'it holds other content'}); deploy ${lower.environment} first`;
    if (force) {
      r.action = 'write';
      r.force = true;
    } else {
      r.blocked = why;
    }
  });
}

async function committedHash(client: KnockMgmt, target: DesiredResource, environment: string): Promise<string | null> {
  try {
    return contentHash(contentOf(target.api, await target.api.retrieve(client, target.key, { environment, committedOnly: true })));
  } catch (error) {
    if ((error as { status?: number }).status === 404) return null;
    throw knockError(error, `reading ${target.kind} "${target.key}" in ${environment}`);
  }
}

/** Knock says who made its latest commit of a drifted resource; asked only for the few the deploy would change. */
async function nameDriftAuthors(client: KnockMgmt, resources: PlannedResource[], environment: string): Promise<void> {
  const drifted = resources.filter((r) => r.drift?.reason === 'changed-in-knock' && r.action !== 'none').slice(0, 20);
  await inPool(drifted, REQUESTS_IN_FLIGHT, async (r) => {
    const api = apiOf(r);
    const page = await client.commits.list({ environment, resource_type: api.apiType, resource_id: r.key, limit: 1 }).catch(() => null);
    const author = page?.entries[0]?.author;
    if (author) r.drift = { ...r.drift!, by: author.name ? `${author.name} <${author.email}>` : author.email };
  });
}

function refusal(plan: DeployPlan): KnockEnvError {
  const names = plan.refusals.slice(0, 10).map((r) => `${r.kind} "${r.key}" ${r.reason}`);
  const drift = plan.refusals.some((r) => !r.reason.includes('never held'));
  return new KnockEnvError('REFUSED', `Deploying ${plan.environment} to Knock's ${plan.knockEnvironment} is refused: ${names.join('; ')}${plan.refusals.length > 10 ? `; and ${plan.refusals.length - 10} more` : ''}.`, {
    hint: drift
      ? 'See `knock-env drift ' + plan.environment + '`; bring the change into git (`knock-env import --from-knock`) or pass --force to overwrite it.'
      : `Deploy ${plan.lower?.environment ?? 'the environment below'} first, or pass --force to write directly.`,
    data: { refusals: plan.refusals },
  });
}

/** Knock's commit message for a deploy: names the git commit, and marks the commit as knock-env's. */
export function commitMessage(plan: Pick<DeployPlan, 'environment' | 'commit'>, subject: string): string {
  return `knock-env deploy ${plan.environment} ${plan.commit}: ${subject}`.slice(0, 500);
}

async function commitsWithMessage(client: KnockMgmt, environment: string, message: string, atMost: number): Promise<string[]> {
  const ids: string[] = [];
  try {
    for await (const c of client.commits.list({ environment, limit: 100 })) {
      if (c.commit_message === message) ids.push(c.id);
      else if (ids.length > 0) break;
      if (ids.length >= atMost) break;
    }
  } catch (error) {
    throw knockError(error, `reading the commits of ${environment}`);
  }
  return ids;
}

/** Reads what was deployed back from Knock (committed content) and fails naming every resource that differs. */
async function readBack(client: KnockMgmt, plan: DeployPlan, work: PlannedResource[], desired: Map<string, DesiredResource>): Promise<void> {
  const differs: string[] = [];
  const check = (r: PlannedResource, hash: string | null, live: boolean | null): void => {
    if (r.action === 'retire') {
      if (live) differs.push(`${r.kind} "${r.key}" is still active`);
      return;
    }
    if (hash !== desired.get(resourceId(r))!.hash) differs.push(`${r.kind} "${r.key}" ${hash === null ? 'is missing' : 'holds other content'}`);
  };
  if (work.length > READBACK_LIST_THRESHOLD) {
    const live = await readLiveState(client, plan.knockEnvironment, { withDrafts: false });
    for (const r of work) {
      const found = live.get(resourceId(r));
      check(r, found?.committedHash ?? null, found?.live ?? null);
    }
  } else {
    await inPool(work, REQUESTS_IN_FLIGHT, async (r) => {
      const api = apiOf(r);
      try {
        const resource = await api.retrieve(client, r.key, { environment: plan.knockEnvironment, committedOnly: true });
        check(r, contentHash(contentOf(api, resource)), api.isLive(resource));
      } catch (error) {
        if ((error as { status?: number }).status !== 404) throw knockError(error, `reading back ${r.kind} "${r.key}"`);
        check(r, null, false);
      }
    });
  }
  if (differs.length > 0) {
    throw new KnockEnvError('REMOTE_ERROR', `After deploying, Knock's ${plan.knockEnvironment} does not hold what ${plan.environment} holds: ${differs.slice(0, 10).join('; ')}${differs.length > 10 ? `; and ${differs.length - 10} more` : ''}.`, {
      hint: 'Someone may be deploying or editing at the same time. Run `knock-env drift ' + plan.environment + '` to see what differs, then deploy again; nothing was recorded as deployed.',
      data: { differs },
    });
  }
}

async function record(project: Awaited<ReturnType<typeof openProject>>, options: CoreOptions, plan: DeployPlan, knockCommits: string[]): Promise<string> {
  const listed = knockCommits.slice(0, 50);
  const more = knockCommits.length - listed.length;
  return withRepositoryLock(project, options, () =>
    appendAuditEvent(
      project,
      {
        operation: 'deploy',
        environment: plan.environment,
        from: plan.lastDeployed,
        to: plan.commit,
        subject: `Deploy ${plan.environment} to Knock (${plan.knockEnvironment}) at ${plan.commit.slice(0, 7)}`,
        body: `${plan.counts.created} created, ${plan.counts.updated} updated, ${plan.counts.deleted} retired, ${plan.counts.unchanged} unchanged; ${knockCommits.length} Knock commit${knockCommits.length === 1 ? '' : 's'}.`,
        trailers: {
          [KNOCK_ENVIRONMENT_TRAILER]: plan.knockEnvironment,
          [KNOCK_COMMITS_TRAILER]: listed.length > 0 ? `${listed.join(' ')}${more > 0 ? ` +${more}` : ''}` : 'none',
        },
      },
      signatureOf(options),
    ),
  );
}
