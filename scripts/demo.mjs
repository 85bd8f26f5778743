#!/usr/bin/env node
// The README's first command: a knock-env project from init to production,
// in a temporary directory, from the demo resources in fixtures/demo.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';

const root = resolve(import.meta.dirname, '..');
const bin = join(root, 'bin/knock-env.js');
const keep = process.argv.includes('--keep');
const dir = await mkdtemp(join(tmpdir(), 'knock-env-demo-'));
const env = {
  ...process.env,
  GIT_AUTHOR_NAME: process.env.GIT_AUTHOR_NAME ?? 'Demo Engineer',
  GIT_AUTHOR_EMAIL: process.env.GIT_AUTHOR_EMAIL ?? 'demo@example.com',
  GIT_COMMITTER_NAME: process.env.GIT_COMMITTER_NAME ?? 'Demo Engineer',
  GIT_COMMITTER_EMAIL: process.env.GIT_COMMITTER_EMAIL ?? 'demo@example.com',
};

const bold = (s) => (process.stdout.isTTY && !process.env.NO_COLOR ? `\x1b[1m${s}\x1b[0m` : s);

async function step(title, command, args, { cwd = dir, allowFail = false, extraEnv = {}, shown } = {}) {
  process.stdout.write(`\n${bold(`── ${title}`)}\n$ ${shown ?? `${command === 'node' ? 'knock-env' : command} ${(command === 'node' ? args.slice(1) : args).join(' ')}`}\n`);
  const result = await execa(command, args, { cwd, env: { ...env, ...extraEnv }, reject: false, all: true });
  if (result.all) process.stdout.write(`${result.all}\n`);
  if (result.exitCode !== 0 && !allowFail) {
    process.stdout.write(`(exit ${result.exitCode})\n`);
    throw new Error(`demo step failed: ${title}`);
  }
  return result;
}
const ke = (title, args, options) => step(title, 'node', [bin, ...args], options);

try {
  await ke('Create a project', ['init', dir]);
  await ke('Add a staging environment (directly below production)', ['env', 'create', 'staging']);
  await cp(join(root, 'fixtures/demo/workflows'), join(dir, 'workflows'), { recursive: true });
  await cp(join(root, 'fixtures/demo/guides'), join(dir, 'guides'), { recursive: true });
  await cp(join(root, 'fixtures/demo/layouts'), join(dir, 'layouts'), { recursive: true });
  await cp(join(root, 'fixtures/demo/message-types'), join(dir, 'message-types'), { recursive: true });
  await cp(join(root, 'fixtures/demo/environments/development'), join(dir, 'environments/development'), { recursive: true });
  await ke('What changed in the working tree', ['status']);
  await ke('Validate everything', ['validate']);
  await ke('Commit to development', ['commit', '-m', 'Add the demo workflows and guides']);
  await ke('The plan for staging (nothing moves)', ['promote', 'staging', '--dry-run']);
  await ke('Promote to staging', ['promote', 'staging', '--yes']);
  await ke('Promote to production', ['promote', 'production', '--yes']);

  // Production's own channels, variables and branding are committed in production, and never promoted.
  await ke('Switch to production', ['checkout', 'production']);
  await cp(join(root, 'fixtures/demo/environments/production'), join(dir, 'environments/production'), { recursive: true });
  await ke("Commit production's channels and variables there (merged down, read-only below)", ['commit', '-m', 'Production channels, variables and branding']);
  await ke('Back to development', ['checkout', 'development']);

  // A second change in development: reword a workflow and drop one of its steps, retire a guide.
  const workflows = (await execa('ls', [join(dir, 'workflows')])).stdout.split('\n').filter(Boolean);
  const first = join(dir, 'workflows', workflows[0], 'workflow.yaml');
  const text = await readFile(first, 'utf8');
  const [head, steps = ''] = text.split(/^steps:\n/m);
  const kept = steps.split(/^(?= {2}- )/m).filter(Boolean);
  await writeFile(first, `${head.replace(/^description: .*$/m, 'description: Edited in development for the demo.')}steps:\n${kept.slice(0, -1).join('')}`);
  const guides = (await execa('ls', [join(dir, 'guides')])).stdout.split('\n').filter(Boolean);
  await rm(join(dir, 'guides', guides[guides.length - 1]), { recursive: true });
  await ke('Status after editing', ['status']);
  await ke('Commit the edit', ['commit', '-m', `Reword ${workflows[0]}; retire a guide`]);
  await ke('Promote to staging', ['promote', 'staging', '--yes']);
  await ke('What production would take from staging', ['diff', 'production', 'staging']);
  await step('The same story in plain git', 'git', ['diff', '--stat', 'production', 'staging']);
  await ke('Promote to production', ['promote', 'production', '--yes']);
  await ke('Roll production back (a new commit; history is kept)', ['rollback', 'production', '--yes']);
  await ke('Promotions and rollbacks of production', ['log', 'production', '--promotions']);
  await ke('Promote again: the content comes back', ['promote', 'production', '--yes']);
  await ke('History of production', ['log', 'production', '-n', '8']);
  await ke('Check the chain, ownership, validity and audit trail', ['doctor']);

  // Test a workflow before and after promotion: nothing is sent; production masks what it shows.
  const recipient = JSON.stringify({ id: 'user-42', name: 'Mina Okafor', email: 'mina@example.com', phone_number: '+15550100', reminder_channel: 'sms' });
  const data = JSON.stringify({ plant: { name: 'Fiddle-leaf fig', water_ml: 250, next_watering_at: '2026-11-23T08:00:00Z', archived: false } });
  await ke('Run a workflow in development: full output', ['run', 'watering-reminder', '--env', 'development', '--recipient', recipient, '--data', data]);
  await ke('The same run in production: recipient data masked, message contents hidden', ['run', 'watering-reminder', '--env', 'production', '--recipient', recipient, '--data', data]);
  await ke('Environments', ['env', 'list']);
  await step('Branches, as git sees them', 'git', ['log', '--oneline', '--graph', '--decorate', '--all']);
  await step('The working tree is clean for git', 'git', ['status', '--short', '--branch']);
  await step('And the repository is sound', 'git', ['fsck', '--no-progress']);
  await team();
  await deployToKnock();
  process.stdout.write(`\n${bold('Done.')} ${keep ? `The project is kept at ${dir}` : 'Run with --keep to keep the project.'}\n`);
} finally {
  if (!keep) await rm(dir, { recursive: true, force: true });
}

