import type { CoreOptions } from '../context.js';
import { authorizeRead } from '../access.js';
import { KnockEnvError } from '../errors.js';
import { readCommit } from '../git/commit.js';
import { readIndex } from '../git/gitindex.js';
import { currentBranch, setHead } from '../git/refs.js';
import { diffTrees } from '../git/tree.js';
import { environmentSlugs, headOf, loadConfig, openProject, requireEnvironment } from '../project.js';
import { updateWorkingTree } from '../worktree.js';
import { analyseWorkingTree } from './analyse.js';
import { withRepositoryLock } from './shared.js';

export interface CheckoutResult {
  environment: string;
  previous: string | null;
  head: string;
  /** Files the working tree changed to match. */
  files: number;
}

/**
 * Switches the working tree to an environment's branch, refusing while there
 * are uncommitted changes (nothing is lost); `status` and `commit` then act there.
 */
export async function checkoutEnvironment(options: CoreOptions & { environment: string }): Promise<CheckoutResult> {
  const project = await openProject(options);
  return withRepositoryLock(project, options, async () => {
    const config = await loadConfig(project);
    requireEnvironment(config, options.environment);
    authorizeRead(config, options.actor, options.apiKey, [options.environment]);
    const previous = await currentBranch(project);
    const head = await headOf(project, options.environment);
    if (previous !== null && environmentSlugs(config).includes(previous)) {
      const analysis = await analyseWorkingTree(options);
      const pending = [...analysis.resources.map((r) => `${r.kind} ${r.key}`), ...analysis.others.map((o) => o.change.path)];
      if (pending.length > 0) {
        throw new KnockEnvError('DIRTY_WORKING_TREE', `${previous} has uncommitted changes: ${pending.join(', ')}.`, {
          hint: `Commit them (\`knock-env commit -m "..."\`) or discard them (\`git checkout -- .\`), then switch.`,
          data: { pending },
        });
      }
    }
    const from = previous ? await headOf(project, previous).catch(() => null) : null;
    const fromTree = from ? (await readCommit(project, from)).tree : null;
    const differences = await diffTrees(project, fromTree, (await readCommit(project, head)).tree);
    // Files are updated first (each checked against local edits); HEAD moves only when they all were.
    if (differences.length > 0) await updateWorkingTree(project, await readIndex(project.fs, project.gitdir), differences);
    await setHead(project, options.environment);
    return { environment: options.environment, previous, head, files: differences.length };
  });
}
