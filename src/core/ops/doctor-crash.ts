import type { Signature } from '../git/commit.js';
import { readIfExists } from '../git/fs.js';
import { readIndex } from '../git/gitindex.js';
import { hashObject } from '../git/objects.js';
import { currentBranch, readRef } from '../git/refs.js';
import { listFiles } from '../git/tree.js';
import { OPERATION_JOURNAL, readOperationJournal } from '../git/transaction.js';
import { branchRef, type Project } from '../project.js';
import { appendAuditEvent, readAuditTrail } from './audit.js';
import { shortOid } from './shared.js';
import { readCommit } from '../git/commit.js';
import { refreshIndex } from '../worktree.js';

/**
 * What a crash or a plain-git hand can leave behind, beside the chain:
 * an operation stopped midway, a promotion with no audit event, an index
 * behind its branch, a lock file whose holder is gone.
 */
export type CrashFindingCode =
  /** A local operation stopped between two writes; the next knock-env command (or `doctor --fix`) finishes it. */
  | 'operation-incomplete'
  /** A branch's reflog shows a promotion that the audit trail does not record. */
  | 'promotion-unrecorded'
  /** The index lacks committed files of the checked-out branch (`git status` shows them as deleted). */
  | 'index-behind'
  /** A lock file (index.lock, <ref>.lock) left by a process that is gone: every command that needs it exits 6. */
  | 'stale-lock';

export interface CrashFinding {
  check: 'chain' | 'audit';
  code: CrashFindingCode;
  severity: 'error' | 'warning';
  environment?: string;
  path?: string;
  commit?: string;
  message: string;
  hint: string;
  fixable: boolean;
}

/** A lock older than this, with no knock-env command running, is judged stale (git holds its locks for moments). */
export const STALE_LOCK_MS = 5 * 60_000;

/** The finding for an operation stopped midway, or null when there is none. */
export async function interruptedOperation(project: Project): Promise<CrashFinding | null> {
  const journal = await readOperationJournal(project);
  if (journal === null) return null;
  const refs = journal.moves.map((m) => `${m.ref.replace(/^refs\/heads\//, '')} → ${shortOid(m.new)}`).join(', ');
  return {
    check: 'chain',
    code: 'operation-incomplete',
    severity: 'error',
    path: `.git/${OPERATION_JOURNAL}`,
    message:
      journal.state === 'committed'
        ? `An operation started ${journal.started} stopped midway (${refs}): some of its moves may not have landed.`
        : `An operation started ${journal.started} stopped while taking its locks; nothing of it moved, its locks may remain.`,
    hint: 'Run any knock-env command (or `knock-env doctor --fix`): it finishes the operation first.',
    fixable: true,
  };
}

/** Promotions in environment branches' reflogs (written by knock-env) with no audit event for that move. */
async function unrecordedPromotions(project: Project, slugs: string[]): Promise<{ environment: string; from: string; to: string }[]> {
  const events = await readAuditTrail(project).catch(() => []);
  const recorded = new Set(events.filter((e) => e.operation === 'promote').map((e) => `${e.environment} ${e.to}`));
  const out: { environment: string; from: string; to: string }[] = [];
  for (const slug of slugs.slice(1)) {
    const log = (await readIfExists(project.fs, `${project.gitdir}/logs/${branchRef(slug)}`))?.toString('utf8') ?? '';
    for (const line of log.split('\n')) {
      const match = /^([0-9a-f]{40}) ([0-9a-f]{40}) [^\t]*\tknock-env promote /.exec(line);
      if (match && !recorded.has(`${slug} ${match[2]}`)) out.push({ environment: slug, from: match[1]!, to: match[2]! });
    }
  }
  return out;
}

/** Paths of the checked-out branch's head that the index lacks or holds another content for, while the working tree has the head's. */
async function indexBehind(project: Project, slugs: string[]): Promise<{ branch: string; paths: string[] } | null> {
  const branch = await currentBranch(project);
  if (branch === null || !slugs.includes(branch)) return null;
  const head = await readRef(project, branchRef(branch));
  if (head === null) return null;
  const index = await readIndex(project.fs, project.gitdir);
  const paths: string[] = [];
  for (const file of await listFiles(project, (await readCommit(project, head)).tree)) {
    if (index.entries.get(file.path)?.oid === file.oid || index.conflicts.includes(file.path)) continue;
    const content = await readIfExists(project.fs, `${project.dir}/${file.path}`);
    if (content !== null && hashObject('blob', content) === file.oid) paths.push(file.path);
  }
  return paths.length > 0 ? { branch, paths } : null;
}

