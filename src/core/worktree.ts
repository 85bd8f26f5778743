import { createHash } from 'node:crypto';
import { KnockEnvError } from './errors.js';
import { errnoCode, readIfExists } from './git/fs.js';
import { entryFromStat, statMatches, writeIndex, type GitIndex, type IndexEntry, type QuickStat, type StatLike } from './git/gitindex.js';
import { hashObject, readObject } from './git/objects.js';
import { compareNames, entryAt, MODE_EXEC, MODE_FILE, MODE_LINK, MODE_TREE, isTreeMode, listFiles, readTree, serializeTree, type TreeDifference, type TreeEntry } from './git/tree.js';
import type { Project } from './project.js';
import { isManagedPath, MANAGED_TOP_LEVEL } from './resources.js';
import type { SourceReader, SpecialEntry } from './validate/types.js';

export interface WorkingFile {
  path: string;
  oid: string;
  mode: string;
  /** Content, when it had to be read to hash it. */
  content?: Buffer;
}

/** The git mode of a file, or null for what git cannot store (a FIFO, a socket, a device): the scan leaves those out. */
function modeOf(stat: QuickStat): string | null {
  const mode = stat.mode;
  if ((mode & 0o170000) === 0o120000) return MODE_LINK;
  if ((mode & 0o170000) !== 0o100000) return null;
  return mode & 0o111 ? MODE_EXEC : MODE_FILE;
}

/**
 * Every file in the managed areas of the working tree with its blob id. Files
 * whose stat data matches the index entry are not read: the index already
 * knows their id. Hidden files that git does not track are skipped.
 */
export async function scanWorkingTree(project: Project, index: GitIndex): Promise<Map<string, WorkingFile>> {
  const { promises: fsp } = project.fs;
  const lstatSync = project.fs.lstatSync;
  const readdirSync = project.fs.readdirSync;
  const files = new Map<string, WorkingFile>();
  const toHash: { path: string; mode: string }[] = [];

  const lstat = async (abs: string): Promise<QuickStat | null> => {
    try {
      return lstatSync ? lstatSync(abs) : await fsp.lstat(abs);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return null;
      throw error;
    }
  };
  const list = async (abs: string): Promise<{ name: string; dir: boolean }[] | null> => {
    try {
      const dirents = readdirSync ? readdirSync(abs, { withFileTypes: true }) : await fsp.readdir(abs, { withFileTypes: true });
      return dirents.map((d) => ({ name: String(d.name), dir: d.isDirectory() }));
    } catch (error) {
      if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return null;
      throw error;
    }
  };

  const visitFile = async (path: string): Promise<void> => {
    const stat = await lstat(`${project.dir}/${path}`);
    if (stat === null) return;
    const entry = index.entries.get(path);
    const mode = modeOf(stat);
    if (mode === null) return;
    if (entry && statMatches(entry, stat, index.mtimeNs)) files.set(path, { path, oid: entry.oid, mode });
    else toHash.push({ path, mode });
  };

  const walk = async (relative: string): Promise<void> => {
    const entries = await list(`${project.dir}/${relative}`);
    if (entries === null) return;
    for (const { name, dir } of entries) {
      const path = `${relative}/${name}`;
      if (name === '.git') continue;
      if (name.startsWith('.') && !dir && !index.entries.has(path)) continue;
      if (dir) await walk(path);
      else await visitFile(path);
    }
  };

  if (lstatSync && readdirSync) {
    // The same walk without a promise per entry: with 10,000 resources this is the commit's largest cost.
    const visitSync = (path: string): void => {
      const stat = lstatSync(`${project.dir}/${path}`, { throwIfNoEntry: false });
      if (stat === undefined) return;
      if (stat.isDirectory()) {
        let names;
        try {
          names = readdirSync(`${project.dir}/${path}`, { withFileTypes: true });
        } catch (error) {
          if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return;
          throw error;
        }
        for (const dirent of names) {
          const name = String(dirent.name);
          const child = `${path}/${name}`;
          if (name === '.git') continue;
          const isDir = dirent.isDirectory();
          if (name.startsWith('.') && !isDir && !index.entries.has(child)) continue;
          if (isDir) visitSync(child);
          else visitFileSync(child);
        }
        return;
      }
      visitFileSync(path, stat);
    };
    const visitFileSync = (path: string, known?: QuickStat): void => {
      const stat = known ?? lstatSync(`${project.dir}/${path}`, { throwIfNoEntry: false });
      if (stat === undefined) return;
      const mode = modeOf(stat);
      if (mode === null) return;
      const entry = index.entries.get(path);
      if (entry && statMatches(entry, stat, index.mtimeNs)) files.set(path, { path, oid: entry.oid, mode });
      else toHash.push({ path, mode });
    };
    for (const top of MANAGED_TOP_LEVEL) visitSync(top);
  } else {
    for (const top of MANAGED_TOP_LEVEL) {
      const stat = await lstat(`${project.dir}/${top}`);
      if (stat === null) continue;
      if ((stat.mode & 0o170000) === 0o040000) await walk(top);
      else await visitFile(top);
    }
  }

  // Files whose stat data differs from the index are read and hashed, a few at a time.
  let next = 0;
  const hashWorker = async (): Promise<void> => {
    while (next < toHash.length) {
      const { path, mode } = toHash[next++]!;
      const abs = `${project.dir}/${path}`;
      const content = mode === MODE_LINK ? Buffer.from(await fsp.readlink(abs), 'utf8') : ((await fsp.readFile(abs)) as Buffer);
      files.set(path, { path, oid: hashObject('blob', content), mode, content });
    }
  };
  await Promise.all(Array.from({ length: 8 }, hashWorker));
  return files;
}

