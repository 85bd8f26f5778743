import { insertFirstKey } from '../yaml-edit.js';
import type { CoreOptions } from '../context.js';
import { authenticate, authorize } from '../access.js';
import { KnockEnvError } from '../errors.js';
import { formatMessage, readCommit, writeCommit } from '../git/commit.js';
import { readIndex } from '../git/gitindex.js';
import { hashObject, writeObject } from '../git/objects.js';
import { updateRef } from '../git/refs.js';
import { applyChanges, diffTrees, entryAt, readTree, type FileChange } from '../git/tree.js';
import { branchRef, headOf, LOWEST_ENVIRONMENT, openProject, type Project } from '../project.js';
import { RESOURCE_TYPES, resourceId, type ResourceKind } from '../resources.js';
import type { ValidationIssue } from '../validate/types.js';
import { transactionOf, type RefTransaction } from '../git/transaction.js';
import { assertNotOverwritten, updateWorkingTree } from '../worktree.js';
import { analyseWorkingTree, type ResourceChange, type WorkingTreeAnalysis } from './analyse.js';
import { mergeDown, type BranchMove } from './mergeDown.js';
import { TRAILER, signatureOf, withRepositoryLock } from './shared.js';

export interface CommitOptions extends CoreOptions {
  message: string;
  /** Restrict the commit to these repository-relative paths (files or folders). */
  paths?: string[];
}

export interface OwnershipProblem {
  path: string;
  resource?: string;
  owner: string | null;
  message: string;
  hint: string;
}

export interface CommitResult {
  environment: string;
  commit: string;
  parent: string;
  resources: { kind: ResourceKind; key: string; status: ResourceChange['status'] }[];
  files: { path: string; status: string }[];
  /** Lower environments that received a merge of this commit. */
  mergedInto: BranchMove[];
}

/** Inserts `origin_environment` as the first key, leaving every other byte of the file as it was. */
export function withOriginEnvironment(text: string, env: string): string {
  return insertFirstKey(text, 'origin_environment', env);
}

