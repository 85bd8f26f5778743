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
The pusher is the API key in KNOCK_ENV_PUSH_API_KEY (set by \`knock-env serve\`), else the forge's
own variable (GitLab GL_USERNAME or GL_ID, GitHub Enterprise GITHUB_USER_LOGIN, Gitea/Forgejo
GITEA_PUSHER_NAME and GITEA_PUSHER_EMAIL, gitolite GL_USER), else REMOTE_USER; a name becomes a
member's email through \`git config knock-env.identity.<forge>.<user> <email>\` in the repository
(remote-user for REMOTE_USER), or is one already. Roles, environments and settings are read from
knock-env.yaml on the server's production branch as it was before the push. Every refusal is
printed on stderr (the pusher sees it as "remote: ...") and the hook exits 4, so git refuses the
whole push.

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
    .description('install the pre-receive hook where the git server runs it, or write what a forge\'s admin uploads (safe to run again)')
    .option('--forge <forge>', 'the git server in front of the repository: gitlab, github-enterprise, gitea (also Forgejo) or gitolite')
    .option('--out <dir>', 'with --forge github-enterprise: the folder for pre-receive.sh and its Dockerfile (default: knock-env-github-enterprise)')
    .option('--json', 'print { repository, forge, hook, hookUpdated, files, config, head, steps } as JSON')
    .addHelpText(
      'after',
      `
Without --forge (for \`knock-env serve\`, or a web server running git http-backend): writes
<bare-repo>/hooks/pre-receive (running this knock-env with the absolute path of this node, so it
works under a minimal PATH), and sets receive.denyNonFastForwards, receive.denyDeletes and
receive.fsckObjects to true and HEAD to development. Refuses a repository that is not bare, that
has no production branch with a valid knock-env.yaml, that sets core.hooksPath, or whose
pre-receive hook was not written by knock-env. Running it again updates the hook.

With --forge, <bare-repo> is the repository's directory on the forge's server, and the hook goes
where that forge runs it:
  gitlab             custom_hooks/pre-receive.d/knock-env (prints the \`gitaly hooks set\` step)
  gitea              hooks/pre-receive.d/knock-env (Gitea's hooks/pre-receive runs it; Forgejo too)
  gitolite           hooks/pre-receive (gitolite's own checks stay in the update hook)
  github-enterprise  nothing in the repository (use a bare clone): writes <out>/pre-receive.sh and
                     <out>/Dockerfile for the hook environment, and prints the admin's steps
Then it prints what is left to do by hand, such as mapping forge users to members:
  git -C <bare-repo> config knock-env.identity.<forge>.<user> <member-email>

Examples:
  $ git clone --bare my-notifications /srv/notifications.git
  $ knock-env server install /srv/notifications.git
  $ knock-env server add-user /srv/notifications.git ada@example.com
  $ knock-env serve /srv/notifications.git
  $ knock-env server install --forge gitlab /var/opt/gitlab/git-data/repositories/@hashed/ab/cd/abcd.git
  $ knock-env server install --forge github-enterprise ./notifications.git --out ./hook --json`,
    )
    .action(run(async (repository: string, opts: { json?: boolean; forge?: string; out?: string }) => runServerInstall(io, repository, opts)));
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

/** Runs git with the environment of this process, minus what would point it at another repository. */
export async function runGit(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolvePromise) => {
    execFile('git', args, { cwd, env: { ...env, GIT_DIR: undefined, GIT_WORK_TREE: undefined }, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : 1) : 0;
      resolvePromise({ code, stdout: String(stdout).trim(), stderr: String(stderr).trim() });
    });
  });
}

const nodeFileSystem = async (): Promise<import('../../core/git/fs.js').FileSystem> => (await import('node:fs')) as unknown as import('../../core/git/fs.js').FileSystem;

/** A bare repository holding a knock-env project, resolved against the working directory. */
async function openServerRepository(repository: string): Promise<import('../../core/server/install.js').ServerRepository> {
  const { resolve } = await import('node:path');
  const install = await import('../../core/server/install.js');
  return install.openServerRepository(await nodeFileSystem(), (args, cwd) => runGit(args, cwd), resolve(process.cwd(), repository));
}

