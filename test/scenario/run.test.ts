import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEnvSet } from '../../src/cli/commands/env-set.js';
import { runRun } from '../../src/cli/commands/run.js';
import { knockResourceToFiles } from '../../src/core/knock-format/import.js';
import { commitChanges } from '../../src/core/ops/commit.js';
import { createEnvironment } from '../../src/core/ops/environments.js';
import { initProject } from '../../src/core/ops/init.js';
import { promoteEnvironment } from '../../src/core/ops/promote.js';
import { runWorkflow, type RunReport } from '../../src/core/ops/run.js';
import { resourceLiquidIssues } from '../../src/core/validate/liquid.js';
import { parseYaml } from '../../src/core/validate/yaml.js';
import { workingTreeReader } from '../../src/core/worktree.js';
import { captureIo } from '../helpers/io.js';
import { GIT_ENV, KNOCK_TEMPLATES, assertChain, coreOptionsFor, diskFs, filesUnder, git } from '../helpers/repo.js';

const NOW = '2026-02-03T10:00:00.000Z';
const ADA = { id: 'user_ada', email: 'ada@lovelace.example', name: 'Ada Lovelace', phone_number: '+15550100' };
const GRACE = { id: 'user_grace', name: 'Grace Hopper', email: 'grace@hopper.example' };

interface Sample {
  data: Record<string, unknown>;
  actor?: Record<string, unknown>;
  statuses?: Record<string, string>;
  /** Step ref → texts that must appear in its rendered message. */
  expect: Record<string, string[]>;
  /** Refs of channel steps that must be skipped. */
  skipped?: string[];
}

