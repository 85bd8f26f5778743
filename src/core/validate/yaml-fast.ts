import { flowDepthExceeded, MAX_BLOCK_DEPTH, MAX_FLOW_DEPTH } from './limits.js';
import { BAIL, doubleQuoted, INDICATORS, plainValue, resolvePlain, singleQuoted, SPACE, startsPlain, TAB } from './yaml-scalars.js';

// ---------------------------------------------------------------------------
// Fast path
//
// A parser for the subset of YAML that resource files are written in: block
// mappings and sequences, plain and single-line quoted scalars, literal and
// folded block scalars, comments, and flow collections written on one line
// (`{ unit: minutes, value: 15 }`, `[comments, mentions]`). On anything else it
// gives up and the caller falls back to the `yaml` package, so the subset it
// accepts must produce exactly what `yaml` produces for the same text (the
// tests compare the two). Values are resolved with YAML 1.2's core schema,
// in the order the `yaml` package tries its tags.

export const NOT_HANDLED: unique symbol = Symbol('not handled');

/** Returns the document's data, or NOT_HANDLED when the text is outside the fast subset. */
export function fastParseYaml(text: string): unknown {
  if (text.length === 0 || hasUnsupportedChar(text)) return NOT_HANDLED;
  try {
    return new FastParser(text).document();
  } catch (error) {
    // Nesting deep enough to exhaust the stack is left to the slow path, which reports it.
    if (error === BAIL || error instanceof RangeError) return NOT_HANDLED;
    throw error;
  }
}

/** Control characters other than tab and newline, CR, and the Unicode separators and BOM. */
function hasUnsupportedChar(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20) {
      if (c !== TAB && c !== 0x0a) return true;
    } else if (c >= 0x7f) {
      if (c <= 0x9f || c === 0x2028 || c === 0x2029 || c === 0xfeff) return true;
    }
  }
  return false;
}


/** Line kinds: content, ignorable (blank or comment), or indented with a tab. */
const CONTENT = 0;
const IGNORABLE = 1;
const TAB_INDENT = 2;

class FastParser {
  private readonly raw: string[];
  private readonly indents: number[];
  private readonly texts: string[];
  private readonly kinds: number[];
  private readonly finalNewline: boolean;
  private pos = 0;
  private flowDepthChecked = false;

  constructor(private readonly text: string) {
    const raw = text.split('\n');
    this.finalNewline = raw[raw.length - 1] === '';
    if (this.finalNewline) raw.pop();
    this.raw = raw;
    const n = raw.length;
    this.indents = new Array<number>(n);
    this.texts = new Array<string>(n);
    this.kinds = new Array<number>(n);
    // Open indentation levels, counted as blockDepthExceeded counts them; the fast
    // path accepts at most one compact indicator a line, so below the limit here
    // the slow path would not refuse the text for its depth either.
    const open: number[] = [];
    for (let i = 0; i < n; i++) {
      const line = raw[i] as string;
      let sp = 0;
      while (line.charCodeAt(sp) === SPACE) sp++;
      this.indents[i] = sp;
      if (sp === line.length) {
        this.kinds[i] = IGNORABLE;
        this.texts[i] = '';
        continue;
      }
      const c = line.charCodeAt(sp);
      if (c === TAB) {
        this.kinds[i] = TAB_INDENT;
        this.texts[i] = '';
        continue;
      }
      this.kinds[i] = c === 0x23 /* # */ ? IGNORABLE : CONTENT;
      this.texts[i] = sp === 0 ? line : line.slice(sp);
      if (c !== 0x23) {
        while (open.length > 0 && (open[open.length - 1] as number) >= sp) open.pop();
        if (open.push(sp) >= MAX_BLOCK_DEPTH) throw BAIL;
      }
    }
  }

  document(): unknown {
    let i = this.peek();
    if (i < 0) throw BAIL;
    const first = this.texts[i] as string;
    if (first.startsWith('---')) {
      if (first !== '---' && !/^---[ \t]+#/.test(first)) throw BAIL;
      this.pos = i + 1;
      i = this.peek();
      if (i < 0) throw BAIL;
    }
    if (this.indents[i] !== 0) throw BAIL;
    const value = this.block(0);
    if (this.peek() >= 0) throw BAIL;
    return value;
  }

  /** Index of the next content line, or -1 at the end. */
  private peek(): number {
    const n = this.raw.length;
    let i = this.pos;
    while (i < n) {
      const kind = this.kinds[i];
      if (kind === CONTENT) return i;
      if (kind === TAB_INDENT) throw BAIL;
      i++;
    }
    return -1;
  }

  private block(indent: number): unknown {
    const i = this.peek();
    const text = this.texts[i] as string;
    if (isSequenceEntry(text)) return this.sequence(indent);
    if (splitKey(text) !== null) return this.mapping(indent);
    throw BAIL;
  }

  private mapping(indent: number): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    for (;;) {
      const i = this.peek();
      if (i < 0) break;
      const lineIndent = this.indents[i] as number;
      if (lineIndent < indent) break;
      if (lineIndent > indent) throw BAIL;
      const entry = splitKey(this.texts[i] as string);
      if (entry === null) {
        if (isSequenceEntry(this.texts[i] as string)) break;
        throw BAIL;
      }
      this.pos = i + 1;
      const value = this.value(entry.rest, indent, false);
      if (entry.key === '__proto__' || Object.prototype.hasOwnProperty.call(result, entry.key)) throw BAIL;
      result[entry.key] = value;
    }
    return result;
  }

