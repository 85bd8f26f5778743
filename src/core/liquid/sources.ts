import { resolveReference } from '../validate/resource.js';
import type { SourceReader } from '../validate/types.js';
import { decodeUtf8, LIMITS } from '../validate/limits.js';
import { escapePointerSegment, SourcePositions, type Position } from '../validate/positions.js';

/**
 * Templates as Knock stores them: strings in the resource's YAML, strings in
 * JSON files that `@` fields reference (visual_blocks.json), and whole text
 * files (`content@: visual_blocks/1.content.md`). This module loads a
 * template subtree with every `@` field replaced by the content it names, and
 * remembers where each string came from, so a Liquid problem at line 3 of a
 * string is reported at its line and column in the file.
 */

/** Where one template string lives. */
export interface StringSource {
  /** Repository path of the file holding the string. */
  file: string;
  /** JSON pointer of the string in that file; absent for a whole text file. */
  pointer?: string;
  /** Maps a 1-based line and column inside the string to its place in the file. */
  locate(line: number, column: number): Position | undefined;
}

export interface ResolvedTemplate {
  /** The subtree with every `x@` field replaced by `x` holding the referenced content. */
  value: unknown;
  /** Where each string came from, by field path (`subject`, `visual_blocks[0].content`). */
  sources: Map<string, StringSource>;
  /** `@` references that could not be loaded (the reference checker reports them as issues). */
  problems: string[];
}

/** Deepest nesting of objects and arrays walked in a template, across the files it references. */
export const MAX_NESTING = 100;

/** Sets an own property, even one named `__proto__` (as JSON may have), without touching the prototype. */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Field path of a child: `a.b`, `a[0]`. */
export function childPath(parent: string, segment: string | number): string {
  if (typeof segment === 'number') return `${parent}[${segment}]`;
  return parent === '' ? segment : `${parent}.${segment}`;
}

interface FileContext {
  file: string;
  /** Folder of `file` relative to the resource folder ('' for the folder itself). */
  baseDir: string;
  text: string;
}

/** Loads the templates of one resource, reading each file at most once. */
export class TemplateFiles {
  private readonly texts = new Map<string, Promise<string | null>>();
  private readonly positions = new Map<string, SourcePositions>();

  constructor(
    private readonly read: SourceReader,
    /** Repository path of the resource folder, e.g. workflows/welcome. */
    readonly root: string,
    /** Repository path of the resource's main file. */
    readonly mainFile: string,
    mainText?: string,
  ) {
    if (mainText !== undefined) this.texts.set(mainFile, Promise.resolve(mainText));
  }

  /** Text of a file, or null when it is missing, too large or not UTF-8. */
  text(path: string): Promise<string | null> {
    let loaded = this.texts.get(path);
    if (loaded === undefined) {
      loaded = (async () => {
        const size = this.read.size ? await this.read.size(path) : undefined;
        if (size === null || (size !== undefined && size > LIMITS.maxReferencedFileBytes)) return null;
        const bytes = await this.read.read(path);
        if (bytes === null || bytes.length > LIMITS.maxReferencedFileBytes) return null;
        const decoded = decodeUtf8(bytes, path);
        return 'text' in decoded ? decoded.text : null;
      })();
      this.texts.set(path, loaded);
    }
    return loaded;
  }

  /**
   * A subtree of the main document (at `pointer`), with its `@` fields
   * resolved. `field` names the subtree in field paths (usually '').
   */
  async resolve(node: unknown, pointer: string, field = ''): Promise<ResolvedTemplate> {
    const mainText = (await this.text(this.mainFile)) ?? '';
    const result: ResolvedTemplate = { value: undefined, sources: new Map(), problems: [] };
    const context: FileContext = { file: this.mainFile, baseDir: '', text: mainText };
    result.value = await this.walk(node, context, pointer, field, result, 0, 0);
    return result;
  }