interface DirNode {
  files: Map<string, WorkingFile>;
  dirs: Map<string, DirNode>;
  oid?: string;
}

function buildDirTree(files: Iterable<WorkingFile>): DirNode {
  const root: DirNode = { files: new Map(), dirs: new Map() };
  for (const file of files) {
    const parts = file.path.split('/');
    let node = root;
    for (const part of parts.slice(0, -1)) {
      let next = node.dirs.get(part);
      if (!next) node.dirs.set(part, (next = { files: new Map(), dirs: new Map() }));
      node = next;
    }
    node.files.set(parts[parts.length - 1]!, file);
  }
  return root;
}

/** Tree ids computed in memory, without writing objects: equal ids mean equal content. */
function hashDirTree(node: DirNode): string {
  const entries: TreeEntry[] = [];
  for (const [name, file] of node.files) entries.push({ name, mode: file.mode, oid: file.oid });
  for (const [name, dir] of node.dirs) entries.push({ name, mode: MODE_TREE, oid: hashDirTree(dir) });
  node.oid = hashObject('tree', serializeTree(entries));
  return node.oid;
}

/** Tree ids of every folder of the scanned working tree, computed in memory. */
export interface WorkingTreeIds {
  root: DirNode;
  /** The tree id of a folder (e.g. workflows/welcome), or undefined when it has no files. */
  treeOf(path: string): string | undefined;
}

/** Tree ids of the scanned working tree; with `only`, of the folders under those prefixes alone. */
export function hashWorkingTree(files: Map<string, WorkingFile>, only?: Set<string>): WorkingTreeIds {
  const selected = only === undefined ? files.values() : [...files.values()].filter((f) => only.has(f.path.split('/', 2).join('/')));
  const root = buildDirTree(selected);
  hashDirTree(root);
  return {
    root,
    treeOf: (path) => {
      let node: DirNode | undefined = root;
      for (const part of path.split('/')) node = node?.dirs.get(part);
      return node?.oid;
    },
  };
}

export interface WorkingChange extends TreeDifference {
  mode?: string;
  file?: WorkingFile;
}

/**
 * Differences between the managed areas of the working tree and a commit's
 * tree. Sub-trees whose computed id equals the committed one are not read.
 */
