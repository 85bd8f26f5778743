import type { CoreOptions } from '../context.js';
import { isKnockEnvError, KnockEnvError } from '../errors.js';
import { formatMessage, parseTrailers, readCommit, subjectOf, writeCommit, type Signature } from '../git/commit.js';
import { isAncestor } from '../git/history.js';
import { readIfExists } from '../git/fs.js';
import { hashObject, type GitStore } from '../git/objects.js';
import { currentBranch, readRef, updateRef } from '../git/refs.js';
import { applyChanges, diffTrees, entryAt, isTreeMode, readTree, type FileChange, type TreeDifference } from '../git/tree.js';
import { keyProblem } from '../keys.js';
import { ACCOUNT, OwnershipJudge } from '../ownership.js';
import { authenticate, authorize, authorizeRead } from '../access.js';
import { branchRef, environmentSlugs, HIGHEST_ENVIRONMENT, loadConfig, openProject, type Project } from '../project.js';
import { CONFIG_FILE, RESOURCE_KINDS, RESOURCE_TYPES } from '../resources.js';
import { validateResource } from '../validate/resource.js';
import type { ValidationIssue } from '../validate/types.js';
import { ValidationCache } from '../validation-cache.js';
import { treeReader } from '../worktree.js';
import { readAuditTrail, type AuditEvent } from './audit.js';
import { followCheckedOutBranch } from './commit.js';
import { commitsBetween } from './plan.js';
import { TRAILER, shortOid, signatureOf, withRepositoryLock } from './shared.js';
import { readPendingPush, type RecordedPush } from '../git/transaction.js';
import { crashFindings, interruptedOperation, repairCrash, type CrashFindingCode } from './doctor-crash.js';
import { checkDeployJournal } from './doctor-deploy.js';

export type DoctorCheck = 'chain' | 'ownership' | 'schema' | 'audit' | 'deploy';

/** Checks in the order they run and are reported. */
export const DOCTOR_CHECKS: readonly DoctorCheck[] = ['chain', 'ownership', 'schema', 'audit', 'deploy'];

/** What a finding is about; stable, for scripts and tests. */
export type FindingCode =
  /** An environment of knock-env.yaml has no branch. */
  | 'missing-branch'
  /** An upper environment's head is not an ancestor of (or equal to) the head below it. */
  | 'chain-broken'
  /** A path owned by a higher environment differs from that environment's head. */
  | 'owned-path-differs'
  /** Two branches hold a resource under one key with different origin_environment values. */
  | 'origin-conflict'
  /** knock-env.yaml on the highest environment is missing or invalid. */
  | 'invalid-config'
  /** A workflow or guide in an environment's head does not validate. */
  | 'invalid-resource'
  /** The audit trail cannot be read, or names a commit that does not exist. */
  | 'audit-missing-commit'
  /** A promotion's target is no longer in the environment's history, and no rollback says why. */
  | 'audit-unexplained-move'
  /** A commit on an environment branch carries no Knock-Env-Operation trailer. */
  | 'untracked-commit'
  /** A push to the remote stopped between two branches; the remote's chain holds but the change is half published. */
  | 'push-incomplete'
  /** A deploy to Knock stopped before it was read back and recorded; the next deploy completes it. */
  | 'deploy-incomplete'
  /** What a crash or a plain-git hand left (operation-incomplete, promotion-unrecorded, index-behind, stale-lock): doctor-crash.ts. */
  | CrashFindingCode;

export interface DoctorFinding {
  check: DoctorCheck;
  code: FindingCode;
  severity: 'error' | 'warning';
  environment?: string;
  /** Repository path the finding is about. */
  path?: string;
  /** 1-based position in `path`, for schema findings. */
  line?: number;
  column?: number;
  /** The commit the finding is about (a head, an audit record, an untracked commit). */
  commit?: string;
  message: string;
  hint: string;
  /** Whether `doctor --fix` repairs it. */
  fixable: boolean;
  /** Set when `--fix` ran: whether the finding is gone afterwards. */
  fixed?: boolean;
}

