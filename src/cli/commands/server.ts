import type { Command } from 'commander';
import type { Io } from '../io.js';

/**
 * `knock-env hook pre-receive`, `knock-env server install|add-user` and
 * `knock-env serve`: a shared server that enforces on every push the rules the
 * commands follow locally. Everything heavy is loaded when a command runs.
 */
export function registerServerCommands(program: Command, io: Io, run: (fn: (...args: never[]) => Promise<number>) => (...args: unknown[]) => Promise<void>): void {
  const hook = program.command('hook').description("git hooks a knock-env server runs (installed by `knock-env server install`)");
  hook
    .command('pre-receive')
    .description('judge a push: reads "<old> <new> <ref>" lines on stdin, as git passes them to a pre-receive hook')
    .addHelpText(
      'after',
      `
Run by git in the server's bare repository before it moves any ref; it reads the pushed objects
from git's quarantine (GIT_QUARANTINE_PATH, GIT_OBJECT_DIRECTORY, GIT_ALTERNATE_OBJECT_DIRECTORIES).
The pusher is REMOTE_USER (a member's email) or the API key in KNOCK_ENV_PUSH_API_KEY, both set by
\`knock-env serve\`; roles, environments and settings are read from knock-env.yaml on the server's
production branch as it was before the push. Every refusal is printed on stderr (the pusher sees it
as "remote: ...") and the hook exits 1, so git refuses the whole push.

Rules: environment branches are never deleted or moved backwards, and the chain holds after the
push (each environment's head is an ancestor of the one below it); every new commit on an
environment branch changes only what its environment owns and what the pusher's role allows,
and leaves every changed workflow, guide, environment file and knock-env.yaml valid; moving an
environment onto commits of a lower one (a promotion) needs the promote capability there;
knock-env/audit only grows, with empty-tree commits; other branches and tags are not checked.

Example (what git runs; to try a push by hand):
  $ cd /srv/notifications.git
  $ echo "<old> <new> refs/heads/development" | REMOTE_USER=ada@example.com knock-env hook pre-receive`,
    )
    .action(run(async () => runPreReceive(io, process.stdin)));

  const server = program.command('server').description('set up a bare repository as a knock-env server that enforces the rules on every push');
  server
    .command('install <bare-repo>')
    .description('install the pre-receive hook and the git settings a knock-env server needs (safe to run again)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Writes <bare-repo>/hooks/pre-receive (running this knock-env with the absolute path of this node,
so it works under a minimal PATH), and sets receive.denyNonFastForwards, receive.denyDeletes and
receive.fsckObjects to true and HEAD to development. Refuses a repository that is not bare, that
has no production branch with a valid knock-env.yaml, that sets core.hooksPath, or whose
pre-receive hook was not written by knock-env. Running it again updates the hook.

Example:
  $ git clone --bare my-notifications /srv/notifications.git
  $ knock-env server install /srv/notifications.git
  $ knock-env server add-user /srv/notifications.git ada@example.com
  $ knock-env serve /srv/notifications.git`,
    )
    .action(run(async (repository: string, opts: { json?: boolean }) => runServerInstall(io, repository, opts)));
  server
    .command('add-user <bare-repo> <email>')
    .description("issue (or replace) a member's access token for `knock-env serve`; printed once, only its hash is kept")
    .option('--json', 'print { email, role, token, credentials } as JSON')
    .addHelpText(
      'after',
      `
The email must be a member of the account (knock-env.yaml on production; \`knock-env members add\`).
The token's SHA-256 hash is stored in <bare-repo>/knock-env/credentials.json (mode 0600), outside
git's objects and refs, so it is never fetched. Running it again for the same email replaces the
token; the old one stops working at once. A member removed from the account loses access whatever
token they hold. Members use their email as the user name and the token as the password; API keys
(\`knock-env keys create\`) need no add-user: their secret is the password, with any user name.

Examples:
  $ knock-env server add-user /srv/notifications.git grace@example.com
  $ git clone http://grace%40example.com@127.0.0.1:8080/notifications.git   # asks for the token
  $ git config --global credential.helper store                              # or any credential helper
  $ knock-env server add-user /srv/notifications.git grace@example.com --json`,
    )
    .action(run(async (repository: string, email: string, opts: { json?: boolean }) => runServerAddUser(io, repository, email, opts)));

  program
    .command('serve <bare-repo>')
    .description('serve a knock-env server repository over HTTP (git smart HTTP through git http-backend), with authentication')
    .option('--port <port>', 'port to listen on (0: any free port)', '8080')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .addHelpText(
      'after',
      `
Clone URL: http://<host>:<port>/<name>.git, where <name> is the repository folder's name without
.git (http://<host>:<port>/ serves the same repository). Every request needs HTTP Basic
credentials: a member's email and the token from \`knock-env server add-user\`, or any user name
and an API key's secret. Wrong or missing credentials get 401. An API key for an environment sees
only that environment's branch, the ones above it and knock-env/audit; members see every branch.
Every push goes through the pre-receive hook, which needs
\`knock-env server install\` first. Binds 127.0.0.1 unless told otherwise; put it behind a
TLS-terminating proxy before exposing it. Stops on Ctrl-C (SIGINT) or SIGTERM.

Examples:
  $ knock-env serve /srv/notifications.git
  $ knock-env serve /srv/notifications.git --port 9418 --host 0.0.0.0
  $ git clone http://ada%40example.com:<token>@127.0.0.1:8080/notifications.git
  $ git clone http://ci:<api-key-secret>@127.0.0.1:8080/notifications.git`,
    )
    .action(run(async (repository: string, opts: { port: string; host: string }) => runServe(io, repository, opts)));
}