export async function diffWorkingTree(project: Project, files: Map<string, WorkingFile>, headTree: string, hashed?: WorkingTreeIds): Promise<WorkingChange[]> {
  const root = (hashed ?? hashWorkingTree(files)).root;
  const out: WorkingChange[] = [];
  const headRoot = (await readTree(project, headTree)).filter((e) => MANAGED_TOP_LEVEL.includes(e.name));

  const compare = async (node: DirNode | undefined, committed: TreeEntry[], base: string): Promise<void> => {
    const names = new Set<string>(committed.map((e) => e.name));
    if (node) {
      for (const n of node.files.keys()) names.add(n);
      for (const n of node.dirs.keys()) names.add(n);
    }
    const byName = new Map(committed.map((e) => [e.name, e]));
    for (const name of [...names].sort()) {
      const path = base === '' ? name : `${base}/${name}`;
      const old = byName.get(name);
      const file = node?.files.get(name);
      const dir = node?.dirs.get(name);
      const oldIsTree = old !== undefined && isTreeMode(old.mode);
      if (dir) {
        if (oldIsTree && old.oid === dir.oid) continue;
        await compare(dir, oldIsTree ? await readTree(project, old.oid) : [], path);
      } else if (oldIsTree) {
        for (const gone of await listFiles(project, old.oid, path)) out.push({ path: gone.path, status: 'deleted', oldOid: gone.oid });
      }
      if (file) {
        if (old && !oldIsTree) {
          if (old.oid !== file.oid || old.mode !== file.mode) {
            out.push({ path, status: 'modified', oldOid: old.oid, newOid: file.oid, mode: file.mode, file });
          }
        } else out.push({ path, status: 'added', newOid: file.oid, mode: file.mode, file });
      } else if (old && !oldIsTree) {
        out.push({ path, status: 'deleted', oldOid: old.oid });
      }
    }
  };
  const top = new Map<string, DirNode>();
  for (const name of MANAGED_TOP_LEVEL) {
    const dir = root.dirs.get(name);
    if (dir) top.set(name, dir);
  }
  await compare(root.files.size + top.size > 0 ? { files: root.files, dirs: top } : undefined, headRoot, '');
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Changes of the managed areas against the index alone. Valid only when the
 * index is known to match the head for those paths (see `indexStamp`).
 */
export function diffAgainstIndex(files: Map<string, WorkingFile>, index: GitIndex): WorkingChange[] {
  const out: WorkingChange[] = [];
  for (const [path, entry] of index.entries) {
    if (!isManagedPath(path)) continue;
    const file = files.get(path);
    const mode = entry.mode.toString(8);
    if (!file) out.push({ path, status: 'deleted', oldOid: entry.oid });
    else if (file.oid !== entry.oid || file.mode !== mode) out.push({ path, status: 'modified', oldOid: entry.oid, newOid: file.oid, mode: file.mode, file });
  }
  for (const [path, file] of files) {
    if (!index.entries.has(path)) out.push({ path, status: 'added', newOid: file.oid, mode: file.mode, file });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * A fingerprint of the index's managed entries (path, mode, id, not stat
 * data, which git refreshes freely) together with the branch and its head.
 * knock-env records it when it has made the index match the head; while it
 * still matches, the working tree can be compared with the index alone.
 */
export function indexStamp(index: GitIndex, branch: string, head: string): string {
  const hash = createHash('sha1').update(`${branch} ${head}\n`);
  for (const [path, entry] of index.entries) if (isManagedPath(path)) hash.update(`${entry.mode} ${entry.oid} ${path}\n`);
  return hash.digest('hex');
}

const STAMP_FILE = 'knock-env/index-stamp';

export async function readIndexStamp(project: Project): Promise<string | null> {
  return (await readIfExists(project.fs, `${project.gitdir}/${STAMP_FILE}`))?.toString('latin1').trim() ?? null;
}

export async function writeIndexStamp(project: Project, stamp: string | null): Promise<void> {
  const path = `${project.gitdir}/${STAMP_FILE}`;
  if (stamp === null) {
    await project.fs.promises.unlink(path).catch(() => undefined);
    return;
  }
  await project.fs.promises.mkdir(`${project.gitdir}/knock-env`, { recursive: true });
  await project.fs.promises.writeFile(path, `${stamp}\n`);
}

/**
 * Reads files of the working tree. A path through a symbolic link (the file
 * itself or any folder on the way) reads as no file: what is read is then
 * always what git would store for that path.
 */
export function workingTreeReader(project: Project): SourceReader {
  const regular = async (path: string): Promise<{ size: number } | null> => {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const stat = await project.fs.promises.lstat(`${project.dir}/${parts.slice(0, i).join('/')}`).catch(() => null);
      if (stat === null || !stat.isDirectory()) return null;
    }
    const stat = await project.fs.promises.lstat(`${project.dir}/${path}`).catch(() => null);
    return stat?.isFile() ? { size: Number(stat.size) } : null;
  };
  return {
    read: async (path) => ((await regular(path)) === null ? null : readIfExists(project.fs, `${project.dir}/${path}`)),
    size: async (path) => (await regular(path))?.size ?? null,
    specialEntries: (dir) => specialEntriesOnDisk(project, dir),
  };
}

/** Symbolic links and other entries that are not files or folders, at, above or below a folder of the working tree. */
async function specialEntriesOnDisk(project: Project, dir: string): Promise<SpecialEntry[]> {
  const { promises: fsp } = project.fs;
  const out: SpecialEntry[] = [];
  const parts = dir.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const path = parts.slice(0, i).join('/');
    const stat = await fsp.lstat(`${project.dir}/${path}`).catch(() => null);
    if (stat === null) return out;
    if (stat.isSymbolicLink()) return [{ path, kind: 'symlink' }];
    if (!stat.isDirectory()) return i === parts.length && !stat.isFile() ? [{ path, kind: 'other' }] : out;
  }
  const walk = async (relative: string): Promise<void> => {
    const dirents = await fsp.readdir(`${project.dir}/${relative}`, { withFileTypes: true }).catch(() => []);
    for (const dirent of dirents) {
      const path = `${relative}/${String(dirent.name)}`;
      if (dirent.isSymbolicLink()) out.push({ path, kind: 'symlink' });
      else if (dirent.isDirectory()) await walk(path);
      else if (!dirent.isFile()) out.push({ path, kind: 'other' });
    }
  };
  await walk(dir);
  return out.sort((a, b) => compareNames(a.path, b.path));
}