/** Sample trigger data for every workflow of Knock's template library, with what its messages must say. */
const SAMPLES: Record<string, Sample> = {
  'alert-digest': {
    data: { digest: { period: 'weekly' }, digest_key: 'ops', alert: { title: 'Disk almost full' } },
    expect: { email_1: ['Your weekly alert digest', 'You had **1** alert in your weekly digest', 'Disk almost full — Feb 3, 10:00 AM', 'https://app.acme.example/alerts'], in_app_feed_1: ['**1** alert in your weekly digest.'] },
  },
  alerts: {
    data: { event: 'deploy.failed', alert: { events: ['event'], batchWindow: null, channels: ['email', 'sms'] } },
    expect: { email_1: ['New alert for event deploy.failed', 'A new alert was triggered for the deploy.failed event at 2026-02-03T10:00:00.000Z'], sms_1: ['triggered for the deploy.failed event'] },
    skipped: ['in_app_feed_1'],
  },
  comments: {
    actor: GRACE,
    data: { page_id: 'roadmap', page_name: 'Roadmap', comment_body: 'Looks great to me' },
    expect: {
      in_app_feed_1: ['**Grace Hopper** left a comment on **Roadmap**.', '> Looks great to me', 'https://app.acme.example/pages/roadmap'],
      email_1: ['New activity on Roadmap', '**Grace Hopper** left a comment on **Roadmap**.', 'View comment'],
      push_1: ['New activity on Roadmap', 'Grace Hopper left a comment:', '"Looks great to me"'],
    },
  },
  'email-verification': {
    data: { verification_url: 'https://acme.example/verify/abc' },
    expect: { email_1: ['Verify your email for Knock', 'Hi Ada Lovelace,', '[https://acme.example/verify/abc](https://acme.example/verify/abc)'], email_2: ['Reminder: Verify your email for Knock', 'Verify email'] },
  },
  'first-milestone': {
    data: { milestone: { name: 'First workflow', url: 'https://acme.example/m/1' } },
    statuses: { in_app_feed_1: 'seen' },
    expect: { in_app_feed_1: ['You just completed **First workflow** 🎉', 'https://acme.example/m/1'] },
    skipped: ['email_1'],
  },
  'incident-escalation': {
    data: { incident: { severity: 'critical', title: 'Database down', description: 'The primary database does not answer.', url: 'https://status.acme.example/1' } },
    expect: {
      push_1: ['Critical incident: Database down', 'The primary database does not answer.'],
      sms_1: ['Critical incident: Database down. View details: https://status.acme.example/1'],
      email_1: ['Escalation: Database down', 'has not been acknowledged'],
    },
  },
  'invite-with-reminder': {
    actor: GRACE,
    data: { account_name: 'Acme', invite_token: 'tok123', invite_token_url: 'https://acme.example/invite/tok123', invite_message: 'Come build with us' },
    expect: {
      email_1: ['Grace invited you to join Acme on Knock', "You've been invited by Grace to join Acme on Knock.", '> Come build with us', 'https://app.acme.example/invites/account/tok123'],
      email_2: ["Reminder: You've been invited to join Acme on Knock"],
    },
  },
  'magic-link': { data: { magic_link_url: 'https://acme.example/login/xyz' }, expect: { email_1: ['Log in to Knock', '[https://acme.example/login/xyz](https://acme.example/login/xyz)'] } },
  mentions: {
    actor: GRACE,
    data: { page_id: 'specs', page_name: 'Specs', mention_body: 'what do you think?' },
    expect: { in_app_feed_1: ['**Grace Hopper** mentioned you on **Specs**.'], email_1: ['Grace Hopper mentioned you on Specs', '> what do you think?'], push_1: ['New mention on Specs', '"what do you think?"'] },
  },
  'onboarding-incomplete-reminder': {
    data: { onboarding_url: 'https://acme.example/setup', onboarding_step: 'Connect a channel' },
    expect: { in_app_feed_1: ['Complete **Connect a channel** to finish'], email_1: ['Finish setting up your Knock account', "haven't completed **Connect a channel** yet"] },
  },
  'password-changed': { data: {}, expect: { email_1: ['Your password was changed', 'support@knock.app'] } },
  'referral-accepted': {
    actor: GRACE,
    data: {},
    expect: { in_app_feed_1: ['**Grace Hopper** accepted your referral!', 'by inviting Grace to Knock'], email_1: ['Grace Hopper accepted your referral to Knock 🎉'] },
  },
  'referral-converted': {
    actor: GRACE,
    data: { conversion_action: 'upgraded to Pro' },
    expect: { in_app_feed_1: ['**Grace Hopper** upgraded to Pro via your referral!'], email_1: ['Grace Hopper upgraded to Pro via your referral', 'Hi Ada Lovelace,'] },
  },
  'referral-reward-earned': {
    data: { reward: { amount: '$25', type: 'credit', url: 'https://acme.example/rewards' } },
    expect: { in_app_feed_1: ['**You earned $25** in credit rewards!'], email_1: ['You earned $25 in referral rewards!', "you've earned **$25** in credit rewards"] },
  },
  'referral-sent': {
    actor: GRACE,
    data: { referral_token: 'ref42' },
    expect: { email_1: ['Grace invited you to try Knock', 'Hey there Ada Lovelace,', 'https://knock.app/referrals/ref42'], email_2: ['Reminder: Grace invited you to try Knock'] },
  },
  replies: {
    actor: GRACE,
    data: { comment_id: 'c1', page_id: 'roadmap', page_name: 'Roadmap', parent_comment_body: 'We should ship the new editor next week', reply_body: 'Agreed!' },
    expect: {
      email_1: ['New reply to your comment "We should ship the new..." on Roadmap', 'Grace Hopper replied to your comment on Roadmap.', 'View reply'],
      push_1: ['New reply on Roadmap', '"Agreed!"'],
    },
  },
  'reset-password': {
    actor: ADA,
    data: { reset_password_url: 'https://acme.example/reset/r1' },
    expect: { email_1: ['Reset your password', 'Hi Ada,', '[https://acme.example/reset/r1](https://acme.example/reset/r1)'] },
  },
  'trial-ending': {
    data: { plan_name: 'Pro', trial_end_date: 'March 3', upgrade_url: 'https://acme.example/upgrade' },
    expect: { email_1: ['Your Knock trial ends in 7 days', 'Your free trial of **Pro** ends on **March 3**.'], email_2: ['Your Knock trial ends in 3 days'], email_3: ['Last day of your Knock trial', 'Upgrade now'] },
  },
  'usage-threshold-alerts': {
    data: { threshold: { severity: 'critical', metric_name: 'API calls', percent: 95, channels: ['email', 'sms'] } },
    expect: { email_1: ['Critical: API calls at 95%', 'has reached **95%** of your limit'], sms_1: ['Critical alert: API calls is at 95% of your limit.'] },
  },
  'welcome-messages': { data: {}, expect: { in_app_feed_1: ['Welcome to Knock 🎉'], email_1: ['Welcome to Knock! 🎉', 'Knock on 🖖'] } },
};

