import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Liquid } from 'liquidjs';
import { authorizeRead } from '../access.js';
import type { CoreOptions } from '../context.js';
import { KnockEnvError } from '../errors.js';
import { readCommit, type Identity } from '../git/commit.js';
import { currentBranch } from '../git/refs.js';
import { assertValidKey } from '../keys.js';
import { hasLiquid, knockLiquid, liquidProblem, RenderBudget } from '../liquid/engine.js';
import { childPath, setOwn, TemplateFiles, type StringSource } from '../liquid/sources.js';
import { checkedOutEnvironment, environmentSlugs, headOf, loadConfig, openProject, requireEnvironment } from '../project.js';
import { ENVIRONMENTS_DIR, resourceRef } from '../resources.js';
import {
  evaluateConditions,
  isPath,
  lookup,
  MESSAGE_STATUSES,
  pathSegments,
  resolvePath,
  type ConditionGroupReport,
  type ConditionReport,
  type ConditionScope,
} from '../run/conditions.js';
import { placeholderRecipient, REDACTED, redactedFields, RECIPIENT_IDENTIFIERS, Scrubber, shownRecipient } from '../run/mask.js';
import type { EnvironmentSettings } from '../validate/config.js';
import { CHANNELS_DIR, isSecretReference, VARIABLES_FILE } from '../validate/environment.js';
import { LIQUID_SETTINGS_STEP_TYPES } from '../validate/liquid.js';
import { resolveReference, validateResource } from '../validate/resource.js';
import type { SourceReader } from '../validate/types.js';
import { decodeUtf8 } from '../validate/limits.js';
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

export interface TriggerInput {
  /** A recipient id, or an object with `id` (and `collection` for an object recipient). */
  recipient: unknown;
  /** The Knock actor: an id or an object with `id`. */
  actor?: unknown;
  data?: unknown;
  tenant?: unknown;
}

export interface RunWorkflowOptions extends Pick<CoreOptions, 'fs' | 'dir' | 'now'> {
  /** Who runs it (the git identity), for the read permission. */
  actor?: Identity;
  /** An API key's secret, when a key runs it: it may run only in its own environment. */
  apiKey?: string;
  workflow: string;
  /** Default: the checked-out environment. */
  environment?: string;
  /** Read the working tree instead of the environment's head (only for the checked-out environment). */
  workingTree?: boolean;
  trigger: TriggerInput;
  /** Simulated status of a channel step's message, by step ref (default `sent`). */
  messageStatuses?: Record<string, string>;
  /** The caller asked to show message contents: noted in the report, never obeyed (only the setting decides). */
  showContentsRequested?: boolean;
}

export interface RunIssue {
  file: string;
  line?: number;
  column?: number;
  pointer?: string;
  /** The step and template field being rendered. */
  step: string;
  field: string;
  code: 'liquid-syntax' | 'liquid-render';
  message: string;
}

export interface RenderedField {
  /** Field path in the template: subject, markdown_body, visual_blocks[1].buttons[0].label. */
  name: string;
  /** Repository path of the file the field's template text is in. */
  file: string;
  /** Bytes of the rendered text (UTF-8). */
  size: number;
  /** The rendered text; absent when contents are hidden or it failed to render. */
  text?: string;
  failed?: boolean;
}

export interface MessageReport {
  channel: { type: string | null; key: string | null; group: string | null };
  /** The simulated status of the message, as later conditions see it. */
  status: string;
  contents: 'shown' | 'hidden';
  fields: RenderedField[];
}

export interface BranchChoice {
  name: string;
  default: boolean;
  conditions: ConditionGroupReport | null;
  chosen: boolean;
}

export interface StepReport {
  /** Position in the run: 1, 2, 2.1 (first step of the branch taken at step 2). */
  position: string;
  ref: string;
  type: string;
  name: string | null;
  /** The branch (or cohort) this step is in, innermost. */
  within: { step: string; branch: string } | null;
  status: 'ran' | 'skipped';
  /** Why the step was skipped. */
  reason?: string;
  conditions: ConditionGroupReport | null;
  /** Conditions of the channel in this environment (environments/<env>/channels/<key>.yaml). */
  channelConditions?: ConditionGroupReport | null;
  /** What the step does, in one line. */
  summary: string;
  /** Step settings as they apply to this run (durations, keys and their values, limits). */
  details?: Record<string, unknown>;
  message?: MessageReport;
  /** The request a fetch step would make, rendered; its text fields follow the message-contents setting. */
  request?: { method: string; fields: RenderedField[] };
  /** Branch and cohort steps: each branch, its conditions and the one taken. */
  branches?: BranchChoice[];
}

