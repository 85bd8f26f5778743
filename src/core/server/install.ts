import { randomBytes } from 'node:crypto';
import { KnockEnvError } from '../errors.js';
import { errnoCode, type FileSystem } from '../git/fs.js';
import { readRef } from '../git/refs.js';
import { branchRef, HIGHEST_ENVIRONMENT, LOWEST_ENVIRONMENT, loadConfigAt } from '../project.js';
import type { KnockEnvConfig } from '../validate/config.js';
import { identityConfigKey, identityEntries } from './identity.js';

/**
 * Setting up a server repository: the pre-receive hook where the git server
 * in front of it runs hooks (`knock-env serve` or a web server, GitLab,
 * Gitea/Forgejo, gitolite), or the files a GitHub Enterprise Server
 * administrator uploads, plus the steps left to do by hand.
 */

/** Runs the git binary in a directory; the CLI supplies it (the core starts no process itself). */
export type RunGit = (args: string[], cwd: string) => Promise<{ code: number; stdout: string; stderr: string }>;

export const FORGES = ['gitlab', 'github-enterprise', 'gitea', 'gitolite'] as const;
export type Forge = (typeof FORGES)[number];

export const HOOK_MARKER = '# knock-env pre-receive hook';

export interface ServerRepository {
  path: string;
  config: KnockEnvConfig;
}

/** A bare repository holding a knock-env project (a production branch with a valid knock-env.yaml), or a KnockEnvError. `path` must be absolute. */
export async function openServerRepository(fs: FileSystem, git: RunGit, given: string): Promise<ServerRepository> {
  const stat = await fs.promises.stat(given).catch(() => null);
  if (stat === null || !stat.isDirectory()) {
    throw new KnockEnvError('NOT_FOUND', `${given} does not exist.`, { hint: 'Create the server repository first: `git clone --bare <project> <bare-repo>`.' });
  }
  const path = await fs.promises.realpath(given);
  const bare = await git(['rev-parse', '--is-bare-repository'], path);
  if (bare.code !== 0) {
    throw new KnockEnvError('NOT_A_PROJECT', `${path} is not a git repository.`, { hint: 'Create it with `git clone --bare <project> <bare-repo>` (or `git init --bare` and push every branch).' });
  }
  const top = await git(['rev-parse', '--absolute-git-dir'], path);
  const gitdir = top.code === 0 ? await fs.promises.realpath(top.stdout).catch(() => top.stdout) : '';
  if (bare.stdout !== 'true' || gitdir !== path) {
    throw new KnockEnvError('REFUSED', `${path} is not a bare repository: a server repository has no working tree.`, {
      hint: `Make a bare copy and serve that: \`git clone --bare ${path} ${path.replace(/\/+$/, '')}.git\`.`,
    });
  }
  const store = { fs, gitdir: path, cache: {} };
  const head = await readRef(store, branchRef(HIGHEST_ENVIRONMENT));
  if (head === null) {
    throw new KnockEnvError('NOT_A_PROJECT', `${path} is not a knock-env repository: it has no ${HIGHEST_ENVIRONMENT} branch.`, {
      hint: 'Push the project into it first: `git push --all <bare-repo>` from a knock-env project (or `git clone --bare <project> <bare-repo>`).',
    });
  }
  return { path, config: await loadConfigAt(store, head) };
}

/** Whether the repository's own pre-receive hook is the one knock-env writes (what `knock-env serve` needs). */
export async function hasKnockEnvHook(fs: FileSystem, repository: string): Promise<boolean> {
  const text = await fs.promises.readFile(`${repository}/hooks/pre-receive`, 'utf8').catch(() => '');
  return String(text).includes(HOOK_MARKER);
}

export interface InstallOptions {
  fs: FileSystem;
  git: RunGit;
  /** Absolute path of the bare repository. */
  repository: string;
  /** The git server that runs the hook; none: `knock-env serve` or a web server running `git http-backend`. */
  forge?: Forge;
  /** What the hook runs: absolute paths of node and of knock-env's bin/knock-env.js. */
  node: string;
  script: string;
  /** github-enterprise: the folder for the hook script and its environment (absolute). */
  outDir?: string;
  /** github-enterprise: the knock-env version the hook environment installs. */
  version?: string;
}