/** One commit written by `--fix`. */
export interface RepairCommit {
  environment: string;
  /** The environment directly above, whose owned paths were taken. */
  source: string;
  /** The environment's head before and after. */
  from: string;
  to: string;
  /** Parents of the repair commit: (old head, source head) for a merge, (old head) alone otherwise. */
  parents: string[];
  /** Paths set to the source's content (or deleted, when the source has none). */
  paths: string[];
}

export interface DoctorReport {
  /** No error remains (warnings do not count). */
  healthy: boolean;
  environments: string[];
  findings: DoctorFinding[];
  /** How many findings `--fix` resolved. */
  fixed: number;
  /** The commits `--fix` wrote, top pair first. */
  repairs: RepairCommit[];
}

export interface DoctorOptions extends CoreOptions {
  /** Repair what can be repaired: merge commits that restore the chain and the paths higher environments own. */
  fix?: boolean;
}

/** The state examined: environments in order, and each one's head and tree (null when its branch is missing). */
interface Snapshot {
  slugs: string[];
  heads: Map<string, { commit: string; tree: string } | null>;
}

interface Examination {
  snapshot: Snapshot;
  findings: DoctorFinding[];
}

const OID = /^[0-9a-f]{40}$/;

/**
 * Checks a project: the chain of environments, ownership of paths on every
 * branch, the validity of every head, and the audit trail. With `fix`, writes
 * repair commits (never rewriting history, never moving a ref backwards) and
 * reports which findings they resolved.
 */
export async function diagnose(options: DoctorOptions): Promise<DoctorReport> {
  const project = await openProject(options);
  // Doctor reads every environment, and with --fix writes where repairs are needed.
  const config = await loadConfig(project);
  const everywhere = config.environments.map((e) => e.slug);
  authorizeRead(config, options.actor, options.apiKey, everywhere);
  if (options.fix) {
    const who = authenticate(config, options.actor, options.apiKey);
    for (const env of everywhere) authorize(config, who, 'manage-account', env, 'repair environments');
  }
  const now = options.now ? options.now() : new Date();
  if (!options.fix) {
    const examined = await examine(project, now);
    return reportOf(examined.snapshot, examined.findings, []);
  }
  // Taking the lock finishes an interrupted operation: it is reported as fixed.
  const interrupted = await interruptedOperation(project);
  return withRepositoryLock(project, options, async () => {
    // Examined under the lock, so the repairs start from the state they were planned on.
    const before = await examine(project, now);
    if (interrupted) before.findings.unshift({ ...interrupted, fixed: true });
    if (!before.findings.some((f) => f.fixable && f.fixed !== true)) return reportOf(before.snapshot, before.findings, []);
    await repairCrash(project, before.snapshot.slugs, signatureOf(options));
    const repairs = await repairChain(project, before.snapshot, signatureOf(options));
    const after = await examine(project, now);
    const remaining = new Set(after.findings.map(findingKey));
    const findings: DoctorFinding[] = before.findings.map((f) => ({ ...f, fixed: f.fixed === true || !remaining.has(findingKey(f)) }));
    const known = new Set(before.findings.map(findingKey));
    findings.push(...after.findings.filter((f) => !known.has(findingKey(f))));
    return reportOf(after.snapshot, findings, repairs);
  });
}

function reportOf(snapshot: Snapshot, findings: DoctorFinding[], repairs: RepairCommit[]): DoctorReport {
  const out = DOCTOR_CHECKS.flatMap((check) => findings.filter((f) => f.check === check));
  return {
    healthy: !out.some((f) => f.severity === 'error' && f.fixed !== true),
    environments: snapshot.slugs,
    findings: out,
    fixed: out.filter((f) => f.fixed === true).length,
    repairs,
  };
}

/** Identifies a finding across two examinations (messages name heads, which a repair moves). */
function findingKey(f: DoctorFinding): string {
  const commit = f.check === 'audit' ? f.commit ?? '' : '';
  return [f.check, f.code, f.environment ?? '', f.path ?? '', f.line ?? '', f.column ?? '', commit, f.check === 'schema' ? f.message : ''].join('\0');
}

