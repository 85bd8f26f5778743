import { parseYaml } from '../validate/yaml.js';
import { readCommit, subjectOf, type ParsedCommit } from '../git/commit.js';
import { commitsBetween as commitsBetweenHeads } from '../git/history.js';
import { readObject, type GitStore } from '../git/objects.js';
import { diffTrees, entryAt, isTreeMode, readTree, type TreeDifference } from '../git/tree.js';
import type { Project } from '../project.js';
import { CONFIG_FILE, ENVIRONMENTS_DIR, RESOURCE_MODULES, RESOURCE_TYPES, resourceKeyProblem, resourceOfPath, resourceId, resourceRef, type PlanItems, type ResourceKind } from '../resources.js';
import { keyIndexOfTree, referenceIssues, UsesCache, type ReferenceUser } from '../validate/references.js';
import { validateConfigText } from '../validate/config.js';
import { validateEnvironmentFile } from '../validate/environment.js';
import { validateResource } from '../validate/resource.js';
import type { SourceReader, ValidationIssue } from '../validate/types.js';
import { treeReader } from '../worktree.js';
import { ValidationCache } from '../validation-cache.js';

export interface StepChanges {
  added: string[];
  removed: string[];
  changed: string[];
  reordered: string[];
}

export interface ResourcePlan {
  kind: ResourceKind;
  key: string;
  status: 'added' | 'modified' | 'deleted';
  /** Top-level fields whose value changed (the list of items excluded). */
  fields: string[];
  /** What the type's items are called ("steps" for workflows and guides, "variants" for message types). */
  items: string;
  /** Items added, removed, changed and reordered, by id (named `steps` for every type). */
  steps: StepChanges;
  files: { path: string; status: TreeDifference['status'] }[];
}

export interface OtherPlanEntry {
  path: string;
  status: TreeDifference['status'];
  scope: 'account' | 'environment' | 'other';
}

export interface ChangePlan {
  from: { commit: string; tree: string };
  to: { commit: string; tree: string };
  resources: ResourcePlan[];
  others: OtherPlanEntry[];
  differences: TreeDifference[];
}

/** Refs that moved: those outside a longest common subsequence of the two orders. */
function movedRefs(before: string[], after: string[]): string[] {
  const common = new Set(before.filter((r) => after.includes(r)));
  const a = before.filter((r) => common.has(r));
  const positions = after.filter((r) => common.has(r)).map((r) => a.indexOf(r));
  // Longest increasing subsequence of positions (patience sorting).
  const tails: number[] = [];
  const tailIndex: number[] = [];
  const previous: number[] = new Array(positions.length).fill(-1);
  positions.forEach((value, i) => {
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (tails[mid]! < value) lo = mid + 1;
      else hi = mid;
    }
    tails[lo] = value;
    tailIndex[lo] = i;
    previous[i] = lo > 0 ? tailIndex[lo - 1]! : -1;
  });
  const keep = new Set<number>();
  let k = tails.length > 0 ? tailIndex[tails.length - 1]! : -1;
  while (k >= 0) {
    keep.add(positions[k]!);
    k = previous[k]!;
  }
  return a.filter((_, i) => !keep.has(i));
}

function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : 1)))
      : v,
  );
}

function fileRefs(value: unknown, out: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) value.forEach((v) => fileRefs(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k.endsWith('@') && typeof v === 'string') out.add(v.replace(/^\.\//, ''));
      else fileRefs(v, out);
    }
  }
  return out;
}

const NO_ITEMS: PlanItems = { label: 'steps', list: () => new Map() };

/**
 * What changed between two versions of a document: top-level fields (the
 * type's list of items aside) and items by id, as the type's plan comparison
 * declares them. An item counts as changed when a file it references, or a
 * file in the folder named after it, changed.
 */
