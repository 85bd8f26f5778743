import { errnoCode, readIfExists, type FileSystem } from '../git/fs.js';
import type { GitStore } from '../git/objects.js';
import { entryAt, isTreeMode, readTree } from '../git/tree.js';
import {
  BUILT_IN_MESSAGE_TYPES,
  DEFAULT_LAYOUT_KEY,
  DEFAULT_LOCALE,
  RESOURCE_MODULES,
  RESOURCE_TYPES,
  resourceId,
  resourceOfPath,
  resourceRef,
  translationFileOf,
  type ResourceKind,
} from '../resources.js';
import { forEachTemplateString } from './liquid.js';
import type { SourceReader, ValidationIssue } from './types.js';
import { decodeUtf8 } from './limits.js';
import { parseYaml } from './yaml.js';

/**
 * References between resources: a workflow's layout_key, `{% render "key" %}`
 * of a partial, a guide step's message type and variant, a key read with
 * Knock's `t` filter. Each is checked against an index of the keys the tree
 * holds (folder names, never a parse of every resource); what a resource uses
 * is remembered by its folder's tree id, so a resource is read once for it.
 */

/** One name of another resource, where a resource uses it. */
export interface Use {
  kind: ResourceKind | 'translation-key';
  key: string;
  variant?: string;
  file: string;
  line?: number;
  column?: number;
  pointer?: string;
}

