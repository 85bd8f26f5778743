import { Volume, createFsFromVolume } from 'memfs';
import { describe, expect, it } from 'vitest';
import type { CoreOptions } from '../../src/core/context.js';
import { isKnockEnvError } from '../../src/core/errors.js';
import type { FileSystem } from '../../src/core/git/fs.js';
import { knockLiquid } from '../../src/core/liquid/engine.js';
import { commitChanges } from '../../src/core/ops/commit.js';
import { environmentSettingsOf, setEnvironmentSetting } from '../../src/core/ops/environment-settings.js';
import { createEnvironment } from '../../src/core/ops/environments.js';
import { initProject } from '../../src/core/ops/init.js';
import { promoteEnvironment } from '../../src/core/ops/promote.js';
import { runWorkflow, type RunReport, type RunWorkflowOptions } from '../../src/core/ops/run.js';
import { loadConfig, openProject } from '../../src/core/project.js';
import { evaluateCondition, evaluateConditions, OPERATORS, type ConditionScope } from '../../src/core/run/conditions.js';
import { placeholderRecipient, Scrubber } from '../../src/core/run/mask.js';
import { resourceLiquidIssues } from '../../src/core/validate/liquid.js';
import { memoryReader } from './validate-helpers.js';

// ---------------------------------------------------------------------------
// Conditions

const NOW = new Date('2026-02-03T10:00:00Z');

function scope(statuses: Record<string, string> = {}): ConditionScope {
  return {
    recipient: { id: 'u1', email: 'ada@example.com', plan: 'pro', tags: ['beta', 'admin'], signed_up_at: '2025-06-01T12:00:00Z', seats: 5 },
    actor: { id: 'u2', name: 'Grace Hopper' },
    data: {
      count: 3,
      count_text: '10',
      price: 9.5,
      title: 'Quarterly report',
      channels: ['email', 'sms'],
      nothing: null,
      empty_text: '',
      empty_list: [],
      empty_object: {},
      flags: { urgent: true },
      due_at: '2026-02-10T09:00:00Z',
      started_at: '2026-02-01T00:00:00Z',
      day: '2026-02-03T23:59:00Z',
      unix: 1770112800,
      limit: 3,
      window: '2026-02-01T00:00:00Z,2026-02-28T00:00:00Z',
      items: [{ name: 'first' }, { name: 'second' }],
      required: ['email', 'sms'],
    },
    tenant: { id: 'acme', tier: 'enterprise' },
    vars: { region: 'eu', threshold: 4 },
    workflow: { key: 'welcome', name: 'Welcome', categories: ['onboarding'] },
    statuses: new Map(Object.entries(statuses)),
    now: NOW,
  };
}

function check(variable: string, operator: string, argument: string | null, statuses?: Record<string, string>) {
  return evaluateCondition({ variable, operator, argument }, scope(statuses)).result;
}