  private async walk(node: unknown, at: FileContext, pointer: string, field: string, out: ResolvedTemplate, depth: number, nesting: number): Promise<unknown> {
    if (typeof node === 'string') {
      out.sources.set(field, { file: at.file, pointer, locate: this.stringLocator(at, pointer, node) });
      return node;
    }
    if (node === null || typeof node !== 'object') return node;
    if (nesting >= MAX_NESTING) {
      // Templates are nowhere near this deep; what lies below is left out rather than walked.
      out.problems.push(`${at.file}${pointer === '' ? '' : ` ${pointer}`}: nested more than ${MAX_NESTING} levels deep; not checked below.`);
      return undefined;
    }
    if (Array.isArray(node)) {
      const items: unknown[] = [];
      for (let i = 0; i < node.length; i++) items.push(await this.walk(node[i], at, `${pointer}/${i}`, childPath(field, i), out, depth, nesting + 1));
      return items;
    }
    const copy: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
      const childPointer = `${pointer}/${escapePointerSegment(key)}`;
      if (key.length > 1 && key.endsWith('@') && typeof value === 'string') {
        const name = key.slice(0, -1);
        const loaded = await this.reference(value, at, childPath(field, name), out, depth, nesting + 1);
        if (loaded !== undefined) setOwn(copy, name, loaded);
        continue;
      }
      setOwn(copy, key, await this.walk(value, at, childPointer, childPath(field, key), out, depth, nesting + 1));
    }
    return copy;
  }

  private async reference(path: string, at: FileContext, field: string, out: ResolvedTemplate, depth: number, nesting: number): Promise<unknown> {
    const resolved = resolveReference(path, at.baseDir);
    if ('problem' in resolved) {
      out.problems.push(`${at.file}: ${JSON.stringify(path)} is refused (${resolved.problem}).`);
      return undefined;
    }
    const target = `${this.root}/${resolved.path}`;
    const text = await this.text(target);
    if (text === null) {
      out.problems.push(`${at.file}: ${target} is missing or unreadable.`);
      return undefined;
    }
    const slash = resolved.path.lastIndexOf('/');
    const context: FileContext = { file: target, baseDir: slash < 0 ? '' : resolved.path.slice(0, slash), text };
    if (resolved.path.toLowerCase().endsWith('.json')) {
      if (depth >= 8) {
        out.problems.push(`${target}: file references nest too deep.`);
        return undefined;
      }
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch {
        out.problems.push(`${target} is not valid JSON.`);
        return undefined;
      }
      return this.walk(data, context, '', field, out, depth + 1, nesting);
    }
    // Any other file (.md, .html, .txt, .liquid ...) is a template text of its own.
    out.sources.set(field, { file: target, locate: (line, column) => ({ line, column }) });
    return text;
  }

  private stringLocator(at: FileContext, pointer: string, content: string): StringSource['locate'] {
    return (line, column) => {
      let positions = this.positions.get(at.file);
      if (positions === undefined) this.positions.set(at.file, (positions = SourcePositions.of(at.text)));
      const start = positions.locate(pointer);
      if (start === undefined) return undefined;
      return mapScalarPosition(at.text, start, content, line, column);
    };
  }
}

// ---------------------------------------------------------------------------
// From a place in a string to its place in the YAML or JSON text

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

function offsetAt(starts: number[], line: number, column: number): number {
  const index = Math.min(Math.max(line, 1), starts.length) - 1;
  return (starts[index] ?? 0) + Math.max(column, 1) - 1;
}

function positionAt(starts: number[], offset: number): Position {
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if ((starts[mid] ?? 0) <= offset) low = mid;
    else high = mid - 1;
  }
  return { line: low + 1, column: offset - (starts[low] ?? 0) + 1 };
}

/**
 * Source offsets of each character of a scalar's content, for quoted and
 * block scalars; null for a plain scalar, whose content starts where it does.
 */
function scalarOffsets(source: string, start: number): number[] | null {
  const first = source[start];
  const map: number[] = [];
  if (first === '"') {
    for (let i = start + 1; i < source.length && source[i] !== '"'; ) {
      map.push(i);
      if (source[i] === '\\') {
        const escape = source[i + 1];
        i += escape === 'u' ? 6 : escape === 'x' ? 4 : escape === 'U' ? 10 : 2;
      } else i++;
    }
    return map;
  }
  if (first === "'") {
    for (let i = start + 1; i < source.length; ) {
      if (source[i] === "'") {
        if (source[i + 1] !== "'") break;
        map.push(i);
        i += 2;
        continue;
      }
      map.push(i++);
    }
    return map;
  }
  if (first === '|' || first === '>') {
    let lineStart = source.indexOf('\n', start) + 1;
    if (lineStart === 0) return map;
    let indent = -1;
    while (lineStart < source.length) {
      let lineEnd = source.indexOf('\n', lineStart);
      if (lineEnd < 0) lineEnd = source.length;
      const lineText = source.slice(lineStart, lineEnd);
      const spaces = lineText.length - lineText.trimStart().length;
      if (lineText.trim() !== '') {
        if (indent < 0) indent = spaces;
        if (spaces < indent) break;
        for (let i = lineStart + indent; i < lineEnd; i++) map.push(i);
      }
      map.push(lineEnd);
      lineStart = lineEnd + 1;
    }
    return map;
  }
  return null;
}

/** Where line/column of a string's content lies in the text holding the string, whose node starts at `start`. */
export function mapScalarPosition(source: string, start: Position, content: string, line: number, column: number): Position {
  const sourceStarts = lineStarts(source);
  const startOffset = offsetAt(sourceStarts, start.line, start.column);
  const contentOffset = offsetAt(lineStarts(content), line, column);
  const map = scalarOffsets(source, startOffset);
  const offset = map === null ? startOffset + contentOffset : (map[Math.min(contentOffset, map.length - 1)] ?? startOffset);
  return positionAt(sourceStarts, offset);
}