async function examine(project: Project, now: Date): Promise<Examination> {
  let slugs: string[];
  try {
    slugs = environmentSlugs(await loadConfig(project));
  } catch (error) {
    if (!isKnockEnvError(error, 'INVALID_CONFIG')) throw error;
    return { snapshot: { slugs: [], heads: new Map() }, findings: configFindings(error) };
  }
  const heads: Snapshot['heads'] = new Map();
  for (const slug of slugs) {
    const commit = await readRef(project, branchRef(slug));
    heads.set(slug, commit === null ? null : { commit, tree: (await readCommit(project, commit)).tree });
  }
  const snapshot = { slugs, heads };
  const findings = [
    ...(await checkChain(project, snapshot)),
    ...(await checkOwnership(project, snapshot)),
    ...(await checkSchemas(project, snapshot)),
    ...(await checkAudit(project, snapshot)),
    ...(await crashFindings(project, slugs, now)),
    ...(await checkDeployJournal(project)),
  ];
  const pending = await readPendingPush(project);
  if (pending) findings.unshift(pushIncomplete(pending));
  return { snapshot, findings };
}

export function pushIncomplete(moves: RecordedPush[]): DoctorFinding {
  return {
    check: 'chain',
    code: 'push-incomplete',
    severity: 'error',
    message: `A push to the remote stopped midway (${moves.map((m) => `${m.branch} → ${shortOid(m.new)}`).join(', ')}); the remote has part of it.`,
    hint: 'Run `knock-env doctor --fix` or `knock-env push` with the remote reachable to complete it.',
    fixable: true,
  };
}

function configFindings(error: KnockEnvError): DoctorFinding[] {
  const issues = (error.data?.issues as ValidationIssue[] | undefined) ?? [];
  const base = {
    check: 'schema' as const,
    code: 'invalid-config' as const,
    severity: 'error' as const,
    // loadConfig reads the account from the highest environment.
    environment: HIGHEST_ENVIRONMENT,
    path: CONFIG_FILE,
    hint: `Fix ${CONFIG_FILE} on the highest environment's branch; the other checks need it to know the environments.`,
    fixable: false,
  };
  if (issues.length === 0) return [{ ...base, message: error.message }];
  return issues.map((i) => ({ ...base, ...(i.line !== undefined ? { line: i.line } : {}), ...(i.column !== undefined ? { column: i.column } : {}), message: i.message }));
}

// ---------------------------------------------------------------------------
// Ownership of paths

interface PathOwner {
  owner: string;
  /** Position in the chain; the account counts as the highest environment. */
  rank: number;
  /** The resource folder, for workflows and guides. */
  resourceDir?: string;
  /** Set when the two trees disagree on a resource's origin_environment. */
  conflict?: { upper: string; lower: string };
}

/**
 * Who owns a path that differs between an upper and a lower tree. When both
 * trees hold a resource and disagree on its origin, the pair is in conflict
 * and neither claim is acted on.
 */
class PairOwnership {
  private readonly judge: OwnershipJudge;

  constructor(store: GitStore, slugs: string[], upperTree: string, lowerTree: string) {
    this.judge = new OwnershipJudge(store, slugs, [upperTree, lowerTree]);
  }

  rank(owner: string): number {
    return this.judge.rank(owner);
  }

  async ownerOf(path: string): Promise<PathOwner> {
    const owner = await this.judge.ownerOf(path);
    const claims = await this.judge.claims(path);
    if (!claims) return { owner, rank: this.rank(owner) };
    const [upper, lower] = claims.origins;
    const conflict = upper !== undefined && lower !== undefined && upper !== lower ? { upper, lower } : undefined;
    return { owner, rank: this.rank(owner), resourceDir: claims.dir, ...(conflict ? { conflict } : {}) };
  }
}

function ownerName(owner: string): string {
  return owner === ACCOUNT ? 'the account' : owner;
}

// ---------------------------------------------------------------------------
// Check 1: the chain