export interface InstallResult {
  repository: string;
  /** null: `knock-env serve` or a web server in front of `git http-backend`. */
  forge: Forge | null;
  /** The hook file in the repository, or null where the forge takes it another way (GitHub Enterprise Server). */
  hook: string | null;
  /** Whether a file was written or changed by this run. */
  hookUpdated: boolean;
  /** Every file this run wrote or would have written unchanged. */
  files: string[];
  /** The git settings set in the repository. */
  config: Record<string, string>;
  /** HEAD after the run (null when this run leaves it to the forge). */
  head: string | null;
  /** What is left for an administrator to do, in order. */
  steps: string[];
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Text for inside a shell's double quotes. */
function doubleQuoted(value: string): string {
  return value.replace(/["\\$`]/g, '\\$&');
}

function hookText(node: string, script: string): string {
  return `#!/bin/sh\n${HOOK_MARKER} (written by \`knock-env server install\`; run that again to update it).\n# Judges every push against the rules of the knock-env project in this repository.\nexec ${shellQuote(node)} ${shellQuote(script)} hook pre-receive\n`;
}

async function readText(fs: FileSystem, path: string): Promise<string | null> {
  try {
    return String(await fs.promises.readFile(path, 'utf8'));
  } catch (error) {
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return null;
    throw error;
  }
}

/** Writes a file (mode 0755 when executable) through a temporary name; false when it already had that content. */
async function writeIfChanged(fs: FileSystem, path: string, text: string, executable: boolean): Promise<boolean> {
  const existing = await readText(fs, path);
  if (existing === text) return false;
  await fs.promises.mkdir(path.slice(0, path.lastIndexOf('/')), { recursive: true });
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  await fs.promises.writeFile(tmp, text, { mode: executable ? 0o755 : 0o644 });
  await fs.promises.chmod(tmp, executable ? 0o755 : 0o644);
  await fs.promises.rename(tmp, path);
  return true;
}

/** Refuses to replace a hook knock-env did not write (a symlink is never knock-env's). */
async function claimHookFile(fs: FileSystem, hook: string, hint: string): Promise<void> {
  const stat = await fs.promises.lstat(hook).catch(() => null);
  if (stat === null) return;
  const text = stat.isFile() ? await readText(fs, hook) : null;
  if (text === null || !text.includes(HOOK_MARKER)) {
    throw new KnockEnvError('REFUSED', `${hook} exists and was not written by knock-env.`, { hint });
  }
}

async function gitConfig(git: RunGit, path: string, key: string, value: string): Promise<void> {
  const set = await git(['config', key, value], path);
  if (set.code !== 0) throw new KnockEnvError('REFUSED', `git config ${key} ${value} failed in ${path}: ${set.stderr}`, { hint: 'Check that you may write to the repository.' });
}

/** `git -C <repo> config knock-env.identity.<forge>.<user> <email>`, as a step to follow. */
function mapStep(forge: Forge, path: string, variable: string, example: string): string {
  return `Map each member's ${variable} to their email in the repository's git config (the hook refuses a user it cannot map, naming this command): git -C ${shellQuote(path)} config ${identityConfigKey(forge, example)} <member-email>`;
}

/** Installs what the repository's git server needs to run the knock-env hook on every push. Safe to run again. */
export async function installServer(options: InstallOptions): Promise<InstallResult> {
  const { fs, git, forge } = options;
  const { path, config } = await openServerRepository(fs, git, options.repository);
  const text = hookText(options.node, options.script);
  const base = { repository: path, forge: forge ?? null, config: {} as Record<string, string>, head: null as string | null };
  /** Writes the hook file (refusing one knock-env did not write). */
  const placeHook = async (hook: string, hint: string): Promise<{ hook: string; hookUpdated: boolean; files: string[] }> => {
    await claimHookFile(fs, hook, hint);
    return { hook, hookUpdated: await writeIfChanged(fs, hook, text, true), files: [hook] };
  };
  const protect = `Keep ${config.environments.map((e) => e.slug).join(', ')} from being force-pushed or deleted in the forge's branch protection too (the hook refuses both anyway).`;
  switch (forge) {
    case undefined: {
      const hooksPath = await git(['config', '--get', 'core.hooksPath'], path);
      if (hooksPath.stdout !== '') {
        throw new KnockEnvError('REFUSED', `${path} sets core.hooksPath (${hooksPath.stdout}), so git would not run the hook knock-env installs in ${path}/hooks.`, {
          hint: `Unset it (\`git -C ${path} config --unset core.hooksPath\`) and run this again.`,
        });
      }
      const placed = await placeHook(`${path}/hooks/pre-receive`, 'Move it away (or fold it into another hook runner) and run this again; knock-env must be the pre-receive hook.');
      const settings: Record<string, string> = { 'receive.denyNonFastForwards': 'true', 'receive.denyDeletes': 'true', 'receive.fsckObjects': 'true' };
      for (const [key, value] of Object.entries(settings)) await gitConfig(git, path, key, value);
      const head = branchRef(LOWEST_ENVIRONMENT);
      if ((await git(['rev-parse', '--verify', '--quiet', head], path)).code === 0) await git(['symbolic-ref', 'HEAD', head], path);
      return {
        ...base,
        ...placed,
        config: settings,
        head: (await git(['symbolic-ref', 'HEAD'], path)).stdout,
        steps: [
          `Issue each member a token: knock-env server add-user ${shellQuote(path)} <email>`,
          `Serve it: knock-env serve ${shellQuote(path)} (or run git http-backend behind a web server that sets REMOTE_USER to the member's email, or maps it: git -C ${shellQuote(path)} config knock-env.identity.remote-user.<user> <member-email>)`,
        ],
      };
    }
    case 'gitlab': {
      return {
        ...base,
        ...(await placeHook(`${path}/custom_hooks/pre-receive.d/knock-env`, 'Move it away and run this again; knock-env writes custom_hooks/pre-receive.d/knock-env.')),
        steps: [
          `This is the repository's directory on the Gitaly server (Admin > Projects > the project: "Gitaly relative path"). Node.js 20 or later and knock-env must be installed there, at the paths the hook runs: ${options.node} ${options.script}.`,
          `On GitLab 15.11 and later, and always on Gitaly Cluster, hand the hooks to Gitaly instead of leaving them in place: tar -cf custom_hooks.tar -C ${shellQuote(path)} custom_hooks && cat custom_hooks.tar | sudo -u git -- /opt/gitlab/embedded/bin/gitaly hooks set --storage <storage> --repository <relative-path> --config /var/opt/gitlab/gitaly/config.toml`,
          mapStep('gitlab', path, 'GitLab username (GL_USERNAME)', 'alice'),
          `Set the project's default branch to ${LOWEST_ENVIRONMENT} (Settings > Repository > Branch defaults). ${protect}`,
        ],
      };
    }
    case 'gitea': {
      const runner = await readText(fs, `${path}/hooks/pre-receive`);
      if (runner === null || !runner.includes('pre-receive.d')) {
        throw new KnockEnvError('REFUSED', `${path}/hooks/pre-receive does not run the hooks in hooks/pre-receive.d/, so Gitea would never run knock-env's.`, {
          hint: 'Give the path of the repository inside Gitea\'s repository root (e.g. /var/lib/gitea/data/gitea-repositories/<owner>/<name>.git); if its hooks are missing, run "Resynchronize git hooks of all repositories" in Site Administration, then run this again.',
        });
      }
      return {
        ...base,
        ...(await placeHook(`${path}/hooks/pre-receive.d/knock-env`, 'Move it away and run this again; knock-env writes hooks/pre-receive.d/knock-env.')),
        steps: [
          `Gitea runs every executable file in hooks/pre-receive.d/ (its own is pre-receive.d/gitea) and refuses the push when one fails; "Resynchronize git hooks" rewrites only Gitea's files, so this one stays. Run this as the user Gitea runs as (often git), with Node.js 20 or later on that machine.`,
          `Gitea gives the pusher's email (GITEA_PUSHER_EMAIL): a member whose Gitea email is their member email needs nothing more. For anyone else: ${mapStep('gitea', path, 'Gitea user name (GITEA_PUSHER_NAME)', 'alice')}`,
          `Set the repository's default branch to ${LOWEST_ENVIRONMENT} (Settings > Branches). ${protect}`,
        ],
      };
    }
    case 'gitolite': {
      const placed = await placeHook(
        `${path}/hooks/pre-receive`,
        "Gitolite's repo-specific hooks own this repository's pre-receive: write knock-env's hook as one of them instead (see the README, \"gitolite\"), or drop the `option hook.pre-receive` lines for this repository and run this again.",
      );
      return {
        ...base,
        ...placed,
        steps: [
          "Gitolite's own checks stay in the update hook; knock-env judges the whole push in pre-receive (a VREF sees one ref at a time, so it cannot check the chain between environments). Run this as the gitolite hosting user, with Node.js 20 or later on that machine.",
          `If the repository uses gitolite's repo-specific hooks (option hook.pre-receive), gitolite replaces this file: copy it to $(gitolite query-rc LOCAL_CODE)/hooks/repo-specific/knock-env instead and list knock-env last in option hook.pre-receive (gitolite's hook driver returns the last hook's exit status).`,
          `${mapStep('gitolite', path, 'gitolite user name (GL_USER)', 'alice')} (or, with GIT_CONFIG_KEYS allowing knock-env\\..*, a line "config ${identityConfigKey('gitolite', 'alice')} = <member-email>" in gitolite.conf). A user named by their email needs no mapping.`,
          `Give members RW, not RW+, on ${config.environments.map((e) => e.slug).join(', ')} in gitolite.conf (the hook refuses rewinding and deleting them anyway).`,
        ],
      };
    }
    case 'github-enterprise': {
      const outDir = options.outDir ?? `${path}.knock-env-hook`;
      const ownConfig = (await readText(fs, `${path}/config`)) ?? '';
      const mapped = new Map([...identityEntries(ownConfig)].filter(([key]) => key.startsWith('knock-env.identity.github-enterprise.')));
      const script = `${outDir}/pre-receive.sh`;
      const dockerfile = `${outDir}/Dockerfile`;
      const scriptText = [
        '#!/bin/sh',
        `${HOOK_MARKER} for GitHub Enterprise Server (written by \`knock-env server install --forge github-enterprise\`).`,
        '# Runs in the pre-receive hook environment built from the Dockerfile beside it; GITHUB_USER_LOGIN names the pusher.',
        '# GitHub logins mapped to members (knock-env.identity.github-enterprise.<login>), added to the git config the hook reads:',
        'n=${GIT_CONFIG_COUNT:-0}',
        ...[...mapped].filter(([key, email]) => !/[\r\n]/.test(key + email)).map(([key, email]) => `export "GIT_CONFIG_KEY_$n=${doubleQuoted(key)}" "GIT_CONFIG_VALUE_$n=${doubleQuoted(email)}"; n=$((n + 1))`),
        'export GIT_CONFIG_COUNT=$n',
        'PATH=$PATH:/usr/local/bin:/usr/bin:/bin exec knock-env hook pre-receive',
        '',
      ].join('\n');
      const dockerText = `# The pre-receive hook environment for knock-env on GitHub Enterprise Server (a chroot: docker export of this image).\nFROM node:20-alpine\nRUN apk add --no-cache git && npm install -g knock-env@${options.version ?? 'latest'}\n`;
      await fs.promises.mkdir(outDir, { recursive: true });
      const wroteScript = await writeIfChanged(fs, script, scriptText, true);
      const wroteDocker = await writeIfChanged(fs, dockerfile, dockerText, false);
      return {
        ...base,
        hook: null,
        hookUpdated: wroteScript || wroteDocker,
        files: [script, dockerfile],
        steps: [
          `Build the hook environment: docker build -t knock-env-hook ${shellQuote(outDir)} && docker create --name knock-env-hook knock-env-hook /bin/true && docker export knock-env-hook | gzip > knock-env-hook.tar.gz; upload it in Enterprise settings > Hooks > Manage environments > Add environment (a URL), or run ghe-hook-env-create knock-env knock-env-hook.tar.gz in the administrative shell.`,
          `Commit pre-receive.sh to a hooks repository on the instance, on its default branch, executable (git update-index --chmod=+x pre-receive.sh).`,
          'Enterprise settings > Hooks > Add pre-receive hook: environment knock-env, that repository and pre-receive.sh, tick "Use the exit-status to accept or reject pushes" and "Administrators can enable and disable this hook", leave it off for all repositories; then enable it in this repository\'s Settings > Hooks.',
          `${mapStep('github-enterprise', path, 'GitHub login (GITHUB_USER_LOGIN)', 'octocat')}, then run this again so pre-receive.sh carries the mappings (${mapped.size} now), and commit it.`,
          `GitHub Enterprise Server refuses a push whose pre-receive hook runs longer than 5 seconds: try a large push before relying on it. Set the default branch to ${LOWEST_ENVIRONMENT}. ${protect}`,
        ],
      };
    }
  }
}