let dir: string;
const WORKFLOWS: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'knock-env-run-'));
  await initProject(coreOptionsFor(dir));
  for (const key of await readdir(join(KNOCK_TEMPLATES, 'workflows'))) {
    const { files } = knockResourceToFiles('workflow', key, await filesUnder(join(KNOCK_TEMPLATES, 'workflows', key)));
    for (const [path, content] of files) {
      const target = join(dir, 'workflows', key, path);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, content);
    }
    WORKFLOWS.push(key);
  }
  await mkdir(join(dir, 'environments/development'), { recursive: true });
  await writeFile(join(dir, 'environments/development/variables.yaml'), 'app_url: https://app.acme.example\nsigning_key:\n  secret_env: ACME_SIGNING_KEY\n');
  await commitChanges({ ...coreOptionsFor(dir), message: 'Import the Knock template library' });
  await createEnvironment({ ...coreOptionsFor(dir), slug: 'staging' });
  await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'staging' });
  await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'production' });
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function runIn(env: string, key: string, sample: Sample, extra: { workingTree?: boolean } = {}): Promise<RunReport> {
  return runWorkflow({
    fs: diskFs,
    dir,
    actor: { name: 'Ada Lovelace', email: 'ada@example.com' },
    now: () => new Date(NOW),
    workflow: key,
    environment: env,
    ...extra,
    trigger: { recipient: ADA, ...(sample.actor ? { actor: sample.actor } : {}), data: sample.data },
    ...(sample.statuses ? { messageStatuses: sample.statuses } : {}),
  });
}

function messageText(report: RunReport, ref: string): string | undefined {
  const step = report.steps.find((s) => s.ref === ref && s.status === 'ran');
  return step?.message?.fields.map((f) => f.text ?? '').join('\n');
}

