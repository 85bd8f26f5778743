import { KnockEnvError } from '../errors.js';
import { EMPTY_TREE_OID, readTyped, writeObject, type GitStore } from './objects.js';

export const MODE_FILE = '100644';
export const MODE_EXEC = '100755';
export const MODE_TREE = '40000';
export const MODE_LINK = '120000';

export interface TreeEntry {
  mode: string;
  name: string;
  oid: string;
}

export function isTreeMode(mode: string): boolean {
  return mode === MODE_TREE || mode === '040000';
}

export function parseTree(content: Buffer): TreeEntry[] {
  const entries: TreeEntry[] = [];
  let i = 0;
  while (i < content.length) {
    const space = content.indexOf(0x20, i);
    const nul = content.indexOf(0, space);
    if (space < 0 || nul < 0 || nul + 21 > content.length) {
      throw new KnockEnvError('UNSUPPORTED_REPOSITORY', 'A git tree object is malformed.', { hint: 'Run `git fsck`.' });
    }
    entries.push({
      mode: content.toString('latin1', i, space),
      name: content.toString('utf8', space + 1, nul),
      oid: content.toString('hex', nul + 1, nul + 21),
    });
    i = nul + 21;
  }
  return entries;
}

/** Git orders tree entries by name, comparing a sub-tree's name as if it ended in "/". */
function sortKey(entry: TreeEntry): string {
  return isTreeMode(entry.mode) ? `${entry.name}/` : entry.name;
}

// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/;

/** Byte order of the UTF-8 encodings; for ASCII names plain string order is the same and much cheaper. */
export function compareNames(x: string, y: string): number {
  if (ASCII.test(x) && ASCII.test(y)) return x < y ? -1 : x > y ? 1 : 0;
  return Buffer.compare(Buffer.from(x, 'utf8'), Buffer.from(y, 'utf8'));
}

function compareEntries(a: TreeEntry, b: TreeEntry): number {
  return compareNames(sortKey(a), sortKey(b));
}

export function serializeTree(entries: TreeEntry[]): Buffer {
  const sorted = [...entries].sort(compareEntries);
  const parts: Buffer[] = [];
  for (const entry of sorted) {
    const mode = isTreeMode(entry.mode) ? MODE_TREE : entry.mode;
    parts.push(Buffer.from(`${mode} ${entry.name}\0`), Buffer.from(entry.oid, 'hex'));
  }
  return Buffer.concat(parts);
}

const parsedTrees = new WeakMap<GitStore, Map<string, TreeEntry[]>>();
const PARSED_TREE_LIMIT = 4096;

/** A tree's entries. Parsed trees are kept per store (a command), so a large workflows/ tree is parsed once. */
export async function readTree(store: GitStore, oid: string): Promise<TreeEntry[]> {
  if (oid === EMPTY_TREE_OID) return [];
  let cache = parsedTrees.get(store);
  if (!cache) parsedTrees.set(store, (cache = new Map()));
  const hit = cache.get(oid);
  if (hit) return hit;
  const entries = parseTree(await readTyped(store, oid, 'tree'));
  if (cache.size >= PARSED_TREE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(oid, entries);
  return entries;
}

const entryMaps = new WeakMap<TreeEntry[], Map<string, TreeEntry>>();

/** A tree's entries by name (built once per parsed tree: a workflows/ tree can hold 10,000 entries). */
async function entriesByName(store: GitStore, oid: string): Promise<Map<string, TreeEntry>> {
  const entries = await readTree(store, oid);
  let map = entryMaps.get(entries);
  if (!map) entryMaps.set(entries, (map = new Map(entries.map((e) => [e.name, e]))));
  return map;
}

/** The entry at a path inside a tree, or null. */
export async function entryAt(store: GitStore, treeOid: string, path: string): Promise<TreeEntry | null> {
  const parts = path.split('/').filter((p) => p !== '');
  let current: TreeEntry = { mode: MODE_TREE, name: '', oid: treeOid };
  for (const part of parts) {
    if (!isTreeMode(current.mode)) return null;
    const found = (await entriesByName(store, current.oid)).get(part);
    if (!found) return null;
    current = found;
  }
  return current;
}

export interface FileEntry {
  path: string;
  mode: string;
  oid: string;
}

/** Every file below a tree, with paths prefixed by `prefix`. */
export async function listFiles(store: GitStore, treeOid: string, prefix = ''): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  const walk = async (oid: string, base: string): Promise<void> => {
    for (const entry of await readTree(store, oid)) {
      const path = base === '' ? entry.name : `${base}/${entry.name}`;
      if (isTreeMode(entry.mode)) await walk(entry.oid, path);
      else out.push({ path, mode: entry.mode, oid: entry.oid });
    }
  };
  await walk(treeOid, prefix);
  return out;
}

