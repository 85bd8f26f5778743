import { authenticate, authorize } from '../access.js';
import type { CoreOptions } from '../context.js';
import { assertValidKey } from '../keys.js';
import { commitAccountChange } from '../ops/account.js';
import { withRepositoryLock } from '../ops/shared.js';
import { HIGHEST_ENVIRONMENT, loadConfig, openProject, requireEnvironment } from '../project.js';
import { knockEnvironmentOf } from './record.js';

export interface MapKnockEnvironmentResult {
  environment: string;
  knockEnvironment: string;
  changed: boolean;
  /** The commit on the highest environment, or null when nothing changed. */
  commit: string | null;
}

/**
 * Sets which Knock environment a branch deploys to (`knock_environment` in
 * knock-env.yaml; the same slug when unset). An account change like the
 * others: committed on the highest environment and merged down.
 */
export async function mapKnockEnvironment(options: CoreOptions & { environment: string; knockEnvironment: string }): Promise<MapKnockEnvironmentResult> {
  if (options.remote && !options.transaction) return (await import('../remote/sync.js')).withRemote(options, mapKnockEnvironment);
  assertValidKey(options.knockEnvironment, 'Knock environment slug');
  const project = await openProject(options);
  return withRepositoryLock(project, options, async () => {
    const config = await loadConfig(project);
    const index = requireEnvironment(config, options.environment);
    authorize(config, authenticate(config, options.actor, options.apiKey), 'manage-account', HIGHEST_ENVIRONMENT, `map ${options.environment} to a Knock environment`);
    const same = options.knockEnvironment === options.environment;
    const current = config.environments[index]?.knock_environment;
    if (knockEnvironmentOf(config, options.environment) === options.knockEnvironment && (current === undefined) === same) {
      return { environment: options.environment, knockEnvironment: options.knockEnvironment, changed: false, commit: null };
    }
    const change = await commitAccountChange(project, options, {
      subject: `Deploy ${options.environment} to Knock's ${options.knockEnvironment}`,
      operation: 'settings',
      edit: (doc) => {
        if (same) doc.deleteIn(['environments', index, 'knock_environment']);
        else doc.setIn(['environments', index, 'knock_environment'], options.knockEnvironment);
      },
    });
    return { environment: options.environment, knockEnvironment: options.knockEnvironment, changed: true, commit: change.commit };
  });
}
