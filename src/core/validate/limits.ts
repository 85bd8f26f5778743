import type { ValidationIssue } from './types.js';

/**
 * The bounds every text knock-env parses is held to, checked before a
 * parser sees it: size, UTF-8, the characters YAML allows, and nesting
 * depth. Parsers recurse, so nesting is counted here without recursion.
 */

/** Limits applied to every file knock-env reads as a resource or as an `@` reference. */
export const LIMITS = {
  /** Largest YAML (or JSON main) file accepted, in bytes. */
  maxYamlBytes: 1024 * 1024,
  /** Largest file an `@` field may reference, in bytes. */
  maxReferencedFileBytes: 10 * 1024 * 1024,
  /** Alias expansion budget handed to the `yaml` package; defeats "billion laughs" documents. */
  maxAliasCount: 100,
} as const;

// ---------------------------------------------------------------------------
// Bytes and text

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A file-too-large issue when the text is over the YAML limit in UTF-8; counts bytes only near the limit. */
export function yamlSizeIssue(text: string, file: string): ValidationIssue | undefined {
  if (text.length * 3 <= LIMITS.maxYamlBytes) return undefined;
  const bytes = new TextEncoder().encode(text).length;
  return bytes > LIMITS.maxYamlBytes ? tooLargeIssue(file, bytes, LIMITS.maxYamlBytes) : undefined;
}

export function tooLargeIssue(file: string, bytes: number, limit: number): ValidationIssue {
  return {
    file,
    code: 'file-too-large',
    message: `File is ${formatBytes(bytes)}; the limit is ${formatBytes(limit)}.`,
  };
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

/** Decodes UTF-8 strictly; invalid bytes are an issue, not replacement characters. */
export function decodeUtf8(bytes: Uint8Array, file: string): { text: string } | { issue: ValidationIssue } {
  try {
    // The decoder drops a leading byte order mark.
    return { text: utf8.decode(bytes) };
  } catch {
    return { issue: { file, code: 'yaml-syntax', message: 'File is not valid UTF-8 text.' } };
  }
}

/**
 * Deepest nesting of flow collections let through to the `yaml` package.
 * It parses them recursively: a 1 MiB text of nested brackets costs it
 * seconds and hundreds of MiB before it reports the exhausted stack.
 */
export const MAX_FLOW_DEPTH = 100;

/**
 * Offset where the count of open `[`/`{` first exceeds MAX_FLOW_DEPTH, or
 * undefined. Brackets in strings and comments count too, so a text can be
 * refused with less real nesting (real files come nowhere near the limit);
 * closing brackets inside strings can hide nesting from this count, in
 * which case the `yaml` package's own stack check still ends the parse.
 */
export function flowDepthExceeded(text: string): number | undefined {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_FLOW_DEPTH) return i;
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) {
      depth--;
    }
  }
  return undefined;
}


/**
 * Deepest block nesting let through to the `yaml` package, which also
 * parses block collections recursively: `- - - … x` 100,000 levels deep on
 * one line exhausts its memory.
 */
export const MAX_BLOCK_DEPTH = 100;

/**
 * Offset of the first line whose block nesting exceeds MAX_BLOCK_DEPTH, or
 * undefined. A line's depth is the number of open indentation levels (a
 * stack of increasing indents) plus the compact `- `, `? ` and `: `
 * indicators it starts with. Continuation lines and block scalars count as
 * levels too, so the count can only overstate the real nesting.
 */
export function blockDepthExceeded(text: string): number | undefined {
  const indents: number[] = [];
  let lineStart = 0;
  while (lineStart < text.length) {
    let end = text.indexOf('\n', lineStart);
    if (end < 0) end = text.length;
    let i = lineStart;
    while (text.charCodeAt(i) === 0x20) i++;
    const c = text.charCodeAt(i);
    if (i < end && c !== 0x23 /* # */ && c !== 0x0d) {
      const indent = i - lineStart;
      while (indents.length > 0 && (indents[indents.length - 1] as number) >= indent) indents.pop();
      indents.push(indent);
      let depth = indents.length;
      while (isCompactIndicator(text.charCodeAt(i)) && (text.charCodeAt(i + 1) === 0x20 || text.charCodeAt(i + 1) === 0x09)) {
        if (++depth > MAX_BLOCK_DEPTH) return i;
        i += 2;
        while (text.charCodeAt(i) === 0x20 || text.charCodeAt(i) === 0x09) i++;
      }
      if (depth > MAX_BLOCK_DEPTH) return lineStart + indent;
    }
    lineStart = end + 1;
  }
  return undefined;
}

function isCompactIndicator(c: number): boolean {
  return c === 0x2d /* - */ || c === 0x3f /* ? */ || c === 0x3a; /* : */
}

/** Deepest nesting of arrays and objects accepted in a JSON text. */
export const MAX_JSON_DEPTH = 100;

/**
 * Offset where the nesting of `[`/`{` outside strings first exceeds
 * MAX_JSON_DEPTH, or undefined. `JSON.parse` copes with any depth, but
 * everything that walks the result recursively (YAML output, schema checks)
 * does not.
 */
export function jsonDepthExceeded(text: string): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_JSON_DEPTH) return i;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return undefined;
}

/**
 * Offset of the first character YAML 1.2 excludes from a stream (its
 * c-printable set): C0 controls other than tab, line feed and carriage
 * return, DEL, C1 controls other than NEL, and U+FFFE/U+FFFF. Such bytes
 * make git treat the file as binary and reach terminals as escape sequences.
 */
export function excludedCharacter(text: string): number | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20) {
      if (c !== 0x09 && c !== 0x0a && c !== 0x0d) return i;
    } else if (c >= 0x7f && c <= 0x9f) {
      if (c !== 0x85) return i;
    } else if (c === 0xfffe || c === 0xffff) {
      return i;
    }
  }
  return undefined;
}

/** How a character is named in messages: U+001B (ESC). */
export function describeCharacter(c: number): string {
  const hex = c.toString(16).toUpperCase().padStart(4, '0');
  const names: Record<number, string> = { 0: 'NUL', 0x1b: 'ESC', 0x7f: 'DEL', 0x08: 'BS', 0x07: 'BEL', 0x0c: 'FF', 0x0b: 'VT' };
  return names[c] === undefined ? `U+${hex}` : `U+${hex} (${names[c]})`;
}

/** 1-based line and column of an offset in a text. */
export function offsetPosition(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}