  private sequence(indent: number): unknown[] {
    const result: unknown[] = [];
    for (;;) {
      const i = this.peek();
      if (i < 0) break;
      const lineIndent = this.indents[i] as number;
      if (lineIndent < indent) break;
      if (lineIndent > indent) throw BAIL;
      const text = this.texts[i] as string;
      if (!isSequenceEntry(text)) break;
      if (text.charCodeAt(1) === TAB) throw BAIL;
      let k = 1;
      while (text.charCodeAt(k) === SPACE) k++;
      if (text.charCodeAt(k) === TAB) throw BAIL;
      const rest = text.slice(k);
      this.pos = i + 1;
      if (rest === '' || rest[0] === '#') {
        result.push(this.nested(indent, false));
        continue;
      }
      if (isSequenceEntry(rest)) throw BAIL;
      if (splitKey(rest) !== null) {
        // A compact mapping: its first entry shares the line with the dash.
        this.pos = i;
        this.indents[i] = indent + k;
        this.texts[i] = rest;
        result.push(this.mapping(indent + k));
        continue;
      }
      result.push(this.value(rest, indent, true));
    }
    return result;
  }

  /** The node below a key or dash that has nothing after it on its own line. */
  private nested(indent: number, allowSameIndentSequence: boolean): unknown {
    const j = this.peek();
    if (j < 0) return null;
    const lineIndent = this.indents[j] as number;
    if (lineIndent > indent) return this.block(lineIndent);
    if (allowSameIndentSequence && lineIndent === indent && isSequenceEntry(this.texts[j] as string)) {
      return this.sequence(indent);
    }
    return null;
  }

  /** The value after `key:` or `- `; `indent` is the indentation of the owning collection. */
  private value(rest: string, indent: number, inSequence: boolean): unknown {
    if (rest === '' || rest[0] === '#') return this.nested(indent, !inSequence);
    const c = rest[0];
    if (c === '|' || c === '>') return this.blockScalar(rest, indent);
    let value: unknown;
    if (c === '"' || c === "'") {
      const quoted = c === '"' ? doubleQuoted(rest) : singleQuoted(rest);
      if (!isBlankOrComment(rest, quoted.end)) throw BAIL;
      value = quoted.value;
    } else if (c === '[' || c === '{') {
      if (!this.flowDepthChecked) {
        // The slow path refuses a text by this count alone; so must the fast one.
        if (flowDepthExceeded(this.text) !== undefined) throw BAIL;
        this.flowDepthChecked = true;
      }
      const flow = new FlowReader(rest);
      value = flow.collection();
      if (!isBlankOrComment(rest, flow.pos)) throw BAIL;
    } else {
      const first = plainValue(rest);
      value = resolvePlain(first.comment ? first.text : this.plainContinuation(first.text, indent));
    }
    const j = this.peek();
    if (j >= 0 && (this.indents[j] as number) > indent) throw BAIL;
    return value;
  }

  /**
   * Folds the lines that continue a plain scalar: more indented than its
   * collection, joined by a space, or by newlines where blank lines separate them.
   */
  private plainContinuation(first: string, indent: number): string {
    let text = first;
    let blank = 0;
    let k = this.pos;
    const n = this.raw.length;
    while (k < n) {
      const kind = this.kinds[k];
      if (kind === TAB_INDENT) throw BAIL;
      if (kind === IGNORABLE) {
        if (this.texts[k] !== '') break;
        blank++;
        k++;
        continue;
      }
      if ((this.indents[k] as number) <= indent) break;
      const line = this.texts[k] as string;
      if (!startsPlain(line)) throw BAIL;
      const next = plainValue(line);
      text += blank > 0 ? '\n'.repeat(blank) : ' ';
      text += next.text;
      blank = 0;
      k++;
      this.pos = k;
      if (next.comment) break;
    }
    return text;
  }

