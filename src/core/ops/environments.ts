import type YAML from 'yaml';
import type { CoreOptions } from '../context.js';
import { KnockEnvError } from '../errors.js';
import { currentBranch, updateRef } from '../git/refs.js';
import { assertValidKey } from '../keys.js';
import { branchRef, environmentSlugs, headOf, HIGHEST_ENVIRONMENT, loadConfig, openProject, RESERVED_SLUGS } from '../project.js';
import { commitAccountChange } from './account.js';
import type { BranchMove } from './mergeDown.js';
import { signatureOf, withRepositoryLock } from './shared.js';

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
    const slugs = environmentSlugs(await loadConfig(project));
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
    const { commit, mergedInto } = account;
    return { slug: options.slug, environments: newSlugs, accountCommit: commit, head, mergedInto };
  });
}