// ---------------------------------------------------------------------------
// The commands

const HOOK_MARKER = '# knock-env pre-receive hook';

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

async function gitOutput(args: string[], cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolvePromise) => {
    execFile('git', args, { cwd, env: { ...process.env, GIT_DIR: undefined, GIT_WORK_TREE: undefined } }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : 1) : 0;
      resolvePromise({ code, stdout: String(stdout).trim(), stderr: String(stderr).trim() });
    });
  });
}

/** A bare repository holding a knock-env project (a production branch with a valid knock-env.yaml), or a KnockEnvError. */
async function openServerRepository(repository: string): Promise<{ path: string; config: import('../../core/validate/config.js').KnockEnvConfig }> {
  const { resolve } = await import('node:path');
  const { existsSync, realpathSync, statSync } = await import('node:fs');
  const { KnockEnvError } = await import('../../core/errors.js');
  const given = resolve(process.cwd(), repository);
  if (!existsSync(given) || !statSync(given).isDirectory()) {
    throw new KnockEnvError('NOT_FOUND', `${given} does not exist.`, { hint: 'Create the server repository first: `git clone --bare <project> <bare-repo>`.' });
  }
  const path = realpathSync(given);
  const bare = await gitOutput(['rev-parse', '--is-bare-repository'], path);
  if (bare.code !== 0) {
    throw new KnockEnvError('NOT_A_PROJECT', `${path} is not a git repository.`, { hint: 'Create it with `git clone --bare <project> <bare-repo>` (or `git init --bare` and push every branch).' });
  }
  const top = await gitOutput(['rev-parse', '--absolute-git-dir'], path);
  if (bare.stdout !== 'true' || realpathSync(resolve(path, top.stdout)) !== path) {
    throw new KnockEnvError('REFUSED', `${path} is not a bare repository: a server repository has no working tree.`, {
      hint: `Make a bare copy and serve that: \`git clone --bare ${path} ${path.replace(/\/+$/, '')}.git\`.`,
    });
  }
  const nodeFs = await import('node:fs');
  const { readRef } = await import('../../core/git/refs.js');
  const { branchRef, HIGHEST_ENVIRONMENT, loadConfigAt } = await import('../../core/project.js');
  const store = { fs: nodeFs as unknown as import('../../core/git/fs.js').FileSystem, gitdir: path, cache: {} };
  const head = await readRef(store, branchRef(HIGHEST_ENVIRONMENT));
  if (head === null) {
    throw new KnockEnvError('NOT_A_PROJECT', `${path} is not a knock-env repository: it has no ${HIGHEST_ENVIRONMENT} branch.`, {
      hint: 'Push the project into it first: `git push --all <bare-repo>` from a knock-env project (or `git clone --bare <project> <bare-repo>`).',
    });
  }
  return { path, config: await loadConfigAt(store, head) };
}

export interface InstallResult {
  repository: string;
  hook: string;
  /** Whether the hook file was written or changed by this run. */
  hookUpdated: boolean;
  config: Record<string, string>;
  head: string;
}