export function compareDocuments(
  before: Record<string, unknown> | null,
  after: Record<string, unknown> | null,
  changedFiles: string[],
  items: PlanItems = RESOURCE_TYPES.workflow.items ?? NO_ITEMS,
  itemsField = 'steps',
): { fields: string[]; steps: StepChanges } {
  const fields = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])]
    .filter((f) => f !== itemsField && stableJson(before?.[f]) !== stableJson(after?.[f]))
    .sort();
  const a = items.list(before);
  const b = items.list(after);
  const added = [...b.keys()].filter((r) => !a.has(r));
  const removed = [...a.keys()].filter((r) => !b.has(r));
  const changed = new Set<string>();
  const comparable = items.comparable ?? ((item: Record<string, unknown>) => item);
  for (const [ref, item] of b) {
    const old = a.get(ref);
    if (!old) continue;
    if (stableJson(comparable(old)) !== stableJson(comparable(item))) changed.add(ref);
    const refs = fileRefs(item);
    for (const file of changedFiles) {
      const first = file.split('/')[0];
      if (refs.has(file) || first === ref || [...refs].some((r) => file.startsWith(`${r.replace(/\.[^./]+$/, '')}/`))) changed.add(ref);
    }
  }
  const reordered = movedRefs([...a.keys()], [...b.keys()]);
  return { fields, steps: { added, removed, changed: [...changed], reordered } };
}

async function parseAt(store: GitStore, oid: string | undefined): Promise<Record<string, unknown> | null> {
  if (!oid) return null;
  const { data } = parseYaml((await readObject(store, oid)).content.toString('utf8'), '');
  return data && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : null;
}

/** What moving from one commit to another changes, resource by resource and step by step. */
export async function planChanges(project: Project, fromCommit: string, toCommit: string): Promise<ChangePlan> {
  const [from, to] = [await readCommit(project, fromCommit), await readCommit(project, toCommit)];
  return planTreeChanges(project, { commit: fromCommit, tree: from.tree }, { commit: toCommit, tree: to.tree });
}

/** The same plan between two trees (the `commit` fields are informative). */
export async function planTreeChanges(
  project: Project,
  from: { commit: string; tree: string },
  to: { commit: string; tree: string },
): Promise<ChangePlan> {
  const differences = await diffTrees(project, from.tree, to.tree);
  const grouped = new Map<string, { kind: ResourceKind; key: string; diffs: TreeDifference[] }>();
  const others: OtherPlanEntry[] = [];
  for (const d of differences) {
    const r = resourceOfPath(d.path);
    if (r && r.keyProblem === null) {
      const id = resourceId(r);
      let group = grouped.get(id);
      if (!group) grouped.set(id, (group = { kind: r.kind, key: r.key, diffs: [] }));
      group.diffs.push(d);
    } else {
      others.push({ path: d.path, status: d.status, scope: d.path === CONFIG_FILE ? 'account' : d.path.startsWith(`${ENVIRONMENTS_DIR}/`) ? 'environment' : 'other' });
    }
  }
  const resources: ResourcePlan[] = [];
  for (const group of grouped.values()) {
    const type = RESOURCE_TYPES[group.kind];
    const items = type.items ?? NO_ITEMS;
    const main = resourceRef(group.kind, group.key).file;
    const mainDiff = group.diffs.find((d) => d.path === main);
    const allAdded = group.diffs.every((d) => d.status === 'added');
    const allDeleted = group.diffs.every((d) => d.status === 'deleted');
    const status: ResourcePlan['status'] = mainDiff?.status === 'added' || (allAdded && !mainDiff) ? 'added' : mainDiff?.status === 'deleted' || (allDeleted && !mainDiff) ? 'deleted' : 'modified';
    const prefix = `${type.dir}/${group.key}/`;
    const changedFiles = group.diffs.filter((d) => d.path !== main).map((d) => d.path.slice(prefix.length));
    let fields: string[] = [];
    let steps: StepChanges = { added: [], removed: [], changed: [], reordered: [] };
    if (status === 'modified') {
      const mainOid = mainDiff ? undefined : await mainOidAt(project, from.tree, main);
      const before = await parseAt(project, mainDiff?.oldOid ?? mainOid);
      const after = await parseAt(project, mainDiff?.newOid ?? mainOid);
      ({ fields, steps } = compareDocuments(before, after, changedFiles, items, items.label));
    } else if (status === 'added') {
      steps.added = [...items.list(await parseAt(project, mainDiff?.newOid)).keys()];
    } else {
      steps.removed = [...items.list(await parseAt(project, mainDiff?.oldOid)).keys()];
    }
    resources.push({ kind: group.kind, key: group.key, status, fields, items: items.label, steps, files: group.diffs.map((d) => ({ path: d.path, status: d.status })) });
  }
  return { from, to, resources, others, differences };
}