export interface RunReport {
  workflow: { key: string; name: string };
  environment: string;
  source: { kind: 'commit'; commit: string } | { kind: 'working-tree'; head: string };
  settings: EnvironmentSettings;
  /** The recipient as given, or only its id (and collection) when recipient data is obfuscated. */
  recipient: Record<string, unknown>;
  /** Recipient fields hidden by obfuscation (empty when it is off). */
  redactedFields: string[];
  triggerData: { schema: boolean; valid: boolean; issues: { pointer: string; message: string }[] };
  conditions: ConditionGroupReport | null;
  /** completed: every step was considered; halted: the trigger stopped it; terminated: a terminating branch ended it. */
  outcome: 'completed' | 'halted' | 'terminated';
  reason?: string;
  steps: StepReport[];
  /** Channel messages that would be sent. */
  messageCount: number;
  issues: RunIssue[];
  warnings: string[];
  notes: string[];
}

const require = createRequire(import.meta.url);

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

function describeDuration(duration: unknown): string | null {
  if (!isRecord(duration) || typeof duration.value !== 'number' || typeof duration.unit !== 'string') return null;
  const unit = duration.value === 1 ? duration.unit.replace(/s$/, '') : duration.unit;
  return `${duration.value} ${unit}`;
}

function bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** Template fields that are settings, not text someone reads. */
const NON_CONTENT_KEYS = new Set(['type', 'variant', 'version', 'layout_key', 'attachment_key', 'delivery_type', 'is_mjml', 'method']);
const LAYOUT_KEYS = new Set(['layout_attrs', 'style_attrs', 'size_attrs']);

function isContentField(name: string): boolean {
  const segments = name.split(/[.[\]]+/).filter((s) => s !== '' && !/^\d+$/.test(s));
  const last = segments[segments.length - 1] ?? '';
  return !NON_CONTENT_KEYS.has(last) && !segments.some((s) => LAYOUT_KEYS.has(s));
}

interface Rendered {
  value: unknown;
  fields: RenderedField[];
}

class Simulation {
  readonly report: RunReport;
  private readonly engine: Liquid;
  private readonly strictEngine: Liquid;
  private readonly statuses = new Map<string, string>();
  private readonly partials = new Set<string>();
  private readonly unknownFilters = new Set<string>();
  private readonly issueKeys = new Set<string>();
  private data: Record<string, unknown>;
  private recipient: Record<string, unknown>;
  private tenant: Record<string, unknown> | null;
  private readonly actorEntity: Record<string, unknown> | null;
  private readonly now: Date;
  private readonly masked: boolean;
  private readonly showContents: boolean;
  private stopped = false;
  /** One allowance of time and memory for every template of the run. */
  private readonly budget = new RenderBudget();
  /** Template fields left unrendered once the budget was used up. */
  private unrendered = 0;

  constructor(
    private readonly workflowKey: string,
    private readonly workflow: Record<string, unknown>,
    private readonly env: string,
    private readonly files: TemplateFiles,
    private readonly read: SourceReader,
    private readonly vars: Record<string, unknown>,
    settings: EnvironmentSettings,
    trigger: { recipient: Record<string, unknown>; actor: Record<string, unknown> | null; data: Record<string, unknown>; tenant: Record<string, unknown> | null },
    private readonly options: RunWorkflowOptions,
    source: RunReport['source'],
  ) {
    this.now = options.now ? options.now() : new Date();
    this.engine = knockLiquid({ now: () => this.now, onPartial: (key) => this.partials.add(key) });
    this.strictEngine = knockLiquid({ strictFilters: true });
    this.data = trigger.data;
    this.recipient = trigger.recipient;
    this.actorEntity = trigger.actor;
    this.tenant = trigger.tenant;
    this.masked = settings.obfuscate_recipient_data;
    this.showContents = settings.show_message_contents;
    this.report = {
      workflow: { key: workflowKey, name: typeof workflow.name === 'string' ? workflow.name : workflowKey },
      environment: env,
      source,
      settings,
      recipient: this.masked ? shownRecipient(trigger.recipient) : trigger.recipient,
      redactedFields: this.masked ? redactedFields(trigger.recipient) : [],
      triggerData: { schema: false, valid: true, issues: [] },
      conditions: null,
      outcome: 'completed',
      steps: [],
      messageCount: 0,
      issues: [],
      warnings: [],
      notes: [],
    };
  }

  // -------------------------------------------------------------------------
  // Scopes

