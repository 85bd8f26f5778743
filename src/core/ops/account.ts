import type YAML from 'yaml';
import { yamlLib } from '../yaml-lib.js';
import type { CoreOptions } from '../context.js';
import { KnockEnvError } from '../errors.js';
import { formatMessage, readCommit, writeCommit } from '../git/commit.js';
import { writeObject } from '../git/objects.js';
import { currentBranch, updateRef } from '../git/refs.js';
import { applyChanges } from '../git/tree.js';
import { branchRef, environmentSlugs, headOf, HIGHEST_ENVIRONMENT, loadConfig, readFileAtCommit, type Project } from '../project.js';
import { CONFIG_FILE } from '../resources.js';
import { validateConfigText, type KnockEnvConfig } from '../validate/config.js';
import { followCheckedOutBranch } from './commit.js';
import { mergeDown, type BranchMove } from './mergeDown.js';
import { TRAILER, signatureOf, type OperationName } from './shared.js';

export interface AccountChange {
  /** The commit on the highest environment. */
  commit: string;
  config: KnockEnvConfig;
  mergedInto: BranchMove[];
}

/**
 * Changes knock-env.yaml: edits it as a YAML document (comments kept),
 * validates the result, commits it on the highest environment and merges it
 * down, so it takes effect in every environment at once. Call under the
 * repository lock.
 */
export async function commitAccountChange(
  project: Project,
  options: CoreOptions,
  change: { subject: string; body?: string; operation: OperationName; edit: (doc: YAML.Document, config: KnockEnvConfig) => void },
): Promise<AccountChange> {
  const config = await loadConfig(project);
  const slugs = environmentSlugs(config);
  const top = await headOf(project, HIGHEST_ENVIRONMENT);
  const text = (await readFileAtCommit(project, top, CONFIG_FILE))!.toString('utf8');
  const doc = yamlLib().parseDocument(text);
  change.edit(doc, config);
  const newText = doc.toString({ lineWidth: 0 });
  const { issues, data } = validateConfigText(newText, CONFIG_FILE);
  if (issues.length > 0 || !data) {
    throw new KnockEnvError('INVALID_CONFIG', `The change would make ${CONFIG_FILE} invalid: ${issues.map((i) => i.message).join('; ')}`, {
      hint: 'Nothing was changed.',
      data: { issues },
    });
  }
  const signature = signatureOf(options);
  const blob = await writeObject(project, 'blob', Buffer.from(newText));
  const changes = new Map([[CONFIG_FILE, { oid: blob, mode: '100644' }]]);
  const tree = await applyChanges(project, (await readCommit(project, top)).tree, changes);
  const message = formatMessage(change.subject, change.body, {
    [TRAILER.operation]: change.operation,
    [TRAILER.environment]: HIGHEST_ENVIRONMENT,
  });
  const commit = await writeCommit(project, { tree, parents: [top], author: signature, committer: signature, message });
  await updateRef(project, { ref: branchRef(HIGHEST_ENVIRONMENT), oldOid: top, newOid: commit, reflogMessage: `knock-env: ${change.subject}`, committer: signature });
  const mergedInto = await mergeDown(project, slugs, slugs.length - 1, commit, changes, signature);
  const checkedOut = await currentBranch(project);
  const moved = [...mergedInto, { environment: HIGHEST_ENVIRONMENT, from: top, to: commit }].find((m) => m.environment === checkedOut);
  if (moved) await followCheckedOutBranch(project, moved.from, moved.to);
  return { commit, config: data, mergedInto };
}