  private blockScalar(header: string, parentIndent: number): string {
    const match = /^([|>])([-+]?)(?:[ \t]+#.*|[ \t]*)$/.exec(header);
    if (match === null) throw BAIL;
    const literal = match[1] === '|';
    const chomping = match[2];
    const n = this.raw.length;
    const start = this.pos;
    if (start >= n) throw BAIL;
    const firstLine = this.raw[start] as string;
    let contentIndent = 0;
    while (firstLine.charCodeAt(contentIndent) === SPACE) contentIndent++;
    if (contentIndent === firstLine.length || firstLine.charCodeAt(contentIndent) === TAB) throw BAIL;
    if (contentIndent <= parentIndent) return '';
    const lines: string[] = [];
    let trailingBlank = 0;
    let k = start;
    for (; k < n; k++) {
      const line = this.raw[k] as string;
      let sp = 0;
      while (line.charCodeAt(sp) === SPACE) sp++;
      if (sp === line.length) {
        if (sp > contentIndent) throw BAIL;
        lines.push('');
        trailingBlank++;
        continue;
      }
      if (sp < contentIndent) {
        if (line.charCodeAt(sp) === TAB) throw BAIL;
        break;
      }
      const content = line.slice(contentIndent);
      if (!literal && (content.charCodeAt(0) === SPACE || content.charCodeAt(0) === TAB)) throw BAIL;
      lines.push(content);
      trailingBlank = 0;
    }
    if (k === n && !this.finalNewline) throw BAIL;
    this.pos = k;
    const body = trailingBlank > 0 ? lines.slice(0, lines.length - trailingBlank) : lines;
    let text: string;
    if (literal) {
      text = body.join('\n');
    } else {
      text = body[0] as string;
      let blank = 0;
      for (let q = 1; q < body.length; q++) {
        const line = body[q] as string;
        if (line === '') {
          blank++;
          continue;
        }
        text += blank > 0 ? '\n'.repeat(blank) : ' ';
        blank = 0;
        text += line;
      }
    }
    if (chomping === '-') return text;
    if (chomping === '+') return `${text}\n${'\n'.repeat(trailingBlank)}`;
    return `${text}\n`;
  }
}

function isSequenceEntry(text: string): boolean {
  if (text.charCodeAt(0) !== 0x2d /* - */) return false;
  const next = text.charCodeAt(1);
  return text.length === 1 || next === SPACE || next === TAB;
}

function isBlankOrComment(text: string, from: number): boolean {
  let i = from;
  while (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === TAB) i++;
  return i === text.length || (i > from && text[i] === '#');
}

/** Splits `key: rest`; null when the line is not a (supported) mapping entry. */
function splitKey(text: string): { key: string; rest: string } | null {
  const c = text[0];
  let key: string;
  let colon: number;
  if (c === '"' || c === "'") {
    const quoted = c === '"' ? doubleQuoted(text) : singleQuoted(text);
    if (text[quoted.end] !== ':') return null;
    colon = quoted.end;
    const next = text.charCodeAt(colon + 1);
    if (!(colon + 1 === text.length || next === SPACE || next === TAB)) throw BAIL;
    key = quoted.value;
  } else {
    if (!startsPlain(text)) return null;
    colon = -1;
    for (let p = 1; p < text.length; p++) {
      const ch = text.charCodeAt(p);
      if (ch === 0x3a /* : */) {
        const next = text.charCodeAt(p + 1);
        if (p + 1 === text.length || next === SPACE || next === TAB) {
          colon = p;
          break;
        }
      } else if (ch === 0x23 /* # */) {
        const prev = text.charCodeAt(p - 1);
        if (prev === SPACE || prev === TAB) return null;
      }
    }
    if (colon < 0) return null;
    key = text.slice(0, colon);
    const last = key.charCodeAt(key.length - 1);
    if (last === SPACE || last === TAB) throw BAIL;
    if (typeof resolvePlain(key) !== 'string') throw BAIL;
  }
  if (colon > 1000) throw BAIL;
  let r = colon + 1;
  while (text.charCodeAt(r) === SPACE || text.charCodeAt(r) === TAB) r++;
  return { key, rest: r === text.length ? '' : text.slice(r) };
}

/**
 * A flow collection that opens and closes on one line. Plain scalars end at
 * `,` `[` `]` `{` `}` and at `:` before a space or one of those; keys are
 * followed by `: `. Anything rarer gives up: a comment, tab or line break
 * inside the collection, an empty entry or trailing comma, a key without a
 * value or a value without a key (`[a: b]`), `?` keys, anchors, aliases and
 * tags, non-string keys, duplicate keys.
 */
class FlowReader {
  /** Offset just past what has been read. */
  pos = 0;
  private depth = 0;