function pathFilter(paths: string[] | undefined, dir: string): ((path: string) => boolean) | undefined {
  if (!paths || paths.length === 0) return undefined;
  const normalised = paths.map((p) => {
    const abs = p.startsWith('/') ? p : `${dir}/${p}`;
    const rel = abs.startsWith(`${dir}/`) ? abs.slice(dir.length + 1) : abs === dir ? '' : abs;
    return rel.replace(/\/+$/, '').replace(/^\.\//, '');
  });
  return (path) => normalised.some((p) => p === '' || p === '.' || path === p || path.startsWith(`${p}/`));
}

export async function ownershipProblems(analysis: WorkingTreeAnalysis, existsIn: (kind: ResourceKind, key: string) => Promise<string[]>): Promise<OwnershipProblem[]> {
  const { environment: env, environments, config } = analysis;
  const lowest = environments[0] ?? LOWEST_ENVIRONMENT;
  const problems: OwnershipProblem[] = [];
  for (const r of analysis.resources) {
    const id = `${r.kind} "${r.key}"`;
    const path = `${RESOURCE_TYPES[r.kind].dir}/${r.key}`;
    if (r.status === 'added') {
      const elsewhere = (await existsIn(r.kind, r.key)).filter((e) => e !== env);
      if (elsewhere.length > 0) {
        problems.push({ path, resource: resourceId(r), owner: elsewhere[0]!, message: `${id} already exists in ${elsewhere.join(', ')}; a key can be created only once.`, hint: `Choose another key, or edit it in ${elsewhere[0]} and promote.` });
        continue;
      }
      if (env !== lowest && !config.settings?.production_write_access) {
        problems.push({ path, resource: resourceId(r), owner: lowest, message: `${id} cannot be created in ${env}: production write access is off, so workflows and guides are created in ${lowest}.`, hint: `Create it in ${lowest} and promote it, or ask an owner to run \`knock-env settings set production-write-access on\`.` });
        continue;
      }
      if (r.workingOrigin !== null && r.workingOrigin !== env) {
        problems.push({ path, resource: resourceId(r), owner: env, message: `${id} says origin_environment: ${r.workingOrigin}, but it is being created in ${env}.`, hint: `Remove the origin_environment line (knock-env sets it), or commit it in ${r.workingOrigin}.` });
      }
      continue;
    }
    const owner = r.committedOrigin ?? lowest;
    if (owner !== env) {
      problems.push({ path, resource: resourceId(r), owner, message: `${id} belongs to ${owner} (its origin environment); it cannot be ${r.status === 'deleted' ? 'deleted' : 'changed'} in ${env}.`, hint: owner === lowest ? `Make the change in ${owner} (\`git switch ${owner}\`) and promote it.` : `Make the change in ${owner} directly.` });
      continue;
    }
    if (r.status === 'modified' && r.workingOrigin !== (r.committedOrigin ?? r.workingOrigin)) {
      problems.push({ path, resource: resourceId(r), owner, message: `${id}: origin_environment cannot change (committed ${r.committedOrigin}, now ${r.workingOrigin ?? 'removed'}).`, hint: `Restore \`origin_environment: ${owner}\` in ${RESOURCE_TYPES[r.kind].file}.` });
    }
  }
  for (const other of analysis.others) {
    if (other.scope === 'environment' && other.environment !== env && other.issues.length === 0) {
      problems.push({ path: other.change.path, owner: other.environment ?? null, message: `${other.change.path} belongs to the ${other.environment} environment; it cannot be changed in ${env}.`, hint: `Switch to ${other.environment} (\`git switch ${other.environment}\`) and commit it there.` });
    }
    if (other.scope === 'account') {
      problems.push({ path: other.change.path, owner: 'account', message: `knock-env.yaml holds the account (environments, settings, members) and is changed only through knock-env's commands.`, hint: 'Use `knock-env env create` and friends; discard the edit with `git checkout -- knock-env.yaml`.' });
    }
  }
  return problems;
}

export function collectIssues(analysis: WorkingTreeAnalysis): ValidationIssue[] {
  return [...analysis.resources.flatMap((r) => r.issues), ...analysis.others.flatMap((o) => o.issues)];
}

/**
 * Commits the changed resources of the working tree to the checked-out
 * environment: validates them, checks ownership, sets origin_environment on
 * new resources, writes one commit and moves the branch with a
 * compare-and-swap; a commit above the lowest environment is merged down.
 */
export async function commitChanges(options: CommitOptions): Promise<CommitResult> {
  if (options.message.trim() === '') {
    throw new KnockEnvError('USAGE', 'The commit message is empty.', { hint: 'Pass one with -m "..."' });
  }
  const located = await openProject(options);
  return withRepositoryLock(located, options, async () => {
    // Everything is read under the lock: another command may have committed just before.
    const analysis = await analyseWorkingTree(options, pathFilter(options.paths, located.dir));
    const { project, environment: env, environments } = analysis;
    const who = authenticate(analysis.config, options.actor, options.apiKey);
    authorize(analysis.config, who, 'read', env);
    if (analysis.resources.length === 0 && analysis.others.length === 0) {
      throw new KnockEnvError('NOTHING_TO_COMMIT', `Nothing to commit in ${env}: the working tree matches its head.`, {
        hint: 'Edit or add a resource under workflows/ or guides/ first (`knock-env workflow new <key>`).',
      });
    }
    const issues = collectIssues(analysis);
    if (issues.length > 0) {
      throw new KnockEnvError('VALIDATION_FAILED', `${issues.length} problem${issues.length === 1 ? '' : 's'} found; nothing was committed.`, {
        hint: 'Fix them (`knock-env validate` lists them) and commit again.',
        data: { issues },
      });
    }
    // Keys present in each environment, read once per resource folder (workflows/, guides/) per environment.
    const keysByEnv = new Map<string, Set<string>>();
    const existsIn = async (kind: ResourceKind, key: string): Promise<string[]> => {
      const found: string[] = [];
      for (const e of environments) {
        const cacheKey = `${e}:${kind}`;
        let keys = keysByEnv.get(cacheKey);
        if (!keys) {
          const tree = (await readCommit(project, await headOf(project, e))).tree;
          const folder = await entryAt(project, tree, RESOURCE_TYPES[kind].dir);
          keys = new Set(folder ? (await readTree(project, folder.oid)).map((entry) => entry.name) : []);
          keysByEnv.set(cacheKey, keys);
        }
        if (keys.has(key)) found.push(e);
      }
      return found;
    };
    const problems = await ownershipProblems(analysis, existsIn);
    if (problems.length > 0) {
      const first = problems[0]!;
      throw new KnockEnvError('OWNERSHIP', problems.length === 1 ? first.message : `${problems.length} changes are not allowed in ${env}:\n${problems.map((p) => `  - ${p.message}`).join('\n')}`, {
        hint: `${first.hint} Nothing was committed.`,
        data: { problems },
      });
    }
    // Roles last: a change that belongs elsewhere is better explained by its owner than by a missing role.
    if (analysis.resources.length > 0) authorize(analysis.config, who, 'edit-resources', env, 'commit workflows and guides');
    if (analysis.others.some((o) => o.scope === 'environment' && o.environment === env)) {
      authorize(analysis.config, who, 'configure-environment', env, `change ${env}'s channels, variables or branding`);
    }
    return writeCommitFromAnalysis(analysis, options);
  });
}

async function writeCommitFromAnalysis(analysis: WorkingTreeAnalysis, options: CommitOptions): Promise<CommitResult> {
  const { project, environment: env, environments } = analysis;
  const signature = signatureOf(options);
  const transaction = requireTransaction(project);
  const changes = new Map<string, FileChange | null>();
  const indexUpdates = new Map<string, string | null>();
  const files: CommitResult['files'] = [];

  for (const resource of analysis.resources) {
    for (const change of resource.paths) {
      files.push({ path: change.path, status: change.status });
      if (change.status === 'deleted') {
        changes.set(change.path, null);
        indexUpdates.set(change.path, null);
        continue;
      }
      let content = change.file?.content ?? ((await project.fs.promises.readFile(`${project.dir}/${change.path}`)) as Buffer);
      const mainFile = `${RESOURCE_TYPES[resource.kind].dir}/${resource.key}/${RESOURCE_TYPES[resource.kind].file}`;
      const original = content;
      if (resource.status === 'added' && change.path === mainFile && resource.workingOrigin === null) {
        content = Buffer.from(withOriginEnvironment(content.toString('utf8'), env), 'utf8');
      }
      const oid = await writeObject(project, 'blob', content);
      // The file gets its origin_environment line only once the commit carrying it lands.
      if (content !== original) transaction.planFile(change.path, oid, hashObject('blob', original));
      changes.set(change.path, { oid, mode: change.mode ?? '100644' });
      indexUpdates.set(change.path, oid);
    }
  }
  for (const other of analysis.others) {
    const change = other.change;
    files.push({ path: change.path, status: change.status });
    if (change.status === 'deleted') {
      changes.set(change.path, null);
      indexUpdates.set(change.path, null);
    } else {
      const content = change.file?.content ?? ((await project.fs.promises.readFile(`${project.dir}/${change.path}`)) as Buffer);
      const oid = await writeObject(project, 'blob', content);
      changes.set(change.path, { oid, mode: change.mode ?? '100644' });
      indexUpdates.set(change.path, oid);
    }
  }

  const tree = await applyChanges(project, analysis.headTree, changes);
  const summary = analysis.resources.map((r) => `${r.status} ${r.kind} ${r.key}`).join(', ');
  const message = formatMessage(options.message, undefined, {
    [TRAILER.operation]: 'commit',
    [TRAILER.environment]: env,
  });
  const commit = await writeCommit(project, { tree, parents: [analysis.head], author: signature, committer: signature, message });
  await updateRef(project, { ref: branchRef(env), oldOid: analysis.head, newOid: commit, reflogMessage: `knock-env commit: ${summary || options.message}`, committer: signature });
  // A full commit leaves the working tree equal to the new head in the managed areas; refreshing
  // every entry that was re-hashed makes the index equal too, which the stamp then records.
  const full = !options.paths || options.paths.length === 0;
  if (full) for (const file of analysis.files.values()) if (file.content && !indexUpdates.has(file.path)) indexUpdates.set(file.path, file.oid);
  // The index is written with the branch move, under the same transaction.
  for (const [path, oid] of indexUpdates) transaction.plan.index.set(path, oid);
  transaction.plan.stamp = full ? { branch: env, head: commit } : null;
  // The committed folders were validated (origin_environment aside, which the schema allows): remember them.
  for (const r of analysis.resources) {
    if (r.status === 'deleted') continue;
    const entry = await entryAt(project, tree, `${RESOURCE_TYPES[r.kind].dir}/${r.key}`);
    if (entry) analysis.cache.add(r.kind, entry.oid);
  }
  await analysis.cache.save();

  const envIndex = environments.indexOf(env);
  const mergedInto = envIndex > 0 ? await mergeDown(project, environments, envIndex, commit, changes, signature) : [];
  return {
    environment: env,
    commit,
    parent: analysis.head,
    resources: analysis.resources.map((r) => ({ kind: r.kind, key: r.key, status: r.status })),
    files,
    mergedInto,
  };
}

/**
 * After a checked-out branch moved from `from` to `to`, bring the working tree
 * and index along. Inside a transaction, local edits that would be overwritten
 * refuse the command now, and the files change once the move is published.
 */
export async function followCheckedOutBranch(project: Project, from: string, to: string): Promise<void> {
  const [a, b] = [await readCommit(project, from), await readCommit(project, to)];
  const differences = await diffTrees(project, a.tree, b.tree);
  if (differences.length === 0) return;
  const transaction = transactionOf(project);
  if (!transaction) {
    await updateWorkingTree(project, await readIndex(project.fs, project.gitdir), differences);
    return;
  }
  // A file the transaction already plans (the branch moved twice) is checked against that plan.
  await assertNotOverwritten(project, differences.filter((d) => !transaction.plan.files.has(d.path)));
  for (const d of differences) {
    transaction.planFile(d.path, d.newOid ?? null, d.oldOid ?? null);
    transaction.plan.index.set(d.path, d.newOid ?? null);
  }
}

function requireTransaction(project: Project): RefTransaction {
  const transaction = transactionOf(project);
  if (!transaction) throw new KnockEnvError('USAGE', 'A commit is written inside a transaction (run it through withRepositoryLock).');
  return transaction;
}
