import YAML from 'yaml';
import type { CoreOptions } from '../context.js';
import { KnockEnvError } from '../errors.js';
import { formatMessage, readCommit, writeCommit } from '../git/commit.js';
import { writeObject } from '../git/objects.js';
import { currentBranch, updateRef } from '../git/refs.js';
import { applyChanges } from '../git/tree.js';
import { assertValidKey } from '../keys.js';
import {
  branchRef,
  environmentSlugs,
  headOf,
  HIGHEST_ENVIRONMENT,
  loadConfig,
  openProject,
  readFileAtCommit,
  RESERVED_SLUGS,
} from '../project.js';
import { CONFIG_FILE } from '../resources.js';
import type { KnockEnvConfig } from '../validate/config.js';
import { validateConfigText } from '../validate/config.js';
import { followCheckedOutBranch } from './commit.js';
import { mergeDown, type BranchMove } from './mergeDown.js';
import { TRAILER, signatureOf, withRepositoryLock } from './shared.js';

export interface EnvironmentInfo {
  slug: string;
  name: string;
  position: number;
  head: string;
  checkedOut: boolean;
  settings: { obfuscate_recipient_data: boolean; show_message_contents: boolean };
}

export async function listEnvironments(options: Pick<CoreOptions, 'fs' | 'dir'>): Promise<EnvironmentInfo[]> {
  const project = await openProject(options);
  const config = await loadConfig(project);
  const branch = await currentBranch(project);
  const out: EnvironmentInfo[] = [];
  for (const [position, env] of config.environments.entries()) {
    out.push({
      slug: env.slug,
      name: env.name ?? env.slug,
      position,
      head: await headOf(project, env.slug),
      checkedOut: branch === env.slug,
      settings: {
        obfuscate_recipient_data: env.settings?.obfuscate_recipient_data ?? env.slug === HIGHEST_ENVIRONMENT,
        show_message_contents: env.settings?.show_message_contents ?? env.slug !== HIGHEST_ENVIRONMENT,
      },
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
    const config = await loadConfig(project);
    const slugs = environmentSlugs(config);
    if (slugs.includes(options.slug)) {
      throw new KnockEnvError('REFUSED', `Environment "${options.slug}" already exists.`, { hint: `Environments, lowest first: ${slugs.join(' → ')}.` });
    }
    const top = await headOf(project, HIGHEST_ENVIRONMENT);
    const text = (await readFileAtCommit(project, top, CONFIG_FILE))!.toString('utf8');
    const doc = YAML.parseDocument(text);
    const environments = doc.get('environments') as YAML.YAMLSeq;
    const entry = doc.createNode({
      slug: options.slug,
      name: options.name ?? options.slug.charAt(0).toUpperCase() + options.slug.slice(1),
      settings: { obfuscate_recipient_data: false, show_message_contents: true },
    });
    environments.items.splice(environments.items.length - 1, 0, entry);
    const newText = doc.toString({ lineWidth: 0 });
    const { issues, data } = validateConfigText(newText, CONFIG_FILE);
    if (issues.length > 0 || !data) {
      throw new KnockEnvError('INVALID_CONFIG', `The account file would become invalid: ${issues.map((i) => i.message).join('; ')}`);
    }
    const newSlugs = environmentSlugs(data as KnockEnvConfig);
    const signature = signatureOf(options);
    const blob = await writeObject(project, 'blob', Buffer.from(newText));
    const changes = new Map([[CONFIG_FILE, { oid: blob, mode: '100644' }]]);
    const tree = await applyChanges(project, (await readCommit(project, top)).tree, changes);
    const message = formatMessage(`Create environment ${options.slug}`, `Environments: ${newSlugs.join(' → ')}.`, {
      [TRAILER.operation]: 'env-create',
      [TRAILER.environment]: HIGHEST_ENVIRONMENT,
    });
    const commit = await writeCommit(project, { tree, parents: [top], author: signature, committer: signature, message });
    await updateRef(project, { ref: branchRef(HIGHEST_ENVIRONMENT), oldOid: top, newOid: commit, reflogMessage: `knock-env env create ${options.slug}`, committer: signature });
    // Merge down through the old chain (the new environment has no branch yet).
    const mergedInto = await mergeDown(project, slugs, slugs.length - 1, commit, changes, signature);
    const below = newSlugs[newSlugs.indexOf(options.slug) - 1]!;
    const head = await headOf(project, below);
    await updateRef(project, { ref: branchRef(options.slug), oldOid: null, newOid: head, reflogMessage: `knock-env env create: branch from ${below}`, committer: signature });

    const checkedOut = await currentBranch(project);
    const moved = [...mergedInto, { environment: HIGHEST_ENVIRONMENT, from: top, to: commit }].find((m) => m.environment === checkedOut);
    if (moved) await followCheckedOutBranch(project, moved.from, moved.to);
    return { slug: options.slug, environments: newSlugs, accountCommit: commit, head, mergedInto };
  });
}