  constructor(private readonly text: string) {}

  /** Reads the `[...]` or `{...}` at `pos`. */
  collection(): unknown[] | Record<string, unknown> {
    if (++this.depth > MAX_FLOW_DEPTH) throw BAIL;
    const open = this.text.charCodeAt(this.pos);
    this.pos++;
    this.spaces();
    const value = open === 0x5b /* [ */ ? this.sequence() : this.mapping();
    this.depth--;
    return value;
  }

  private sequence(): unknown[] {
    const items: unknown[] = [];
    if (this.text.charCodeAt(this.pos) === 0x5d /* ] */) {
      this.pos++;
      return items;
    }
    for (;;) {
      items.push(this.node());
      this.spaces();
      const c = this.text.charCodeAt(this.pos++);
      if (c === 0x5d /* ] */) return items;
      if (c !== 0x2c /* , */) throw BAIL;
      this.spaces();
      if (this.text.charCodeAt(this.pos) === 0x5d) throw BAIL;
    }
  }

  private mapping(): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    if (this.text.charCodeAt(this.pos) === 0x7d /* } */) {
      this.pos++;
      return result;
    }
    for (;;) {
      const start = this.pos;
      const c = this.text[start];
      let key: string;
      if (c === '"' || c === "'") {
        const quoted = c === '"' ? doubleQuoted(this.text, start) : singleQuoted(this.text, start);
        key = quoted.value;
        this.pos = quoted.end;
      } else {
        key = this.plain();
        if (typeof resolvePlain(key) !== 'string') throw BAIL;
      }
      if (this.pos - start > 1000) throw BAIL;
      if (this.text.charCodeAt(this.pos) !== 0x3a /* : */ || this.text.charCodeAt(this.pos + 1) !== SPACE) throw BAIL;
      this.pos += 2;
      this.spaces();
      const value = this.node();
      if (key === '__proto__' || Object.prototype.hasOwnProperty.call(result, key)) throw BAIL;
      result[key] = value;
      this.spaces();
      const next = this.text.charCodeAt(this.pos++);
      if (next === 0x7d /* } */) return result;
      if (next !== 0x2c /* , */) throw BAIL;
      this.spaces();
      if (this.text.charCodeAt(this.pos) === 0x7d) throw BAIL;
    }
  }

  /** An entry of a sequence or the value of a pair. */
  private node(): unknown {
    const c = this.text[this.pos];
    if (c === '[' || c === '{') return this.collection();
    if (c === '"' || c === "'") {
      const quoted = c === '"' ? doubleQuoted(this.text, this.pos) : singleQuoted(this.text, this.pos);
      this.pos = quoted.end;
      return quoted.value;
    }
    return resolvePlain(this.plain());
  }

  /** A plain scalar; leaves `pos` just past its last non-space character. */
  private plain(): string {
    const text = this.text;
    const start = this.pos;
    const c = text.charCodeAt(start);
    if (start >= text.length || c === 0x3f /* ? */ || c === 0x3a /* : */ || INDICATORS.has(text[start] as string)) throw BAIL;
    if (c === 0x2d /* - */ && !isFlowPlainSafe(text.charCodeAt(start + 1))) throw BAIL;
    let end = start + 1;
    for (let p = start + 1; p < text.length; p++) {
      const ch = text.charCodeAt(p);
      if (ch === SPACE) continue;
      if (ch === 0x3a /* : */) {
        if (!isFlowPlainSafe(text.charCodeAt(p + 1))) break;
      } else if (ch === 0x23 /* # */) {
        if (text.charCodeAt(p - 1) === SPACE) throw BAIL;
      } else if (ch === TAB) {
        throw BAIL;
      } else if (isFlowIndicator(ch)) {
        break;
      }
      end = p + 1;
    }
    this.pos = end;
    return text.slice(start, end);
  }

  /** Skips spaces; a tab gives up. */
  private spaces(): void {
    let p = this.pos;
    while (this.text.charCodeAt(p) === SPACE) p++;
    if (this.text.charCodeAt(p) === TAB) throw BAIL;
    this.pos = p;
  }
}

function isFlowIndicator(c: number): boolean {
  return c === 0x2c /* , */ || c === 0x5b /* [ */ || c === 0x5d /* ] */ || c === 0x7b /* { */ || c === 0x7d; /* } */
}

/** Whether a character (NaN past the end) may follow `-` or `:` inside a plain scalar in a flow collection. */
function isFlowPlainSafe(c: number): boolean {
  return !(Number.isNaN(c) || c === SPACE || c === TAB || isFlowIndicator(c));
}

