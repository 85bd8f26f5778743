import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { setOwn, type TemplateFiles } from '../liquid/sources.js';
import { ENVIRONMENTS_DIR } from '../resources.js';
import type { EnvironmentSettings } from '../validate/config.js';
import { CHANNELS_DIR } from '../validate/environment.js';
import { decodeUtf8 } from '../validate/limits.js';
import { LIQUID_SETTINGS_STEP_TYPES } from '../validate/liquid.js';
import { resolveReference } from '../validate/resource.js';
import type { SourceReader } from '../validate/types.js';
import { parseYaml } from '../validate/yaml.js';
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
} from './conditions.js';
import { placeholderRecipient, REDACTED, redactedFields, RECIPIENT_IDENTIFIERS, Scrubber, shownRecipient } from './mask.js';
import { TemplateRenderer } from './render.js';
import type { BranchChoice, RunReport, RunWorkflowOptions, StepReport } from './report.js';

const require = createRequire(import.meta.url);

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function describeDuration(duration: unknown): string | null {
  if (!isRecord(duration) || typeof duration.value !== 'number' || typeof duration.unit !== 'string') return null;
  const unit = duration.value === 1 ? duration.unit.replace(/s$/, '') : duration.unit;
  return `${duration.value} ${unit}`;
}


/**
 * One run of a workflow: the trigger, its conditions, and each step in turn,
 * with the data, recipient and tenant as the steps before have left them.
 */
export class Simulation {
  readonly report: RunReport;
  private readonly statuses = new Map<string, string>();
  private data: Record<string, unknown>;
  private recipient: Record<string, unknown>;
  private tenant: Record<string, unknown> | null;
  private readonly actorEntity: Record<string, unknown> | null;
  private readonly now: Date;
  private readonly masked: boolean;
  private readonly showContents: boolean;
  private stopped = false;
  private readonly templates: TemplateRenderer;

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
    this.templates = new TemplateRenderer(files, this.now, this.report, this.showContents);
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
    const template = await this.templates.render(step.template ?? {}, `${pointer}/template`, '', report.ref, this.templateScope());
    const fields = [...template.fields];
    if (isRecord(step.channel_overrides)) {
      const overrides = await this.templates.render(step.channel_overrides, `${pointer}/channel_overrides`, 'channel_overrides', report.ref, this.templateScope());
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
      fields: this.templates.shown(fields),
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
    const rendered = await this.templates.render(settings, `${pointer}/settings`, '', report.ref, this.templateScope());
    const value = isRecord(rendered.value) ? rendered.value : {};
    const text = (name: string): string | undefined => (typeof value[name] === 'string' ? (value[name] as string) : undefined);
    const hidden = this.showContents ? '' : ' (contents hidden in this environment)';
    switch (type) {
      case 'http_fetch':
      case 'fetch': {
        const method = (typeof settings.method === 'string' ? settings.method : 'get').toUpperCase();
        report.request = { method, fields: this.templates.shown(rendered.fields) };
        report.summary = this.showContents
          ? `would request ${method} ${text('url') ?? '(no url)'} and merge the JSON response into data; not requested`
          : `would make a ${method} request and merge the JSON response into data; not requested${hidden}`;
        return;
      }
      case 'trigger_workflow':
        report.request = { method: 'trigger', fields: this.templates.shown(rendered.fields) };
        report.summary = `would trigger the workflow ${text('workflow_key') ?? '(no key)'}; not triggered`;
        return;
      case 'ai_agent':
        report.request = { method: 'prompt', fields: this.templates.shown(rendered.fields) };
        report.summary = `would ask ${typeof settings.model === 'string' ? settings.model : 'a model'} and merge its answer into data; not asked${hidden}`;
        return;
      default: {
        report.request = { method: 'update', fields: this.templates.shown(rendered.fields) };
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
    const unrendered = this.templates.budgetWarning();
    if (unrendered !== undefined) report.warnings.push(unrendered);
    report.warnings = [...new Set(report.warnings)];
    if (this.templates.partials.size > 0) {
      report.notes.push(`Partials are not part of a knock-env project: ${[...this.templates.partials].map((p) => `"${p}"`).join(', ')} rendered as a placeholder.`);
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
