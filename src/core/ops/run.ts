import { authorizeRead } from '../access.js';
import { KnockEnvError } from '../errors.js';
import { readCommit } from '../git/commit.js';
import { currentBranch } from '../git/refs.js';
import { assertValidKey } from '../keys.js';
import { TemplateFiles } from '../liquid/sources.js';
import { checkedOutEnvironment, environmentSlugs, headOf, loadConfig, openProject, requireEnvironment } from '../project.js';
import { ENVIRONMENTS_DIR, resourceRef } from '../resources.js';
import type { RunReport, RunWorkflowOptions } from '../run/report.js';
import { Simulation } from '../run/simulation.js';
import { isSecretReference, VARIABLES_FILE } from '../validate/environment.js';
import { decodeUtf8 } from '../validate/limits.js';
import { validateResource } from '../validate/resource.js';
import type { SourceReader } from '../validate/types.js';
import { parseYaml } from '../validate/yaml.js';
import { treeReader, workingTreeReader } from '../worktree.js';
import { environmentSettingsOf } from './environment-settings.js';

/**
 * `knock-env run`: executes a workflow as it stands in one environment,
 * locally and without sending anything. Trigger data is checked against the
 * workflow's schema, conditions are evaluated with Knock's operators, branches
 * are followed, function steps report what they would do, and every channel
 * step's template is rendered with Liquid, as Knock would, into the message
 * it would send. What is shown follows the environment's settings: recipient
 * data obfuscated, message contents hidden (production's defaults).
 *
 * How a run differs from Knock's:
 * - A batch step is a batch of this one trigger (`total_activities` 1); a
 *   throttle step lets this run through; delays and send windows are reported,
 *   not waited for.
 * - Fetch, AI agent and trigger-workflow steps are not called; update_data,
 *   update_user (current) and update_tenant (current) merge their JSON into
 *   the run's data, recipient and tenant for the steps after them.
 * - A channel step's message is `sent` unless `messageStatuses` says
 *   otherwise; a skipped step's is `not_sent` (see run/conditions.ts).
 * - A random cohort is chosen from a hash of the cohort key (default the
 *   recipient's id), so the same recipient always lands in the same cohort.
 * - Partials render as `[partial <key>]`; secret variables as `[secret NAME]`.
 */

export type { BranchChoice, MessageReport, RenderedField, RunIssue, RunReport, RunWorkflowOptions, StepReport, TriggerInput } from '../run/report.js';

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function usage(message: string, hint: string): KnockEnvError {
  return new KnockEnvError('USAGE', message, { hint });
}

/** A recipient, actor or tenant: an id string, or an object with an id. */
function entity(value: unknown, what: string, required: boolean): Record<string, unknown> | null {
  if (value === undefined || value === null) {
    if (required) throw usage(`A ${what} is needed.`, `Pass --${what} '{"id":"user_1","email":"ada@example.com"}' or a JSON file.`);
    return null;
  }
  if (typeof value === 'string' || typeof value === 'number') return { id: String(value) };
  if (!isRecord(value)) throw usage(`The ${what} must be an id or a JSON object.`, `E.g. --${what} '{"id":"user_1"}'.`);
  if (typeof value.id !== 'string' && typeof value.id !== 'number') {
    throw usage(`The ${what} has no "id".`, `Knock identifies every ${what} by id: add "id" to the object.`);
  }
  return { ...value, id: String(value.id) };
}

/** Variables as templates see them: secret references show the name of their secret, never a value. */
async function loadVariables(read: SourceReader, env: string): Promise<{ vars: Record<string, unknown>; found: boolean }> {
  const path = `${ENVIRONMENTS_DIR}/${env}/${VARIABLES_FILE}`;
  const bytes = await read.read(path);
  if (bytes === null) return { vars: {}, found: false };
  const decoded = decodeUtf8(bytes, path);
  if (!('text' in decoded)) return { vars: {}, found: true };
  const parsed = parseYaml(decoded.text, path);
  const vars: Record<string, unknown> = {};
  if (isRecord(parsed.data)) {
    for (const [key, value] of Object.entries(parsed.data)) {
      if (key === '$schema') continue;
      vars[key] = isSecretReference(value) ? `[secret ${value.secret_env}]` : value;
    }
  }
  return { vars, found: true };
}