describe('conditions: every operator', () => {
  const cases: [variable: string, operator: string, argument: string | null, expected: boolean | 'unknown'][] = [
    ['recipient.plan', 'equal_to', 'pro', true],
    ['recipient.plan', 'equal_to', 'free', false],
    ['data.count', 'equal_to', '3', true],
    ['data.count_text', 'equal_to', '10', true],
    ['data.flags.urgent', 'equal_to', 'true', true],
    ['data.nothing', 'equal_to', 'null', true],
    ['data.missing', 'equal_to', 'null', true],
    ['data.count', 'equal_to', 'vars.limit', false],
    ['data.count', 'equal_to', 'data.limit', true],
    ['recipient.plan', 'not_equal_to', 'free', true],
    ['recipient.plan', 'not_equal_to', 'pro', false],
    ['data.count', 'greater_than', '2', true],
    ['data.count', 'greater_than', '3', false],
    ['data.count_text', 'greater_than', '9', true],
    ['data.count', 'less_than', 'vars.threshold', true],
    ['data.count', 'less_than', '3', false],
    ['data.missing', 'less_than', '3', false],
    ['data.price', 'greater_than_or_equal_to', '9.5', true],
    ['data.price', 'greater_than_or_equal_to', '10', false],
    ['recipient.seats', 'less_than_or_equal_to', '5', true],
    ['recipient.seats', 'less_than_or_equal_to', '4', false],
    ['data.channels', 'contains', 'email', true],
    ['data.channels', 'contains', 'push', false],
    ['data.title', 'contains', 'report', true],
    ['data.flags', 'contains', 'urgent', true],
    ['data.missing', 'contains', 'x', false],
    ['data.channels', 'not_contains', 'push', true],
    ['data.channels', 'not_contains', 'sms', false],
    ['data.missing', 'not_contains', 'x', true],
    ['data.channels', 'contains_all', 'email,sms', true],
    ['data.channels', 'contains_all', 'email,push', false],
    ['data.channels', 'contains_all', 'data.required', true],
    ['data.channels', 'not_contains_all', 'email,push', true],
    ['data.channels', 'not_contains_all', 'email,sms', false],
    ['data.empty_text', 'empty', null, true],
    ['data.empty_list', 'empty', null, true],
    ['data.empty_object', 'empty', null, true],
    ['data.nothing', 'empty', null, true],
    ['data.missing', 'empty', null, true],
    ['data.title', 'empty', null, false],
    ['data.title', 'not_empty', null, true],
    ['data.empty_list', 'not_empty', null, false],
    ['data.title', 'exists', null, true],
    ['data.nothing', 'exists', null, false],
    ['data.missing', 'exists', null, false],
    ['data.missing', 'not_exists', null, true],
    ['data.title', 'not_exists', null, false],
    ['data.due_at', 'is_timestamp', null, true],
    ['data.unix', 'is_timestamp', null, true],
    ['data.title', 'is_timestamp', null, false],
    ['data.title', 'is_not_timestamp', null, true],
    ['data.due_at', 'is_not_timestamp', null, false],
    ['data.started_at', 'is_timestamp_before', 'now', true],
    ['data.due_at', 'is_timestamp_before', 'now', false],
    ['data.started_at', 'is_timestamp_before', 'data.due_at', true],
    ['data.due_at', 'is_timestamp_after', 'now', true],
    ['data.started_at', 'is_timestamp_after', '2026-02-02T00:00:00Z', false],
    ['data.due_at', 'is_timestamp_on_or_after', 'data.due_at', true],
    ['data.started_at', 'is_timestamp_on_or_after', 'now', false],
    ['data.started_at', 'is_timestamp_before_date', 'now', true],
    ['data.day', 'is_timestamp_before_date', 'now', false],
    ['data.due_at', 'is_timestamp_after_date', 'now', true],
    ['data.day', 'is_timestamp_after_date', 'now', false],
    ['data.day', 'is_timestamp_on_or_after_date', 'now', true],
    ['data.started_at', 'is_timestamp_on_or_after_date', 'now', false],
    ['data.due_at', 'is_timestamp_between', 'data.window', true],
    ['data.due_at', 'is_timestamp_between', '2026-03-01T00:00:00Z..2026-04-01T00:00:00Z', false],
    ['data.due_at', 'is_timestamp_between', 'soon', 'unknown'],
    ['data.due_at', 'is_timestamp_before', 'next week', 'unknown'],
    ['recipient.id', 'is_audience_member', 'beta-testers', 'unknown'],
    ['recipient.id', 'is_not_audience_member', 'beta-testers', 'unknown'],
    ['actor.name', 'equal_to', 'Grace Hopper', true],
    ['tenant.tier', 'equal_to', 'enterprise', true],
    ['tenant.id', 'not_equal_to', 'globex', true],
    ['vars.region', 'equal_to', 'eu', true],
    ['workflow.key', 'equal_to', 'welcome', true],
    ['workflow.categories', 'contains', 'onboarding', true],
    ['data.items[1].name', 'equal_to', 'second', true],
    ['data.items.0.name', 'equal_to', 'first', true],
    ['recipient.tags', 'contains', 'admin', true],
    ['run.attempts', 'greater_than', '1', 'unknown'],
    ['data.count', 'matches_regex', '3', 'unknown'],
  ];
  it.each(cases)('%s %s %s → %s', (variable, operator, argument, expected) => {
    expect(check(variable, operator, argument)).toBe(expected);
  });

  it('covers every operator of the workflow schema, both ways where it can be decided', () => {
    const decided = new Map<string, Set<unknown>>();
    for (const [, operator, , expected] of cases) {
      if (!decided.has(operator)) decided.set(operator, new Set());
      decided.get(operator)!.add(expected);
    }
    for (const operator of OPERATORS) {
      const outcomes = decided.get(operator);
      expect(outcomes, operator).toBeDefined();
      if (!operator.includes('audience')) expect([...outcomes!].filter((o) => o !== 'unknown').sort(), operator).toEqual([false, true]);
    }
  });

  it('compares message statuses by how far a message has advanced', () => {
    const seen = (status: string | undefined, operator: string, argument: string) =>
      check('refs.in_app_feed_1.status', operator, argument, status === undefined ? {} : { in_app_feed_1: status });
    expect(seen('sent', 'less_than', '$message.seen')).toBe(true);
    expect(seen('seen', 'less_than', '$message.seen')).toBe(false);
    expect(seen('read', 'less_than', '$message.seen')).toBe(false);
    expect(seen('delivered', 'greater_than_or_equal_to', '$message.delivered')).toBe(true);
    expect(seen('sent', 'equal_to', '$message.sent')).toBe(true);
    expect(seen('sent', 'equal_to', '$message.unseen')).toBe(true);
    expect(seen('seen', 'equal_to', '$message.unseen')).toBe(false);
    expect(seen('seen', 'equal_to', '$message.unread')).toBe(true);
    expect(seen('link_clicked', 'greater_than', '$message.read')).toBe(true);
    // A step that never ran has no message: not_sent, below everything.
    expect(seen(undefined, 'less_than', '$message.seen')).toBe(true);
    expect(seen(undefined, 'equal_to', '$message.not_sent')).toBe(true);
    expect(check('refs.email_1.engagement_status', 'equal_to', 'unseen', { email_1: 'delivered' })).toBe(true);
    expect(check('refs.email_1.delivery_status', 'equal_to', 'delivered', { email_1: 'read' })).toBe(true);
    expect(seen('sent', 'less_than', '$message.teleported')).toBe('unknown');
  });

  it('combines all and any groups, nested, with unknown in between', () => {
    const s = scope();
    const all = evaluateConditions({ all: [{ variable: 'recipient.plan', operator: 'equal_to', argument: 'pro' }, { variable: 'data.count', operator: 'greater_than', argument: '5' }] }, s);
    expect(all?.result).toBe(false);
    const any = evaluateConditions(
      { any: [{ variable: 'data.count', operator: 'greater_than', argument: '5' }, { all: [{ variable: 'recipient.plan', operator: 'equal_to', argument: 'pro' }, { variable: 'vars.region', operator: 'equal_to', argument: 'eu' }] }] },
      s,
    );
    expect(any?.result).toBe(true);
    expect(any?.conditions[1]).toMatchObject({ mode: 'all', result: true });
    const unknown = evaluateConditions({ all: [{ variable: 'recipient.plan', operator: 'equal_to', argument: 'pro' }, { variable: 'recipient.id', operator: 'is_audience_member', argument: 'x' }] }, s);
    expect(unknown?.result).toBe('unknown');
    expect(evaluateConditions({ any: [{ variable: 'recipient.id', operator: 'is_audience_member', argument: 'x' }, { variable: 'data.count', operator: 'equal_to', argument: '3' }] }, s)?.result).toBe(true);
    expect(evaluateConditions(null, s)).toBeNull();
  });
});

