import { dirname, join, resolve } from 'node:path';
import type { CoreOptions } from './context.js';
import { KnockEnvError } from './errors.js';
import { readIfExists } from './git/fs.js';
import { readCommit } from './git/commit.js';
import { readObject, type GitStore } from './git/objects.js';
import { currentBranch, listRefs, readRef } from './git/refs.js';
import { attachTransaction } from './git/transaction.js';
import { entryAt } from './git/tree.js';
import { CONFIG_FILE } from './resources.js';
import { validateConfigText, type KnockEnvConfig } from './validate/config.js';

/** The lowest and the highest environment always exist under these names. */
export const LOWEST_ENVIRONMENT = 'development';
export const HIGHEST_ENVIRONMENT = 'production';
/** Branch holding the audit trail of promotions and rollbacks (never an environment: slugs cannot contain "/"). */
export const AUDIT_REF = 'refs/heads/knock-env/audit';
/** Slugs that would clash with knock-env's own refs. */
export const RESERVED_SLUGS = ['knock-env', 'head'];

export interface Project extends GitStore {
  /** Working tree root. */
  dir: string;
}

export function branchRef(env: string): string {
  return `refs/heads/${env}`;
}

/**
 * Finds the git directory for `dir` (a `.git` folder or a `.git` file pointing elsewhere), walking up.
 * Refuses, naming why, a bare repository or a git directory itself (there is no working tree
 * to hold the project) and a linked worktree (`git worktree add`), whose branches and objects
 * live in another repository's git directory.
 */
export async function findGitdir(options: Pick<CoreOptions, 'fs' | 'dir'>): Promise<{ dir: string; gitdir: string } | null> {
  let current = resolve(options.dir);
  for (;;) {
    if (await isGitDirectory(options.fs, current)) {
      throw new KnockEnvError('UNSUPPORTED_REPOSITORY', `${current} is a bare git repository (or the inside of a .git folder): it has no working tree for knock-env's files.`, {
        hint: `Clone it and work in the clone: \`git clone ${current} <folder>\`, then run knock-env there.`,
      });
    }
    const dotGit = join(current, '.git');
    const stat = await options.fs.promises.lstat(dotGit).catch(() => null);
    if (stat?.isDirectory()) return { dir: current, gitdir: dotGit };
    if (stat?.isFile()) {
      const text = (await readIfExists(options.fs, dotGit))?.toString('utf8') ?? '';
      const match = /^gitdir: (.*)$/m.exec(text);
      if (match) {
        const gitdir = resolve(current, match[1]!.trim());
        const common = (await readIfExists(options.fs, join(gitdir, 'commondir')))?.toString('utf8').trim();
        if (common !== undefined) {
          const main = dirname(resolve(gitdir, common));
          throw new KnockEnvError('UNSUPPORTED_REPOSITORY', `${current} is a linked git worktree (\`git worktree add\`): its branches and objects live in ${resolve(gitdir, common)}, and knock-env keeps its own state, locks and index beside them, so it does not run in linked worktrees.`, {
            hint: `Run knock-env in the main worktree (${main}), or make a clone to work in: \`git clone ${main} <folder>\`.`,
          });
        }
        return { dir: current, gitdir };
      }
    }
    const parent = dirname(current);
    if (parent === current) return null;
    current = parent;
  }
}

/** Whether a folder is itself a git directory: a bare repository, or a .git folder entered. */
async function isGitDirectory(fs: CoreOptions['fs'], dir: string): Promise<boolean> {
  const [head, objects, refs] = await Promise.all(['HEAD', 'objects', 'refs'].map((name) => fs.promises.lstat(join(dir, name)).catch(() => null)));
  return head?.isFile() === true && objects?.isDirectory() === true && refs?.isDirectory() === true;
}

export async function openProject(options: Pick<CoreOptions, 'fs' | 'dir' | 'transaction'>): Promise<Project> {
  const found = await findGitdir(options);
  if (found === null) {
    throw new KnockEnvError('NOT_A_PROJECT', `${options.dir} is not inside a git repository.`, {
      hint: 'Run `knock-env init` to create a knock-env project here.',
    });
  }
  const project: Project = { fs: options.fs, dir: found.dir, gitdir: found.gitdir, cache: {} };
  if (options.transaction) attachTransaction(project, options.transaction);
  if ((await readRef(project, branchRef(HIGHEST_ENVIRONMENT))) === null) {
    const cloned = await hasRemoteTrackingBranch(project, HIGHEST_ENVIRONMENT);
    throw new KnockEnvError('NOT_A_PROJECT', `${found.dir} is a git repository but ${cloned ? 'its environment branches are not set up yet' : 'not a knock-env project'} (no ${HIGHEST_ENVIRONMENT} branch).`, {
      hint: cloned ? 'This is a fresh clone: run `knock-env pull` to create the local environment branches.' : 'Run `knock-env init` in it to make it one.',
    });
  }
  return project;
}

