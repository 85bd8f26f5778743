#!/usr/bin/env node
// knock-env benchmark: knock-env against native git doing the same work, as whole processes.
//
//   npm run bench                                  (builds dist/, then runs this file)
//   node scripts/bench.mjs [--sizes 1000,10000] [--reps N] [--reps-initial N] [--style mixed|block]
//                          [--op-budget SECONDS] [--keep] [--json [file]]   (--json alone: bench-results.json)
//
// For each size N it generates N workflows (scripts/bench/generate.mjs: ~1.35 KB of YAML
// each, 3-5 batch/delay/channel steps, keys wf-00000..., seeded so the same every run)
// into two repositories, one driven by `node bin/knock-env.js`, one by `git`, and times:
//
//   initial commit   knock-env commit -m ...            git add -A && git commit -q -m ...
//                    (after knock-env init / git init and writing the N files, untimed)
//   commit, 1 / 100  edit the description line of 1 or 100 workflows, then the same two commands
//   promote          after `knock-env env create staging` (git branch staging) and three commits
//                    on development (100 changed, 10 added, 5 deleted workflows):
//                    knock-env promote staging --yes   against
//                    git merge-base --is-ancestor staging development &&
//                    git diff --name-status staging development &&
//                    git update-ref refs/heads/staging <dev> <old staging>
//                    staging is put back with git update-ref between repetitions (untimed)
//   diff             knock-env diff staging development --json   git diff --name-status staging development
//   validate         knock-env validate (every workflow)         git status --porcelain
//   deploy           knock-env deploy development --yes against a local stand-in of Knock's
//                    Management API (scripts/bench/knock-standin.mjs), the initial deploy and a
//                    deploy of 1 changed workflow; the native column shows Knock API calls instead
//
// Native commands of more than one git process run as ONE shell process, `sh -c 'a && b'`,
// so they are timed like one knock-env process. Reported figures are medians over the
// repetitions (default 5, and 3 for the initial commit; --reps sets both, --reps-initial
// the latter). Once knock-env has spent --op-budget seconds (default 120) on one row, it
// is not repeated further for that row, and the table says how many repetitions it got.
// Wall time is taken in this process around a synchronous spawn.
//
// --style mixed (default) writes small maps and lists in flow style, as in hand-written
// YAML (`batch_window: { unit: minutes, value: 15 }`, `categories: [comments]`);
// --style block writes the same data in block style only.
//
// Peak memory: the child's ru_maxrss, as its parent sees it from wait4(2), read through
// GNU time (`/usr/bin/time -f %M -o <file> <cmd>`; for `sh -c` the kernel folds in the
// largest of the shell's children). Without GNU time, python3 getrusage(RUSAGE_CHILDREN)
// is used. Both sides go through the same wrapper (about 1 ms each). At start the figures
// are checked against a bare `node -e 0` and a node process holding a 200 MiB buffer; the
// result is printed. "knock-env peak MB" is the largest over the repetitions of that row;
// the memory goal covers every knock-env process the run starts, setup ones included.
//
// Goals (checked at N=10000, or at the largest size run, marked as such):
//   commit of 1 change within 3x of native; promote within 5x of native;
//   validate under 5 s; peak memory under 300 MB for every knock-env command.
//
// Every child runs with GIT_AUTHOR_*/GIT_COMMITTER_* set, GIT_CONFIG_NOSYSTEM=1, an empty
// global git config, NO_COLOR=1 and gc.auto=0 (so no background `git gc --auto` competes
// for the 2 cores mid-measurement; both repositories keep loose objects only).
// Repositories live in a temporary folder under os.tmpdir(), removed at the end unless --keep.
// Progress goes to stderr; the table (and any knock-env failures) to stdout.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { editDescription, range, workflowKey, writeWorkflows } from './bench/generate.mjs';
import { calibrate, createRunner, detectMemoryMethod, median } from './bench/measure.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'knock-env.js');
const GOAL_SIZE = 10000;
const GOALS = { commitRatio: 3, promoteRatio: 5, validateMs: 5000, rssMB: 300 };

// ---------------------------------------------------------------- options

function usage(code) {
  (code ? process.stderr : process.stdout).write(
    'usage: node scripts/bench.mjs [--sizes 1000,10000] [--reps N] [--reps-initial N] [--style mixed|block]\n' +
      '                              [--op-budget SECONDS] [--keep] [--json [file]]\n',
  );
  process.exit(code);
}