async function checkChain(project: Project, { slugs, heads }: Snapshot): Promise<DoctorFinding[]> {
  const findings: DoctorFinding[] = [];
  for (const [position, slug] of slugs.entries()) {
    if (heads.get(slug) !== null) continue;
    const below = slugs[position - 1];
    findings.push({
      check: 'chain',
      code: 'missing-branch',
      severity: 'error',
      environment: slug,
      message: `Environment ${slug} is listed in ${CONFIG_FILE} but has no branch.`,
      hint: below
        ? `Restore it from a remote (\`git branch ${slug} origin/${slug}\`), or recreate it where \`env create\` starts one: \`git branch ${slug} ${below}\`.`
        : `Restore it from a remote: \`git branch ${slug} origin/${slug}\`.`,
      fixable: false,
    });
  }
  for (let i = 0; i + 1 < slugs.length; i++) {
    const lower = slugs[i]!;
    const upper = slugs[i + 1]!;
    const l = heads.get(lower);
    const u = heads.get(upper);
    if (!l || !u || (await isAncestor(project, u.commit, l.commit))) continue;
    const missing = await commitsBetween(project, l.commit, u.commit, 3);
    const sample = missing.map((c) => `${shortOid(c.oid)} "${c.subject}"`).join(', ');
    findings.push({
      check: 'chain',
      code: 'chain-broken',
      severity: 'error',
      environment: lower,
      commit: u.commit,
      message: `${upper}'s head ${shortOid(u.commit)} is not in ${lower}'s history (${lower} is at ${shortOid(l.commit)}); ${lower} lacks ${sample || 'commits of it'}.`,
      hint: `Run \`knock-env doctor --fix\`: it merges ${upper} into ${lower}, taking only the paths ${upper} and the environments above it own.`,
      fixable: true,
    });
  }
  return findings;
}

// ---------------------------------------------------------------------------
// Check 2: ownership on every branch

async function checkOwnership(project: Project, { slugs, heads }: Snapshot): Promise<DoctorFinding[]> {
  const findings: DoctorFinding[] = [];
  for (let i = 0; i < slugs.length; i++) {
    const env = slugs[i]!;
    const mine = heads.get(env);
    if (!mine) continue;
    const conflicts = new Set<string>();
    for (let j = i + 1; j < slugs.length; j++) {
      const above = slugs[j]!;
      const theirs = heads.get(above);
      if (!theirs || theirs.tree === mine.tree) continue;
      const judge = new PairOwnership(project, slugs, theirs.tree, mine.tree);
      for (const d of await diffTrees(project, mine.tree, theirs.tree)) {
        const owner = await judge.ownerOf(d.path);
        if (owner.conflict) {
          const claimed = Math.max(judge.rank(owner.conflict.upper), judge.rank(owner.conflict.lower));
          if (claimed !== j || conflicts.has(owner.resourceDir!)) continue;
          conflicts.add(owner.resourceDir!);
          findings.push({
            check: 'ownership',
            code: 'origin-conflict',
            severity: 'error',
            environment: env,
            path: owner.resourceDir!,
            commit: mine.commit,
            message: `${owner.resourceDir} says origin_environment: ${owner.conflict.lower} on ${env} but origin_environment: ${owner.conflict.upper} on ${above}: one key created twice, or origin_environment edited with plain git.`,
            hint: `Decide which is right and make the other agree with git (origin_environment never changes once set); doctor --fix does not take over a resource two environments claim.`,
            fixable: false,
          });
          continue;
        }
        if (owner.rank !== j) continue;
        findings.push({
          check: 'ownership',
          code: 'owned-path-differs',
          severity: 'error',
          environment: env,
          path: d.path,
          commit: mine.commit,
          message: `${d.path} belongs to ${ownerName(owner.owner)} but ${describeDifference(d, env, above)}.`,
          hint: `Changes to it are made on ${above} and merged down; run \`knock-env doctor --fix\` to take ${above}'s version into ${env}.`,
          fixable: true,
        });
      }
    }
  }
  return findings;
}

function describeDifference(d: TreeDifference, env: string, above: string): string {
  if (d.status === 'added') return `${env} lacks it (${above} has it)`;
  if (d.status === 'deleted') return `${env} still has it (${above} has none)`;
  return `${env}'s content differs from ${above}'s head`;
}

// ---------------------------------------------------------------------------
// Check 3: every head validates