/**
 * Serves the files of a scan: from memory when the scan read them, else from
 * the working tree. A path the scan did not see (a hidden file git does not
 * track) or saw as a symbolic link reads as no file, so that what is read is
 * exactly what the scan's tree ids name.
 */
export function cachedReader(base: SourceReader, files: Map<string, WorkingFile>): SourceReader {
  const seen = (path: string): WorkingFile | undefined => {
    const file = files.get(path);
    return file === undefined || file.mode === MODE_LINK ? undefined : file;
  };
  return {
    read: async (path) => {
      const file = seen(path);
      return file === undefined ? null : (file.content ?? base.read(path));
    },
    size: async (path) => {
      const file = seen(path);
      if (file === undefined) return null;
      return file.content?.length ?? (base.size ? base.size(path) : null);
    },
    ...(base.specialEntries ? { specialEntries: base.specialEntries } : {}),
  };
}

/** Reads files of a committed tree; a symbolic link or a submodule reads as no file. */
export function treeReader(project: Project, treeOid: string): SourceReader {
  return {
    read: async (path) => {
      const entry = await entryAt(project, treeOid, path);
      return entry && isRegularMode(entry.mode) ? (await readObject(project, entry.oid)).content : null;
    },
    specialEntries: async (dir) => {
      const parts = dir.split('/');
      for (let i = 1; i <= parts.length; i++) {
        const path = parts.slice(0, i).join('/');
        const entry = await entryAt(project, treeOid, path);
        if (entry === null) return [];
        if (!isTreeMode(entry.mode)) return isRegularMode(entry.mode) ? [] : [{ path, kind: specialKind(entry.mode) }];
        if (i === parts.length) {
          return (await listFiles(project, entry.oid, dir)).filter((f) => !isRegularMode(f.mode)).map((f) => ({ path: f.path, kind: specialKind(f.mode) }));
        }
      }
      return [];
    },
  };
}