// ---------------------------------------------------------------------------
// Liquid

describe('Liquid with Knock filters', () => {
  const render = (template: string, data: Record<string, unknown> = {}) => knockLiquid({ now: () => NOW }).parseAndRender(template, data) as Promise<string>;

  it('renders the filters Knock templates use', async () => {
    expect(await render('{{ n }} {{ n | pluralize: "alert", "alerts" }}', { n: 1 })).toBe('1 alert');
    expect(await render("{{ n | pluralize: 'reply', 'replies' }}", { n: 3 })).toBe('replies');
    expect(await render('{{ n | pluralize: "item", "items" }}', { n: 0 })).toBe('items');
    expect(await render('{{ name | default: "there" }}', {})).toBe('there');
    expect(await render('{{ t | truncatewords: 5 }}', { t: 'one two three four five six seven' })).toBe('one two three four five...');
    expect(await render('{{ s | capitalize }}', { s: 'critical outage' })).toBe('Critical outage');
    expect(await render('{{ s | titlecase }}', { s: 'quarterly API report' })).toBe('Quarterly API Report');
    expect(await render('{{ d | date: "%b %-d, %-I:%M %p" }}', { d: '2026-01-05T15:30:00Z' })).toBe('Jan 5, 3:30 PM');
    expect(await render('{{ d | date: "%-I:%M %p", "America/New_York" }}', { d: '2026-01-05T15:30:00Z' })).toBe('10:30 AM');
    expect(await render('{{ "now" | date: "%Y-%m-%d" }}')).toBe('2026-02-03');
    expect(await render('{{ d | timezone: "America/New_York" }}', { d: '2024-01-01T00:30:00Z' })).toBe('2023-12-31T19:30:00-05:00');
    expect(await render('{{ d | timezone: "Asia/Kolkata" }}', { d: '2024-01-01T00:30:00Z' })).toBe('2024-01-01T06:00:00+05:30');
    expect(await render('{{ 10000 | format_number: "en" }}')).toBe('10,000');
    expect(await render('{{ 10 | currency }}')).toBe('$10.00');
    expect(await render('{{ 10.99 | rounded_currency: "GBP", "en" }}')).toBe('£11');
    expect(await render('{{ d | format_date_in_locale: "en-GB", "long" }}', { d: '2023-12-31T19:30:00Z' })).toBe('31 December 2023');
    expect(await render('{{ actor.name | split: " " | first }}', { actor: { name: 'Grace Hopper' } })).toBe('Grace');
    expect(await render('{{ total | minus: 2 }}', { total: 5 })).toBe('3');
  });

  it('never reads partials from the file system', async () => {
    expect(await render('a {% render "footer" %} b')).toBe('a [partial footer] b');
    expect(await render("{% include 'header' %}")).toBe('[partial header]');
  });
});