function parseOptions(argv) {
  const opts = { sizes: [1000, 10000], reps: 5, repsInitial: 3, keep: false, json: null, style: 'mixed', opBudget: 120 };
  let repsGiven = false;
  let repsInitialGiven = false;
  const positiveInt = (flag, value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) {
      process.stderr.write(`${flag} needs a positive whole number, got "${value ?? ''}"\n`);
      usage(2);
    }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--sizes':
        opts.sizes = String(value() ?? '').split(',').filter(Boolean).map((s) => positiveInt('--sizes', s));
        if (opts.sizes.length === 0) usage(2);
        break;
      case '--reps':
        opts.reps = positiveInt('--reps', value());
        repsGiven = true;
        break;
      case '--reps-initial':
        opts.repsInitial = positiveInt('--reps-initial', value());
        repsInitialGiven = true;
        break;
      case '--style':
        opts.style = value();
        if (opts.style !== 'mixed' && opts.style !== 'block') {
          process.stderr.write('--style is mixed or block\n');
          usage(2);
        }
        break;
      case '--op-budget':
        opts.opBudget = positiveInt('--op-budget', value());
        break;
      case '--keep':
        opts.keep = true;
        break;
      case '--json':
        if (inline !== undefined) opts.json = inline;
        else if (argv[i + 1] && !argv[i + 1].startsWith('--')) opts.json = argv[++i];
        else opts.json = 'bench-results.json';
        break;
      case '-h':
      case '--help':
        usage(0);
        break;
      default:
        process.stderr.write(`unknown option ${arg}\n`);
        usage(2);
    }
  }
  if (repsGiven && !repsInitialGiven) opts.repsInitial = opts.reps;
  return opts;
}

// ---------------------------------------------------------------- environment

const opts = parseOptions(process.argv.slice(2));
if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) {
  process.stderr.write('dist/ is missing: run `npm run bench` (it builds first) or `npm run build`.\n');
  process.exit(1);
}

const base = mkdtempSync(join(tmpdir(), 'knock-env-bench-'));
const scratch = join(base, 'scratch');
mkdirSync(scratch);
const emptyGlobalConfig = join(scratch, 'gitconfig');
writeFileSync(emptyGlobalConfig, '');

const childEnv = { ...process.env };
for (const name of Object.keys(childEnv)) {
  if (/^GIT_/.test(name) || name === 'FORCE_COLOR' || name === 'KNOCK_ENV_NOW') delete childEnv[name];
}
Object.assign(childEnv, {
  GIT_AUTHOR_NAME: 'Bench Author',
  GIT_AUTHOR_EMAIL: 'bench@example.com',
  GIT_COMMITTER_NAME: 'Bench Author',
  GIT_COMMITTER_EMAIL: 'bench@example.com',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: emptyGlobalConfig,
  GIT_CONFIG_COUNT: '1',
  GIT_CONFIG_KEY_0: 'gc.auto',
  GIT_CONFIG_VALUE_0: '0',
  NO_COLOR: '1',
});