async function checkSchemas(project: Project, { slugs, heads }: Snapshot): Promise<DoctorFinding[]> {
  const findings: DoctorFinding[] = [];
  const cache = await ValidationCache.open(project.fs, project.gitdir);
  // Folders shared by several heads (the usual case) are validated once.
  const verdicts = new Map<string, ValidationIssue[]>();
  for (const env of slugs) {
    const head = heads.get(env);
    if (!head) continue;
    const reader = treeReader(project, head.tree);
    const report = (issue: ValidationIssue) =>
      findings.push({
        check: 'schema',
        code: 'invalid-resource',
        severity: 'error',
        environment: env,
        path: issue.file,
        ...(issue.line !== undefined ? { line: issue.line } : {}),
        ...(issue.column !== undefined ? { column: issue.column } : {}),
        commit: head.commit,
        message: issue.message,
        hint: `Fix it in the environment that owns it and commit with \`knock-env commit\` (\`knock-env validate\` lists every problem), then promote.`,
        fixable: false,
      });
    for (const kind of RESOURCE_KINDS) {
      const type = RESOURCE_TYPES[kind];
      const folder = await entryAt(project, head.tree, type.dir);
      if (folder === null) continue;
      if (!isTreeMode(folder.mode)) {
        report({ file: type.dir, code: 'unexpected-file', message: `${type.dir} is a file; it holds one folder per ${kind}.` });
        continue;
      }
      for (const entry of await readTree(project, folder.oid)) {
        const path = `${type.dir}/${entry.name}`;
        if (!isTreeMode(entry.mode)) {
          report({ file: path, code: 'unexpected-file', message: `${type.dir}/ holds one folder per ${kind}; "${entry.name}" is a file.` });
          continue;
        }
        // A tree id covers the content but not the folder's name, so a verdict counts only for a valid key.
        if (keyProblem(entry.name) === null && cache.has(kind, entry.oid)) continue;
        const id = `${kind} ${entry.name} ${entry.oid}`;
        let issues = verdicts.get(id);
        if (!issues) {
          issues = (await validateResource({ kind, key: entry.name, read: reader })).issues;
          verdicts.set(id, issues);
          if (issues.length === 0) cache.add(kind, entry.oid);
        }
        issues.forEach(report);
      }
    }
  }
  await cache.save();
  return findings;
}

// ---------------------------------------------------------------------------
// Check 4: the audit trail

async function commitExists(store: GitStore, oid: string): Promise<boolean> {
  if (!OID.test(oid)) return false;
  try {
    await readCommit(store, oid);
    return true;
  } catch (error) {
    if (isKnockEnvError(error, 'NOT_FOUND')) return false;
    throw error;
  }
}

async function checkAudit(project: Project, { slugs, heads }: Snapshot): Promise<DoctorFinding[]> {
  const findings: DoctorFinding[] = [];
  let events: AuditEvent[] = [];
  try {
    events = await readAuditTrail(project);
  } catch (error) {
    if (!isKnockEnvError(error, 'NOT_FOUND')) throw error;
    findings.push({
      check: 'audit',
      code: 'audit-missing-commit',
      severity: 'error',
      message: `The audit trail (branch knock-env/audit) cannot be read: ${error.message}`,
      hint: 'Fetch it again from the remote (`git fetch origin knock-env/audit:knock-env/audit`); knock-env never rewrites it.',
      fixable: false,
    });
  }
  // Events come newest first: a rollback explains what happened to the promotions before it.
  for (const [index, event] of events.entries()) {
    if (event.operation !== 'promote' && event.operation !== 'rollback') continue;
    const what = `${event.operation === 'promote' ? 'Promotion' : 'Rollback'} of ${event.environment || '(no environment)'} recorded in ${shortOid(event.id)}`;
    let bothExist = true;
    for (const [label, oid] of [['from', event.from], ['to', event.to]] as const) {
      if (oid === null || (await commitExists(project, oid))) continue;
      bothExist = false;
      findings.push({
        check: 'audit',
        code: 'audit-missing-commit',
        severity: 'error',
        ...(slugs.includes(event.environment) ? { environment: event.environment } : {}),
        commit: event.id,
        message: `${what} names ${label} commit ${oid || '(none)'}, which is not in the repository: history was rewritten or not fetched.`,
        hint: 'Fetch the environment branches from the remote (`git fetch origin`); if history was force-pushed, restore it from a clone that still has it.',
        fixable: false,
      });
    }
    if (event.operation !== 'promote' || !bothExist) continue;
    const head = heads.get(event.environment);
    if (!head) continue;
    const explained = events.slice(0, index).some((later) => later.operation === 'rollback' && later.environment === event.environment);
    if (explained || (await isAncestor(project, event.to, head.commit))) continue;
    findings.push({
      check: 'audit',
      code: 'audit-unexplained-move',
      severity: 'warning',
      environment: event.environment,
      commit: event.id,
      message: `${what} moved ${event.environment} to ${shortOid(event.to)}, which is no longer in ${event.environment}'s history (now at ${shortOid(head.commit)}), and no rollback was recorded since.`,
      hint: `The branch was moved outside knock-env (reset or force-push); compare with \`git reflog ${event.environment}\` and restore it if that was not intended.`,
      fixable: false,
    });
  }
  findings.push(...(await untrackedCommits(project, slugs, heads)));
  return findings;
}