/**
 * Runs a workflow locally, as it stands in an environment, and reports what
 * Knock would do: nothing is sent, called or written.
 */
export async function runWorkflow(options: RunWorkflowOptions): Promise<RunReport> {
  assertValidKey(options.workflow, 'workflow key');
  const recipient = entity(options.trigger.recipient, 'recipient', true)!;
  const actor = entity(options.trigger.actor, 'actor', false);
  const tenant = entity(options.trigger.tenant, 'tenant', false);
  const data = options.trigger.data ?? {};
  if (!isRecord(data)) throw usage('The trigger data must be a JSON object.', `E.g. --data '{"page_name":"Roadmap"}'.`);
  for (const [ref, status] of Object.entries(options.messageStatuses ?? {})) {
    if (!/^[^\s=]+$/.test(ref) || status === '') throw usage(`"${ref}=${status}" is not a message status setting.`, 'Write it as <step_ref>=<status>, e.g. in_app_feed_1=seen.');
  }

  const project = await openProject(options);
  const config = await loadConfig(project);
  const branch = await currentBranch(project);
  const env = options.environment ?? (await checkedOutEnvironment(project, config));
  requireEnvironment(config, env);
  authorizeRead(config, options.actor, options.apiKey, [env]);

  let read: SourceReader;
  let source: RunReport['source'];
  if (options.workingTree) {
    if (branch !== env) {
      throw new KnockEnvError('REFUSED', `--working-tree reads the checked-out environment (${branch ?? 'none'}), not ${env}.`, {
        hint: `Drop --env to run what is in the working tree, or drop --working-tree to run ${env} as committed.`,
      });
    }
    read = workingTreeReader(project);
    source = { kind: 'working-tree', head: await headOf(project, env) };
  } else {
    const head = await headOf(project, env);
    read = treeReader(project, (await readCommit(project, head)).tree);
    source = { kind: 'commit', commit: head };
  }

  const ref = resourceRef('workflow', options.workflow);
  const validation = await validateResource({ kind: 'workflow', key: options.workflow, read });
  if (validation.issues.some((i) => i.code === 'missing-main-file')) {
    throw new KnockEnvError('NOT_FOUND', `There is no workflow "${options.workflow}" in ${options.workingTree ? 'the working tree' : env}.`, {
      hint: `Environments: ${environmentSlugs(config).join(', ')}; \`knock-env status\` lists what the working tree holds.`,
      data: { workflow: options.workflow, environment: env },
    });
  }
  // Liquid problems are reported by the run itself, field by field; anything else makes the workflow unrunnable.
  const blocking = validation.issues.filter((i) => i.code !== 'liquid-syntax');
  if (blocking.length > 0 || validation.data === undefined) {
    throw new KnockEnvError('VALIDATION_FAILED', `The workflow ${options.workflow} is not valid in ${options.workingTree ? 'the working tree' : env}, so it cannot run.`, {
      hint: `Fix it (\`knock-env validate ${ref.dir}\` lists the problems), then run it again.`,
      data: { issues: blocking },
    });
  }
  const mainBytes = await read.read(ref.file);
  const mainText = mainBytes === null ? undefined : Buffer.from(mainBytes).toString('utf8');
  const files = new TemplateFiles(read, ref.dir, ref.file, mainText);
  const { vars, found } = await loadVariables(read, env);
  const settings = environmentSettingsOf(config, env);
  const simulation = new Simulation(options.workflow, validation.data, env, files, read, vars, settings, { recipient, actor, data, tenant }, options, source);
  if (!found) simulation.report.notes.push(`${ENVIRONMENTS_DIR}/${env}/${VARIABLES_FILE} does not exist: vars is empty.`);
  return simulation.run();
}

