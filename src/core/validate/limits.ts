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