async function lockFiles(project: Project): Promise<string[]> {
  const out: string[] = [];
  for (const name of ['index.lock', 'HEAD.lock', 'packed-refs.lock']) if ((await readIfExists(project.fs, `${project.gitdir}/${name}`)) !== null) out.push(name);
  const walk = async (rel: string): Promise<void> => {
    const names = await project.fs.promises.readdir(`${project.gitdir}/${rel}`).catch(() => [] as string[]);
    for (const raw of names) {
      const name = String(raw);
      const stat = await project.fs.promises.lstat(`${project.gitdir}/${rel}/${name}`).catch(() => null);
      if (stat?.isDirectory()) await walk(`${rel}/${name}`);
      else if (name.endsWith('.lock')) out.push(`${rel}/${name}`);
    }
  };
  await walk('refs');
  return out;
}

/**
 * The crash checks of `doctor`. `now` judges a lock's age; a lock named by
 * an interrupted operation's journal is reported with it, not twice.
 */
export async function crashFindings(project: Project, slugs: string[], now: Date): Promise<CrashFinding[]> {
  const findings: CrashFinding[] = [];
  const interrupted = await interruptedOperation(project);
  if (interrupted) findings.push(interrupted);
  const journaled = new Set((await readOperationJournal(project))?.moves.map((m) => `${m.ref}.lock`) ?? []);
  const repositoryLocked = (await readIfExists(project.fs, `${project.gitdir}/knock-env.lock`)) !== null;
  for (const lock of await lockFiles(project)) {
    if (journaled.has(lock) || (interrupted && lock === 'index.lock')) continue;
    const stat = await project.fs.promises.stat(`${project.gitdir}/${lock}`).catch(() => null);
    if (stat === null || repositoryLocked || now.getTime() - stat.mtimeMs < STALE_LOCK_MS) continue;
    findings.push({
      check: 'chain',
      code: 'stale-lock',
      severity: 'error',
      path: `.git/${lock}`,
      message: `.git/${lock} has been there since ${new Date(stat.mtimeMs).toISOString()}: a git process that held it is gone, and every command that needs it exits 6.`,
      hint: `Make sure no git command is running in this repository (\`ps aux | grep git\`), then remove it: \`rm ${project.gitdir}/${lock}\`.`,
      fixable: false,
    });
  }
  const behind = await indexBehind(project, slugs);
  if (behind) {
    findings.push({
      check: 'chain',
      code: 'index-behind',
      severity: 'error',
      environment: behind.branch,
      path: behind.paths[0]!,
      message: `The git index is behind ${behind.branch}: ${behind.paths.length} committed file${behind.paths.length === 1 ? '' : 's'} (${behind.paths.slice(0, 3).join(', ')}) would show as deleted in \`git status\`, and a plain \`git commit\` would delete ${behind.paths.length === 1 ? 'it' : 'them'}.`,
      hint: 'Run `knock-env doctor --fix` (or `git reset -q` to make the index match the branch).',
      fixable: true,
    });
  }
  for (const p of await unrecordedPromotions(project, slugs)) {
    findings.push({
      check: 'audit',
      code: 'promotion-unrecorded',
      severity: 'error',
      environment: p.environment,
      commit: p.to,
      message: `${p.environment}'s reflog shows a promotion to ${shortOid(p.to)} (from ${shortOid(p.from)}) that the audit trail does not record.`,
      hint: 'Run `knock-env doctor --fix` to record it from the reflog.',
      fixable: true,
    });
  }
  return findings;
}

/** Repairs what `crashFindings` can: the index brought up to the branch, unrecorded promotions recorded. Call under the repository lock. */
export async function repairCrash(project: Project, slugs: string[], signature: Signature): Promise<void> {
  const behind = await indexBehind(project, slugs);
  if (behind) {
    const head = (await readRef(project, branchRef(behind.branch)))!;
    const files = new Map((await listFiles(project, (await readCommit(project, head)).tree)).map((f) => [f.path, f.oid]));
    // Written now (through index.lock), so that the examination after the repair sees it.
    await refreshIndex(project, await readIndex(project.fs, project.gitdir), new Map(behind.paths.map((path) => [path, files.get(path)!])));
  }
  for (const p of await unrecordedPromotions(project, slugs)) {
    await appendAuditEvent(
      project,
      {
        operation: 'promote',
        environment: p.environment,
        source: slugs[slugs.indexOf(p.environment) - 1]!,
        from: p.from,
        to: p.to,
        subject: `Promote ${slugs[slugs.indexOf(p.environment) - 1]} to ${p.environment}: ${shortOid(p.from)}..${shortOid(p.to)}`,
        body: 'Recorded by doctor --fix from the branch\'s reflog (the promotion stopped before its audit event).',
      },
      signature,
    );
  }
}