const runner = createRunner({ env: childEnv, scratch, method: detectMemoryMethod() });
const log = (message) => process.stderr.write(`${message}\n`);
const fmtMs = (ms) => (ms === null || ms === undefined ? '-' : ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
const fmtMB = (mb) => (mb === null || mb === undefined ? '-' : mb.toFixed(0));

/** Untimed git for setup and checks; a failure here is a bug in this script. */
function git(cwd, ...args) {
  const r = spawnSync('git', args, { cwd, env: childEnv, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} (in ${cwd}) failed: ${r.stderr || r.error}`);
  return r.stdout.trim();
}

function syncDisk() {
  spawnSync('sync');
}

// ---------------------------------------------------------------- results

const rows = [];
const keCommands = [];
const failures = [];
const warnings = [];

function newRow(n, id, label) {
  const row = { n, id, label, ke: { ms: [], rss: [], failed: false, skipped: null, cut: false }, native: { ms: [], rss: [], failed: false } };
  rows.push(row);
  return row;
}

function recordFailure(n, command, cwd, r) {
  const failure = {
    n,
    command,
    cwd,
    status: r.status,
    signal: r.signal ?? null,
    error: r.error,
    stderr: r.stderr,
    stdout: r.stdout.length > 4000 ? `${r.stdout.slice(0, 4000)}\n[... ${r.stdout.length - 4000} more characters]` : r.stdout,
  };
  failures.push(failure);
  log(`  FAILED (exit ${r.status}${r.signal ? `, signal ${r.signal}` : ''}): ${command}`);
  const text = `${r.stderr}${r.stdout}`.trim();
  if (text) log(text.split('\n').slice(0, 30).map((l) => `    | ${l}`).join('\n'));
}

function warn(message) {
  warnings.push(message);
  log(`  warning: ${message}`);
}

/** Runs knock-env as a whole process; records it for the memory goal. */
function knockEnv(n, cwd, args, row, using = runner) {
  const r = using.run(process.execPath, [BIN, ...args], { cwd });
  keCommands.push({ n, command: `knock-env ${args.join(' ')}`, ms: r.ms, rssMB: r.rssMB, ok: r.ok, timed: Boolean(row) });
  if (!r.ok) {
    recordFailure(n, `knock-env ${args.join(' ')}`, cwd, r);
    if (row) row.ke.failed = true;
  } else if (row) {
    row.ke.ms.push(r.ms);
    if (r.rssMB !== null) row.ke.rss.push(r.rssMB);
  }
  return r;
}

/** Runs the native side: `git ...` directly, or a shell line as one `sh -c` process. */
function nativeRun(n, cwd, command, row) {
  const r = typeof command === 'string' ? runner.run('sh', ['-c', command], { cwd }) : runner.run('git', command, { cwd });
  const shown = typeof command === 'string' ? `sh -c '${command}'` : `git ${command.join(' ')}`;
  if (!r.ok) {
    recordFailure(n, shown, cwd, r);
    if (row) row.native.failed = true;
  } else if (row) {
    row.native.ms.push(r.ms);
    if (r.rssMB !== null) row.native.rss.push(r.rssMB);
  }
  return r;
}

const loadSamples = [];

/** Whether to run knock-env for another repetition of this row (not failed, within --op-budget). */
function keGo(row) {
  if (row.ke.failed) return false;
  const spent = row.ke.ms.reduce((a, b) => a + b, 0);
  if (row.ke.ms.length > 0 && spent > opts.opBudget * 1000) {
    if (!row.ke.cut) log(`  [N=${row.n}] ${row.label}: knock-env has used ${(spent / 1000).toFixed(0)} s (--op-budget ${opts.opBudget}); no more knock-env repetitions of this row`);
    row.ke.cut = true;
    return false;
  }
  return true;
}

function progress(row, rep, reps, ke, nat) {
  loadSamples.push(loadavg()[0]);
  const keText = ke ? (ke.ok ? `${fmtMs(ke.ms)} ms, ${fmtMB(ke.rssMB)} MB` : 'FAILED') : 'skipped';
  log(`  [N=${row.n}] ${row.label} ${rep + 1}/${reps}: knock-env ${keText}; git ${nat ? (nat.ok ? `${fmtMs(nat.ms)} ms` : 'FAILED') : '-'}`);
}

// ---------------------------------------------------------------- one size

function benchSize(n) {
  const dir = join(base, `n${n}`);
  mkdirSync(dir);
  const K = join(dir, 'knock-env');
  const G = join(dir, 'git');
  const all = range(0, n);
  let keUsable = true; // false once the knock-env repository cannot carry on

  // 1. initial commit of all N workflows
  log(`[N=${n}] initial commit of ${n} workflows, ${opts.repsInitial} repetition(s)`);
  const initial = newRow(n, 'initial-commit', `initial commit (${n} workflows)`);
  for (let rep = 0; rep < opts.repsInitial; rep++) {
    const kDir = rep === 0 ? K : join(dir, `knock-env-${rep}`);
    const gDir = rep === 0 ? G : join(dir, `git-${rep}`);
    let ke = null;
    if (keGo(initial)) {
      const init = knockEnv(n, dir, ['init', kDir], null);
      if (init.ok) {
        writeWorkflows(kDir, all, { style: opts.style });
        syncDisk();
        ke = knockEnv(n, kDir, ['commit', '-m', 'Initial workflows'], initial);
        if (ke.ok && rep === 0) {
          const dirty = git(kDir, 'status', '--porcelain').split('\n').filter(Boolean);
          if (dirty.length > 0) warn(`N=${n}: after knock-env commit, \`git status --porcelain\` lists ${dirty.length} path(s), e.g. ${dirty.slice(0, 3).join('; ')}`);
        }
      } else {
        initial.ke.failed = true;
        ke = init;
      }
    }
    mkdirSync(gDir);
    git(gDir, 'init', '-q', '-b', 'development');
    writeWorkflows(gDir, all, { style: opts.style });
    syncDisk();
    const nat = nativeRun(n, gDir, 'git add -A && git commit -q -m "Initial workflows"', initial);
    progress(initial, rep, opts.repsInitial, ke, nat);
    if (rep > 0) {
      rmSync(kDir, { recursive: true, force: true });
      rmSync(gDir, { recursive: true, force: true });
    }
  }
  if (initial.ke.failed) {
    keUsable = false;
  }

  // 2. commits of 1 and of 100 changed workflows
  for (const count of [1, 100]) {
    const row = newRow(n, `commit-${count}`, `commit, ${count} changed`);
    log(`[N=${n}] ${row.label}, ${opts.reps} repetition(s)`);
    if (!keUsable) row.ke.skipped = 'initial commit failed';
    for (let rep = 0; rep < opts.reps; rep++) {
      const indices = [...new Set(range(count === 1 ? 17 + rep * 31 : 200 + rep * 100, count).map((i) => i % n))];
      const tag = `commit ${count}, repetition ${rep}`;
      let ke = null;
      if (keUsable && keGo(row)) {
        for (const i of indices) editDescription(K, i, tag);
        syncDisk();
        const before = git(K, 'rev-parse', 'development');
        ke = knockEnv(n, K, ['commit', '-m', `Edit ${count} (${rep})`], row);
        if (ke.ok && git(K, 'rev-parse', 'development') === before) warn(`N=${n}: knock-env commit exited 0 but development did not move (${row.label}, repetition ${rep + 1})`);
      }
      for (const i of indices) editDescription(G, i, tag);
      syncDisk();
      const nat = nativeRun(n, G, `git add -A && git commit -q -m "Edit ${count} (${rep})"`, row);
      progress(row, rep, opts.reps, ke, nat);
    }
  }

  // 3. promote staging after 100 changed, 10 added, 5 deleted on development
  const promote = newRow(n, 'promote', 'promote staging (100 M, 10 A, 5 D)');
  log(`[N=${n}] setting up the promotion`);
  let stagingOk = false;
  if (keUsable) {
    stagingOk = knockEnv(n, K, ['env', 'create', 'staging'], null).ok;
    if (!stagingOk) promote.ke.skipped = 'env create staging failed';
  } else {
    promote.ke.skipped = 'initial commit failed';
  }
  git(G, 'branch', 'staging', 'development');
  const changed = [...new Set(range(Math.floor(n / 2), 100).map((i) => i % n))];
  const added = range(n, 10);
  const deleted = [...new Set(range(n - 5, 5).map((i) => (i + n) % n))].filter((i) => !changed.includes(i));
  const steps = [
    { message: 'Edit 100 workflows', apply: (d) => changed.forEach((i) => editDescription(d, i, 'before promotion')) },
    { message: 'Add 10 workflows', apply: (d) => writeWorkflows(d, added, { style: opts.style }) },
    { message: `Delete ${deleted.length} workflows`, apply: (d) => deleted.forEach((i) => rmSync(join(d, 'workflows', workflowKey(i)), { recursive: true, force: true })) },
  ];
  let promoteReady = stagingOk;
  for (const step of steps) {
    if (promoteReady) {
      step.apply(K);
      promoteReady = knockEnv(n, K, ['commit', '-m', step.message], null).ok;
      if (!promoteReady) promote.ke.skipped = `setup commit "${step.message}" failed`;
    }
    step.apply(G);
    git(G, 'add', '-A');
    git(G, 'commit', '-q', '-m', step.message);
  }
  const gOld = git(G, 'rev-parse', 'staging');
  const gDev = git(G, 'rev-parse', 'development');
  const kOld = stagingOk ? git(K, 'rev-parse', 'staging') : null;
  const kDev = stagingOk ? git(K, 'rev-parse', 'development') : null;
  log(`[N=${n}] ${promote.label}, ${opts.reps} repetition(s)`);
  for (let rep = 0; rep < opts.reps; rep++) {
    let ke = null;
    if (promoteReady && keGo(promote)) {
      ke = knockEnv(n, K, ['promote', 'staging', '--yes'], promote);
      const now = git(K, 'rev-parse', 'staging');
      if (ke.ok && now !== kDev) warn(`N=${n}: knock-env promote exited 0 but staging is at ${now}, not ${kDev}`);
      if (now !== kOld) git(K, 'update-ref', 'refs/heads/staging', kOld, now);
    }
    const nat = nativeRun(
      n,
      G,
      `git merge-base --is-ancestor staging development && git diff --name-status staging development && git update-ref refs/heads/staging ${gDev} ${gOld}`,
      promote,
    );
    git(G, 'update-ref', 'refs/heads/staging', gOld, gDev);
    progress(promote, rep, opts.reps, ke, nat);
  }

  // 4. diff between environments (staging is back before the 3 commits)
  const diff = newRow(n, 'diff', 'diff staging development');
  log(`[N=${n}] ${diff.label}, ${opts.reps} repetition(s)`);
  if (!stagingOk) diff.ke.skipped = promote.ke.skipped;
  for (let rep = 0; rep < opts.reps; rep++) {
    let ke = null;
    if (stagingOk && keGo(diff)) {
      ke = knockEnv(n, K, ['diff', 'staging', 'development', '--json'], diff);
      if (ke.ok && rep === 0) {
        try {
          JSON.parse(ke.stdout);
        } catch (error) {
          warn(`N=${n}: knock-env diff --json printed something that is not JSON (${error.message})`);
        }
      }
    }
    const nat = nativeRun(n, G, ['diff', '--name-status', 'staging', 'development'], diff);
    if (rep === 0 && nat.ok) {
      const entries = nat.stdout.split('\n').filter(Boolean).map((l) => l.split('\t'));
      const renames = entries.filter((e) => e[0].startsWith('R')).length;
      log(`  (native diff: ${entries.reduce((k, e) => k + e.length - 1, 0)} paths${renames ? `, ${renames} pair(s) shown as renames` : ''})`);
    }
    progress(diff, rep, opts.reps, ke, nat);
  }

  // 5. validate everything in the working tree
  const validate = newRow(n, 'validate', `validate (${n + added.length - deleted.length} workflows)`);
  log(`[N=${n}] ${validate.label}, ${opts.reps} repetition(s)`);
  if (!keUsable) validate.ke.skipped = 'initial commit failed';
  for (let rep = 0; rep < opts.reps; rep++) {
    const ke = keUsable && keGo(validate) ? knockEnv(n, K, ['validate'], validate) : null;
    const nat = nativeRun(n, G, ['status', '--porcelain'], validate);
    progress(validate, rep, opts.reps, ke, nat);
  }

  // 6. against a team server
  if (keUsable && stagingOk) benchRemote(n, dir, K);
  else for (const label of ['commit + push, 1 changed (team server)', 'promote staging (team server)']) newRow(n, label.startsWith('commit') ? 'remote-commit-1' : 'remote-promote', label).ke.skipped = 'setup failed';

  // 7. deploying to Knock (a local stand-in of its Management API)
  if (keUsable) benchDeploy(n, dir, K);

  if (!opts.keep) rmSync(dir, { recursive: true, force: true });
}