  /** The actor is the recipient when both have the same id: then it is masked like the recipient. */
  private actorIsRecipient(): boolean {
    return this.actorEntity !== null && this.actorEntity.id === this.recipient.id && (this.actorEntity.collection ?? null) === (this.recipient.collection ?? null);
  }

  private conditionScope(): ConditionScope {
    return {
      recipient: this.recipient,
      actor: this.actorEntity ?? undefined,
      data: this.data,
      tenant: this.tenant ?? undefined,
      vars: this.vars,
      workflow: this.workflowInfo(),
      statuses: this.statuses,
      now: this.now,
    };
  }

  private workflowInfo(): Record<string, unknown> {
    return { key: this.workflowKey, name: this.report.workflow.name, categories: Array.isArray(this.workflow.categories) ? this.workflow.categories : [] };
  }

  /** What templates see: Knock's variables, and the trigger data's keys at the top level too. */
  private templateScope(): Record<string, unknown> {
    const recipient = this.masked ? placeholderRecipient(this.recipient) : this.recipient;
    const actor = this.actorEntity === null ? null : this.masked && this.actorIsRecipient() ? placeholderRecipient(this.actorEntity, 'actor') : this.actorEntity;
    const timestamp = this.now.toISOString();
    const activity = { data: this.data, actor, recipient, inserted_at: timestamp, updated_at: timestamp };
    const builtins: Record<string, unknown> = {
      data: this.data,
      recipient,
      actor,
      tenant: this.tenant,
      vars: this.vars,
      timestamp,
      workflow: this.workflowInfo(),
      activities: [activity],
      actors: actor === null ? [] : [actor],
      total_activities: 1,
      total_actors: actor === null ? 0 : 1,
    };
    const scope: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(this.data)) if (!Object.hasOwn(builtins, key)) setOwn(scope, key, value);
    return Object.assign(scope, builtins);
  }

  // -------------------------------------------------------------------------
  // Rendering

  private issue(issue: RunIssue): void {
    const key = `${issue.file}:${issue.line ?? ''}:${issue.column ?? ''}:${issue.message}`;
    if (this.issueKeys.has(key)) return;
    this.issueKeys.add(key);
    this.report.issues.push(issue);
  }

  private async renderText(text: string, source: StringSource | undefined, step: string, field: string, scope: Record<string, unknown>): Promise<string | undefined> {
    if (!hasLiquid(text)) return text;
    const file = source?.file ?? this.files.mainFile;
    const report = (error: unknown, code: RunIssue['code']): undefined => {
      const problem = liquidProblem(error);
      const at = problem.line === undefined || source === undefined ? undefined : source.locate(problem.line, problem.column ?? 1);
      this.issue({
        file,
        ...(at === undefined ? {} : { line: at.line, column: at.column }),
        ...(source?.pointer === undefined ? {} : { pointer: source.pointer }),
        step,
        field,
        code: problem.syntax ? 'liquid-syntax' : code,
        message: `Liquid: ${problem.message}`,
      });
      return undefined;
    };
    let templates;
    try {
      templates = this.engine.parse(text);
    } catch (error) {
      return report(error, 'liquid-syntax');
    }
    try {
      this.strictEngine.parse(text);
    } catch (error) {
      const name = /undefined filter: ([\w-]+)/.exec(liquidProblem(error).message)?.[1];
      if (name !== undefined && !this.unknownFilters.has(name)) {
        this.unknownFilters.add(name);
        this.report.warnings.push(`${file}: the filter "${name}" is not known to knock-env; it passes its input through unchanged here.`);
      }
    }
    if (this.budget.exceeded !== undefined) {
      this.unrendered++;
      return undefined;
    }
    try {
      return await this.budget.render(this.engine, templates, scope);
    } catch (error) {
      return report(error, 'liquid-render');
    }
  }

  /** Resolves the `@` fields of a subtree of the workflow and renders every content string in it. */
  private async render(node: unknown, pointer: string, root: string, step: string): Promise<Rendered> {
    const resolved = await this.files.resolve(node, pointer, root);
    for (const problem of resolved.problems) this.report.warnings.push(problem);
    const scope = this.templateScope();
    const fields: RenderedField[] = [];
    const visit = async (value: unknown, field: string): Promise<unknown> => {
      if (typeof value === 'string') {
        if (!isContentField(field)) return value;
        const source = resolved.sources.get(field);
        const text = await this.renderText(value, source, step, field, scope);
        const name = field;
        fields.push(text === undefined ? { name, file: source?.file ?? this.files.mainFile, size: 0, failed: true } : { name, file: source?.file ?? this.files.mainFile, size: bytes(text), text });
        return text ?? '';
      }
      if (Array.isArray(value)) {
        const out: unknown[] = [];
        for (let i = 0; i < value.length; i++) out.push(await visit(value[i], childPath(field, i)));
        return out;
      }
      if (isRecord(value)) {
        const out: Record<string, unknown> = {};
        for (const [key, child] of Object.entries(value)) setOwn(out, key, await visit(child, childPath(field, key)));
        return out;
      }
      return value;
    };
    return { value: await visit(resolved.value, root), fields };
  }

  private shown(fields: RenderedField[]): RenderedField[] {
    if (this.showContents) return fields;
    return fields.map(({ name, file, size, failed }) => ({ name, file, size, ...(failed ? { failed } : {}) }));
  }

  // -------------------------------------------------------------------------
  // Data helpers

  /** A path in the run's data: `data.x`, `recipient.x` and the like, or a bare key of the trigger data. */
  private valueAt(path: string): unknown {
    if (isPath(path)) return resolvePath(path, this.conditionScope()).value;
    return lookup(this.data, pathSegments(path));
  }

  private describeValue(path: string, value: unknown): unknown {
    if (this.masked && /^recipient(?:$|[.[])/.test(path) && !RECIPIENT_IDENTIFIERS.some((k) => path === `recipient.${k}`)) return REDACTED;
    return value;
  }

  private async readYaml(path: string): Promise<Record<string, unknown> | null> {
    const bytes = await this.read.read(path);
    if (bytes === null) return null;
    const decoded = decodeUtf8(bytes, path);
    if (!('text' in decoded)) return null;
    const parsed = parseYaml(decoded.text, path);
    return isRecord(parsed.data) ? parsed.data : null;
  }

  // -------------------------------------------------------------------------
  // The run

  async run(): Promise<RunReport> {
    const schemaOk = await this.checkTriggerData();
    if (!schemaOk) {
      this.report.outcome = 'halted';
      this.report.reason = 'The trigger data does not match the workflow\'s trigger_data_json_schema; Knock refuses such a trigger.';
      return this.finish();
    }
    if (this.workflow.trigger_frequency === 'once_per_recipient' || this.workflow.trigger_frequency === 'once_per_recipient_per_tenant') {
      this.report.notes.push(`trigger_frequency is ${String(this.workflow.trigger_frequency)}: Knock runs it once per recipient${this.workflow.trigger_frequency === 'once_per_recipient_per_tenant' ? ' and tenant' : ''}; this run assumes it is the first.`);
    }
    const conditions = evaluateConditions(this.workflow.conditions, this.conditionScope());
    this.report.conditions = conditions;
    if (conditions !== null && conditions.result === false) {
      this.report.outcome = 'halted';
      this.report.reason = 'The workflow\'s trigger conditions do not hold: Knock would run no step.';
      return this.finish();
    }
    if (conditions?.result === 'unknown') this.report.notes.push('Some trigger conditions could not be evaluated locally; the run proceeds as if they held.');
    await this.runSteps(Array.isArray(this.workflow.steps) ? this.workflow.steps : [], '/steps', '', null);
    return this.finish();
  }

  private async checkTriggerData(): Promise<boolean> {
    let schema: unknown = this.workflow.trigger_data_json_schema;
    const reference = this.workflow['trigger_data_json_schema@'];
    if (typeof reference === 'string') {
      const resolved = resolveReference(reference, '');
      const text = 'problem' in resolved ? null : await this.files.text(`${this.files.root}/${resolved.path}`);
      try {
        schema = text === null ? null : JSON.parse(text);
      } catch {
        schema = null;
        this.report.warnings.push(`trigger_data_json_schema@ (${reference}) is not valid JSON; trigger data was not checked.`);
      }
    }
    if (!isRecord(schema)) return true;
    this.report.triggerData.schema = true;
    const { Ajv } = require('ajv') as typeof import('ajv');
    // The schema is the workflow's own, so it is compiled here, per run; unknown formats and keywords are let through.
    const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false, logger: false });
    const { $schema: _ignored, ...body } = schema;
    let validate;
    try {
      validate = ajv.compile(body);
    } catch (error) {
      this.report.warnings.push(`trigger_data_json_schema does not compile (${error instanceof Error ? error.message : String(error)}); trigger data was not checked.`);
      return true;
    }
    if (validate(this.data)) return true;
    this.report.triggerData.valid = false;
    this.report.triggerData.issues = (validate.errors ?? []).map((e) => {
      const where = e.instancePath === '' ? 'data' : `data${e.instancePath.replace(/\//g, '.')}`;
      const extra = e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})` : '';
      return { pointer: e.instancePath === '' ? '/' : e.instancePath, message: `${where} ${e.message ?? 'is invalid'}${extra}` };
    });
    return false;
  }

  private async runSteps(steps: unknown[], pointer: string, prefix: string, within: StepReport['within']): Promise<void> {
    for (let i = 0; i < steps.length && !this.stopped; i++) {
      const step = steps[i];
      if (!isRecord(step)) continue;
      await this.runStep(step, `${pointer}/${i}`, prefix === '' ? String(i + 1) : `${prefix}.${i + 1}`, within);
    }
  }

  private async runStep(step: Record<string, unknown>, pointer: string, position: string, within: StepReport['within']): Promise<void> {
    const ref = typeof step.ref === 'string' ? step.ref : position;
    const type = typeof step.type === 'string' ? step.type : 'unknown';
    const report: StepReport = {
      position,
      ref,
      type,
      name: typeof step.name === 'string' ? step.name : null,
      within,
      status: 'ran',
      conditions: evaluateConditions(step.conditions, this.conditionScope()),
      summary: '',
    };
    this.report.steps.push(report);
    if (report.conditions?.result === false) {
      report.status = 'skipped';
      report.reason = 'its conditions do not hold';
      report.summary = 'skipped: its conditions do not hold';
      if (type === 'channel') this.statuses.set(ref, 'not_sent');
      return;
    }
    if (report.conditions?.result === 'unknown') this.report.notes.push(`${ref}: some conditions could not be evaluated locally; it runs as if they held.`);
    const settings = isRecord(step.settings) ? step.settings : {};
    switch (type) {
      case 'channel':
        return this.channelStep(step, pointer, report);
      case 'delay':
        return this.delayStep(settings, report);
      case 'batch':
        return this.batchStep(settings, report);
      case 'throttle':
        return this.throttleStep(settings, report);
      case 'branch':
        return this.branchStep(step, pointer, report);
      case 'random_cohort':
        return this.cohortStep(step, pointer, report);
      default:
        if (LIQUID_SETTINGS_STEP_TYPES.includes(type)) return this.functionStep(type, settings, pointer, report);
        report.summary = `a ${type} step: not simulated by knock-env`;
    }
  }

  private async channelStep(step: Record<string, unknown>, pointer: string, report: StepReport): Promise<void> {
    const channelType = typeof step.channel_type === 'string' ? step.channel_type : null;
    const key = typeof step.channel_key === 'string' ? step.channel_key : null;
    const group = typeof step.channel_group_key === 'string' ? step.channel_group_key : null;
    const via = key ?? (group === null ? 'no channel' : `channel group ${group}`);
    if (key !== null) {
      const channel = await this.readYaml(`${ENVIRONMENTS_DIR}/${this.env}/${CHANNELS_DIR}/${key}.yaml`);
      if (channel?.disabled === true) {
        report.status = 'skipped';
        report.reason = `the channel ${key} is disabled in ${this.env}`;
        report.summary = `skipped: ${report.reason}`;
        this.statuses.set(report.ref, 'not_sent');
        return;
      }
      const channelConditions = evaluateConditions(channel?.conditions, this.conditionScope());
      if (channelConditions !== null) {
        report.channelConditions = channelConditions;
        if (channelConditions.result === false) {
          report.status = 'skipped';
          report.reason = `the conditions of the channel ${key} in ${this.env} do not hold`;
          report.summary = `skipped: ${report.reason}`;
          this.statuses.set(report.ref, 'not_sent');
          return;
        }
      }
    }
    const template = await this.render(step.template ?? {}, `${pointer}/template`, '', report.ref);
    const fields = [...template.fields];
    if (isRecord(step.channel_overrides)) {
      const overrides = await this.render(step.channel_overrides, `${pointer}/channel_overrides`, 'channel_overrides', report.ref);
      fields.push(...overrides.fields);
    }
    const requested = this.options.messageStatuses?.[report.ref];
    const status = requested ?? 'sent';
    this.statuses.set(report.ref, status);
    this.report.messageCount++;
    report.message = {
      channel: { type: channelType, key, group },
      status,
      contents: this.showContents ? 'shown' : 'hidden',
      fields: this.shown(fields),
    };
    const address = channelType === 'email' ? 'email' : channelType === 'sms' ? 'phone_number' : null;
    const overridden = isRecord(step.channel_overrides) && typeof step.channel_overrides.to_address === 'string';
    if (address !== null && !overridden && (typeof this.recipient[address] !== 'string' || this.recipient[address] === '')) {
      this.report.warnings.push(`${report.ref}: the recipient has no ${address}; Knock would not deliver this ${channelType} message.`);
    }
    const windows = Array.isArray(step.send_windows) && step.send_windows.length > 0 ? ' within its send windows' : '';
    const kind = channelType === null ? 'a message' : `${/^(?:[aeiou]|sms|http)/.test(channelType) ? 'an' : 'a'} ${channelType} message`;
    report.summary = `sends ${kind} through ${via}${windows}; simulated status: ${status}`;
  }

  private delayStep(settings: Record<string, unknown>, report: StepReport): void {
    const duration = describeDuration(settings.delay_for);
    const path = typeof settings.delay_until_field_path === 'string' ? settings.delay_until_field_path : null;
    const details: Record<string, unknown> = {};
    if (isRecord(settings.delay_for)) details.delay_for = settings.delay_for;
    if (path !== null) {
      const value = this.describeValue(path, this.valueAt(path));
      details.delay_until = { path, value: value ?? null };
      report.summary =
        value === undefined || value === null
          ? `waits until the time at ${path}, which is not set (Knock would not wait)${duration ? `, plus ${duration}` : ''}`
          : `waits until ${String(value)} (${path})${duration ? ` plus ${duration}` : ''}`;
    } else {
      report.summary = duration === null ? 'waits (no duration set)' : `waits ${duration}`;
    }
    report.details = details;
  }

  private batchStep(settings: Record<string, unknown>, report: StepReport): void {
    const window = describeDuration(settings.batch_window);
    const until = typeof settings.batch_until_field_path === 'string' ? settings.batch_until_field_path : null;
    const key = typeof settings.batch_key === 'string' && settings.batch_key !== '' ? settings.batch_key : null;
    const details: Record<string, unknown> = {
      window_type: settings.batch_window_type ?? 'fixed',
      order: settings.batch_order ?? 'asc',
      execution_mode: settings.batch_execution_mode ?? 'accumulate',
    };
    if (isRecord(settings.batch_window)) details.window = settings.batch_window;
    if (until !== null) details.until = { path: until, value: this.describeValue(until, this.valueAt(until)) ?? null };
    if (key !== null) details.key = { path: key, value: this.describeValue(key, this.valueAt(key)) ?? null };
    if (settings.batch_items_max_limit !== undefined) details.items_max_limit = settings.batch_items_max_limit;
    if (settings.batch_items_render_limit !== undefined) details.items_render_limit = settings.batch_items_render_limit;
    report.details = details;
    const span = until !== null ? `until the time at ${until}` : window !== null ? `for ${window}` : 'for its window';
    const per = key === null ? 'per recipient' : `per recipient and ${key} = ${JSON.stringify((details.key as { value: unknown }).value)}`;
    report.summary = `collects triggers ${span} (${String(details.window_type)} window, ${per}), then continues with the batch; this run is a batch of this one trigger`;
  }

  private throttleStep(settings: Record<string, unknown>, report: StepReport): void {
    const limit = typeof settings.throttle_limit === 'number' ? settings.throttle_limit : 1;
    const window = describeDuration(settings.throttle_window);
    const key = typeof settings.throttle_key === 'string' && settings.throttle_key !== '' ? settings.throttle_key : null;
    const windowPath = typeof settings.throttle_window_field_path === 'string' ? settings.throttle_window_field_path : null;
    const details: Record<string, unknown> = { limit };
    if (isRecord(settings.throttle_window)) details.window = settings.throttle_window;
    if (windowPath !== null) details.window_from = { path: windowPath, value: this.describeValue(windowPath, this.valueAt(windowPath)) ?? null };
    if (key !== null) details.key = { path: key, value: this.describeValue(key, this.valueAt(key)) ?? null };
    report.details = details;
    const per = key === null ? 'per recipient' : `per recipient and ${key} = ${JSON.stringify((details.key as { value: unknown }).value)}`;
    report.summary = `lets at most ${limit} run${limit === 1 ? '' : 's'} per ${window ?? (windowPath !== null ? `window set by ${windowPath}` : 'window')} continue (${per}); this run is the first in its window, so it continues`;
  }

  private async branchStep(step: Record<string, unknown>, pointer: string, report: StepReport): Promise<void> {
    const branches = (Array.isArray(step.branches) ? step.branches : []).map((branch, index) => ({ branch, index })).filter((b): b is { branch: Record<string, unknown>; index: number } => isRecord(b.branch));
    const choices: BranchChoice[] = [];
    let chosen = -1;
    let unknownChoice = false;
    branches.forEach(({ branch }, i) => {
      const conditions = evaluateConditions(branch.conditions, this.conditionScope());
      const isDefault = conditions === null;
      choices.push({ name: typeof branch.name === 'string' ? branch.name : `branch ${i + 1}`, default: isDefault, conditions, chosen: false });
      if (chosen < 0 && conditions !== null && conditions.result !== false) {
        chosen = i;
        unknownChoice = conditions.result === 'unknown';
      }
    });
    if (chosen < 0) chosen = choices.findIndex((c) => c.default);
    report.branches = choices;
    if (chosen < 0) {
      report.summary = 'takes no branch: none holds and there is no default branch';
      return;
    }
    const choice = choices[chosen]!;
    choice.chosen = true;
    report.summary = `takes the branch "${choice.name}"${choice.default ? ' (the default: no other branch holds)' : unknownChoice ? ' (its conditions could not be evaluated; assumed to hold)' : ''}`;
    const { branch, index } = branches[chosen]!;
    await this.runSteps(Array.isArray(branch.steps) ? branch.steps : [], `${pointer}/branches/${index}/steps`, report.position, { step: report.ref, branch: choice.name });
    if (branch.terminates === true && !this.stopped) {
      this.stopped = true;
      this.report.outcome = 'terminated';
      this.report.reason = `The branch "${choice.name}" of ${report.ref} ends the workflow.`;
    }
  }

  private async cohortStep(step: Record<string, unknown>, pointer: string, report: StepReport): Promise<void> {
    const all = Array.isArray(step.cohort_branches) ? step.cohort_branches : [];
    const keyPath = typeof step.cohort_key === 'string' && step.cohort_key !== '' ? step.cohort_key : null;
    const keyValue = keyPath === null ? this.recipient.id : this.valueAt(keyPath);
    const bucket = parseInt(createHash('sha1').update(`${this.workflowKey}:${report.ref}:${String(keyValue)}`).digest('hex').slice(0, 8), 16) % 100;
    let total = 0;
    let chosen = -1;
    all.forEach((cohort, i) => {
      if (!isRecord(cohort) || chosen >= 0) return;
      total += typeof cohort.percentage === 'number' ? cohort.percentage : 0;
      if (bucket < total) chosen = i;
    });
    report.branches = all.map((cohort, i) => ({
      name: isRecord(cohort) && typeof cohort.name === 'string' ? cohort.name : `cohort ${i + 1}`,
      default: false,
      conditions: null,
      chosen: i === chosen,
    }));
    report.details = { key: { path: keyPath ?? 'recipient.id', value: this.describeValue(keyPath ?? 'recipient.id', keyValue) ?? null }, bucket };
    if (chosen < 0) {
      report.summary = 'assigns no cohort (the percentages do not cover this recipient)';
      return;
    }
    const cohort = all[chosen] as Record<string, unknown>;
    const name = report.branches[chosen]!.name;
    report.summary = `assigns the cohort "${name}" (bucket ${bucket} of 100, from a hash of ${keyPath ?? 'recipient.id'})`;
    await this.runSteps(Array.isArray(cohort.steps) ? cohort.steps : [], `${pointer}/cohort_branches/${chosen}/steps`, report.position, { step: report.ref, branch: name });
    if (cohort.terminates === true && !this.stopped) {
      this.stopped = true;
      this.report.outcome = 'terminated';
      this.report.reason = `The cohort "${name}" of ${report.ref} ends the workflow.`;
    }
  }

  private async functionStep(type: string, settings: Record<string, unknown>, pointer: string, report: StepReport): Promise<void> {
    const rendered = await this.render(settings, `${pointer}/settings`, '', report.ref);
    const value = isRecord(rendered.value) ? rendered.value : {};
    const text = (name: string): string | undefined => (typeof value[name] === 'string' ? (value[name] as string) : undefined);
    const hidden = this.showContents ? '' : ' (contents hidden in this environment)';
    switch (type) {
      case 'http_fetch':
      case 'fetch': {
        const method = (typeof settings.method === 'string' ? settings.method : 'get').toUpperCase();
        report.request = { method, fields: this.shown(rendered.fields) };
        report.summary = this.showContents
          ? `would request ${method} ${text('url') ?? '(no url)'} and merge the JSON response into data; not requested`
          : `would make a ${method} request and merge the JSON response into data; not requested${hidden}`;
        return;
      }
      case 'trigger_workflow':
        report.request = { method: 'trigger', fields: this.shown(rendered.fields) };
        report.summary = `would trigger the workflow ${text('workflow_key') ?? '(no key)'}; not triggered`;
        return;
      case 'ai_agent':
        report.request = { method: 'prompt', fields: this.shown(rendered.fields) };
        report.summary = `would ask ${typeof settings.model === 'string' ? settings.model : 'a model'} and merge its answer into data; not asked${hidden}`;
        return;
      default: {
        report.request = { method: 'update', fields: this.shown(rendered.fields) };
        const source = type === 'update_data' ? text('data') : text('update_properties');
        let merged: Record<string, unknown> | null;
        try {
          const parsed: unknown = source === undefined ? null : JSON.parse(source);
          merged = isRecord(parsed) ? parsed : null;
        } catch {
          merged = null;
        }
        const mode = settings.recipient_mode;
        const target =
          type === 'update_data' ? 'data' : type === 'update_user' && mode === 'current' ? 'recipient' : type === 'update_tenant' && mode === 'current' ? 'tenant' : null;
        if (merged === null) {
          report.summary = `${type}: its rendered JSON does not parse to an object; nothing merged`;
          this.report.warnings.push(`${report.ref}: the rendered ${type === 'update_data' ? 'data' : 'update_properties'} is not a JSON object.`);
          return;
        }
        const keys = Object.keys(merged).join(', ') || 'nothing';
        if (target === 'data') this.data = { ...this.data, ...merged };
        else if (target === 'recipient') this.recipient = { ...this.recipient, ...merged, id: this.recipient.id };
        else if (target === 'tenant') this.tenant = { ...(this.tenant ?? {}), ...merged };
        report.summary = target === null ? `would update ${type.replace('update_', 'the ')} named in its settings (${keys}); not updated` : `merges ${keys} into ${target} for the steps after it`;
      }
    }
  }

  // -------------------------------------------------------------------------

  private finish(): RunReport {
    const report = this.report;
    if (this.unrendered > 0) report.warnings.push(`${this.unrendered} more template field${this.unrendered === 1 ? ' was' : 's were'} not rendered: ${this.budget.describe()}.`);
    report.warnings = [...new Set(report.warnings)];
    if (this.partials.size > 0) {
      report.notes.push(`Partials are not part of a knock-env project: ${[...this.partials].map((p) => `"${p}"`).join(', ')} rendered as a placeholder.`);
    }
    for (const [ref, status] of Object.entries(this.options.messageStatuses ?? {})) {
      if (!MESSAGE_STATUSES.includes(status)) report.warnings.push(`--message-status ${ref}=${status}: "${status}" is not a message status (${MESSAGE_STATUSES.join(', ')}).`);
      if (!report.steps.some((s) => s.ref === ref && s.type === 'channel')) report.warnings.push(`--message-status ${ref}: no channel step ${ref} ran.`);
    }
    if (this.options.showContentsRequested) {
      report.notes.push(
        report.settings.show_message_contents
          ? `--show-contents changes nothing: message contents are already shown in ${report.environment}.`
          : `--show-contents does not override the environment: message contents stay hidden in ${report.environment}. Only its setting shows them: knock-env env set ${report.environment} show-message-contents on.`,
      );
    }
    if (!this.masked) return report;
    for (const step of report.steps) {
      for (const group of [step.conditions, step.channelConditions, ...(step.branches ?? []).map((b) => b.conditions)]) if (group) this.maskConditions(group);
    }
    if (report.conditions) this.maskConditions(report.conditions);
    const scrubber = new Scrubber(this.recipient);
    // Identifiers and the names of hidden fields are kept as they are; every other string is scrubbed.
    return { ...scrubber.deep(report), recipient: report.recipient, redactedFields: report.redactedFields };
  }

  private maskConditions(group: ConditionGroupReport): void {
    const recipientPath = (path: string | null): boolean =>
      path !== null &&
      (/^recipient(?:$|[.[])/.test(path) || (this.actorIsRecipient() && /^actor(?:$|[.[])/.test(path))) &&
      !RECIPIENT_IDENTIFIERS.some((k) => path === `recipient.${k}` || path === `actor.${k}`);
    for (const item of group.conditions) {
      if ('mode' in item) {
        this.maskConditions(item);
        continue;
      }
      const condition: ConditionReport = item;
      if (recipientPath(condition.variable) && condition.value !== undefined) condition.value = REDACTED;
      if (recipientPath(condition.argument) && condition.argumentValue !== undefined) condition.argumentValue = REDACTED;
    }
  }
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
