// Deterministic generator of realistic Knock workflows for the benchmark.
//
// Every workflow is one file, workflows/<key>/workflow.yaml (~1.3 KB), with a name,
// description, categories, a trigger_data_json_schema and 3 to 5 steps mixing batch,
// delay and channel steps (in-app feed, email, SMS, push, chat) with inline templates.
// Keys are wf-00000, wf-00001, ...; the content of wf-00042 depends only on the seed and
// the index, so the same workflow is identical at every repository size.
//
// As a library:  generateWorkflow(i, { seed, style }), workflowKey(i),
//                writeWorkflows(dir, indices, { seed, style }), editDescription(dir, i, tag)
// As a command:  node scripts/bench/generate.mjs <dir> [--count 1000] [--seed 7] [--style mixed|block]
//                (writes <dir>/workflows/... and prints the count and total size)

import { Buffer } from 'node:buffer';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const DEFAULT_SEED = 7;

/** mulberry32: small, fast, good enough for test data. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes the run seed and the workflow index into one 32-bit seed. */
function seedFor(seed, index) {
  let h = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  return h >>> 0;
}

const THEMES = [
  { noun: 'comment', title: 'Comment', category: 'comments', id: 'comment_id', parent: 'page', verb: 'commented on' },
  { noun: 'mention', title: 'Mention', category: 'mentions', id: 'mention_id', parent: 'document', verb: 'mentioned you in' },
  { noun: 'invite', title: 'Invite', category: 'collaboration', id: 'invite_id', parent: 'workspace', verb: 'invited you to' },
  { noun: 'invoice', title: 'Invoice', category: 'billing', id: 'invoice_id', parent: 'account', verb: 'issued an invoice for' },
  { noun: 'alert', title: 'Alert', category: 'alerts', id: 'alert_id', parent: 'service', verb: 'raised an alert on' },
  { noun: 'deployment', title: 'Deployment', category: 'deployments', id: 'deployment_id', parent: 'project', verb: 'deployed' },
  { noun: 'approval', title: 'Approval', category: 'approvals', id: 'request_id', parent: 'request', verb: 'asked for approval of' },
  { noun: 'task', title: 'Task', category: 'tasks', id: 'task_id', parent: 'board', verb: 'assigned you a task in' },
  { noun: 'order', title: 'Order', category: 'orders', id: 'order_id', parent: 'store', verb: 'placed an order in' },
  { noun: 'report', title: 'Report', category: 'reports', id: 'report_id', parent: 'dashboard', verb: 'shared a report from' },
  { noun: 'reply', title: 'Reply', category: 'comments', id: 'reply_id', parent: 'thread', verb: 'replied in' },
  { noun: 'security event', title: 'Security', category: 'security', id: 'event_id', parent: 'account', verb: 'signed in to' },
];
const KINDS = ['digest', 'notification', 'reminder', 'update', 'summary', 'escalation'];
const EXTRA_CATEGORIES = ['transactional', 'product', 'activity', 'account'];
const AUDIENCES = ['the recipient', 'workspace admins', 'the owner', 'every member', 'the assignee'];
const CHANNELS = {
  in_app_feed: ['in-app-feed', 'knock-feed'],
  email: ['sendgrid', 'postmark', 'knock-email'],
  sms: ['twilio'],
  push: ['apns', 'fcm'],
  chat: ['slack'],
};
const UNITS = ['minutes', 'hours'];

export function workflowKey(index) {
  return `wf-${String(index).padStart(5, '0')}`;
}

export function workflowPath(index) {
  return `workflows/${workflowKey(index)}/workflow.yaml`;
}

const q = (s) => JSON.stringify(s);

/**
 * The YAML text of workflow number `index`. Style "mixed" (the default) writes small maps
 * and lists in flow style (`{ unit: minutes, value: 15 }`, `[comments]`), as people do by
 * hand; "block" writes the same data in block style only.
 */