function sleepMs(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Starts `knock-env serve` on a free port; returns its URL and a stop function. */
function startServe(bare, logFile) {
  const child = spawn(process.execPath, [BIN, 'serve', bare, '--port', '0'], { env: childEnv, stdio: ['ignore', openSync(logFile, 'w'), openSync(`${logFile}.err`, 'w')] });
  for (let waited = 0; waited < 10_000; waited += 50) {
    const url = /http:\/\/127\.0\.0\.1:\d+\/\S+/.exec(readFileSync(logFile, 'utf8'))?.[0];
    if (url) return { url, stop: () => child.kill('SIGTERM') };
    sleepMs(50);
  }
  child.kill('SIGTERM');
  throw new Error(`knock-env serve did not start: ${readFileSync(`${logFile}.err`, 'utf8')}`);
}

/**
 * Both sides work against one team server (`knock-env serve` with its
 * pre-receive hook, so the server does the same work for both): a knock-env
 * clone, whose commit and promote fetch, check and push by themselves, and a
 * plain git clone doing the same with `git pull --ff-only`, `git commit` and
 * `git push`.
 */
function benchRemote(n, dir, K) {
  log(`[N=${n}] setting up a team server`);
  const commitRow = newRow(n, 'remote-commit-1', 'commit + push, 1 changed (team server)');
  const promoteRow = newRow(n, 'remote-promote', 'promote staging (team server)');
  const bare = join(dir, 'team.git');
  git(dir, 'init', '-q', '--bare', bare);
  git(K, 'push', '-q', bare, '--all');
  const skip = (why) => {
    commitRow.ke.skipped = why;
    promoteRow.ke.skipped = why;
  };
  if (!knockEnv(n, dir, ['server', 'install', bare], null).ok) return skip('server install failed');
  const user = knockEnv(n, dir, ['server', 'add-user', bare, 'bench@example.com', '--json'], null);
  if (!user.ok) return skip('server add-user failed');
  const token = JSON.parse(user.stdout).token;
  const server = startServe(bare, join(dir, 'serve.log'));
  try {
    const withCredentials = server.url.replace('http://', `http://bench%40example.com:${token}@`);
    const KC = join(dir, 'ke-clone');
    const GC = join(dir, 'git-clone');
    git(dir, 'clone', '-q', withCredentials, KC);
    git(KC, 'remote', 'set-url', 'origin', server.url);
    git(dir, 'clone', '-q', withCredentials, GC);
    const remoteRunner = createRunner({ env: { ...childEnv, KNOCK_ENV_GIT_USERNAME: 'bench@example.com', KNOCK_ENV_GIT_PASSWORD: token }, scratch, method: runner.method });
    if (!knockEnv(n, KC, ['pull'], null, remoteRunner).ok) return skip('knock-env pull failed');
    log(`[N=${n}] ${commitRow.label}, ${opts.reps} repetition(s)`);
    for (let rep = 0; rep < opts.reps; rep++) {
      let ke = null;
      if (keGo(commitRow)) {
        editDescription(KC, (41 + rep * 37) % n, `remote ${rep}`);
        ke = knockEnv(n, KC, ['commit', '-m', `Remote edit (${rep})`], commitRow, remoteRunner);
      }
      editDescription(GC, (43 + rep * 37) % n, `remote native ${rep}`);
      const nat = nativeRun(n, GC, `git pull -q --ff-only && git commit -qam "Remote edit (${rep})" && git push -q origin development`, commitRow);
      progress(commitRow, rep, opts.reps, ke, nat);
    }
    log(`[N=${n}] ${promoteRow.label}, ${opts.reps} repetition(s)`);
    const newOnDevelopment = (tag) => {
      editDescription(GC, (47 + tag.length * 13) % n, tag);
      git(GC, 'pull', '-q', '--ff-only');
      git(GC, 'commit', '-qam', tag);
      git(GC, 'push', '-q', 'origin', 'development');
    };
    for (let rep = 0; rep < opts.reps; rep++) {
      let ke = null;
      if (keGo(promoteRow)) {
        newOnDevelopment(`to promote ${rep}${'k'.repeat(rep)}`);
        ke = knockEnv(n, KC, ['promote', 'staging', '--yes'], promoteRow, remoteRunner);
      }
      newOnDevelopment(`to promote natively ${rep}${'g'.repeat(rep)}`);
      const nat = nativeRun(n, GC, 'git fetch -q origin && git push -q origin origin/development:refs/heads/staging', promoteRow);
      progress(promoteRow, rep, opts.reps, ke, nat);
    }
    const fsck = spawnSync('git', ['fsck', '--strict'], { cwd: bare, env: childEnv, encoding: 'utf8' });
    if (fsck.status !== 0) warn(`N=${n}: git fsck of the team server's repository failed: ${fsck.stderr}`);
  } finally {
    server.stop();
  }
}

/** Starts the Management API stand-in as a process of its own; returns its URLs and a stop function. */
function startStandin(logFile) {
  const child = spawn(process.execPath, [join(ROOT, 'scripts/bench/knock-standin.mjs')], { env: { ...childEnv, KNOCK_SERVICE_TOKEN: 'sk_bench' }, stdio: ['ignore', openSync(logFile, 'w'), openSync(`${logFile}.err`, 'w')] });
  for (let waited = 0; waited < 20_000; waited += 50) {
    const first = readFileSync(logFile, 'utf8').split('\n')[0];
    if (first.startsWith('{')) return { ...JSON.parse(first), stop: () => child.kill('SIGTERM') };
    sleepMs(50);
  }
  child.kill('SIGTERM');
  throw new Error(`the Knock stand-in did not start: ${readFileSync(`${logFile}.err`, 'utf8')}`);
}

/** The stand-in's call counts (POST: and reset them), asked from a child process since this one runs synchronously. */
function standinCalls(statsUrl, reset = false) {
  const r = spawnSync(process.execPath, ['-e', `fetch(${JSON.stringify(statsUrl)}, { method: ${JSON.stringify(reset ? 'POST' : 'GET')} }).then((r) => r.text()).then((t) => process.stdout.write(t))`], { encoding: 'utf8' });
  return JSON.parse(r.stdout || '{}');
}

/**
 * knock-env deploy against a local stand-in of Knock's Management API
 * (test/support/knock-standin.ts, in a process of its own): the initial deploy of
 * every workflow of development, then a deploy of one changed workflow. There is
 * no native column: the figures are the time and Knock API calls.
 */
function benchDeploy(n, dir, K) {
  const initialRow = newRow(n, 'deploy-initial', 'deploy development to Knock, initial (stand-in)');
  const oneRow = newRow(n, 'deploy-1', 'deploy development to Knock, 1 changed (stand-in)');
  let standin;
  try {
    standin = startStandin(join(dir, 'standin.log'));
  } catch (error) {
    initialRow.ke.skipped = oneRow.ke.skipped = 'stand-in did not start';
    warn(String(error));
    return;
  }
  const deployRunner = createRunner({ env: { ...childEnv, KNOCK_SERVICE_TOKEN: 'sk_bench', KNOCK_MGMT_BASE_URL: standin.url }, scratch, method: runner.method });
  try {
    log(`[N=${n}] ${initialRow.label}`);
    standinCalls(standin.stats, true);
    const first = knockEnv(n, K, ['deploy', 'development', '--yes'], initialRow, deployRunner);
    const initialCalls = standinCalls(standin.stats, true);
    progress(initialRow, 0, 1, first, null);
    initialRow.calls = initialCalls;
    log(`  [N=${n}] initial deploy: ${initialCalls.writes} write call(s), ${initialCalls.reads} read call(s)`);
    if (!first.ok) {
      oneRow.ke.skipped = 'initial deploy failed';
      return;
    }
    for (let rep = 0; rep < opts.reps && keGo(oneRow); rep++) {
      editDescription(K, (53 + rep * 31) % n, `deploy ${rep}`);
      if (!knockEnv(n, K, ['commit', '-m', `Deploy edit (${rep})`], null).ok) break;
      standinCalls(standin.stats, true);
      const ke = knockEnv(n, K, ['deploy', 'development', '--yes'], oneRow, deployRunner);
      oneRow.calls = standinCalls(standin.stats, true);
      progress(oneRow, rep, opts.reps, ke, null);
      log(`  [N=${n}] one-change deploy: ${oneRow.calls.writes} write call(s), ${oneRow.calls.reads} read call(s)`);
    }
  } finally {
    standin.stop();
  }
}

// ---------------------------------------------------------------- report

const NATIVE = {
  'initial-commit': "sh -c 'git add -A && git commit -q -m ...'",
  'commit-1': "sh -c 'git add -A && git commit -q -m ...'",
  'commit-100': "sh -c 'git add -A && git commit -q -m ...'",
  promote: "sh -c 'git merge-base --is-ancestor staging development && git diff --name-status staging development && git update-ref refs/heads/staging <dev> <old>'",
  diff: 'git diff --name-status staging development',
  validate: 'git status --porcelain',
  'remote-commit-1': "sh -c 'git pull -q --ff-only && git commit -qam ... && git push -q origin development'",
  'remote-promote': "sh -c 'git fetch -q origin && git push -q origin origin/development:refs/heads/staging'",
  'deploy-initial': 'none (Knock API calls: see the calls column)',
  'deploy-1': 'none (Knock API calls: see the calls column)',
};

function summarise(row) {
  const keMs = row.ke.failed || row.ke.skipped ? null : median(row.ke.ms);
  const natMs = row.native.failed ? null : median(row.native.ms);
  const keRss = row.ke.rss.length ? Math.max(...row.ke.rss) : null;
  return { keMs, natMs, ratio: keMs !== null && natMs ? keMs / natMs : null, keRss };
}

function evaluateGoals() {
  const sizes = [...new Set(rows.map((r) => r.n))];
  const at = sizes.includes(GOAL_SIZE) ? GOAL_SIZE : Math.max(...sizes);
  const caveat = at === GOAL_SIZE ? '' : ` (measured at N=${at}; the goal is for N=${GOAL_SIZE})`;
  const find = (id) => rows.find((r) => r.n === at && r.id === id);
  const verdict = (ok) => (ok === null ? 'n/a' : ok ? 'PASS' : 'MISS');
  const goals = [];
  const ratioGoal = (id, limit, text) => {
    const row = find(id);
    const s = row ? summarise(row) : null;
    const ok = s && s.ratio !== null ? s.ratio <= limit : row && (row.ke.failed || row.ke.skipped) ? false : null;
    goals.push({ id, n: at, text: `${text}${caveat}`, value: s && s.ratio !== null ? `${s.ratio.toFixed(2)}x` : row?.ke.skipped ? 'skipped' : 'failed', verdict: verdict(ok) });
  };
  ratioGoal('commit-1', GOALS.commitRatio, `commit of 1 change within ${GOALS.commitRatio}x of native`);
  ratioGoal('promote', GOALS.promoteRatio, `promote within ${GOALS.promoteRatio}x of native`);
  const v = find('validate');
  const vs = v ? summarise(v) : null;
  goals.push({
    id: 'validate',
    n: at,
    text: `validate under ${GOALS.validateMs / 1000} s${caveat}`,
    value: vs && vs.keMs !== null ? `${fmtMs(vs.keMs)} ms` : v?.ke.skipped ? 'skipped' : 'failed',
    verdict: verdict(vs && vs.keMs !== null ? vs.keMs < GOALS.validateMs : false),
  });
  const measured = keCommands.filter((c) => c.rssMB !== null);
  const failedRuns = keCommands.filter((c) => !c.ok).length;
  const worst = measured.reduce((a, b) => (a && a.rssMB >= b.rssMB ? a : b), null);
  goals.push({
    id: 'memory',
    n: null,
    text: `peak memory under ${GOALS.rssMB} MB for every knock-env command (${keCommands.length} runs, all sizes, setup included)`,
    value: `${worst ? `max ${fmtMB(worst.rssMB)} MB (${worst.command.replace(/^knock-env init .*/, 'knock-env init <dir>')}, N=${worst.n})` : 'not measured'}${failedRuns ? `; ${failedRuns} of the runs failed` : ''}`,
    verdict: worst ? verdict(measured.every((c) => c.rssMB < GOALS.rssMB) && measured.length === keCommands.length) : 'n/a',
  });
  return { goals, at };
}

function goalCell(row, goals, at) {
  const cells = [];
  const g = { 'commit-1': 'commit-1', promote: 'promote', validate: 'validate' }[row.id];
  if (g && row.n === at) {
    const goal = goals.find((x) => x.id === g);
    const limit = g === 'validate' ? `<${GOALS.validateMs / 1000} s` : `<=${g === 'promote' ? GOALS.promoteRatio : GOALS.commitRatio}x`;
    cells.push(`${limit} ${goal.verdict}`);
  }
  const rss = row.ke.rss.length ? Math.max(...row.ke.rss) : null;
  if (rss !== null) cells.push(`mem ${rss < GOALS.rssMB ? 'PASS' : 'MISS'}`);
  return cells.join(', ');
}

function table(headers, body) {
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((r) => String(r[i]).length)));
  const right = headers.map((_, i) => i >= 1 && i <= 5);
  const fmt = (cells) => `| ${cells.map((c, i) => (right[i] ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i]))).join(' | ')} |`;
  return [fmt(headers), `|${widths.map((w, i) => (right[i] ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`, ...body.map(fmt)].join('\n');
}