describe('resourceLiquidIssues', () => {
  const workflow = [
    'name: Broken templates',
    'steps:',
    '  - ref: email_1',
    '    type: channel',
    '    channel_type: email',
    '    template:',
    '      subject: "Hello {{ name | }"',
    '      visual_blocks@: email_1/visual_blocks.json',
    '  - ref: sms_1',
    '    type: channel',
    '    channel_type: sms',
    '    template:',
    '      text_body: |',
    '        Line one',
    '          {% for a in list %} never closed',
    '  - ref: fetch_1',
    '    type: http_fetch',
    '    settings:',
    '      method: get',
    "      url: 'https://api.example/{{ data.id | }'",
    '  - ref: branch_1',
    '    type: branch',
    '    branches:',
    '      - name: Only',
    '        steps:',
    '          - ref: push_1',
    '            type: channel',
    '            channel_type: push',
    '            template:',
    '              text_body@: push_1/body.txt',
    '',
  ].join('\n');
  const visualBlocks = JSON.stringify(
    [
      { type: 'markdown', 'content@': 'visual_blocks/1.content.md' },
      { type: 'button_set', buttons: [{ label: "{{ total | pluralize: 'a', 'b' }}", action: '{% if %}{% endif %}' }] },
    ],
    null,
    2,
  );
  const files = {
    'workflows/broken/workflow.yaml': workflow,
    'workflows/broken/email_1/visual_blocks.json': visualBlocks,
    'workflows/broken/email_1/visual_blocks/1.content.md': 'Hi {{ recipient.name }},\n\n{% unknowntag %}\n',
    'workflows/broken/push_1/body.txt': 'fine {{ page_name }}',
  };

  it('checks every template string and @ file of a workflow, with file, line and column', async () => {
    const data = (await import('yaml')).parse(workflow) as unknown;
    const issues = await resourceLiquidIssues(data, memoryReader(files), 'workflows/broken');
    expect(issues.map(({ file, line, column, code }) => ({ file, line, column, code }))).toEqual([
      { file: 'workflows/broken/email_1/visual_blocks.json', line: 11, column: 25, code: 'liquid-syntax' },
      { file: 'workflows/broken/email_1/visual_blocks/1.content.md', line: 3, column: 1, code: 'liquid-syntax' },
      { file: 'workflows/broken/workflow.yaml', line: 7, column: 23, code: 'liquid-syntax' },
      { file: 'workflows/broken/workflow.yaml', line: 15, column: 11, code: 'liquid-syntax' },
      { file: 'workflows/broken/workflow.yaml', line: 20, column: 33, code: 'liquid-syntax' },
    ]);
    expect(issues.find((i) => i.file.endsWith('.json'))?.pointer).toBe('/1/buttons/0/action');
    expect(issues.find((i) => i.line === 7)?.pointer).toBe('/steps/0/template/subject');
    // The positions point into the offending markup itself (liquidjs names the output or tag, or the place inside a tag).
    const lines = workflow.split('\n');
    expect(lines[6]!.slice(22, 24)).toBe('{{');
    expect(lines[14]!.slice(10, 12)).toBe('{%');
    expect(lines[19]!.slice(32, 34)).toBe('{{');
    expect(visualBlocks.split('\n')[10]!.slice(19, 26)).toBe('{% if %');
  });

  it('walks deeply nested referenced JSON without exhausting the stack', async () => {
    const data = { name: 'deep', steps: [{ ref: 'e', type: 'channel', template: { 'visual_blocks@': 'blocks.json' } }] };
    const nested = `${'['.repeat(100_000)}{"content":"{% if %}"}${']'.repeat(100_000)}`;
    expect(await resourceLiquidIssues(data, memoryReader({ 'workflows/deep/blocks.json': nested }), 'workflows/deep')).toEqual([]);
  });

  it('has nothing to say about valid templates', async () => {
    const data = { name: 'ok', steps: [{ ref: 'e', type: 'channel', template: { subject: '{{ a | default: "b" }}', 'text_body@': 't.txt' } }] };
    expect(await resourceLiquidIssues(data, memoryReader({ 'workflows/ok/t.txt': '{% if a %}{{ a }}{% endif %}' }), 'workflows/ok')).toEqual([]);
  });
});