describe('knock-env run on the Knock template library', () => {
  it('has a sample for every workflow', () => {
    expect(WORKFLOWS.length).toBeGreaterThanOrEqual(20);
    expect(Object.keys(SAMPLES).sort()).toEqual([...WORKFLOWS].sort());
  });

  it.each(Object.entries(SAMPLES))('renders %s without Liquid errors, saying what it should', async (key, sample) => {
    const report = await runIn('development', key, sample);
    expect(report.issues).toEqual([]);
    expect(report.outcome).toBe('completed');
    expect(report.warnings.filter((w) => !w.includes('would not deliver'))).toEqual([]);
    for (const [ref, texts] of Object.entries(sample.expect)) {
      const text = messageText(report, ref);
      expect(text, `${key} ${ref}`).toBeDefined();
      for (const expected of texts) expect(text, `${key} ${ref}`).toContain(expected);
    }
    for (const ref of sample.skipped ?? []) expect(report.steps.find((s) => s.ref === ref)?.status, `${key} ${ref}`).toBe('skipped');
    // No Liquid markup survives rendering.
    for (const step of report.steps) for (const field of step.message?.fields ?? []) expect(field.text ?? '', `${key} ${step.ref} ${field.name}`).not.toMatch(/\{\{|\{%/);
  });

  it('follows branches by the data: the other branch of each branching workflow', async () => {
    const batched = await runIn('development', 'alerts', { ...SAMPLES.alerts!, data: { event: 'deploy.failed', alert: { events: ['event'], batchWindow: '2026-02-04T00:00:00Z', channels: ['in-app'] } } });
    expect(batched.steps[0]!.branches!.find((b) => b.chosen)).toMatchObject({ name: 'Daily or Weekly', default: true });
    expect(batched.steps.filter((s) => s.status === 'ran').map((s) => s.ref)).toEqual(['branch_1', 'batch_1', 'in_app_feed_2']);
    expect(messageText(batched, 'in_app_feed_2')).toContain('1 new alert was triggered for the **deploy.failed** event');
    expect(batched.steps.find((s) => s.ref === 'batch_1')!.summary).toContain('until the time at data.alert.batchWindow');

    const warning = await runIn('development', 'incident-escalation', { ...SAMPLES['incident-escalation']!, data: { incident: { severity: 'warning', title: 'Slow queries', description: 'p95 above 2s', url: 'https://status/2' } } });
    expect(warning.steps.filter((s) => s.status === 'ran').map((s) => s.ref)).toEqual(['branch_1', 'email_2']);
    expect(messageText(warning, 'email_2')).toContain('Warning: Slow queries');
    expect(messageText(warning, 'email_2')).toContain('## Warning incident');

    const halted = await runIn('development', 'alerts', { ...SAMPLES.alerts!, data: { alert: { events: ['other'] } } });
    expect(halted.outcome).toBe('halted');
    expect(halted.conditions?.result).toBe(false);
    expect(halted.steps).toEqual([]);

    const seen = await runIn('development', 'incident-escalation', { ...SAMPLES['incident-escalation']!, statuses: { push_1: 'seen' } });
    expect(seen.steps.find((s) => s.ref === 'email_1')).toMatchObject({ status: 'skipped' });
  });

  it('masks production by default: no recipient detail, no rendered sentence', async () => {
    const sample = SAMPLES['email-verification']!;
    const report = await runIn('production', 'email-verification', sample);
    expect(report.settings).toEqual({ obfuscate_recipient_data: true, show_message_contents: false });
    expect(report.recipient).toEqual({ id: 'user_ada' });
    const json = JSON.stringify(report);
    for (const hidden of ['ada@lovelace.example', 'Ada Lovelace', '+15550100', 'Hi ', 'Verify your email', 'https://acme.example/verify/abc']) expect(json).not.toContain(hidden);
    expect(report.steps.find((s) => s.ref === 'email_1')!.message!.fields.map((f) => f.name)).toEqual([
      'subject',
      'visual_blocks[0].content',
      'visual_blocks[1].buttons[0].label',
      'visual_blocks[1].buttons[0].action',
      'visual_blocks[3].content',
    ]);
  });

  it('reports a Liquid syntax error inside an @ file at its line and column (--working-tree)', async () => {
    const file = join(dir, 'workflows/comments/email_1/visual_blocks/1.content.md');
    const original = await readFile(file, 'utf8');
    const broken = original.replace('{% elsif  total_activities > 1 %}', '{% elsif  total_activities > 1 %}\n  {% endunless %}');
    await writeFile(file, broken);
    const blocks = join(dir, 'workflows/comments/email_1/visual_blocks.json');
    const blocksOriginal = await readFile(blocks, 'utf8');
    const blocksBroken = blocksOriginal.replace('"{{ vars.app_url }}/pages/{{ page_id }}"', '"{{ vars.app_url }}/pages/{% if page_id %}{{ page_id }}"');
    await writeFile(blocks, blocksBroken);
    const placeOf = (text: string, needle: string) => {
      const lines = text.split('\n');
      const line = lines.findIndex((l) => l.includes(needle));
      return { line: line + 1, column: lines[line]!.indexOf(needle) + 1 };
    };
    try {
      const report = await runIn('development', 'comments', SAMPLES.comments!, { workingTree: true });
      expect(report.issues.map(({ file, line, column, code, step, field }) => ({ file, line, column, code, step, field }))).toEqual([
        { file: 'workflows/comments/email_1/visual_blocks/1.content.md', ...placeOf(broken, '{% endunless'), code: 'liquid-syntax', step: 'email_1', field: 'visual_blocks[0].content' },
        { file: 'workflows/comments/email_1/visual_blocks.json', ...placeOf(blocksBroken, '{% if page_id'), code: 'liquid-syntax', step: 'email_1', field: 'visual_blocks[1].buttons[0].action' },
      ]);
      expect(placeOf(broken, '{% endunless')).toEqual({ line: 4, column: 3 });
      // The same places as validation finds, from the files alone.
      const text = await readFile(join(dir, 'workflows/comments/workflow.yaml'), 'utf8');
      const project = { fs: diskFs, dir, gitdir: join(dir, '.git'), cache: {} };
      const issues = await resourceLiquidIssues(parseYaml(text, 'workflows/comments/workflow.yaml').data, workingTreeReader(project), 'workflows/comments');
      expect(issues.map(({ file, line, column }) => `${file}:${line}:${column}`).sort()).toEqual(report.issues.map(({ file, line, column }) => `${file}:${line}:${column}`).sort());
      // The committed head is unaffected.
      expect((await runIn('development', 'comments', SAMPLES.comments!)).issues).toEqual([]);
    } finally {
      await writeFile(file, original);
      await writeFile(blocks, blocksOriginal);
    }
  });
});


/** A captured Io in the shape these tests use: the Io, and what it printed. */
function fakeIo(cwd: string) {
  const io = captureIo(cwd, { ...GIT_ENV, KNOCK_ENV_NOW: NOW });
  return { io, out: io.stdout, err: io.stderr };
}

describe('the run and env set commands', () => {
  it('prints each message step by step, and JSON with --json', async () => {
    const { io, out, err } = fakeIo(dir);
    const code = await runRun(io, 'comments', {
      recipient: JSON.stringify(ADA),
      actor: JSON.stringify(GRACE),
      data: JSON.stringify(SAMPLES.comments!.data),
      messageStatus: ['in_app_feed_1=seen'],
    });
    expect(code).toBe(0);
    expect(out()).toContain('Run of comments ("Comments") in development at');
    expect(out()).toContain('markdown_body (75 B, workflows/comments/in_app_feed_1/markdown_body.md)\n     │   **Grace Hopper** left a comment on **Roadmap**.');
    expect(out()).toMatch(/4\. email_1 channel Email\n {3}✗ refs\.in_app_feed_1\.status less_than \$message\.seen/);
    expect(out()).toContain('completed: 1 message would be sent.');
    expect(err()).toBe('');

    const production = fakeIo(dir);
    expect(await runRun(production.io, 'comments', { env: 'production', recipient: JSON.stringify(ADA), actor: JSON.stringify(GRACE), data: JSON.stringify(SAMPLES.comments!.data) })).toBe(0);
    expect(production.out()).toContain('recipient user_ada (recipient data obfuscated in production: email, name, phone_number hidden)');
    expect(production.out()).toContain('message contents are hidden in production: fields and sizes only');
    expect(production.out()).toMatch(/markdown_body \(\d+ B, workflows\/comments\/in_app_feed_1\/markdown_body\.md\)/);
    for (const hidden of ['ada@lovelace.example', 'Ada Lovelace', 'left a comment', 'Looks great', '│']) expect(production.out() + production.err()).not.toContain(hidden);

    const dataFile = `${dir}-data.json`;
    await writeFile(dataFile, JSON.stringify(SAMPLES.comments!.data));
    try {
      const json = fakeIo(dir);
      expect(await runRun(json.io, 'comments', { recipient: 'user_ada', data: dataFile, env: 'production', showContents: true, json: true })).toBe(0);
      const report = JSON.parse(json.out()) as RunReport;
      expect(report).toMatchObject({ environment: 'production', recipient: { id: 'user_ada' }, outcome: 'completed', messageCount: 3 });
      expect(report.notes.join('\n')).toContain('--show-contents does not override the environment');
    } finally {
      await rm(dataFile, { force: true });
    }
  });

  it('exits 3 on a Liquid error or trigger data the schema refuses; refuses bad input as a usage error', async () => {
    const { io } = fakeIo(dir);
    await expect(runRun(io, 'comments', { recipient: '{"id":', data: '{}' })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(runRun(io, 'comments', { recipient: 'user_ada', data: 'missing-file.json' })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(runRun(io, 'comments', {})).rejects.toMatchObject({ code: 'USAGE' });
    const file = join(dir, 'workflows/mentions/push_1/text_body.txt');
    const original = await readFile(file, 'utf8');
    await writeFile(file, `${original}{% endfor %}`);
    try {
      const broken = fakeIo(dir);
      expect(await runRun(broken.io, 'mentions', { recipient: 'user_ada', data: '{"page_name":"Specs"}', workingTree: true })).toBe(3);
      expect(broken.out()).toMatch(/Liquid problems:\n {2}workflows\/mentions\/push_1\/text_body\.txt:3:\d+ error Liquid: tag "endfor" not found \[liquid-syntax\] \(push_1, text_body\)/);
    } finally {
      await writeFile(file, original);
    }
    const workflowFile = join(dir, 'workflows/mentions/workflow.yaml');
    const workflowText = await readFile(workflowFile, 'utf8');
    await writeFile(workflowFile, `${workflowText}trigger_data_json_schema:\n  type: object\n  required: [page_name]\n`);
    try {
      const refused = fakeIo(dir);
      expect(await runRun(refused.io, 'mentions', { recipient: 'user_ada', data: '{"page_id":"specs"}', workingTree: true })).toBe(3);
      expect(refused.out()).toContain("trigger data does not match trigger_data_json_schema:\n    ✗ data must have required property 'page_name'");
      expect(refused.out()).toContain('halted: 0 messages would be sent.');
    } finally {
      await writeFile(workflowFile, workflowText);
    }
  });

  it('sets obfuscation per environment with a commit on production, merged down; git sees it', async () => {
    const before = await git(dir, 'rev-parse', 'production');
    const { io, err } = fakeIo(dir);
    expect(await runEnvSet(io, 'staging', 'show-message-contents', 'off', {})).toBe(0);
    expect(err()).toContain('show-message-contents is now off in staging');
    const json = fakeIo(dir);
    expect(await runEnvSet(json.io, 'staging', 'obfuscate-recipient-data', 'on', { json: true })).toBe(0);
    expect(JSON.parse(json.out())).toMatchObject({ environment: 'staging', name: 'obfuscate-recipient-data', value: true, changed: true, settings: { obfuscate_recipient_data: true, show_message_contents: false } });
    const again = fakeIo(dir);
    await runEnvSet(again.io, 'staging', 'obfuscate-recipient-data', 'on', {});
    expect(again.err()).toContain('already on');
    await expect(runEnvSet(again.io, 'staging', 'obfuscate-recipient-data', 'maybe', {})).rejects.toMatchObject({ code: 'USAGE' });

    expect(await git(dir, 'rev-list', '--count', `${before}..production`)).toBe('2');
    expect(await git(dir, 'log', '-1', '--format=%s%n%(trailers:key=Knock-Env-Operation,valueonly)', 'production')).toBe('Turn obfuscate-recipient-data on in staging\nsettings');
    expect(await git(dir, 'show', 'staging:knock-env.yaml')).toMatch(/slug: staging[\s\S]*obfuscate_recipient_data: true\n\s*show_message_contents: false/);
    await assertChain(dir, ['development', 'staging', 'production']);
    await git(dir, 'fsck', '--no-progress', '--strict');
    expect(await git(dir, 'status', '--porcelain')).toBe('');

    const report = await runIn('staging', 'mentions', SAMPLES.mentions!);
    expect(report.recipient).toEqual({ id: 'user_ada' });
    expect(report.steps.every((s) => s.message === undefined || s.message.fields.every((f) => f.text === undefined))).toBe(true);
    const dev = await runIn('development', 'mentions', SAMPLES.mentions!);
    expect(dev.settings).toEqual({ obfuscate_recipient_data: false, show_message_contents: true });
  });
});

describe('masking branch conditions', () => {
  it('hides the recipient values a branch was chosen on', async () => {
    const project = await mkdtemp(join(tmpdir(), 'knock-env-run-branch-'));
    try {
      await initProject(coreOptionsFor(project));
      await mkdir(join(project, 'workflows/plan-upsell'), { recursive: true });
      await writeFile(
        join(project, 'workflows/plan-upsell/workflow.yaml'),
        [
          'name: Plan upsell',
          'steps:',
          '  - ref: branch_1',
          '    type: branch',
          '    branches:',
          '      - name: Gold',
          '        conditions:',
          '          all:',
          '            - { variable: recipient.plan, operator: equal_to, argument: vip }',
          '        steps:',
          '          - { ref: in_app_feed_1, type: channel, channel_key: feed, channel_type: in_app_feed, template: { markdown_body: "Thanks for staying gold" } }',
          '      - name: Others',
          '        steps: []',
          '',
        ].join('\n'),
      );
      await commitChanges({ ...coreOptionsFor(project), message: 'Add upsell' });
      await promoteEnvironment({ ...coreOptionsFor(project), environment: 'production' });
      const report = await runWorkflow({
        fs: diskFs,
        dir: project,
        actor: { name: 'Ada Lovelace', email: 'ada@example.com' },
        workflow: 'plan-upsell',
        environment: 'production',
        trigger: { recipient: { id: 'user_1', plan: 'vip' }, data: {} },
      });
      const branch = report.steps.find((s) => s.ref === 'branch_1')!;
      expect(branch.branches!.find((b) => b.chosen)!.name).toBe('Gold');
      const condition = branch.branches![0]!.conditions!.conditions[0] as { value?: unknown };
      expect(condition.value).toBe('[redacted]');
    } finally {
      await rm(project, { recursive: true, force: true });
    }
  });
});