/** Installs the pre-receive hook and the git settings of a knock-env server. Idempotent. */
export async function installServer(repository: string): Promise<InstallResult> {
  const { KnockEnvError } = await import('../../core/errors.js');
  const { chmod, mkdir, readFile, rename, writeFile } = await import('node:fs/promises');
  const { fileURLToPath } = await import('node:url');
  const { path } = await openServerRepository(repository);
  const hooksPath = await gitOutput(['config', '--get', 'core.hooksPath'], path);
  if (hooksPath.stdout !== '') {
    throw new KnockEnvError('REFUSED', `${path} sets core.hooksPath (${hooksPath.stdout}), so git would not run the hook knock-env installs in ${path}/hooks.`, {
      hint: `Unset it (\`git -C ${path} config --unset core.hooksPath\`) and run this again.`,
    });
  }
  const hook = `${path}/hooks/pre-receive`;
  const existing = await readFile(hook, 'utf8').catch(() => null);
  if (existing !== null && !existing.includes(HOOK_MARKER)) {
    throw new KnockEnvError('REFUSED', `${hook} exists and was not written by knock-env.`, {
      hint: 'Move it away (or fold it into another hook runner) and run this again; knock-env must be the pre-receive hook.',
    });
  }
  const script = fileURLToPath(new URL('../../../bin/knock-env.js', import.meta.url));
  const text = `#!/bin/sh\n${HOOK_MARKER} (written by \`knock-env server install\`; run that again to update it).\n# Judges every push against the rules of the knock-env project in this repository.\nexec ${shellQuote(process.execPath)} ${shellQuote(script)} hook pre-receive\n`;
  const hookUpdated = existing !== text;
  if (hookUpdated) {
    await mkdir(`${path}/hooks`, { recursive: true });
    const tmp = `${hook}.tmp-${process.pid}`;
    await writeFile(tmp, text, { mode: 0o755 });
    await chmod(tmp, 0o755);
    await rename(tmp, hook);
  }
  const config: Record<string, string> = {
    'receive.denyNonFastForwards': 'true',
    'receive.denyDeletes': 'true',
    'receive.fsckObjects': 'true',
  };
  for (const [key, value] of Object.entries(config)) {
    const set = await gitOutput(['config', key, value], path);
    if (set.code !== 0) throw new KnockEnvError('REFUSED', `git config ${key} ${value} failed in ${path}: ${set.stderr}`, { hint: 'Check that you may write to the repository.' });
  }
  const head = 'refs/heads/development';
  if ((await gitOutput(['rev-parse', '--verify', '--quiet', head], path)).code === 0) await gitOutput(['symbolic-ref', 'HEAD', head], path);
  return { repository: path, hook, hookUpdated, config, head: (await gitOutput(['symbolic-ref', 'HEAD'], path)).stdout };
}

export async function runServerInstall(io: Io, repository: string, opts: { json?: boolean }): Promise<number> {
  const { line, writeJson } = await import('../io.js');
  const result = await installServer(repository);
  if (opts.json) writeJson(io, result);
  else {
    line(io.err, `${io.color.green('✔')} ${result.hookUpdated ? 'Installed' : 'Already installed:'} ${result.hook}`);
    line(io.err, `  ${Object.entries(result.config).map(([k, v]) => `${k}=${v}`).join(', ')}; HEAD → ${result.head}`);
    line(io.err, io.color.dim(`  next: knock-env server add-user ${result.repository} <email>, then knock-env serve ${result.repository}`));
  }
  return 0;
}

export interface AddUserResult {
  repository: string;
  email: string;
  role: string;
  token: string;
  credentials: string;
  replaced: boolean;
}

/** Issues (or replaces) a member's token; the token is returned once and only its hash is stored. */
export async function addServerUser(repository: string, email: string, now: Date = new Date()): Promise<AddUserResult> {
  const { KnockEnvError } = await import('../../core/errors.js');
  const nodeFs = await import('node:fs');
  const credentials = await import('../../core/server/credentials.js');
  const fs = nodeFs as unknown as import('../../core/git/fs.js').FileSystem;
  const { path, config } = await openServerRepository(repository);
  const member = config.members.find((m) => m.email.toLowerCase() === email.trim().toLowerCase());
  if (!member) {
    throw new KnockEnvError('REFUSED', `${email} is not a member of the account in ${path} (knock-env.yaml on production).`, {
      hint: `Add them first in a clone (\`knock-env members add ${email} --role member\`), push, then run this again. Members: ${config.members.map((m) => m.email).join(', ') || 'none'}.`,
    });
  }
  const { isAlive } = await import('../context.js');
  const token = credentials.newMemberToken();
  const { replaced } = await credentials.storeMemberToken(fs, path, member.email, token, now, { pid: process.pid, isAlive });
  return { repository: path, email: member.email, role: member.role, token, credentials: credentials.credentialsPath(path), replaced };
}

export async function runServerAddUser(io: Io, repository: string, email: string, opts: { json?: boolean }): Promise<number> {
  const { line, writeJson } = await import('../io.js');
  const result = await addServerUser(repository, email);
  if (opts.json) writeJson(io, result);
  else {
    line(io.err, `${io.color.green('✔')} ${result.replaced ? 'Replaced the token of' : 'Issued a token for'} ${result.email} (${result.role}). It is shown once; only its hash is kept in ${result.credentials}:`);
    line(io.out, result.token);
    line(io.err, io.color.dim(`  user name: ${result.email}, password: the token (in a URL, write the @ of the email as %40)`));
  }
  return 0;
}