async function mainOidAt(project: Project, tree: string, path: string): Promise<string | undefined> {
  return (await entryAt(project, tree, path))?.oid;
}

/** Validates every resource a plan adds or changes, reading them from the target tree. */
export async function validatePlan(project: Project, plan: ChangePlan): Promise<ValidationIssue[]> {
  const reader = treeReader(project, plan.to.tree);
  const cache = await ValidationCache.open(project.fs, project.gitdir);
  const issues: ValidationIssue[] = [];
  for (const r of plan.resources) {
    if (r.status === 'deleted') continue;
    const folder = await entryAt(project, plan.to.tree, resourceRef(r.kind, r.key).dir);
    if (folder && cache.has(r.kind, folder.oid)) continue;
    const found = (await validateResource({ kind: r.kind, key: r.key, read: reader })).issues;
    if (found.length === 0 && folder) cache.add(r.kind, folder.oid);
    issues.push(...found);
  }
  await cache.save();
  issues.push(...(await planReferenceIssues(project, plan, reader)));
  const environmentFiles = plan.others.filter((o) => o.scope === 'environment' && o.status !== 'deleted');
  if (environmentFiles.length > 0) {
    const configText = await reader.read(CONFIG_FILE);
    const slugs = configText ? (validateConfigText(Buffer.from(configText).toString('utf8'), CONFIG_FILE).data?.environments.map((e) => e.slug) ?? []) : [];
    for (const o of environmentFiles) {
      const text = await reader.read(o.path);
      if (text !== null) issues.push(...validateEnvironmentFile(o.path, Buffer.from(text).toString('utf8'), slugs));
    }
  }
  return issues;
}

/** Kinds other resources name: deleting one may leave users behind. */
export const USED_KINDS = new Set<ResourceKind>(['layout', 'partial', 'message-type', 'translation']);

/**
 * References in the tree a plan leads to: what the resources it adds or
 * changes use, and when it deletes a layout, partial, message type or
 * translation, what every other resource of the tree uses (read once per
 * folder tree id, then remembered).
 */
export async function planReferenceIssues(project: Project, plan: ChangePlan, reader: SourceReader): Promise<ValidationIssue[]> {
  const index = await keyIndexOfTree(project, plan.to.tree, reader);
  const users: ReferenceUser[] = [];
  const deletesUsed = plan.resources.some((r) => r.status === 'deleted' && USED_KINDS.has(r.kind));
  if (deletesUsed) {
    for (const type of RESOURCE_MODULES) {
      const folder = await entryAt(project, plan.to.tree, type.dir);
      if (folder === null || !isTreeMode(folder.mode)) continue;
      for (const entry of await readTree(project, folder.oid)) {
        if (isTreeMode(entry.mode) && resourceKeyProblem(type.kind, entry.name) === null) users.push({ kind: type.kind, key: entry.name, treeOid: entry.oid, read: reader });
      }
    }
  } else {
    for (const r of plan.resources) {
      if (r.status === 'deleted') continue;
      const folder = await entryAt(project, plan.to.tree, resourceRef(r.kind, r.key).dir);
      users.push({ kind: r.kind, key: r.key, read: reader, ...(folder ? { treeOid: folder.oid } : {}) });
    }
  }
  const cache = await UsesCache.open(project.fs, project.gitdir);
  const issues = await referenceIssues(users, index, cache);
  await cache.save();
  return issues;
}

export interface CommitSummary {
  oid: string;
  subject: string;
  author: string;
  email: string;
  time: string;
}

export function summariseCommit(c: ParsedCommit): CommitSummary {
  return { oid: c.oid, subject: subjectOf(c.message), author: c.author.name, email: c.author.email, time: new Date(c.author.timestamp * 1000).toISOString() };
}

/** Commits reachable from `to` but not from `from`, newest first (at most `limit`), as plans show them. */
export async function commitsBetween(store: GitStore, from: string | null, to: string, limit = 200): Promise<CommitSummary[]> {
  return (await commitsBetweenHeads(store, from, to, limit)).map(summariseCommit);
}