/** Opens the repository of `dir` without requiring environment branches (a fresh clone has only remote-tracking ones). */
export async function openRepository(options: Pick<CoreOptions, 'fs' | 'dir'>): Promise<Project> {
  const found = await findGitdir(options);
  if (found === null) {
    throw new KnockEnvError('NOT_A_PROJECT', `${options.dir} is not inside a git repository.`, { hint: 'Clone the project first (`git clone <url>`).' });
  }
  return { fs: options.fs, dir: found.dir, gitdir: found.gitdir, cache: {} };
}

async function hasRemoteTrackingBranch(store: GitStore, branch: string): Promise<boolean> {
  return [...(await listRefs(store)).keys()].some((ref) => ref.startsWith('refs/remotes/') && ref.endsWith(`/${branch}`) && ref.split('/').length === 4);
}

/** A file's content at a commit, or null. */
export async function readFileAtCommit(store: GitStore, commitOid: string, path: string): Promise<Buffer | null> {
  const commit = await readCommit(store, commitOid);
  const entry = await entryAt(store, commit.tree, path);
  if (entry === null || entry.mode === '40000') return null;
  return (await readObject(store, entry.oid)).content;
}

export async function headOf(store: GitStore, env: string): Promise<string> {
  const oid = await readRef(store, branchRef(env));
  if (oid === null) {
    throw new KnockEnvError('UNKNOWN_ENVIRONMENT', `Environment "${env}" has no branch.`, {
      hint: 'Run `knock-env env list` to see the environments, or `knock-env doctor` if one is missing.',
      data: { environment: env },
    });
  }
  return oid;
}

/** The account file as committed on the highest environment, which is where account changes land first. */
export async function loadConfigAt(store: GitStore, commitOid: string): Promise<KnockEnvConfig> {
  const text = await readFileAtCommit(store, commitOid, CONFIG_FILE);
  if (text === null) {
    throw new KnockEnvError('INVALID_CONFIG', `${CONFIG_FILE} is missing from commit ${commitOid.slice(0, 7)}.`, {
      hint: 'Restore it from an earlier commit, or run `knock-env doctor`.',
    });
  }
  const { issues, data } = validateConfigText(text.toString('utf8'), CONFIG_FILE);
  if (data === undefined || issues.length > 0) {
    throw new KnockEnvError('INVALID_CONFIG', `${CONFIG_FILE} is invalid: ${issues.map((i) => `${i.line ?? '?'}:${i.column ?? '?'} ${i.message}`).join('; ')}`, {
      hint: `Fix ${CONFIG_FILE} on the ${HIGHEST_ENVIRONMENT} branch.`,
      data: { issues },
    });
  }
  return data;
}

export async function loadConfig(store: GitStore): Promise<KnockEnvConfig> {
  return loadConfigAt(store, await headOf(store, HIGHEST_ENVIRONMENT));
}

export function environmentSlugs(config: KnockEnvConfig): string[] {
  return config.environments.map((e) => e.slug);
}

export function requireEnvironment(config: KnockEnvConfig, env: string): number {
  const slugs = environmentSlugs(config);
  const index = slugs.indexOf(env);
  if (index < 0) {
    throw new KnockEnvError('UNKNOWN_ENVIRONMENT', `There is no environment "${env}".`, {
      hint: `Environments, lowest first: ${slugs.join(' → ')}.`,
      data: { environment: env, environments: slugs },
    });
  }
  return index;
}

/** The environment the working tree has checked out. */
export async function checkedOutEnvironment(project: Project, config: KnockEnvConfig): Promise<string> {
  const branch = await currentBranch(project);
  if (branch === null || !environmentSlugs(config).includes(branch)) {
    throw new KnockEnvError('REFUSED', `The working tree is not on an environment branch (HEAD is ${branch ?? 'detached'}).`, {
      hint: `Check out an environment branch, e.g. \`git switch ${LOWEST_ENVIRONMENT}\`.`,
    });
  }
  return branch;
}