export function generateWorkflow(index, { seed = DEFAULT_SEED, style = 'mixed' } = {}) {
  if (style !== 'mixed' && style !== 'block') throw new Error(`unknown style "${style}" (mixed or block)`);
  const block = style === 'block';
  const seq = (indent, key, items) => (block ? [`${indent}${key}:`, ...items.map((i) => `${indent}  - ${i}`)] : [`${indent}${key}: [${items.join(', ')}]`]);
  const map = (indent, key, pairs) =>
    block ? [`${indent}${key}:`, ...pairs.map(([k, v]) => `${indent}  ${k}: ${v}`)] : [`${indent}${key}: { ${pairs.map(([k, v]) => `${k}: ${v}`).join(', ')} }`];
  const rnd = prng(seedFor(seed, index));
  const pick = (list) => list[Math.floor(rnd() * list.length)];
  const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
  const theme = pick(THEMES);
  const kind = pick(KINDS);
  const number = String(index).padStart(4, '0');
  const name = `${theme.title} ${kind} ${number}`;
  const audience = pick(AUDIENCES);
  const categories = [theme.category];
  if (rnd() < 0.4) categories.push(pick(EXTRA_CATEGORIES.filter((c) => c !== theme.category)));

  // 3 to 5 steps: an optional batch first, then channels, with an optional delay between them.
  const stepCount = int(3, 5);
  const plan = [];
  if (rnd() < 0.5) plan.push('batch');
  const channelTypes = Object.keys(CHANNELS);
  let first = rnd() < 0.7 ? 'in_app_feed' : pick(channelTypes);
  plan.push(first);
  while (plan.length < stepCount) {
    const wantDelay = !plan.includes('delay') && plan.length < stepCount - 1 && rnd() < 0.6;
    if (wantDelay) plan.push('delay');
    else plan.push(pick(channelTypes.filter((t) => !plan.includes(t))));
  }

  const lines = [];
  lines.push(`name: ${q(name)}`);
  lines.push(`description: ${q(`Tells ${audience} when someone ${theme.verb} a ${theme.parent} (${kind}).`)}`);
  lines.push(...seq('', 'categories', categories));
  lines.push('trigger_data_json_schema:');
  lines.push('  type: object');
  lines.push(...seq('  ', 'required', [theme.id, `${theme.parent}_name`]));
  lines.push('  properties:');
  lines.push(`    ${theme.id}:`);
  lines.push('      type: string');
  lines.push(`    ${theme.parent}_name:`);
  lines.push('      type: string');
  if (rnd() < 0.5) {
    lines.push('    url:');
    lines.push('      type: string');
  }
  lines.push('steps:');

  const counters = {};
  let seenInApp = null;
  let afterDelay = false;
  for (const type of plan) {
    counters[type] = (counters[type] ?? 0) + 1;
    const ref = `${type}_${counters[type]}`;
    lines.push(`  - ref: ${ref}`);
    if (type === 'batch') {
      lines.push('    type: batch');
      lines.push('    settings:');
      lines.push(`      batch_key: ${theme.id}`);
      const unit = pick(UNITS);
      lines.push(...map('      ', 'batch_window', [['unit', unit], ['value', pick([5, 10, 15, 30, 60])]]));
      lines.push(`      batch_order: ${pick(['asc', 'desc'])}`);
      lines.push('      batch_execution_mode: accumulate');
      lines.push('      batch_window_type: fixed');
      continue;
    }
    if (type === 'delay') {
      lines.push('    type: delay');
      lines.push('    settings:');
      const unit = pick(UNITS);
      lines.push(...map('      ', 'delay_for', [['unit', unit], ['value', int(1, 48)]]));
      afterDelay = true;
      continue;
    }
    lines.push('    type: channel');
    lines.push(`    channel_key: ${pick(CHANNELS[type])}`);
    lines.push(`    channel_type: ${type === 'chat' ? 'chat' : type}`);
    if (afterDelay && seenInApp) {
      lines.push('    conditions:');
      lines.push('      all:');
      const condition = [['variable', `refs.${seenInApp}.status`], ['operator', 'less_than'], ['argument', '$message.seen']];
      if (block) lines.push(...condition.map(([k, v], i) => `        ${i === 0 ? '- ' : '  '}${k}: ${v}`));
      else lines.push(`        - { ${condition.map(([k, v]) => `${k}: ${v}`).join(', ')} }`);
      afterDelay = false;
    }
    lines.push('    template:');
    const link = `{{ vars.app_url }}/${theme.parent}s/{{ data.${theme.id} }}`;
    const who = '{{ actor.name }}';
    const where = `{{ data.${theme.parent}_name }}`;
    if (type === 'in_app_feed') {
      seenInApp = ref;
      lines.push(`      action_url: ${q(link)}`);
      const more = plan.includes('batch') ? '{% if total_activities > 1 %} (+{{ total_activities | minus: 1 }}){% endif %}' : '';
      lines.push(`      markdown_body: ${q(`**${who}** ${theme.verb} **${where}**${more}`)}`);
    } else if (type === 'email') {
      lines.push(`      subject: ${q(`${who} ${theme.verb} ${where}`)}`);
      lines.push(`      html_body: ${q(`<p>${who} ${theme.verb} <a href="${link}">${where}</a>.</p>`)}`);
      lines.push(...map('      ', 'settings', [['layout_key', 'default']]));
    } else if (type === 'sms') {
      lines.push(`      text_body: ${q(`${who} ${theme.verb} ${where}: ${link}`)}`);
    } else if (type === 'push') {
      lines.push(`      title: ${q(`New ${theme.noun} in ${where}`)}`);
      lines.push(`      text_body: ${q(`${who} ${theme.verb} ${where}`)}`);
      lines.push(...map('      ', 'settings', [['delivery_type', 'content']]));
    } else {
      lines.push(`      markdown_body: ${q(`*${who}* ${theme.verb} <${link}|${where}>`)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Writes the given workflows under `dir`; returns the bytes written. */
export function writeWorkflows(dir, indices, options = {}) {
  let bytes = 0;
  for (const i of indices) {
    const text = generateWorkflow(i, options);
    mkdirSync(join(dir, 'workflows', workflowKey(i)), { recursive: true });
    writeFileSync(join(dir, workflowPath(i)), text);
    bytes += Buffer.byteLength(text);
  }
  return bytes;
}

/** Replaces the description line of an existing workflow file (whatever else the file now holds). */
export function editDescription(dir, index, tag) {
  const file = join(dir, workflowPath(index));
  const text = readFileSync(file, 'utf8');
  const edited = text.replace(/^description: .*$/m, `description: ${q(`Edited for the benchmark (${tag}).`)}`);
  if (edited === text) throw new Error(`${file}: no description line to edit`);
  writeFileSync(file, edited);
}

export function range(from, count) {
  return Array.from({ length: count }, (_, k) => from + k);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = parseArgs({
    options: {
      count: { type: 'string', default: '1000' },
      seed: { type: 'string', default: String(DEFAULT_SEED) },
      style: { type: 'string', default: 'mixed' },
    },
    allowPositionals: true,
  });
  if (positionals.length !== 1) {
    console.error('usage: node scripts/bench/generate.mjs <dir> [--count 1000] [--seed 7] [--style mixed|block]');
    process.exit(2);
  }
  const count = Number(values.count);
  const bytes = writeWorkflows(positionals[0], range(0, count), { seed: Number(values.seed), style: values.style });
  console.log(`${count} workflows, ${(bytes / 1024).toFixed(0)} KB (${(bytes / count).toFixed(0)} bytes each on average) in ${positionals[0]}/workflows`);
}
