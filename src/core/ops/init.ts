import { yamlLib } from '../yaml-lib.js';
import type { CoreOptions } from '../context.js';
import { KnockEnvError } from '../errors.js';
import { formatMessage, readCommit, writeCommit } from '../git/commit.js';
import { readIndex } from '../git/gitindex.js';
import { writeObject } from '../git/objects.js';
import { currentBranch, readRef, setHead, updateRef } from '../git/refs.js';
import { applyChanges } from '../git/tree.js';
import { exists } from '../git/fs.js';
import { branchRef, findGitdir, HIGHEST_ENVIRONMENT, LOWEST_ENVIRONMENT, type Project } from '../project.js';
import { CONFIG_FILE } from '../resources.js';
import type { KnockEnvConfig } from '../validate/config.js';
import { indexStamp, refreshIndex, writeIndexStamp } from '../worktree.js';
import { TRAILER, signatureOf, withRepositoryLock } from './shared.js';

export interface InitResult {
  dir: string;
  commit: string;
  environments: string[];
  createdRepository: boolean;
}

export function defaultConfig(owner: { name: string; email: string }): KnockEnvConfig {
  return {
    version: 1,
    environments: [
      { slug: LOWEST_ENVIRONMENT, name: 'Development', settings: { obfuscate_recipient_data: false, show_message_contents: true } },
      { slug: HIGHEST_ENVIRONMENT, name: 'Production', settings: { obfuscate_recipient_data: true, show_message_contents: false } },
    ],
    settings: { production_write_access: false },
    members: [{ email: owner.email, name: owner.name, role: 'owner' }],
    api_keys: [],
  } as KnockEnvConfig;
}

export function configText(config: KnockEnvConfig): string {
  const header = '# knock-env account: environments (lowest first), settings, members and API keys.\n# Changed through knock-env commands; committed on production and merged down.\n';
  return header + yamlLib().stringify(config, { lineWidth: 0 });
}

/**
 * Creates a knock-env project: knock-env.yaml in one first commit, shared by
 * the development and production branches, with development checked out.
 * Works in an empty folder or in a git repository that has no project yet.
 */
export async function initProject(options: CoreOptions): Promise<InitResult> {
  const { fs } = options;
  await fs.promises.mkdir(options.dir, { recursive: true });
  let found = await findGitdir(options);
  const ownRepo = found !== null && (found.dir === options.dir || found.dir === (await fs.promises.realpath(options.dir)));
  let createdRepository = false;
  if (!ownRepo) {
    const { default: git } = await import('isomorphic-git');
    await git.init({ fs, dir: options.dir, defaultBranch: LOWEST_ENVIRONMENT });
    createdRepository = true;
    found = { dir: options.dir, gitdir: `${options.dir}/.git` };
  }
  const project: Project = { fs, dir: found!.dir, gitdir: found!.gitdir, cache: {} };
  return withRepositoryLock(project, options, async () => {
    for (const env of [LOWEST_ENVIRONMENT, HIGHEST_ENVIRONMENT]) {
      if ((await readRef(project, branchRef(env))) !== null) {
        throw new KnockEnvError('ALREADY_INITIALISED', `${project.dir} already has a ${env} branch: it is a knock-env project already.`, {
          hint: 'Run `knock-env env list` to see its environments.',
        });
      }
    }
    if (await exists(fs, `${project.dir}/${CONFIG_FILE}`)) {
      throw new KnockEnvError('ALREADY_INITIALISED', `${project.dir}/${CONFIG_FILE} already exists.`, {
        hint: 'Remove it, or run knock-env in the project it belongs to.',
      });
    }
    const signature = signatureOf(options);
    const branch = await currentBranch(project);
    const parent = branch ? await readRef(project, `refs/heads/${branch}`) : null;
    const baseTree = parent ? (await readCommit(project, parent)).tree : null;
    const text = configText(defaultConfig(options.actor));
    const blob = await writeObject(project, 'blob', Buffer.from(text));
    const tree = await applyChanges(project, baseTree, new Map([[CONFIG_FILE, { oid: blob, mode: '100644' }]]));
    const message = formatMessage('Initialise knock-env', 'Environments: development → production.', {
      [TRAILER.operation]: 'init',
      [TRAILER.environment]: HIGHEST_ENVIRONMENT,
    });
    const commit = await writeCommit(project, { tree, parents: parent ? [parent] : [], author: signature, committer: signature, message });
    for (const env of [HIGHEST_ENVIRONMENT, LOWEST_ENVIRONMENT]) {
      await updateRef(project, { ref: branchRef(env), oldOid: null, newOid: commit, reflogMessage: 'knock-env init', committer: signature });
    }
    await setHead(project, LOWEST_ENVIRONMENT);
    await fs.promises.writeFile(`${project.dir}/${CONFIG_FILE}`, text);
    const index = await readIndex(fs, project.gitdir);
    const written = await refreshIndex(project, index, new Map([[CONFIG_FILE, blob]]));
    await writeIndexStamp(project, indexStamp(written, LOWEST_ENVIRONMENT, commit));
    return { dir: project.dir, commit, environments: [LOWEST_ENVIRONMENT, HIGHEST_ENVIRONMENT], createdRepository };
  });
}