describe('masking helpers', () => {
  it('replaces every recipient value but its identifiers, at any depth', () => {
    expect(placeholderRecipient({ id: 'u1', collection: 'teams', email: 'a@b.co', address: { city: 'Paris' }, phones: ['+331'] })).toEqual({
      id: 'u1',
      collection: 'teams',
      email: '[redacted: recipient.email]',
      address: { city: '[redacted: recipient.address.city]' },
      phones: ['[redacted: recipient.phones[0]]'],
    });
  });

  it('scrubs recipient values from any text, whatever their case', () => {
    const scrubber = new Scrubber({ id: 'u1', email: 'ada@example.com', name: 'Ada Lovelace', phone_number: 33612345678 });
    expect(scrubber.text('Write to ADA@example.com or Lovelace, call 33612345678; user u1')).toBe('Write to [redacted] or [redacted], call [redacted]; user u1');
  });
});

// ---------------------------------------------------------------------------
// Runs on an in-memory repository

function memoryOptions(): CoreOptions & { fs: FileSystem } {
  const fs = createFsFromVolume(new Volume()) as unknown as FileSystem;
  let t = Date.parse('2026-03-01T09:00:00Z');
  return { fs, dir: '/project', actor: { name: 'Grace Hopper', email: 'grace@example.com' }, now: () => new Date((t += 1000)), pid: 1, isAlive: () => true };
}

async function write(options: CoreOptions, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    const abs = `${options.dir}/${path}`;
    await options.fs.promises.mkdir(abs.slice(0, abs.lastIndexOf('/')), { recursive: true });
    await options.fs.promises.writeFile(abs, text);
  }
}

const ONBOARDING = `name: Onboarding
trigger_data_json_schema:
  type: object
  required: [plan]
  properties:
    plan: { type: string }
    seats: { type: integer }
steps:
  - ref: route
    type: branch
    branches:
      - name: Enterprise
        conditions:
          all:
            - { variable: data.plan, operator: equal_to, argument: enterprise }
        steps:
          - ref: email_sales
            type: channel
            channel_type: email
            channel_key: postmark
            template:
              subject: "A call with sales, {{ recipient.name | split: ' ' | first }}"
              html_body: "<p>Your team of {{ seats }} {{ seats | pluralize: 'seat', 'seats' }} is set up.</p>"
        terminates: true
      - name: Big team
        conditions:
          any:
            - { variable: data.seats, operator: greater_than, argument: "10" }
            - { variable: recipient.email, operator: contains, argument: "@bigcorp.example" }
        steps:
          - ref: sms_team
            type: channel
            channel_type: sms
            template:
              text_body: "Hi {{ recipient.name }}, your {{ data.seats }} seats are ready."
      - name: Everyone else
        steps:
          - ref: in_app_welcome
            type: channel
            channel_type: in_app_feed
            template:
              markdown_body: "Welcome aboard, **{{ recipient.name }}** ({{ recipient.email }})."
              action_url: "{{ vars.app_url }}/start"
  - ref: fetch_profile
    type: http_fetch
    settings:
      method: post
      url: "{{ vars.api_url }}/profiles/{{ recipient.id }}"
      headers:
        - key: Authorization
          value: "Bearer {{ vars.api_token }}"
      body: '{"email": "{{ recipient.email }}"}'
  - ref: remember
    type: update_data
    settings:
      data: '{"step": "welcomed"}'
  - ref: wait
    type: delay
    settings:
      delay_for: { unit: hours, value: 2 }
  - ref: throttle
    type: throttle
    settings:
      throttle_limit: 1
      throttle_key: plan
      throttle_window: { unit: days, value: 1 }
  - ref: email_followup
    type: channel
    channel_type: email
    channel_key: postmark
    conditions:
      all:
        - { variable: data.step, operator: equal_to, argument: welcomed }
    template:
      subject: "How is it going, {{ recipient.name }}?"
      html_body@: email_followup/body.html
`;

const VARIABLES = `app_url: https://app.example
api_url: https://api.example
api_token:
  secret_env: LARKSPUR_API_TOKEN
`;

async function project(): Promise<CoreOptions & { fs: FileSystem }> {
  const options = memoryOptions();
  await initProject(options);
  await write(options, {
    'workflows/onboarding/workflow.yaml': ONBOARDING,
    'workflows/onboarding/email_followup/body.html': '<p>Hello {{ recipient.name }}, you are on {{ plan }}. Write to {{ recipient.email }} any time.</p>\n',
    'environments/development/variables.yaml': VARIABLES,
  });
  await commitChanges({ ...options, message: 'Add onboarding' });
  return options;
}