/** Commits on environments' first-parent histories without a Knock-Env-Operation trailer, each reported once. */
async function untrackedCommits(project: Project, slugs: string[], heads: Snapshot['heads']): Promise<DoctorFinding[]> {
  const findings: DoctorFinding[] = [];
  const seen = new Set<string>();
  // Lowest first: a commit promoted upward is reported where it was made.
  for (const env of slugs) {
    let oid = heads.get(env)?.commit;
    while (oid !== undefined && !seen.has(oid)) {
      seen.add(oid);
      const commit = await readCommit(project, oid);
      const operation = parseTrailers(commit.message)[TRAILER.operation];
      if (operation === undefined) {
        findings.push({
          check: 'audit',
          code: 'untracked-commit',
          severity: 'warning',
          environment: env,
          commit: commit.oid,
          message: `${shortOid(commit.oid)} "${subjectOf(commit.message)}" by ${commit.author.name} <${commit.author.email}> was made with plain git, not knock-env (no ${TRAILER.operation} trailer).`,
          hint: `Review it with \`git show ${shortOid(commit.oid)}\`; the other checks tell whether it broke anything. It stays in history: knock-env never rewrites it.`,
          fixable: false,
        });
      }
      // History before knock-env took the repository over is not an environment's.
      if (operation === 'init') break;
      oid = commit.parents[0];
    }
  }
  return findings;
}

// ---------------------------------------------------------------------------
// Repair

/**
 * Repairs each adjacent pair from the top down, so a repaired environment
 * passes what it took on to the one below it. For a pair (lower L, upper U)
 * whose chain is broken, or whose L differs from U on a path U or an
 * environment above it owns, writes a commit on L whose tree is L's tree with
 * those paths taken from U (deleted where U has none); its parents are
 * (L's head, U's head) when U's head is not yet in L's history, else L's head
 * alone. Paths owned by L or below are never touched. All commits are written
 * first; the refs then move forward one by one with a compare-and-swap.
 */
