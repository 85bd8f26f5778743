import { describeKey, keyProblem } from '../keys.js';
import { RESOURCE_TYPES, resourceRef, type ResourceKind } from '../resources.js';
import { resourceLiquidIssues } from './liquid.js';
import { schemaIssues, SCHEMA_NAMES, type SchemaName } from './schemas.js';
import type { ResourceValidation, SourceReader, SpecialEntry, ValidationIssue } from './types.js';
import { decodeUtf8, jsonDepthExceeded, LIMITS, MAX_JSON_DEPTH, offsetPosition, tooLargeIssue } from './limits.js';
import { escapePointerSegment, SourcePositions, type Position } from './positions.js';
import { parseYaml } from './yaml.js';

/** How deep `@` references may chain through JSON files. */
const MAX_REFERENCE_DEPTH = 8;

/**
 * Validates one workflow or guide as it is stored: its key, its main file,
 * the YAML, the schema, and every `@` file reference. Collects every issue
 * instead of stopping at the first.
 */
export async function validateResource({
  kind,
  key,
  read,
}: {
  kind: ResourceKind;
  key: string;
  read: SourceReader;
}): Promise<ResourceValidation> {
  const type = RESOURCE_TYPES[kind];
  const problem = keyProblem(key);
  if (problem !== null) {
    return {
      kind,
      key,
      issues: [
        {
          file: type.dir,
          code: 'invalid-key',
          message: `Invalid ${kind} key ${describeKey(key)}: ${problem}. Keys match ^[a-z0-9][a-z0-9_-]{2,254}$.`,
        },
      ],
    };
  }

  const ref = resourceRef(kind, key);
  const issues: ValidationIssue[] = (await read.specialEntries?.(ref.dir))?.map(specialEntryIssue) ?? [];
  const loaded = await loadText(read, ref.file, LIMITS.maxYamlBytes);
  if (loaded.kind === 'missing') {
    issues.push({
      file: ref.file,
      code: 'missing-main-file',
      message: `${ref.dir}/ has no ${type.file}; every ${kind} folder needs one.`,
    });
    return { kind, key, issues };
  }
  if (loaded.kind === 'issue') return { kind, key, issues: [...issues, loaded.issue] };

  const parsed = parseYaml(loaded.text, ref.file);
  issues.push(...parsed.issues);
  if (parsed.data === undefined) return { kind, key, issues };

  issues.push(...schemaIssues(schemaName(type.schema), parsed.data, ref.file, parsed.positions));

  const references = new ReferenceChecker(read, ref.dir);
  issues.push(...(await references.check(parsed.data, ref.file, parsed.positions, 0)));
  issues.push(...(await resourceLiquidIssues(parsed.data, read, ref.dir, { file: ref.file, text: loaded.text })));

  const result: ResourceValidation = { kind, key, issues: sortIssues(issues) };
  if (isRecord(parsed.data)) result.data = parsed.data;
  return result;
}

/** Links and submodules are refused: git stores the link, not what it points to, so what knock-env reads would differ from what it commits, promotes and exports. */
function specialEntryIssue(entry: SpecialEntry): ValidationIssue {
  if (entry.kind === 'symlink') {
    return { file: entry.path, code: 'symlink', message: `${entry.path} is a symbolic link; resource folders hold only plain files and folders. Replace it with the file it points to.` };
  }
  const what = entry.kind === 'submodule' ? 'a git submodule' : 'neither a file nor a folder';
  return { file: entry.path, code: 'special-file', message: `${entry.path} is ${what}; resource folders hold only plain files and folders.` };
}

function schemaName(name: string): SchemaName {
  const found = SCHEMA_NAMES.find((n) => n === name);
  if (found === undefined) throw new Error(`No schema named ${name} in schemas/.`);
  return found;
}

type Loaded = { kind: 'text'; text: string } | { kind: 'missing' } | { kind: 'issue'; issue: ValidationIssue };

async function loadText(read: SourceReader, path: string, limit: number): Promise<Loaded> {
  const size = read.size === undefined ? undefined : await read.size(path);
  if (size === null) return { kind: 'missing' };
  if (size !== undefined && size > limit) return { kind: 'issue', issue: tooLargeIssue(path, size, limit) };
  const bytes = await read.read(path);
  if (bytes === null) return { kind: 'missing' };
  if (bytes.length > limit) return { kind: 'issue', issue: tooLargeIssue(path, bytes.length, limit) };
  const decoded = decodeUtf8(bytes, path);
  return 'issue' in decoded ? { kind: 'issue', issue: decoded.issue } : { kind: 'text', text: decoded.text };
}

