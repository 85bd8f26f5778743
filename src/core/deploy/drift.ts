import type KnockMgmt from '@knocklabs/mgmt';
import { authorizeRead } from '../access.js';
import type { CoreOptions } from '../context.js';
import { knockClient, type KnockConnection } from '../knock-api/client.js';
import { loadConfig, openProject, requireEnvironment } from '../project.js';
import { describeDrift, planDeployment } from './deploy.js';
import type { PlannedResource } from './plan.js';

export interface DriftOptions extends Pick<CoreOptions, 'fs' | 'dir'>, Partial<Pick<CoreOptions, 'actor' | 'apiKey'>> {
  environment: string;
  knock: KnockConnection;
  client?: KnockMgmt;
}

export interface DriftEntry {
  kind: string;
  key: string;
  reason: 'uncommitted-draft' | 'changed-in-knock' | 'only-in-knock' | 'not-deployed';
  /** A sentence for people. */
  detail: string;
  by?: string;
}

export interface DriftReport {
  environment: string;
  knockEnvironment: string;
  /** The branch's head. */
  commit: string;
  lastDeployed: string | null;
  inSync: boolean;
  entries: DriftEntry[];
}

/**
 * Compares Knock's environment with what knock-env last deployed there and with
 * the branch: drafts not committed, content changed in Knock since the last
 * deploy (a dashboard commit, another tool), resources only in Knock, and what
 * the branch holds that is not deployed yet. Reads only.
 */
export async function driftReport(options: DriftOptions): Promise<DriftReport> {
  const project = await openProject(options);
  const config = await loadConfig(project);
  const index = requireEnvironment(config, options.environment);
  authorizeRead(config, options.actor, options.apiKey, [options.environment]);
  const client = options.client ?? knockClient(options.knock);
  // The plan resolves nothing against the environment below: drift is about this environment.
  const plan = await planDeployment(project, { environment: options.environment }, client, config, index, new Map(), { resolvePromotions: false });
  const entries: DriftEntry[] = [];
  for (const r of plan.resources) {
    if (r.drift) entries.push({ kind: r.kind, key: r.key, reason: r.drift.reason, detail: describeDrift(r, plan.knockEnvironment), ...(r.drift.by ? { by: r.drift.by } : {}) });
    if (r.status === 'only-in-knock') entries.push({ kind: r.kind, key: r.key, reason: 'only-in-knock', detail: `exists only in Knock's ${plan.knockEnvironment}` });
    else if (r.status !== 'unchanged') entries.push({ kind: r.kind, key: r.key, reason: 'not-deployed', detail: notDeployed(r) });
  }
  return { environment: plan.environment, knockEnvironment: plan.knockEnvironment, commit: plan.commit, lastDeployed: plan.lastDeployed, inSync: entries.length === 0, entries };
}

function notDeployed(r: PlannedResource): string {
  if (r.status === 'created') return 'is in the branch, not in Knock';
  if (r.status === 'deleted') return 'is deleted in the branch, still active in Knock';
  return `differs from the branch${r.fields && r.fields.length > 0 ? ` (${r.fields.join(', ')})` : ''}`;
}