function report(meta) {
  const { goals, at } = evaluateGoals();
  const body = rows.map((row) => {
    const s = summarise(row);
    const keCell = row.ke.skipped ? 'skipped' : row.ke.failed ? 'FAILED' : `${fmtMs(s.keMs)}${row.ke.cut ? ` (${row.ke.ms.length} rep${row.ke.ms.length === 1 ? '' : 's'})` : ''}`;
    const natCell = row.calls ? `${row.calls.writes} writes, ${row.calls.reads} reads` : row.native.failed ? 'FAILED' : fmtMs(s.natMs);
    return [row.label, row.n, keCell, natCell, s.ratio === null ? '-' : `${s.ratio.toFixed(2)}x`, fmtMB(s.keRss), goalCell(row, goals, at)];
  });
  const out = [];
  out.push(`knock-env vs native git: ${meta.cpus} CPU(s), node ${process.version}, ${meta.git}; medians of ${opts.reps} repetition(s) (${opts.repsInitial} for the initial commit); whole processes; YAML style ${opts.style}.`);
  out.push(`peak memory: ${runner.method.describe}.`);
  out.push(`1-minute load average: ${meta.loadAverage.start} at the start, at most ${meta.loadAverage.max} during the run.`);
  out.push('');
  out.push(table(['operation', 'N', 'knock-env ms', 'native ms', 'ratio', 'knock-env peak MB', 'goal'], body));
  out.push('');
  out.push('native side of each row:');
  for (const [id, command] of Object.entries(NATIVE)) out.push(`  ${id.padEnd(15)} ${command}`);
  const setup = keCommands.filter((c) => !c.timed);
  if (setup.length > 0) {
    out.push('');
    out.push('knock-env setup commands (untimed rows; counted for the memory goal):');
    const groups = new Map();
    for (const c of setup) {
      const key = `N=${c.n} ${c.command.replace(/^knock-env init .*/, 'knock-env init <dir>')}`;
      const g = groups.get(key) ?? { ms: [], rss: [], failed: 0 };
      g.ms.push(c.ms);
      if (c.rssMB !== null) g.rss.push(c.rssMB);
      if (!c.ok) g.failed++;
      groups.set(key, g);
    }
    for (const [key, g] of groups) out.push(`  ${key}: ${fmtMs(median(g.ms))} ms, ${g.rss.length ? fmtMB(Math.max(...g.rss)) : '-'} MB${g.failed ? `, ${g.failed} FAILED` : ''}`);
  }
  out.push('');
  out.push('goals:');
  for (const g of goals) out.push(`  ${g.verdict.padEnd(4)} ${g.text}: ${g.value}`);
  if (warnings.length > 0) {
    out.push('');
    out.push('warnings:');
    for (const w of warnings) out.push(`  ${w}`);
  }
  if (failures.length > 0) {
    out.push('');
    out.push(`failures (${failures.length}), verbatim:`);
    for (const f of failures) {
      out.push(`--- N=${f.n}: ${f.command}  (exit ${f.status}${f.signal ? `, signal ${f.signal}` : ''}${f.error ? `, ${f.error}` : ''})`);
      if (f.stderr.trim()) out.push(f.stderr.trimEnd());
      if (f.stdout.trim()) out.push(`[stdout]\n${f.stdout.trimEnd()}`);
    }
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return goals;
}

// ---------------------------------------------------------------- main

const started = Date.now();
const meta = { cpus: cpus().length, memoryGB: +(totalmem() / 2 ** 30).toFixed(1), node: process.version, git: git(ROOT, '--version') };
log(`knock-env bench: sizes ${opts.sizes.join(', ')}; ${opts.reps} repetition(s), ${opts.repsInitial} for the initial commit; in ${base}`);
log(`peak memory: ${runner.method.describe}`);
const loadAtStart = loadavg()[0];
if (loadAtStart > 0.5) warnings.push(`1-minute load average was ${loadAtStart.toFixed(2)} at the start: other work on this ${cpus().length}-core machine may inflate the timings`);
const calibration = calibrate(runner);
log(`  check: node -e 0 -> ${fmtMB(calibration.bare)} MB; node holding a 200 MiB buffer -> ${fmtMB(calibration.loaded)} MB (${calibration.plausible ? 'plausible' : 'NOT plausible: treat the memory column with care'})`);
if (!calibration.plausible) warnings.push(`memory calibration looks wrong: bare node ${fmtMB(calibration.bare)} MB, with 200 MiB buffer ${fmtMB(calibration.loaded)} MB`);

let exitCode = 0;
try {
  for (const n of opts.sizes) benchSize(n);
} catch (error) {
  log(`bench aborted: ${error.stack ?? error}`);
  exitCode = 1;
}
meta.loadAverage = { start: +loadAtStart.toFixed(2), max: +Math.max(loadAtStart, ...loadSamples).toFixed(2) };
if (meta.loadAverage.max > 1.5) warnings.push(`1-minute load average reached ${meta.loadAverage.max} during the run (the run itself keeps about 1 core busy): other work on the machine may have inflated the timings`);
const goals = report(meta);
log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);

if (opts.json) {
  const result = {
    date: new Date().toISOString(),
    machine: meta,
    options: opts,
    memoryMethod: runner.method.describe,
    calibration,
    rows: rows.map((r) => ({ ...r, native: { ...r.native, command: NATIVE[r.id] }, ...summarise(r) })),
    knockEnvCommands: keCommands,
    goals,
    warnings,
    failures,
  };
  writeFileSync(opts.json, `${JSON.stringify(result, null, 2)}\n`);
  log(`results written to ${opts.json}`);
}
if (opts.keep) log(`repositories kept in ${base}`);
else rmSync(base, { recursive: true, force: true });
process.exitCode = exitCode;