async function repairChain(project: Project, snapshot: Snapshot, signature: Signature): Promise<RepairCommit[]> {
  const { slugs } = snapshot;
  const heads = new Map(snapshot.heads);
  const repairs: RepairCommit[] = [];
  for (let i = slugs.length - 2; i >= 0; i--) {
    const lowerEnv = slugs[i]!;
    const upperEnv = slugs[i + 1]!;
    const lower = heads.get(lowerEnv);
    const upper = heads.get(upperEnv);
    if (!lower || !upper) continue;
    const judge = new PairOwnership(project, slugs, upper.tree, lower.tree);
    const changes = new Map<string, FileChange | null>();
    for (const d of await diffTrees(project, lower.tree, upper.tree)) {
      const owner = await judge.ownerOf(d.path);
      if (owner.conflict || owner.rank < i + 1) continue;
      if (d.status === 'deleted') {
        changes.set(d.path, null);
        continue;
      }
      const entry = (await entryAt(project, upper.tree, d.path))!;
      changes.set(d.path, { oid: entry.oid, mode: entry.mode });
    }
    const inHistory = await isAncestor(project, upper.commit, lower.commit);
    const tree = changes.size > 0 ? await applyChanges(project, lower.tree, changes) : lower.tree;
    if (inHistory && tree === lower.tree) continue;
    const parents = inHistory ? [lower.commit] : [lower.commit, upper.commit];
    const paths = [...changes.keys()].sort();
    const subject = inHistory ? `Repair ${lowerEnv}: restore paths owned by ${upperEnv} and above` : `Repair ${lowerEnv}: merge ${upperEnv} into ${lowerEnv}`;
    const body = [
      inHistory
        ? `${lowerEnv} differed from ${upperEnv} (${shortOid(upper.commit)}) on paths ${upperEnv} and the environments above it own; they are taken from ${upperEnv}.`
        : `Restores the chain: ${upperEnv} (${shortOid(upper.commit)}) becomes part of ${lowerEnv}'s history. Paths ${upperEnv} and the environments above it own are taken from ${upperEnv}; ${lowerEnv}'s own paths are unchanged.`,
      paths.length > 0 ? `Paths taken from ${upperEnv}:\n${paths.map((p) => `${changes.get(p) === null ? 'deleted' : 'set'} ${p}`).join('\n')}` : `No path differed; only the history is joined.`,
    ].join('\n\n');
    const message = formatMessage(subject, body, {
      [TRAILER.operation]: 'repair',
      [TRAILER.environment]: lowerEnv,
      [TRAILER.source]: upperEnv,
      [TRAILER.from]: lower.commit,
      [TRAILER.to]: upper.commit,
    });
    const committer = await notBefore(project, signature, parents);
    const commit = await writeCommit(project, { tree, parents, author: signature, committer, message });
    repairs.push({ environment: lowerEnv, source: upperEnv, from: lower.commit, to: commit, parents, paths });
    heads.set(lowerEnv, { commit, tree });
  }
  if (repairs.length === 0) return repairs;

  const checkedOut = await currentBranch(project);
  const moved = repairs.find((r) => r.environment === checkedOut);
  if (moved) await assertWorkingTreeFollows(project, moved);
  for (const r of repairs) {
    await updateRef(project, {
      ref: branchRef(r.environment),
      oldOid: r.from,
      newOid: r.to,
      reflogMessage: `knock-env doctor --fix: ${r.parents.length > 1 ? `merge ${r.source} into ${r.environment}` : `restore paths owned by ${r.source} and above`}`,
      committer: signature,
    });
  }
  if (moved) await followCheckedOutBranch(project, moved.from, moved.to);
  return repairs;
}

/**
 * The committer date of a repair is never earlier than its parents': ancestry
 * walks prune by commit date, and a repair dated before the commit it joins
 * (a skewed clock on either side) would hide that commit from them.
 */
async function notBefore(store: GitStore, signature: Signature, parents: string[]): Promise<Signature> {
  let latest = signature.timestamp;
  for (const parent of parents) latest = Math.max(latest, (await readCommit(store, parent)).committer.timestamp);
  return latest === signature.timestamp ? signature : { ...signature, timestamp: latest };
}

/** Refuses before any ref moves when the checked-out environment has local edits the repair would overwrite. */
async function assertWorkingTreeFollows(project: Project, repair: RepairCommit): Promise<void> {
  const [a, b] = [await readCommit(project, repair.from), await readCommit(project, repair.to)];
  const dirty: string[] = [];
  for (const d of await diffTrees(project, a.tree, b.tree)) {
    const current = await readIfExists(project.fs, `${project.dir}/${d.path}`);
    const oid = current === null ? undefined : hashObject('blob', current);
    if (oid !== d.oldOid && oid !== d.newOid) dirty.push(d.path);
  }
  if (dirty.length > 0) {
    throw new KnockEnvError('DIRTY_WORKING_TREE', `The repair would overwrite local changes on ${repair.environment}: ${dirty.join(', ')}. Nothing was changed.`, {
      hint: 'Commit them with `knock-env commit` or discard them, then run `knock-env doctor --fix` again.',
      data: { paths: dirty },
    });
  }
}