/** `server install` as the CLI runs it: knock-env's own node and bin/knock-env.js go into the hook. */
export async function installServer(repository: string, opts: { forge?: string; out?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<import('../../core/server/install.js').InstallResult> {
  const { resolve } = await import('node:path');
  const { readFile } = await import('node:fs/promises');
  const { fileURLToPath } = await import('node:url');
  const { KnockEnvError } = await import('../../core/errors.js');
  const install = await import('../../core/server/install.js');
  const forge = opts.forge === undefined ? undefined : install.FORGES.find((f) => f === opts.forge);
  if (opts.forge !== undefined && forge === undefined) {
    throw new KnockEnvError('USAGE', `--forge ${opts.forge} is not a git server knock-env knows.`, { hint: `Give one of ${install.FORGES.join(', ')}, or leave --forge out for \`knock-env serve\` or a web server running git http-backend.` });
  }
  if (opts.out !== undefined && forge !== 'github-enterprise') {
    throw new KnockEnvError('USAGE', '--out is for --forge github-enterprise, whose hook is uploaded rather than written into the repository.', { hint: 'Leave --out out, or add --forge github-enterprise.' });
  }
  const cwd = opts.cwd ?? process.cwd();
  const packageFile = fileURLToPath(new URL('../../../package.json', import.meta.url));
  const version = (JSON.parse(await readFile(packageFile, 'utf8')) as { version?: string }).version ?? 'latest';
  return install.installServer({
    fs: await nodeFileSystem(),
    git: (args, dir) => runGit(args, dir, opts.env),
    repository: resolve(cwd, repository),
    ...(forge ? { forge } : {}),
    node: process.execPath,
    script: fileURLToPath(new URL('../../../bin/knock-env.js', import.meta.url)),
    ...(forge === 'github-enterprise' ? { outDir: resolve(cwd, opts.out ?? 'knock-env-github-enterprise'), version } : {}),
  });
}

export async function runServerInstall(io: Io, repository: string, opts: { json?: boolean; forge?: string; out?: string }): Promise<number> {
  const { line, writeJson } = await import('../io.js');
  const result = await installServer(repository, { ...opts, cwd: io.cwd, env: io.env });
  if (opts.json) writeJson(io, result);
  else {
    line(io.err, `${io.color.green('✔')} ${result.hookUpdated ? 'Wrote' : 'Already up to date:'} ${result.files.join(', ')}${result.forge ? ` (${result.forge})` : ''}`);
    if (Object.keys(result.config).length > 0) line(io.err, `  ${Object.entries(result.config).map(([k, v]) => `${k}=${v}`).join(', ')}; HEAD → ${result.head}`);
    line(io.err, 'Then:');
    result.steps.forEach((step, i) => line(io.err, `  ${i + 1}. ${step}`));
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
  const { line } = await import('../io.js');
  const port = Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new KnockEnvError('USAGE', `--port ${opts.port} is not a port number.`, { hint: 'Give a number from 0 to 65535 (0: any free port).' });
  }
  const { path } = await openServerRepository(repository);
  const { hasKnockEnvHook } = await import('../../core/server/install.js');
  if (!(await hasKnockEnvHook(await nodeFileSystem(), path))) {
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
  const { identityEntries } = await import('../../core/server/identity.js');
  const gitdir = resolve(io.cwd, io.env.GIT_DIR ?? '.');
  const updates = parseHookInput(await readAll(input));
  const objectDirs = quarantineObjectDirs(io.env, gitdir, resolve);
  // The server's identity mappings: the repository's config file and what git passes in GIT_CONFIG_COUNT.
  const configText = await nodeFs.promises.readFile(`${gitdir}/config`, 'utf8').catch(() => '');
  const verdict = await checkPush({
    store: { fs: nodeFs as unknown as import('../../core/git/fs.js').FileSystem, gitdir, cache: {}, ...(objectDirs.length > 0 ? { objectDirs } : {}) },
    updates,
    pusher: { variables: io.env, identities: identityEntries(configText, io.env), repository: gitdir },
  });
  if (verdict.accepted) return 0;
  line(io.err, `knock-env refused this push (${verdict.rejections.length} problem${verdict.rejections.length === 1 ? '' : 's'}); no ref was changed:`);
  for (const rejection of verdict.rejections) line(io.err, formatRejection(rejection));
  return 4;
}