const RENDER = /\{%-?\s*render\s+(['"])([^'"]+)\1/g;
const TRANSLATE = /\{\{-?\s*(['"])([^'"]+)\1\s*\|\s*t\b/g;

/** What one resource uses, read from its files. */
export async function resourceUses(kind: ResourceKind, key: string, read: SourceReader): Promise<Use[]> {
  const type = RESOURCE_TYPES[kind];
  if (type.folderFileProblem !== undefined) return [];
  const ref = resourceRef(kind, key);
  const bytes = await read.read(ref.file);
  if (bytes === null) return [];
  const decoded = decodeUtf8(bytes, ref.file);
  if ('issue' in decoded) return [];
  const parsed = parseYaml(decoded.text, ref.file);
  const data = parsed.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return [];
  const uses: Use[] = [];
  for (const use of type.uses?.(data as Record<string, unknown>) ?? []) {
    const at = parsed.positions().locate(use.pointer);
    uses.push({ kind: use.kind as ResourceKind, key: use.key, ...(use.variant ? { variant: use.variant } : {}), file: ref.file, ...(at ?? {}), pointer: use.pointer });
  }
  await forEachTemplateString(data, read, ref.dir, { file: ref.file, text: decoded.text }, (text, source) => {
    for (const [pattern, kindOf] of [[RENDER, 'partial'], [TRANSLATE, 'translation-key']] as const) {
      if (!text.includes(kindOf === 'partial' ? 'render' : '|')) continue;
      for (const match of text.matchAll(pattern)) {
        const before = text.slice(0, match.index);
        const line = before.split('\n').length;
        const at = source.locate(line, before.length - before.lastIndexOf('\n'));
        uses.push({ kind: kindOf, key: match[2]!, file: source.file, ...(at ?? {}), ...(source.pointer ? { pointer: source.pointer } : {}) });
      }
    }
  });
  return uses;
}

/** The keys a tree holds, by type; message type variants and the default locale's translation keys on demand. */
export interface KeyIndex {
  has(kind: ResourceKind, key: string): boolean;
  variants(messageType: string): Promise<string[] | undefined>;
  /** Keys of the default locale (`key`, or `namespace:key`); null when the tree holds no translations. */
  translationKeys(): Promise<Set<string> | null>;
}

/** An index over the resource folders named by a list of paths (a working tree's files). */
export function keyIndexOfPaths(paths: Iterable<string>, read: SourceReader): KeyIndex {
  const keys = new Set<string>();
  for (const path of paths) {
    const resource = resourceOfPath(path);
    if (resource && resource.keyProblem === null) keys.add(resourceId(resource));
  }
  return keyIndex((kind, key) => keys.has(resourceId({ kind, key })), read);
}

/** An index over the resource folders of a committed tree. */
export async function keyIndexOfTree(store: GitStore, tree: string, read: SourceReader): Promise<KeyIndex> {
  const keys = new Set<string>();
  for (const type of RESOURCE_MODULES) {
    const folder = await entryAt(store, tree, type.dir);
    if (folder === null || !isTreeMode(folder.mode)) continue;
    for (const entry of await readTree(store, folder.oid)) if (isTreeMode(entry.mode)) keys.add(resourceId({ kind: type.kind, key: entry.name }));
  }
  return keyIndex((kind, key) => keys.has(resourceId({ kind, key })), read);
}

function keyIndex(has: (kind: ResourceKind, key: string) => boolean, read: SourceReader): KeyIndex {
  const variants = new Map<string, Promise<string[] | undefined>>();
  let translations: Promise<Set<string> | null> | undefined;
  return {
    has,
    variants: (key) => {
      let found = variants.get(key);
      if (found === undefined) variants.set(key, (found = messageTypeVariants(key, read)));
      return found;
    },
    translationKeys: () => (translations ??= defaultLocaleKeys(read, has)),
  };
}

async function messageTypeVariants(key: string, read: SourceReader): Promise<string[] | undefined> {
  const bytes = await read.read(resourceRef('message-type', key).file);
  if (bytes === null) return undefined;
  const data = parseYaml(Buffer.from(bytes).toString('utf8'), '').data as { variants?: unknown } | undefined;
  if (!Array.isArray(data?.variants)) return undefined;
  return data.variants.flatMap((v: unknown) => (v !== null && typeof v === 'object' && typeof (v as { key?: unknown }).key === 'string' ? [(v as { key: string }).key] : []));
}

async function defaultLocaleKeys(read: SourceReader, has: (kind: ResourceKind, key: string) => boolean): Promise<Set<string> | null> {
  if (!has('translation', DEFAULT_LOCALE) || read.list === undefined) return null;
  const dir = resourceRef('translation', DEFAULT_LOCALE).dir;
  const keys = new Set<string>();
  for (const name of await read.list(dir)) {
    const file = translationFileOf(DEFAULT_LOCALE, name);
    if ('problem' in file) continue;
    const bytes = await read.read(`${dir}/${name}`);
    let data: unknown;
    try {
      data = bytes === null ? null : JSON.parse(Buffer.from(bytes).toString('utf8'));
    } catch {
      continue;
    }
    const prefix = file.namespace === null ? '' : `${file.namespace}:`;
    const visit = (node: unknown, path: string): void => {
      if (typeof node === 'string') keys.add(`${prefix}${path}`);
      else if (node !== null && typeof node === 'object' && !Array.isArray(node)) for (const [k, v] of Object.entries(node)) visit(v, path === '' ? k : `${path}.${k}`);
    };
    visit(data, '');
  }
  return keys;
}

/** What resources use, remembered by folder tree id in the repository (a tree id names exact content). */
export class UsesCache {
  private readonly known = new Map<string, Use[]>();
  private readonly added: string[] = [];

  private constructor(private readonly fs: FileSystem, private readonly path: string) {}

  static async open(fs: FileSystem, gitdir: string): Promise<UsesCache> {
    const cache = new UsesCache(fs, `${gitdir}/knock-env/uses-v1`);
    const text = (await readIfExists(fs, cache.path))?.toString('utf8') ?? '';
    for (const line of text.split('\n')) {
      const tab = line.indexOf('\t');
      if (tab <= 0) continue;
      try {
        cache.known.set(line.slice(0, tab), JSON.parse(line.slice(tab + 1)) as Use[]);
      } catch {
        // A torn line costs one more read.
      }
    }
    return cache;
  }

  get(treeOid: string): Use[] | undefined {
    return this.known.get(treeOid);
  }

  set(treeOid: string, uses: Use[]): void {
    if (this.known.has(treeOid)) return;
    this.known.set(treeOid, uses);
    this.added.push(`${treeOid}\t${JSON.stringify(uses)}`);
  }

  async save(): Promise<void> {
    if (this.added.length === 0) return;
    try {
      await this.fs.promises.mkdir(this.path.slice(0, this.path.lastIndexOf('/')), { recursive: true });
      await this.fs.promises.appendFile(this.path, `${this.added.splice(0).join('\n')}\n`);
    } catch (error) {
      if (errnoCode(error) !== 'EACCES' && errnoCode(error) !== 'EROFS') throw error;
    }
  }
}

export interface ReferenceUser {
  kind: ResourceKind;
  key: string;
  /** The folder's tree id, when known: what it uses is then read once and remembered. */
  treeOid?: string;
  read: SourceReader;
}

/**
 * Every use of a resource the tree does not hold, one issue per use, so that
 * deleting a layout, partial or message type still in use names every user.
 * `default` needs no layout folder, nor do Knock's built-in message types.
 */
export async function referenceIssues(users: ReferenceUser[], index: KeyIndex, cache?: UsesCache): Promise<ValidationIssue[]> {
  const issues: ValidationIssue[] = [];
  for (const user of users) {
    let uses = user.treeOid === undefined ? undefined : cache?.get(user.treeOid);
    if (uses === undefined) {
      uses = await resourceUses(user.kind, user.key, user.read);
      if (user.treeOid !== undefined) cache?.set(user.treeOid, uses);
    }
    const named = `${RESOURCE_TYPES[user.kind].noun} "${user.key}"`;
    for (const use of uses) {
      const problem = await useProblem(use, index);
      if (problem === null) continue;
      issues.push({ file: use.file, ...(use.line ? { line: use.line, column: use.column } : {}), ...(use.pointer ? { pointer: use.pointer } : {}), code: 'unknown-reference', message: `${named} uses ${problem}` });
    }
  }
  return issues;
}

async function useProblem(use: Use, index: KeyIndex): Promise<string | null> {
  if (use.kind === 'translation-key') {
    const keys = await index.translationKeys();
    if (keys === null || keys.has(use.key)) return null;
    return `the translation key "${use.key}", which the default locale (${DEFAULT_LOCALE}) does not have.`;
  }
  const type = RESOURCE_TYPES[use.kind];
  if (use.kind === 'layout' && use.key === DEFAULT_LAYOUT_KEY) return null;
  if (!index.has(use.kind, use.key)) {
    const builtIn = use.kind === 'message-type' ? BUILT_IN_MESSAGE_TYPES[use.key] : undefined;
    if (builtIn === undefined) return `the ${type.noun} "${use.key}", which this tree does not hold (${type.dir}/${use.key}/ is missing).`;
    return use.variant === undefined || builtIn.includes(use.variant) ? null : `variant "${use.variant}" of Knock's built-in message type "${use.key}", which has ${builtIn.join(', ')}.`;
  }
  if (use.kind === 'message-type' && use.variant !== undefined) {
    const variants = await index.variants(use.key);
    if (variants !== undefined && !variants.includes(use.variant)) return `variant "${use.variant}" of message type "${use.key}", which has ${variants.join(', ') || 'no variants'}.`;
  }
  return null;
}