export async function runServe(io: Io, repository: string, opts: { port: string; host: string }): Promise<number> {
  const { KnockEnvError } = await import('../../core/errors.js');
  const { readFile } = await import('node:fs/promises');
  const { line } = await import('../io.js');
  const port = Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new KnockEnvError('USAGE', `--port ${opts.port} is not a port number.`, { hint: 'Give a number from 0 to 65535 (0: any free port).' });
  }
  const { path } = await openServerRepository(repository);
  const hook = await readFile(`${path}/hooks/pre-receive`, 'utf8').catch(() => '');
  if (!hook.includes(HOOK_MARKER)) {
    throw new KnockEnvError('REFUSED', `${path} has no knock-env pre-receive hook: pushes would not be checked.`, {
      hint: `Run \`knock-env server install ${path}\` first.`,
    });
  }
  const { startServer } = await import('../serve.js');
  const server = await startServer({ repository: path, port, host: opts.host, log: (text) => line(io.err, text) });
  line(io.err, `${io.color.green('✔')} Serving ${path}; clone with:`);
  line(io.out, server.url);
  line(io.err, io.color.dim('  user name: a member email (token from `knock-env server add-user`) or anything with an API key as password; Ctrl-C stops'));
  await new Promise<void>((resolvePromise) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolvePromise();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await server.close();
  line(io.err, 'Stopped.');
  return 0;
}

/** Values git passes as "<old> <new> <ref>" lines to a pre-receive hook. */
async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

/** Entries of a colon-separated list as git writes GIT_ALTERNATE_OBJECT_DIRECTORIES (an entry with a colon is C-quoted). */
function splitAlternates(value: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < value.length) {
    if (value[i] === '"') {
      let entry = '';
      i++;
      while (i < value.length && value[i] !== '"') {
        if (value[i] === '\\' && i + 1 < value.length) i++;
        entry += value[i];
        i++;
      }
      out.push(entry);
      i++;
      if (value[i] === ':') i++;
      continue;
    }
    const end = value.indexOf(':', i);
    out.push(value.slice(i, end < 0 ? value.length : end));
    i = end < 0 ? value.length : end + 1;
  }
  return out.filter((entry) => entry !== '');
}

/** Object directories of a push in quarantine, from the variables git sets for its hooks (the primary directory left out). */
export function quarantineObjectDirs(env: NodeJS.ProcessEnv, gitdir: string, resolvePath: (base: string, path: string) => string): string[] {
  const dirs: string[] = [];
  const primary = resolvePath(gitdir, 'objects');
  const add = (value: string | undefined): void => {
    if (!value) return;
    const path = resolvePath(gitdir, value);
    if (path !== primary && !dirs.includes(path)) dirs.push(path);
  };
  add(env.GIT_QUARANTINE_PATH);
  add(env.GIT_OBJECT_DIRECTORY);
  for (const entry of splitAlternates(env.GIT_ALTERNATE_OBJECT_DIRECTORIES ?? '')) add(entry);
  return dirs;
}

export async function runPreReceive(io: Io, input: NodeJS.ReadableStream): Promise<number> {
  const { resolve } = await import('node:path');
  const nodeFs = await import('node:fs');
  const { line } = await import('../io.js');
  const { checkPush, parseHookInput, formatRejection } = await import('../../core/server/receive.js');
  const { PUSH_API_KEY_ENV } = await import('../serve.js');
  const gitdir = resolve(io.cwd, io.env.GIT_DIR ?? '.');
  const updates = parseHookInput(await readAll(input));
  const objectDirs = quarantineObjectDirs(io.env, gitdir, resolve);
  const remoteUser = io.env.REMOTE_USER;
  const apiKey = io.env[PUSH_API_KEY_ENV];
  const verdict = await checkPush({
    store: { fs: nodeFs as unknown as import('../../core/git/fs.js').FileSystem, gitdir, cache: {}, ...(objectDirs.length > 0 ? { objectDirs } : {}) },
    updates,
    ...(remoteUser ? { remoteUser } : {}),
    ...(apiKey ? { apiKey } : {}),
  });
  if (verdict.accepted) return 0;
  line(io.err, `knock-env refused this push (${verdict.rejections.length} problem${verdict.rejections.length === 1 ? '' : 's'}); no ref was changed:`);
  for (const rejection of verdict.rejections) line(io.err, formatRejection(rejection));
  return 4;
}