export interface FileChange {
  oid: string;
  mode: string;
}

/**
 * A new tree from `baseOid` with `changes` applied (null deletes a path).
 * Only trees on the changed paths are read and rewritten; empty trees vanish.
 */
export async function applyChanges(
  store: GitStore,
  baseOid: string | null,
  changes: Map<string, FileChange | null>,
): Promise<string> {
  const grouped = groupByFirstSegment(changes);
  const entries = new Map<string, TreeEntry>();
  if (baseOid !== null) for (const entry of await readTree(store, baseOid)) entries.set(entry.name, entry);

  for (const [name, group] of grouped) {
    const existing = entries.get(name);
    if (group.self !== undefined) {
      if (group.self === null) entries.delete(name);
      else entries.set(name, { name, mode: group.self.mode, oid: group.self.oid });
    }
    if (group.children.size > 0) {
      const current = entries.get(name) ?? (group.self === undefined ? existing : undefined);
      const base = current && isTreeMode(current.mode) ? current.oid : null;
      const oid = await applyChanges(store, base, group.children);
      if (oid === EMPTY_TREE_OID) entries.delete(name);
      else entries.set(name, { name, mode: MODE_TREE, oid });
    }
  }
  if (entries.size === 0) return EMPTY_TREE_OID;
  return writeObject(store, 'tree', serializeTree([...entries.values()]));
}

interface Group {
  self?: FileChange | null;
  children: Map<string, FileChange | null>;
}

function groupByFirstSegment(changes: Map<string, FileChange | null>): Map<string, Group> {
  const grouped = new Map<string, Group>();
  for (const [path, change] of changes) {
    const slash = path.indexOf('/');
    const head = slash < 0 ? path : path.slice(0, slash);
    let group = grouped.get(head);
    if (!group) grouped.set(head, (group = { children: new Map() }));
    if (slash < 0) group.self = change;
    else group.children.set(path.slice(slash + 1), change);
  }
  return grouped;
}

export interface TreeDifference {
  path: string;
  status: 'added' | 'modified' | 'deleted';
  oldOid?: string;
  newOid?: string;
  /** File mode on the new side (100644, 100755, 120000). */
  newMode?: string;
}

/** Files that differ between two trees; equal sub-trees are skipped without being read. */
export async function diffTrees(
  store: GitStore,
  fromOid: string | null,
  toOid: string | null,
  prefix = '',
): Promise<TreeDifference[]> {
  const out: TreeDifference[] = [];
  const walk = async (a: string | null, b: string | null, base: string): Promise<void> => {
    if (a === b) return;
    const left = new Map((a ? await readTree(store, a) : []).map((e) => [e.name, e]));
    const right = new Map((b ? await readTree(store, b) : []).map((e) => [e.name, e]));
    const names = [...new Set([...left.keys(), ...right.keys()])].sort();
    for (const name of names) {
      const x = left.get(name);
      const y = right.get(name);
      if (x && y && x.oid === y.oid && x.mode === y.mode) continue;
      const path = base === '' ? name : `${base}/${name}`;
      const xTree = x !== undefined && isTreeMode(x.mode);
      const yTree = y !== undefined && isTreeMode(y.mode);
      if (xTree || yTree) {
        await walk(xTree ? x!.oid : null, yTree ? y!.oid : null, path);
      }
      if (x && !xTree && y && !yTree) out.push({ path, status: 'modified', oldOid: x.oid, newOid: y.oid, newMode: y.mode });
      else if (x && !xTree) out.push({ path, status: 'deleted', oldOid: x.oid });
      else if (y && !yTree) out.push({ path, status: 'added', newOid: y.oid, newMode: y.mode });
    }
  };
  await walk(fromOid, toOid, prefix);
  return out.sort((p, q) => (p.path < q.path ? -1 : p.path > q.path ? 1 : 0));
}
