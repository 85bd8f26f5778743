import type { CoreOptions } from '../context.js';
import { acquireRepositoryLock } from '../git/refs.js';
import { readAuditTrail } from '../ops/audit.js';
import type { Project } from '../project.js';
import type { KnockEnvConfig } from '../validate/config.js';

/** Trailers of a deploy's audit event, beside the usual operation, environment, from and to. */
export const KNOCK_ENVIRONMENT_TRAILER = 'Knock-Env-Knock-Environment';
export const KNOCK_COMMITS_TRAILER = 'Knock-Env-Knock-Commits';

/** The Knock environment a branch deploys to: `knock_environment` in knock-env.yaml, else the same slug. */
export function knockEnvironmentOf(config: KnockEnvConfig, environment: string): string {
  return config.environments.find((e) => e.slug === environment)?.knock_environment ?? environment;
}

/** The git commit knock-env last deployed to an environment (from the audit trail), or null. */
export async function lastDeployOf(project: Project, environment: string): Promise<string | null> {
  for (const event of await readAuditTrail(project)) {
    if (event.operation === 'deploy' && event.environment === environment) return event.to;
  }
  return null;
}

/** What each environment last deployed, for `env list` and the plan. */
export async function lastDeploys(project: Project): Promise<Map<string, { commit: string; time: string; actor: string }>> {
  const out = new Map<string, { commit: string; time: string; actor: string }>();
  for (const event of await readAuditTrail(project)) {
    if (event.operation === 'deploy' && !out.has(event.environment)) out.set(event.environment, { commit: event.to, time: event.time, actor: event.actor.email });
  }
  return out;
}

/**
 * One deploy of an environment at a time from this clone: a second one waits
 * (up to the lock timeout, default 10 minutes), then plans against what the
 * first left in Knock. It is not the repository lock: commits and promotions go
 * on while a long deploy runs.
 */
export async function withDeployLock<T>(project: Project, options: CoreOptions & { environment: string }, work: () => Promise<T>): Promise<T> {
  const folder = `${project.gitdir}/knock-env/deploy-${options.environment}`;
  await project.fs.promises.mkdir(folder, { recursive: true });
  const lock = await acquireRepositoryLock(project.fs, folder, {
    pid: options.pid ?? 0,
    ...(options.isAlive ? { isAlive: options.isAlive } : {}),
    timeoutMs: options.lockTimeoutMs ?? 600_000,
  });
  try {
    return await work();
  } finally {
    await lock.release();
  }
}