export interface FileReference {
  /** Pointer of the `@` field in the document that holds it. */
  pointer: string;
  value: unknown;
}

/** Every field whose name ends in `@`, anywhere in a document. */
export function findFileReferences(data: unknown): FileReference[] {
  return scanReferences(data).references;
}

interface Frame {
  node: unknown;
  parent: Frame | undefined;
  segment: string | number;
}

function framePointer(frame: Frame | undefined, name: string): string {
  const segments: (string | number)[] = [name];
  for (let f = frame; f?.parent !== undefined; f = f.parent) segments.push(f.segment);
  let pointer = '';
  for (let i = segments.length - 1; i >= 0; i--) pointer += `/${escapePointerSegment(segments[i] as string | number)}`;
  return pointer;
}

/**
 * One pass over a document: its `@` fields, and the objects that set both
 * `x` and `x@` (the content would be ambiguous). Iterative, so that deeply
 * nested JSON cannot exhaust the stack; pointers are built only for what is
 * found.
 */
function scanReferences(data: unknown): { references: FileReference[]; conflicts: FileReference[] } {
  const references: FileReference[] = [];
  const conflicts: FileReference[] = [];
  const stack: Frame[] = [{ node: data, parent: undefined, segment: '' }];
  while (stack.length > 0) {
    const frame = stack.pop() as Frame;
    const node = frame.node;
    const children: Frame[] = [];
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const value: unknown = node[i];
        if (value !== null && typeof value === 'object') children.push({ node: value, parent: frame, segment: i });
      }
    } else if (isRecord(node)) {
      for (const name in node) {
        if (!Object.prototype.hasOwnProperty.call(node, name)) continue;
        const value = node[name];
        if (name.length > 1 && name.endsWith('@')) {
          const pointer = framePointer(frame, name);
          references.push({ pointer, value });
          if (Object.prototype.hasOwnProperty.call(node, name.slice(0, -1))) conflicts.push({ pointer, value });
        } else if (value !== null && typeof value === 'object') {
          children.push({ node: value, parent: frame, segment: name });
        }
      }
    }
    // Reversed, so that the stack visits children in document order.
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i] as Frame);
  }
  return { references, conflicts };
}

/**
 * Why a reference path is not a relative path inside the resource folder,
 * or its normalised path relative to that folder. `baseDir` is the folder,
 * relative to the resource folder, of the file holding the reference.
 */
export function resolveReference(path: string, baseDir: string): { path: string } | { problem: string } {
  if (path.length === 0) return { problem: 'the path is empty' };
  if (path.includes('\0')) return { problem: 'the path contains a NUL byte' };
  if (path.includes('\\')) return { problem: 'the path contains a backslash; use "/"' };
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) return { problem: 'the path is absolute' };
  const segments = baseDir === '' ? [] : baseDir.split('/');
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (segments.length === 0) return { problem: 'the path leads outside the resource folder' };
      segments.pop();
      continue;
    }
    segments.push(segment);
  }
  if (segments.length === 0) return { problem: 'the path names the resource folder itself' };
  return { path: segments.join('/') };
}

class ReferenceChecker {
  private readonly visited = new Set<string>();

  constructor(
    private readonly read: SourceReader,
    /** Repository path of the resource folder. */
    private readonly root: string,
  ) {}

  /**
   * Checks the `@` fields of one document. `file` is its repository path;
   * references resolve against its folder.
   */
  async check(data: unknown, file: string, positions: () => SourcePositions, depth: number): Promise<ValidationIssue[]> {
    const { references, conflicts } = scanReferences(data);
    const issues: ValidationIssue[] = [];
    for (const conflict of conflicts) {
      const name = conflict.pointer.slice(conflict.pointer.lastIndexOf('/') + 1).replace(/~1/g, '/').replace(/~0/g, '~');
      const message = `Both "${name.slice(0, -1)}" and "${name}" are set; keep one.`;
      issues.push(this.issue(file, conflict.pointer, positions, 'schema', message, true));
    }
    if (references.length === 0) return issues;
    const fileInRoot = file.slice(this.root.length + 1);
    const baseDir = fileInRoot.includes('/') ? fileInRoot.slice(0, fileInRoot.lastIndexOf('/')) : '';
    const results = await Promise.all(
      references.map((reference) => this.checkOne(reference, baseDir, file, positions, depth)),
    );
    for (const result of results) issues.push(...result);
    return issues;
  }

