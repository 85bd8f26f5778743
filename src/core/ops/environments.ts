import type YAML from 'yaml';
import type { CoreOptions } from '../context.js';
import { authenticate, authorize } from '../access.js';
import { KnockEnvError } from '../errors.js';
import { formatMessage, readCommit, writeCommit } from '../git/commit.js';
import { readObject, writeObject } from '../git/objects.js';
import { currentBranch, updateRef } from '../git/refs.js';
import { applyChanges, entryAt, isTreeMode, readTree, type FileChange } from '../git/tree.js';
import { ENVIRONMENTS_DIR } from '../resources.js';
import { emptyEnvironmentFiles } from '../validate/environment.js';
import { followCheckedOutBranch } from './commit.js';
import { mergeDown } from './mergeDown.js';
import { assertValidKey } from '../keys.js';
import { branchRef, environmentSlugs, headOf, HIGHEST_ENVIRONMENT, loadConfig, openProject, RESERVED_SLUGS } from '../project.js';
import { commitAccountChange } from './account.js';
import { environmentSettingsOf } from './environment-settings.js';
import type { BranchMove } from './mergeDown.js';
import { signatureOf, TRAILER, withRepositoryLock } from './shared.js';

export interface EnvironmentInfo {
  slug: string;
  name: string;
  position: number;
  head: string;
  checkedOut: boolean;
  settings: { obfuscate_recipient_data: boolean; show_message_contents: boolean };
}

export async function listEnvironments(options: Pick<CoreOptions, 'fs' | 'dir'> & Partial<Pick<CoreOptions, 'actor' | 'apiKey'>>): Promise<EnvironmentInfo[]> {
  const project = await openProject(options);
  const config = await loadConfig(project);
  // An API key sees its own environment only.
  const who = options.apiKey ? authenticate(config, options.actor ?? { name: '', email: '' }, options.apiKey) : null;
  const branch = await currentBranch(project);
  const out: EnvironmentInfo[] = [];
  for (const [position, env] of config.environments.entries()) {
    if (who?.kind === 'key' && who.environment !== env.slug) continue;
    out.push({
      slug: env.slug,
      name: env.name ?? env.slug,
      position,
      head: await headOf(project, env.slug),
      checkedOut: branch === env.slug,
      settings: environmentSettingsOf(config, env.slug),
    });
  }
  return out;
}

export interface CreateEnvironmentOptions extends CoreOptions {
  slug: string;
  name?: string;
}

export interface CreateEnvironmentResult {
  slug: string;
  environments: string[];
  /** The commit on the highest environment that records the new environment. */
  accountCommit: string;
  /** Where the new branch starts: the head of the environment directly below it. */
  head: string;
  mergedInto: BranchMove[];
}

/**
 * Adds an environment directly below production. The account change is
 * committed on production and merged down (so every branch agrees on the
 * environments); the new branch then starts at the head of the environment
 * directly below it, which keeps the chain intact.
 */
export async function createEnvironment(options: CreateEnvironmentOptions): Promise<CreateEnvironmentResult> {
  assertValidKey(options.slug, 'environment slug');
  if (RESERVED_SLUGS.includes(options.slug)) {
    throw new KnockEnvError('INVALID_KEY', `"${options.slug}" is reserved by knock-env.`, { hint: 'Choose another slug, e.g. "staging".' });
  }
  const project = await openProject(options);
  return withRepositoryLock(project, options, async () => {
    const before = await loadConfig(project);
    authorize(before, authenticate(before, options.actor, options.apiKey), 'manage-account', HIGHEST_ENVIRONMENT, 'create environments');
    const slugs = environmentSlugs(before);
    if (slugs.includes(options.slug)) {
      throw new KnockEnvError('REFUSED', `Environment "${options.slug}" already exists.`, { hint: `Environments, lowest first: ${slugs.join(' → ')}.` });
    }
    const account = await commitAccountChange(project, options, {
      subject: `Create environment ${options.slug}`,
      operation: 'env-create',
      edit: (doc) => {
        const environments = doc.get('environments') as YAML.YAMLSeq;
        const entry = doc.createNode({
          slug: options.slug,
          name: options.name ?? options.slug.charAt(0).toUpperCase() + options.slug.slice(1),
          settings: { obfuscate_recipient_data: false, show_message_contents: true },
        });
        environments.items.splice(environments.items.length - 1, 0, entry);
      },
    });
    const newSlugs = environmentSlugs(account.config);
    const below = newSlugs[newSlugs.indexOf(options.slug) - 1]!;
    const head = await headOf(project, below);
    const signature = signatureOf(options);
    await updateRef(project, { ref: branchRef(options.slug), oldOid: null, newOid: head, reflogMessage: `knock-env env create: branch from ${below}`, committer: signature });
    const { commit } = account;
    const mergedInto = [...account.mergedInto];

    // The new environment starts with empty variables and the channel settings of the one below, without credentials.
    const belowTree = (await readCommit(project, head)).tree;
    const channelDir = `${ENVIRONMENTS_DIR}/${below}/channels`;
    const channelFolder = await entryAt(project, belowTree, channelDir);
    const channels: { path: string; text: string }[] = [];
    for (const entry of channelFolder ? await readTree(project, channelFolder.oid) : []) {
      if (isTreeMode(entry.mode)) continue;
      channels.push({ path: `${channelDir}/${entry.name}`, text: (await readObject(project, entry.oid)).content.toString('utf8') });
    }
    const files = emptyEnvironmentFiles(options.slug, channels);
    const changes = new Map<string, FileChange | null>();
    for (const [path, text] of files) changes.set(path, { oid: await writeObject(project, 'blob', Buffer.from(text)), mode: '100644' });
    const tree = await applyChanges(project, belowTree, changes);
    const message = formatMessage(`Set up environment ${options.slug}`, `Empty variables${channels.length ? `; channels of ${below} without credentials` : ''}.`, {
      [TRAILER.operation]: 'env-create',
      [TRAILER.environment]: options.slug,
    });
    const setup = await writeCommit(project, { tree, parents: [head], author: signature, committer: signature, message });
    await updateRef(project, { ref: branchRef(options.slug), oldOid: head, newOid: setup, reflogMessage: `knock-env env create: set up ${options.slug}`, committer: signature });
    const below2 = await mergeDown(project, newSlugs, newSlugs.indexOf(options.slug), setup, changes, signature);
    const checkedOut = await currentBranch(project);
    const moved = below2.find((m) => m.environment === checkedOut);
    if (moved) await followCheckedOutBranch(project, moved.from, moved.to);
    for (const m of below2) {
      const earlier = mergedInto.findIndex((e) => e.environment === m.environment);
      if (earlier >= 0) mergedInto[earlier] = { environment: m.environment, from: mergedInto[earlier]!.from, to: m.to };
      else mergedInto.push(m);
    }
    return { slug: options.slug, environments: newSlugs, accountCommit: commit, head: setup, mergedInto };
  });
}
