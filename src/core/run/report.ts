import type { CoreOptions } from '../context.js';
import type { Identity } from '../git/commit.js';
import type { EnvironmentSettings } from '../validate/config.js';
import type { ConditionGroupReport } from './conditions.js';

/** What `knock-env run` takes and what it reports (see ops/run.ts). */

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
