import { changedFields } from '../knock-api/body.js';
import type { DesiredResource, DesiredState } from './desired.js';
import type { LiveResource, LiveState } from './live.js';
import type { ResourceKind } from '../resources.js';

export type DeployStatus = 'created' | 'updated' | 'unchanged' | 'deleted' | 'only-in-knock';

/**
 * What the deploy does to one resource: upsert and commit (development, or `--force`),
 * promote the commit the environment below holds, write directly (a resource whose
 * origin is this environment), retire (deactivate, or archive a guide), or nothing.
 */
export type DeployAction = 'upsert' | 'promote' | 'write' | 'retire' | 'none';

export interface Drift {
  /** An uncommitted draft in Knock, or committed content that is not what knock-env last deployed. */
  reason: 'uncommitted-draft' | 'changed-in-knock';
  /** Who made Knock's latest commit of the resource, when Knock says. */
  by?: string;
}

export interface PlannedResource {
  kind: ResourceKind;
  key: string;
  status: DeployStatus;
  action: DeployAction;
  /** For updates: the fields that change (`name`, `steps[email_1]`). */
  fields?: string[];
  drift?: Drift;
  /** For promotions: the commit of the environment below that is promoted. */
  promoteCommit?: string;
  /** Why the resource cannot be deployed this way (the environment below never held this version). */
  blocked?: string;
  /** Knock's `force`: a write past its origin and development-only checks. */
  force?: boolean;
}

export interface PlanInput {
  environment: string;
  /** The environment directly below, or null for the lowest. */
  lower: string | null;
  desired: DesiredState;
  /** What knock-env last deployed to this environment, or null when it never did. */
  lastDeployed: DesiredState | null;
  /** The target of an interrupted deploy: its writes are not drift. */
  interrupted: DesiredState | null;
  live: LiveState;
}

/**
 * Compares the branch with Knock's environment, resource by resource. Pure:
 * promotions above development are marked `promote` here and resolved against
 * the environment below by the caller.
 */
export function classifyResources(input: PlanInput): PlannedResource[] {
  const out: PlannedResource[] = [];
  const ids = new Set([...input.desired.resources.keys(), ...input.live.keys()]);
  for (const id of [...ids].sort()) {
    const desired = input.desired.resources.get(id);
    const live = input.live.get(id);
    const base = { kind: (desired ?? live)!.kind, key: (desired ?? live)!.key };
    const drift = driftOf(id, desired, live, input);
    if (desired && (!live || live.committed === null)) {
      out.push({ ...base, status: 'created', action: writeAction(input, desired), ...(drift ? { drift } : {}) });
      continue;
    }
    if (desired && live) {
      if (live.committedHash === desired.hash) {
        out.push({ ...base, status: 'unchanged', action: 'none', ...(drift ? { drift } : {}) });
      } else {
        out.push({ ...base, status: 'updated', action: writeAction(input, desired), fields: changedFields(live.committed ?? {}, desired.body), ...(drift ? { drift } : {}) });
      }
      continue;
    }
    if (!live) continue;
    const ours = input.lastDeployed?.resources.has(id) || input.interrupted?.resources.has(id);
    if (!ours) out.push({ ...base, status: 'only-in-knock', action: 'none', ...(drift ? { drift } : {}) });
    else if (live.live) out.push({ ...base, status: 'deleted', action: 'retire', ...(drift ? { drift } : {}) });
  }
  return out;
}

function writeAction(input: PlanInput, desired: DesiredResource): DeployAction {
  if (input.lower === null) return 'upsert';
  return desired.origin === input.environment ? 'write' : 'promote';
}

function driftOf(id: string, desired: DesiredResource | undefined, live: LiveResource | undefined, input: PlanInput): Drift | undefined {
  if (!live) return undefined;
  if (live.draft !== null) return { reason: 'uncommitted-draft' };
  if (live.committedHash === null || input.lastDeployed === null) return undefined;
  if (desired && live.committedHash === desired.hash) return undefined;
  if (input.interrupted?.resources.get(id)?.hash === live.committedHash) return undefined;
  const deployed = input.lastDeployed.resources.get(id);
  if (deployed?.hash === live.committedHash) return undefined;
  // Knock-only resources that knock-env never deployed are reported as such, not as drift.
  if (!deployed && !desired) return undefined;
  return { reason: 'changed-in-knock' };
}

export interface PlanCounts {
  created: number;
  updated: number;
  unchanged: number;
  deleted: number;
  onlyInKnock: number;
  drift: number;
  writes: number;
}

export function countPlan(resources: PlannedResource[]): PlanCounts {
  const n = (status: DeployStatus) => resources.filter((r) => r.status === status).length;
  return {
    created: n('created'),
    updated: n('updated'),
    unchanged: n('unchanged'),
    deleted: n('deleted'),
    onlyInKnock: n('only-in-knock'),
    drift: resources.filter((r) => r.drift).length,
    writes: resources.filter((r) => r.action !== 'none').length,
  };
}