  private async checkOne(
    reference: FileReference,
    baseDir: string,
    file: string,
    positions: () => SourcePositions,
    depth: number,
  ): Promise<ValidationIssue[]> {
    const { pointer, value } = reference;
    if (typeof value !== 'string') {
      return [this.issue(file, pointer, positions, 'schema', 'A field ending in "@" holds a file path; it must be a string.')];
    }
    const resolved = resolveReference(value, baseDir);
    if ('problem' in resolved) {
      return [
        this.issue(
          file,
          pointer,
          positions,
          'file-ref-escapes',
          `File reference ${JSON.stringify(value)} is refused: ${resolved.problem}. It must be a relative path inside ${this.root}/.`,
        ),
      ];
    }
    const target = `${this.root}/${resolved.path}`;
    const loaded = resolved.path.toLowerCase().endsWith('.json')
      ? await loadText(this.read, target, LIMITS.maxReferencedFileBytes)
      : await this.exists(target);
    if (loaded.kind === 'missing') {
      return [
        this.issue(
          file,
          pointer,
          positions,
          'file-ref-missing',
          `File reference ${JSON.stringify(value)} points to ${target}, which does not exist.`,
        ),
      ];
    }
    if (loaded.kind === 'issue') return [loaded.issue];
    if (loaded.kind !== 'text' || this.visited.has(target)) return [];
    this.visited.add(target);
    if (depth >= MAX_REFERENCE_DEPTH) {
      return [
        this.issue(file, pointer, positions, 'file-ref-escapes', `File references nest deeper than ${MAX_REFERENCE_DEPTH} levels.`),
      ];
    }
    return this.checkJson(loaded.text, target, depth + 1);
  }

  private async exists(path: string): Promise<Loaded | { kind: 'present' }> {
    const limit = LIMITS.maxReferencedFileBytes;
    if (this.read.size !== undefined) {
      const size = await this.read.size(path);
      if (size === null) return { kind: 'missing' };
      return size > limit ? { kind: 'issue', issue: tooLargeIssue(path, size, limit) } : { kind: 'present' };
    }
    const bytes = await this.read.read(path);
    if (bytes === null) return { kind: 'missing' };
    return bytes.length > limit ? { kind: 'issue', issue: tooLargeIssue(path, bytes.length, limit) } : { kind: 'present' };
  }

  /** A referenced JSON file: it must parse, and its own `@` fields resolve against its folder. */
  private async checkJson(text: string, file: string, depth: number): Promise<ValidationIssue[]> {
    const tooDeep = jsonDepthExceeded(text);
    if (tooDeep !== undefined) return [{ file, ...offsetPosition(text, tooDeep), code: 'json-syntax', message: `Arrays and objects nest more than ${MAX_JSON_DEPTH} levels deep.` }];
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (error) {
      const at = jsonErrorPosition(text, error);
      return [
        {
          file,
          ...(at === undefined ? {} : { line: at.line, column: at.column }),
          code: 'json-syntax',
          message: `Not valid JSON: ${error instanceof Error ? error.message : String(error)}.`,
        },
      ];
    }
    let positions: SourcePositions | undefined;
    return this.check(data, file, () => (positions ??= SourcePositions.of(text)), depth);
  }

  private issue(
    file: string,
    pointer: string,
    positions: () => SourcePositions,
    code: ValidationIssue['code'],
    message: string,
    atKey = false,
  ): ValidationIssue {
    const at = positions().locate(pointer, { key: atKey });
    return { file, ...(at === undefined ? {} : { line: at.line, column: at.column }), pointer, code, message };
  }
}

function jsonErrorPosition(text: string, error: unknown): Position | undefined {
  const message = error instanceof Error ? error.message : '';
  const lineCol = /line (\d+) column (\d+)/.exec(message);
  if (lineCol !== null) return { line: Number(lineCol[1]), column: Number(lineCol[2]) };
  const position = /position (\d+)/.exec(message);
  if (position === null) return undefined;
  const offset = Math.min(Number(position[1]), text.length);
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Issues in a stable order: by file, then position, then the order they were found in. */
export function sortIssues(issues: ValidationIssue[]): ValidationIssue[] {
  return issues
    .map((issue, index) => ({ issue, index }))
    .sort(
      (a, b) =>
        compare(a.issue.file, b.issue.file) ||
        (a.issue.line ?? 0) - (b.issue.line ?? 0) ||
        (a.issue.column ?? 0) - (b.issue.column ?? 0) ||
        a.index - b.index,
    )
    .map(({ issue }) => issue);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
