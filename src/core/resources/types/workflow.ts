import { childPath, defineResourceType, isRecord, titleOf, type ResourceUse, type TemplateSubtree } from '../type.js';

/** Step types whose `settings` strings Knock renders with Liquid. */
export const LIQUID_SETTINGS_STEP_TYPES = ['http_fetch', 'fetch', 'trigger_workflow', 'ai_agent', 'update_data', 'update_user', 'update_tenant', 'update_object'];

/** Where Knock renders Liquid in a workflow: channel templates and overrides, the settings of steps that render it, nested in branches. */
function workflowTemplates(document: unknown): TemplateSubtree[] {
  const out: TemplateSubtree[] = [];
  if (!isRecord(document) || !Array.isArray(document.steps)) return out;
  const visit = (steps: unknown[], pointer: string, field: string): void => {
    steps.forEach((step, i) => {
      if (!isRecord(step)) return;
      const at = `${pointer}/${i}`;
      const name = childPath(field, i);
      for (const key of ['template', 'channel_overrides']) {
        if (step[key] !== undefined && step[key] !== null) out.push({ node: step[key], pointer: `${at}/${key}`, field: childPath(name, key) });
      }
      if (typeof step.type === 'string' && LIQUID_SETTINGS_STEP_TYPES.includes(step.type) && step.settings !== undefined) {
        out.push({ node: step.settings, pointer: `${at}/settings`, field: childPath(name, 'settings') });
      }
      for (const group of ['branches', 'cohort_branches']) {
        const branches = step[group];
        if (!Array.isArray(branches)) continue;
        branches.forEach((branch, b) => {
          if (isRecord(branch) && Array.isArray(branch.steps)) {
            visit(branch.steps, `${at}/${group}/${b}/steps`, childPath(childPath(childPath(name, group), b), 'steps'));
          }
        });
      }
    });
  };
  visit(document.steps, '/steps', 'steps');
  return out;
}

/** The email layouts a workflow's steps name (template.settings.layout_key), nested steps included. */
function workflowUses(document: Record<string, unknown>): ResourceUse[] {
  const out: ResourceUse[] = [];
  const visit = (steps: unknown, pointer: string): void => {
    if (!Array.isArray(steps)) return;
    steps.forEach((step, i) => {
      if (!isRecord(step)) return;
      const template = step.template;
      const settings = isRecord(template) ? template.settings : undefined;
      if (isRecord(settings) && typeof settings.layout_key === 'string') out.push({ kind: 'layout', key: settings.layout_key, pointer: `${pointer}/${i}/template/settings/layout_key` });
      for (const group of ['branches', 'cohort_branches']) {
        const branches = step[group];
        if (Array.isArray(branches)) branches.forEach((branch, b) => visit(isRecord(branch) ? branch.steps : undefined, `${pointer}/${i}/${group}/${b}/steps`));
      }
    });
  };
  visit(document.steps, '/steps');
  return out;
}

/** Steps in order, including those nested in branch steps, keyed by ref. */
export function flattenSteps(steps: unknown, out: Map<string, Record<string, unknown>> = new Map()): Map<string, Record<string, unknown>> {
  if (!Array.isArray(steps)) return out;
  for (const raw of steps) {
    if (!isRecord(raw)) continue;
    const ref = typeof raw.ref === 'string' ? raw.ref : `#${out.size}`;
    out.set(ref, raw);
    if (Array.isArray(raw.branches)) for (const branch of raw.branches) flattenSteps(isRecord(branch) ? branch.steps : undefined, out);
  }
  return out;
}

/** A step without its nested steps (compared on their own): branches count their steps only. */
function comparableStep(step: Record<string, unknown>): unknown {
  const branches = Array.isArray(step.branches)
    ? step.branches.map((branch) => ({ ...(isRecord(branch) ? branch : {}), steps: flattenSteps(isRecord(branch) ? branch.steps : undefined).size }))
    : step.branches;
  return { ...step, steps: undefined, branches };
}

function scaffold(key: string): Record<string, string> {
  return {
    'workflow.yaml': `name: ${JSON.stringify(titleOf(key))}
description: Describe when this workflow runs.
categories: []
trigger_data_json_schema:
  type: object
  properties:
    message:
      type: string
steps:
  - ref: in_app_feed_1
    type: channel
    name: In-app feed
    channel_key: in-app-feed
    channel_type: in_app_feed
    template:
      action_url: "{{ vars.app_url }}"
      markdown_body@: in_app_feed_1/markdown_body.md
  - ref: email_1
    type: channel
    name: Email
    channel_key: email
    channel_type: email
    template:
      subject: "{{ data.message | default: 'Hello' }}"
      html_body@: email_1/html_body.html
`,
    'in_app_feed_1/markdown_body.md': 'Hi {{ recipient.name }}, {{ data.message }}\n',
    'email_1/html_body.html': '<p>Hi {{ recipient.name }},</p>\n<p>{{ data.message }}</p>\n',
  };
}

export const workflow = defineResourceType({
  kind: 'workflow',
  noun: 'workflow',
  plural: 'workflows',
  dir: 'workflows',
  file: 'workflow.yaml',
  mainFileRequired: true,
  exampleKey: 'welcome-email',
  schema: 'workflow',
  owner: 'origin-environment',
  productionWriteAccess: true,
  templates: workflowTemplates,
  uses: workflowUses,
  items: { label: 'steps', list: (document) => flattenSteps(document?.steps), comparable: comparableStep },
  scaffold,
  description: 'workflow resources (workflows/<key>/workflow.yaml)',
  knock: { format: 'document', mainFile: 'workflow.json', schemaUrl: 'https://schemas.knock.app/cli/workflow.json' },
});