const ADA = { id: 'user_ada', email: 'ada@lovelace.example', name: 'Ada Lovelace', phone_number: '+15550100', locale: 'en' };

function run(options: CoreOptions, extra: Partial<RunWorkflowOptions> & { data?: Record<string, unknown> }): Promise<RunReport> {
  const { data, ...rest } = extra;
  return runWorkflow({ fs: options.fs, dir: options.dir, actor: options.actor, now: () => NOW, workflow: 'onboarding', trigger: { recipient: ADA, data: data ?? { plan: 'starter', seats: 3 } }, ...rest });
}

const ran = (report: RunReport) => report.steps.filter((s) => s.status === 'ran').map((s) => s.ref);
const text = (report: RunReport, ref: string, field: string) => report.steps.find((s) => s.ref === ref)?.message?.fields.find((f) => f.name === field)?.text;

describe('runWorkflow', () => {
  it('takes the first branch whose conditions hold, and ends the run when it terminates', async () => {
    const options = await project();
    const report = await run(options, { data: { plan: 'enterprise', seats: 40 } });
    expect(ran(report)).toEqual(['route', 'email_sales']);
    expect(report.steps[0]!.branches?.map((b) => [b.name, b.chosen])).toEqual([
      ['Enterprise', true],
      ['Big team', false],
      ['Everyone else', false],
    ]);
    expect(report.outcome).toBe('terminated');
    expect(text(report, 'email_sales', 'subject')).toBe('A call with sales, Ada');
    expect(text(report, 'email_sales', 'html_body')).toBe('<p>Your team of 40 seats is set up.</p>');
    expect(report.steps[1]!.position).toBe('1.1');
    expect(report.steps[1]!.within).toEqual({ step: 'route', branch: 'Enterprise' });
  });

  it('falls through to a later branch (any of), or to the default branch', async () => {
    const options = await project();
    const big = await run(options, { data: { plan: 'team', seats: 25 } });
    expect(ran(big).slice(0, 2)).toEqual(['route', 'sms_team']);
    expect(text(big, 'sms_team', 'text_body')).toBe('Hi Ada Lovelace, your 25 seats are ready.');
    const byEmail = await run(options, { data: { plan: 'team', seats: 2 }, trigger: { recipient: { ...ADA, email: 'ada@bigcorp.example' }, data: { plan: 'team', seats: 2 } } });
    expect(ran(byEmail)).toContain('sms_team');
    const small = await run(options, {});
    expect(small.steps[0]!.summary).toContain('Everyone else');
    expect(small.steps[0]!.branches?.find((b) => b.chosen)?.default).toBe(true);
    expect(ran(small)).toEqual(['route', 'in_app_welcome', 'fetch_profile', 'remember', 'wait', 'throttle', 'email_followup']);
    expect(small.outcome).toBe('completed');
  });

  it('reports function steps, renders requests with secrets named, never resolved, and merges update_data', async () => {
    const options = await project();
    const report = await run(options, {});
    const fetch = report.steps.find((s) => s.ref === 'fetch_profile')!;
    expect(fetch.request?.method).toBe('POST');
    const field = (name: string) => fetch.request?.fields.find((f) => f.name === name)?.text;
    expect(field('url')).toBe('https://api.example/profiles/user_ada');
    expect(field('headers[0].value')).toBe('Bearer [secret LARKSPUR_API_TOKEN]');
    expect(field('body')).toBe('{"email": "ada@lovelace.example"}');
    expect(fetch.summary).toContain('would request POST https://api.example/profiles/user_ada');
    expect(report.steps.find((s) => s.ref === 'wait')!.summary).toBe('waits 2 hours');
    expect(report.steps.find((s) => s.ref === 'throttle')!.summary).toContain('lets at most 1 run per 1 day continue (per recipient and plan = "starter")');
    // update_data merged {step: welcomed}, so the follow-up's condition holds.
    expect(report.steps.find((s) => s.ref === 'email_followup')!.conditions?.result).toBe(true);
    expect(text(report, 'email_followup', 'html_body')).toContain('you are on starter');
    expect(text(report, 'in_app_welcome', 'action_url')).toBe('https://app.example/start');
    expect(report.messageCount).toBe(2);
    expect(report.issues).toEqual([]);
  });

  it('keeps a "__proto__" key of the trigger data as data', async () => {
    const options = await project();
    const data = JSON.parse('{"plan": "starter", "__proto__": {"polluted": true}}') as Record<string, unknown>;
    const report = await run(options, { data });
    expect(report.issues).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('checks trigger data against trigger_data_json_schema and halts when it does not match', async () => {
    const options = await project();
    const report = await run(options, { data: { seats: 'many' } });
    expect(report.outcome).toBe('halted');
    expect(report.triggerData.valid).toBe(false);
    expect(report.triggerData.issues.map((i) => i.message).sort()).toEqual(["data must have required property 'plan'", 'data.seats must be integer']);
    expect(report.steps).toEqual([]);
  });

  it("follows the environment's channel settings: a disabled channel or one whose conditions fail sends nothing", async () => {
    const options = await project();
    await write(options, { 'environments/development/channels/postmark.yaml': 'type: email\nprovider: postmark\ndisabled: true\n' });
    const disabled = await run(options, { workingTree: true });
    expect(disabled.steps.find((s) => s.ref === 'email_followup')).toMatchObject({ status: 'skipped', reason: 'the channel postmark is disabled in development' });
    await write(options, {
      'environments/development/channels/postmark.yaml': 'type: email\nprovider: postmark\nconditions:\n  all:\n    - { variable: recipient.email, operator: contains, argument: "@acme.example" }\n',
    });
    const conditioned = await run(options, { workingTree: true });
    const step = conditioned.steps.find((s) => s.ref === 'email_followup')!;
    expect(step.status).toBe('skipped');
    expect(step.channelConditions?.result).toBe(false);
    const allowed = await run(options, { workingTree: true, trigger: { recipient: { ...ADA, email: 'ada@acme.example' }, data: { plan: 'starter' } } });
    expect(allowed.steps.find((s) => s.ref === 'email_followup')!.status).toBe('ran');
  });

  it('reads trigger_data_json_schema from an @ file', async () => {
    const options = await project();
    await write(options, {
      'workflows/onboarding/workflow.yaml': ONBOARDING.replace(/trigger_data_json_schema:\n(?: {2}.*\n)+/, 'trigger_data_json_schema@: schema.json\n'),
      'workflows/onboarding/schema.json': JSON.stringify({ type: 'object', required: ['plan', 'region'] }),
    });
    const report = await run(options, { workingTree: true });
    expect(report.triggerData).toEqual({ schema: true, valid: false, issues: [{ pointer: '/', message: "data must have required property 'region'" }] });
  });

  it('refuses what it cannot run, with a code', async () => {
    const options = await project();
    const codeOf = (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (isKnockEnvError(e) ? e.code : String(e)));
    expect(await codeOf(run(options, { workflow: 'nope' }))).toBe('NOT_FOUND');
    expect(await codeOf(run(options, { workflow: '../x' }))).toBe('INVALID_KEY');
    expect(await codeOf(run(options, { environment: 'staging' }))).toBe('UNKNOWN_ENVIRONMENT');
    expect(await codeOf(run(options, { trigger: { recipient: { email: 'x@y.z' } } }))).toBe('USAGE');
    expect(await codeOf(run(options, { trigger: { recipient: 'u', data: [] } }))).toBe('USAGE');
    expect(await codeOf(run(options, { environment: 'production', workingTree: true }))).toBe('REFUSED');
  });

  describe('masking, in every combination of the two settings', () => {
    const sentences = ['Welcome aboard', 'Hello [', 'How is it going', 'you are on starter', 'Bearer'];
    const combos: [obfuscate: boolean, show: boolean][] = [
      [false, true],
      [true, true],
      [false, false],
      [true, false],
    ];
    it.each(combos)('obfuscate-recipient-data %s, show-message-contents %s', async (obfuscate, show) => {
      const options = await project();
      await setEnvironmentSetting({ ...options, environment: 'development', name: 'obfuscate-recipient-data', value: obfuscate });
      await setEnvironmentSetting({ ...options, environment: 'development', name: 'show-message-contents', value: show });
      const report = await run(options, { trigger: { recipient: ADA, actor: { id: 'user_ada', name: 'Ada Lovelace' }, data: { plan: 'starter', seats: 3, contact: 'ada@lovelace.example' } }, showContentsRequested: true });
      const json = JSON.stringify(report);
      expect(report.settings).toEqual({ obfuscate_recipient_data: obfuscate, show_message_contents: show });
      const fields = report.steps.flatMap((s) => [...(s.message?.fields ?? []), ...(s.request?.fields ?? [])]);
      expect(fields.length).toBeGreaterThan(0);
      for (const f of fields) expect(f.size).toBeGreaterThanOrEqual(0);

      if (obfuscate) {
        expect(report.recipient).toEqual({ id: 'user_ada' });
        expect(report.redactedFields.sort()).toEqual(['email', 'locale', 'name', 'phone_number']);
        for (const secret of ['ada@lovelace.example', 'Ada Lovelace', 'Lovelace', '+15550100']) expect(json).not.toContain(secret);
      } else {
        expect(report.recipient).toEqual(ADA);
        expect(json).toContain('ada@lovelace.example');
      }
      if (show) {
        expect(fields.every((f) => typeof f.text === 'string')).toBe(true);
        expect(json).toContain('Welcome aboard');
        expect(text(report, 'in_app_welcome', 'markdown_body')).toBe(
          obfuscate ? 'Welcome aboard, **[redacted: recipient.name]** ([redacted: recipient.email]).' : 'Welcome aboard, **Ada Lovelace** (ada@lovelace.example).',
        );
        expect(report.notes.join('\n')).toContain('--show-contents changes nothing');
      } else {
        expect(fields.every((f) => f.text === undefined)).toBe(true);
        for (const sentence of sentences) expect(json).not.toContain(sentence);
        expect(report.steps.find((s) => s.ref === 'in_app_welcome')!.message).toMatchObject({ contents: 'hidden', fields: [{ name: 'markdown_body', size: expect.any(Number) }, { name: 'action_url' }] });
        expect(report.notes.join('\n')).toContain('--show-contents does not override the environment');
      }
      // Conditions are evaluated on the real values either way; only what is shown changes.
      expect(ran(report)).toContain('in_app_welcome');
    });
  });

  it('masks values a condition read from the recipient', async () => {
    const options = await project();
    await setEnvironmentSetting({ ...options, environment: 'development', name: 'obfuscate-recipient-data', value: true });
    const report = await run(options, { data: { plan: 'team', seats: 2 }, trigger: { recipient: { ...ADA, email: 'ada@bigcorp.example' }, data: { plan: 'team', seats: 2 } } });
    expect(ran(report)).toContain('sms_team');
    expect(JSON.stringify(report)).not.toContain('ada@bigcorp.example');
    const condition = report.steps[0]!.branches![1]!.conditions!.conditions[1]!;
    expect(condition).toMatchObject({ variable: 'recipient.email', value: '[redacted]', result: true });
  });

  it('reports Liquid errors at their file, line and column, and keeps running', async () => {
    const options = await project();
    await write(options, { 'workflows/onboarding/email_followup/body.html': '<p>Hello</p>\n<p>{{ plan | }</p>\n' });
    const report = await run(options, { workingTree: true });
    expect(report.source.kind).toBe('working-tree');
    expect(report.issues).toEqual([
      expect.objectContaining({ file: 'workflows/onboarding/email_followup/body.html', line: 2, column: 4, code: 'liquid-syntax', step: 'email_followup', field: 'html_body' }),
    ]);
    expect(report.steps.find((s) => s.ref === 'email_followup')!.message!.fields.find((f) => f.name === 'html_body')).toMatchObject({ failed: true });
    expect(report.outcome).toBe('completed');
  });
});

describe('environment settings', () => {
  it('defaults to obfuscated and hidden in production, shown elsewhere, and changes one environment at a time', async () => {
    const options = await project();
    await createEnvironment({ ...options, slug: 'staging' });
    const config = await loadConfig(await openProject(options));
    expect(environmentSettingsOf(config, 'production')).toEqual({ obfuscate_recipient_data: true, show_message_contents: false });
    expect(environmentSettingsOf(config, 'staging')).toEqual({ obfuscate_recipient_data: false, show_message_contents: true });
    const changed = await setEnvironmentSetting({ ...options, environment: 'staging', name: 'obfuscate-recipient-data', value: true });
    expect(changed).toMatchObject({ changed: true, settings: { obfuscate_recipient_data: true, show_message_contents: true } });
    expect(changed.mergedInto.map((m) => m.environment).sort()).toEqual(['development', 'staging']);
    const again = await setEnvironmentSetting({ ...options, environment: 'staging', name: 'obfuscate-recipient-data', value: true });
    expect(again).toMatchObject({ changed: false, commit: null });
    const after = await loadConfig(await openProject(options));
    expect(environmentSettingsOf(after, 'production')).toEqual({ obfuscate_recipient_data: true, show_message_contents: false });
    expect(environmentSettingsOf(after, 'development')).toEqual({ obfuscate_recipient_data: false, show_message_contents: true });
    await promoteEnvironment({ ...options, environment: 'staging' });
    const staged = await run(options, { environment: 'staging' });
    expect(staged.recipient).toEqual({ id: 'user_ada' });
  });

  it('refuses unknown settings and environments', async () => {
    const options = await project();
    await expect(setEnvironmentSetting({ ...options, environment: 'development', name: 'show-secrets', value: true })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(setEnvironmentSetting({ ...options, environment: 'qa', name: 'show-message-contents', value: true })).rejects.toMatchObject({ code: 'UNKNOWN_ENVIRONMENT' });
  });
});
