// Runs one child process and measures its wall time and peak resident memory.
//
// Wall time: performance.now() around a synchronous spawn in this (otherwise idle) process.
// Peak memory: the child's ru_maxrss as reported by wait4(2) to its parent. The preferred
// reporter is GNU time (`/usr/bin/time -f %M -o <file> cmd ...`), which prints the maxrss
// of the command it waited for, in KiB; for a shell, the kernel folds in the largest of the
// shell's reaped children. When GNU time is missing, python3's
// resource.getrusage(RUSAGE_CHILDREN) gives the same number; failing both, memory is not
// measured. Every command, knock-env or native git, goes through the same wrapper, so both
// sides pay the same ~1 ms for it. calibrate() checks that the numbers are plausible.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const PY_WRAPPER = [
  'import resource, subprocess, sys',
  'code = subprocess.call(sys.argv[2:])',
  'open(sys.argv[1], "w").write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))',
  'sys.exit(code if code >= 0 else 128 - code)',
].join('\n');

function works(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? `${r.stdout}${r.stderr}` : null;
}

/** Picks how to measure peak memory on this machine. */
export function detectMemoryMethod() {
  if (existsSync('/usr/bin/time')) {
    const version = works('/usr/bin/time', ['--version']);
    if (version && /GNU/i.test(version)) return { name: 'gnu-time', describe: `GNU time (${version.trim().split('\n')[0]}), -f %M: ru_maxrss of the child` };
  }
  if (works('python3', ['-c', 'import resource'])) return { name: 'python', describe: 'python3 resource.getrusage(RUSAGE_CHILDREN).ru_maxrss around the child' };
  return { name: 'none', describe: 'not measured (neither GNU time nor python3 is available)' };
}

export function createRunner({ env, scratch, method = detectMemoryMethod(), maxBuffer = 512 * 1024 * 1024 }) {
  let counter = 0;
  function run(cmd, args, { cwd, input } = {}) {
    const rssFile = join(scratch, `rss-${process.pid}-${counter++}`);
    let file = cmd;
    let argv = args;
    if (method.name === 'gnu-time') {
      file = '/usr/bin/time';
      argv = ['-f', '%M', '-o', rssFile, cmd, ...args];
    } else if (method.name === 'python') {
      file = 'python3';
      argv = ['-c', PY_WRAPPER, rssFile, cmd, ...args];
    }
    const started = performance.now();
    const r = spawnSync(file, argv, { cwd, env, input, maxBuffer, encoding: 'utf8' });
    const ms = performance.now() - started;
    let rssMB = null;
    if (method.name !== 'none' && existsSync(rssFile)) {
      // GNU time writes "Command exited with non-zero status N" before the figure when the command fails.
      const lines = readFileSync(rssFile, 'utf8').trim().split('\n');
      const kib = Number(lines[lines.length - 1]);
      if (Number.isFinite(kib) && kib > 0) rssMB = kib / 1024;
      rmSync(rssFile, { force: true });
    }
    const status = r.error ? null : r.status;
    return {
      ms,
      rssMB,
      status,
      signal: r.signal,
      error: r.error ? String(r.error) : undefined,
      stdout: r.stdout ?? '',
      stderr: r.stderr ?? '',
      ok: status === 0,
    };
  }
  return { run, method };
}

/**
 * Checks the memory figures against known loads: a bare node process and one holding a
 * 200 MiB buffer. Returns the two figures and whether they look right.
 */
export function calibrate(runner) {
  if (runner.method.name === 'none') return { plausible: false, bare: null, loaded: null };
  const bare = runner.run(process.execPath, ['-e', '0']).rssMB;
  const loaded = runner.run(process.execPath, ['-e', 'const b = Buffer.alloc(200 * 1024 * 1024, 1); if (b[5] !== 1) process.exit(1);']).rssMB;
  const plausible = bare !== null && loaded !== null && bare > 10 && bare < 150 && loaded - bare > 180 && loaded - bare < 260;
  return { plausible, bare, loaded };
}

export function median(values) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