function isRegularMode(mode: string): boolean {
  return mode === MODE_FILE || mode === MODE_EXEC;
}

function specialKind(mode: string): SpecialEntry['kind'] {
  return mode === MODE_LINK ? 'symlink' : mode === '160000' ? 'submodule' : 'other';
}

export async function statFile(project: Project, path: string): Promise<StatLike> {
  return (await project.fs.promises.lstat(`${project.dir}/${path}`, { bigint: true })) as unknown as StatLike;
}

/** Index entries for files just written or committed, so `git status` sees them as clean. Returns the index written. */
export async function refreshIndex(project: Project, index: GitIndex, updates: Map<string, string | null>): Promise<GitIndex> {
  const entries = new Map<string, IndexEntry>(index.entries);
  for (const [path, oid] of updates) {
    if (oid === null) {
      entries.delete(path);
      continue;
    }
    const stat = await statFile(project, path).catch(() => null);
    if (stat === null) entries.delete(path);
    else entries.set(path, entryFromStat(path, oid, stat));
  }
  await writeIndex(project.fs, project.gitdir, entries.values());
  const sorted = new Map([...entries].sort(([a], [b]) => compareNames(a, b)));
  return { entries: sorted, conflicts: index.conflicts, mtimeNs: 0n };
}

/**
 * Brings the working tree from one committed tree to another (after the
 * checked-out branch moved), refusing if a file to be replaced has local edits.
 */
/** Refuses, before anything changes, when moving the working tree across `differences` would overwrite local edits. */
export async function assertNotOverwritten(project: Project, differences: TreeDifference[]): Promise<void> {
  const dirty: string[] = [];
  for (const d of differences) {
    const current = await readIfExists(project.fs, `${project.dir}/${d.path}`);
    const currentOid = current === null ? undefined : hashObject('blob', current);
    if (currentOid !== d.oldOid && currentOid !== d.newOid) dirty.push(d.path);
  }
  if (dirty.length > 0) {
    throw new KnockEnvError('DIRTY_WORKING_TREE', `Local changes would be overwritten: ${dirty.join(', ')}.`, {
      hint: 'Commit them with `knock-env commit` or discard them, then retry.',
      data: { paths: dirty },
    });
  }
}

export async function updateWorkingTree(
  project: Project,
  index: GitIndex,
  differences: TreeDifference[],
): Promise<void> {
  const { promises: fsp } = project.fs;
  await assertNotOverwritten(project, differences);
  const updates = new Map<string, string | null>();
  for (const d of differences) {
    const abs = `${project.dir}/${d.path}`;
    if (d.status === 'deleted') {
      await fsp.unlink(abs).catch((error) => {
        if (errnoCode(error) !== 'ENOENT') throw error;
      });
      await removeEmptyParents(project, d.path);
      updates.set(d.path, null);
    } else {
      await fsp.mkdir(abs.slice(0, abs.lastIndexOf('/')), { recursive: true });
      await fsp.writeFile(abs, (await readObject(project, d.newOid!)).content);
      updates.set(d.path, d.newOid!);
    }
  }
  await refreshIndex(project, index, updates);
}

/** Removes the folders a deleted file leaves empty, up to the working tree's root. */
export async function removeEmptyParents(project: Project, path: string): Promise<void> {
  const parts = path.split('/').slice(0, -1);
  while (parts.length > 0) {
    try {
      await project.fs.promises.rmdir(`${project.dir}/${parts.join('/')}`);
    } catch {
      return;
    }
    parts.pop();
  }
}
