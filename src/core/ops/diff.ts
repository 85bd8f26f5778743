import { authorizeRead } from '../access.js';
import type { CoreOptions } from '../context.js';
import { headOf, loadConfig, openProject, requireEnvironment } from '../project.js';
import { commitsBetween, planChanges, type ChangePlan, type CommitSummary } from './plan.js';

export interface EnvironmentDiff extends ChangePlan {
  fromEnvironment: string;
  toEnvironment: string;
  /** Commits in `to` that `from` lacks. */
  commits: CommitSummary[];
}

/** What would change in `from` if it took `to`'s content: `git diff from to`, by resource and step. */
export async function diffEnvironments(options: Pick<CoreOptions, 'fs' | 'dir'> & Partial<Pick<CoreOptions, 'actor' | 'apiKey'>> & { from: string; to: string }): Promise<EnvironmentDiff> {
  const project = await openProject(options);
  const config = await loadConfig(project);
  requireEnvironment(config, options.from);
  requireEnvironment(config, options.to);
  authorizeRead(config, options.actor, options.apiKey, [options.from, options.to]);
  const [a, b] = [await headOf(project, options.from), await headOf(project, options.to)];
  const plan = await planChanges(project, a, b);
  return { ...plan, fromEnvironment: options.from, toEnvironment: options.to, commits: await commitsBetween(project, a, b) };
}