/**
 * A team shares the project through a knock-env server: a teammate commits
 * from their clone, the demo engineer promotes against the server's state,
 * and a plain-git push that breaks the rules is refused by the server's hook.
 */
async function team() {
  const place = join(dir, '.team');
  const bare = join(place, 'notifications.git');
  const mate = join(place, 'teammate');
  await ke('Add a teammate (an account change: committed on production, merged down)', ['members', 'add', 'teammate@example.com', '--role', 'member']);
  await step('A bare repository for the team server', 'git', ['clone', '--bare', '-q', dir, bare]);
  await ke('Install the server hook', ['server', 'install', bare]);
  const token = async (email) => JSON.parse((await execa('node', [bin, 'server', 'add-user', bare, email, '--json'], { env })).stdout).token;
  const tokens = { demo: await token(env.GIT_AUTHOR_EMAIL), mate: await token('teammate@example.com') };
  process.stdout.write(`\n${bold('── Serve it (git http-backend behind members\' tokens), on 127.0.0.1')}\n$ knock-env serve ${bare} --port 0 &\n`);
  const server = execa('node', [bin, 'serve', bare, '--port', '0'], { env, reject: false });
  const url = await new Promise((resolveUrl, rejectUrl) => {
    let out = '';
    server.stdout.on('data', (chunk) => {
      out += chunk;
      const found = /http:\/\/127\.0\.0\.1:\d+\/\S+/.exec(out);
      if (found) resolveUrl(found[0]);
    });
    server.on('exit', () => rejectUrl(new Error('knock-env serve stopped')));
  });
  process.stdout.write(`${url}\n`);
  try {
    const demoAuth = { KNOCK_ENV_GIT_USERNAME: env.GIT_AUTHOR_EMAIL, KNOCK_ENV_GIT_PASSWORD: tokens.demo };
    const mateEnv = { GIT_AUTHOR_NAME: 'Tomi Teammate', GIT_AUTHOR_EMAIL: 'teammate@example.com', GIT_COMMITTER_NAME: 'Tomi Teammate', GIT_COMMITTER_EMAIL: 'teammate@example.com', KNOCK_ENV_GIT_USERNAME: 'teammate@example.com', KNOCK_ENV_GIT_PASSWORD: tokens.mate };
    await step('Point the project at the server', 'git', ['remote', 'add', 'origin', url]);
    await step('The teammate clones it', 'git', ['clone', '-q', url.replace('http://', `http://teammate%40example.com:${tokens.mate}@`), mate], { shown: `git clone ${url} teammate    # user teammate@example.com, their token` });
    await step('(the clone keeps no password in its configuration)', 'git', ['remote', 'set-url', 'origin', url], { cwd: mate });
    await ke('The teammate sets up the environment branches', ['pull'], { cwd: mate, extraEnv: mateEnv });
    const workflows = (await execa('ls', [join(mate, 'workflows')])).stdout.split('\n').filter(Boolean);
    const file = join(mate, 'workflows', workflows[1] ?? workflows[0], 'workflow.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace(/^description: .*$/m, 'description: Reworded by a teammate.'));
    await ke('The teammate commits: fetched, checked, committed and pushed in one step', ['commit', '-m', 'Reword a workflow'], { cwd: mate, extraEnv: mateEnv });
    await ke('Meanwhile: how this clone stands against the server', ['fetch'], { extraEnv: demoAuth });
    await ke("Promote to staging: against the server's state, a compare-and-swap push", ['promote', 'staging', '--yes'], { extraEnv: demoAuth });
    await ke('The teammate pulls the promotion', ['pull'], { cwd: mate, extraEnv: mateEnv });
    await step('...and tries to edit staging directly with plain git', 'git', ['checkout', '-q', 'staging'], { cwd: mate });
    await writeFile(file, (await readFile(file, 'utf8')).replace(/^description: .*$/m, 'description: Edited on staging behind the process.'));
    await step('(commit it with git)', 'git', ['commit', '-qam', 'Quick fix on staging'], { cwd: mate, extraEnv: mateEnv });
    const mateUrl = url.replace('http://', `http://teammate%40example.com:${tokens.mate}@`);
    await step("...and the server's hook refuses the push", 'git', ['push', mateUrl, 'staging'], { cwd: mate, allowFail: true, extraEnv: mateEnv, shown: 'git push origin staging' });
    await step('The server is sound and its chain holds', 'git', ['fsck', '--no-progress'], { cwd: bare });
  } finally {
    server.kill('SIGTERM');
    await server;
  }
}

/**
 * Deploying to Knock, against a LOCAL STAND-IN of Knock's Management API on
 * 127.0.0.1 (the tests' stand-in, scripts/bench/knock-standin.mjs): nothing
 * reaches knock.app. Development is deployed by upsert and commit, staging and
 * production by promoting Knock's commits; then a simulated dashboard edit
 * shows up as drift.
 */
async function deployToKnock() {
  process.stdout.write(`\n${bold("── Deploying to Knock: a LOCAL STAND-IN of Knock's Management API on 127.0.0.1 (not knock.app)")}\n`);
  const standin = execa('node', [join(root, 'scripts/bench/knock-standin.mjs')], { env: { ...env, KNOCK_SERVICE_TOKEN: 'sk_demo_standin' }, reject: false });
  const { url } = await new Promise((resolveUrls, rejectUrls) => {
    let out = '';
    standin.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) resolveUrls(JSON.parse(out.split('\n')[0]));
    });
    standin.on('exit', () => rejectUrls(new Error('the Knock stand-in stopped')));
  });
  process.stdout.write(`stand-in listening at ${url}\n`);
  const knock = { KNOCK_SERVICE_TOKEN: 'sk_demo_standin', KNOCK_MGMT_BASE_URL: url };
  try {
    await ke('The plan for development (nothing is sent)', ['deploy', 'development', '--dry-run'], { extraEnv: knock });
    await ke('Deploy development: upsert and commit each resource, read back, record', ['deploy', 'development', '--yes'], { extraEnv: knock });
    await ke('Deploy staging: promotes the commits development holds', ['deploy', 'staging', '--yes'], { extraEnv: knock });
    await ke("Production's branch is behind staging's (the teammate's change): deploying it now is refused", ['deploy', 'production', '--dry-run'], { extraEnv: knock, allowFail: true });
    await ke('Promote production in git first (offline: the demo server has stopped)', ['promote', 'production', '--yes', '--offline']);
    await ke('Deploy production: promotes the commits staging holds', ['deploy', 'production', '--yes'], { extraEnv: knock });
    await ke('In sync', ['drift', 'production'], { extraEnv: knock });
    const workflows = (await execa('ls', [join(dir, 'workflows')])).stdout.split('\n').filter(Boolean);
    const key = workflows[0];
    process.stdout.write(`\n${bold(`── Simulated dashboard edit: a draft of ${key} in the stand-in's development`)}\n`);
    const headers = { authorization: `Bearer ${knock.KNOCK_SERVICE_TOKEN}`, 'content-type': 'application/json' };
    const current = await (await globalThis.fetch(`${url}/v1/workflows/${key}?environment=development`, { headers })).json();
    await globalThis.fetch(`${url}/v1/workflows/${key}?environment=development`, { method: 'PUT', headers, body: JSON.stringify({ workflow: { ...current, name: `${current.name} (edited in the dashboard)` } }) });
    await ke('Drift: the draft is reported (exit 4)', ['drift', 'development'], { extraEnv: knock, allowFail: true });
    await ke('What knock-env recorded', ['log', '--promotions', '-n', '5'], { allowFail: true });
  } finally {
    standin.kill('SIGTERM');
    await standin;
  }
}
