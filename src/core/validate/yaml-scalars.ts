/**
 * Scalars as the fast YAML parser reads them: plain, single- and
 * double-quoted, resolved with YAML 1.2's core schema in the order the
 * `yaml` package tries its tags. Anything outside what they handle throws
 * BAIL, and the caller falls back to the `yaml` package.
 */

export const BAIL = new Error('fast path gives up');

export const SPACE = 32;
export const TAB = 9;

/** Characters that cannot start a plain scalar in block context. */
export const INDICATORS = new Set([',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', "'", '"', '%', '@', '`']);

export function startsPlain(text: string): boolean {
  const c = text[0] as string;
  if (INDICATORS.has(c)) return false;
  if (c === '-' || c === '?' || c === ':') {
    const next = text.charCodeAt(1);
    return !(text.length === 1 || next === SPACE || next === TAB);
  }
  return true;
}

/** One line of a plain scalar, without its trailing comment; `comment` tells whether it had one. */
export function plainValue(rest: string): { text: string; comment: boolean } {
  if (!startsPlain(rest)) throw BAIL;
  let end = rest.length;
  let comment = false;
  for (let p = 1; p < rest.length; p++) {
    const ch = rest.charCodeAt(p);
    if (ch === 0x23 /* # */) {
      const prev = rest.charCodeAt(p - 1);
      if (prev === SPACE || prev === TAB) {
        end = p;
        comment = true;
        break;
      }
    } else if (ch === 0x3a /* : */) {
      const next = rest.charCodeAt(p + 1);
      if (p + 1 === rest.length || next === SPACE || next === TAB) throw BAIL;
    }
  }
  while (end > 0 && (rest.charCodeAt(end - 1) === SPACE || rest.charCodeAt(end - 1) === TAB)) end--;
  return { text: end === rest.length ? rest : rest.slice(0, end), comment };
}

/** The single-quoted scalar opening at `start`, and the offset just past it. */
export function singleQuoted(text: string, start = 0): { value: string; end: number } {
  let value = '';
  let from = start + 1;
  for (;;) {
    const q = text.indexOf("'", from);
    if (q < 0) throw BAIL;
    value += text.slice(from, q);
    if (text[q + 1] === "'") {
      value += "'";
      from = q + 2;
      continue;
    }
    return { value, end: q + 1 };
  }
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\',
  '"': '"',
  '/': '/',
  n: '\n',
  t: '\t',
  r: '\r',
  b: '\b',
  f: '\f',
  '0': '\0',
};

/** The double-quoted scalar opening at `start`, and the offset just past it. */
export function doubleQuoted(text: string, start = 0): { value: string; end: number } {
  let value = '';
  let from = start + 1;
  for (;;) {
    let p = from;
    while (p < text.length) {
      const ch = text.charCodeAt(p);
      if (ch === 0x22 /* " */ || ch === 0x5c /* \ */) break;
      p++;
    }
    if (p >= text.length) throw BAIL;
    value += text.slice(from, p);
    if (text.charCodeAt(p) === 0x22) return { value, end: p + 1 };
    const escape = text[p + 1];
    if (escape === undefined) throw BAIL;
    const simple = SIMPLE_ESCAPES[escape];
    if (simple !== undefined) {
      value += simple;
      from = p + 2;
    } else if (escape === 'u') {
      const hex = text.slice(p + 2, p + 6);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw BAIL;
      value += String.fromCharCode(parseInt(hex, 16));
      from = p + 6;
    } else {
      throw BAIL;
    }
  }
}

const NULL_RE = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL_RE = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT_OCT_RE = /^0o[0-7]+$/;
const INT_RE = /^[-+]?[0-9]+$/;
const INT_HEX_RE = /^0x[0-9a-fA-F]+$/;
const FLOAT_NAN_RE = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP_RE = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT_RE = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

/** YAML 1.2 core schema resolution of a plain scalar, as the `yaml` package does it. */
export function resolvePlain(text: string): unknown {
  const c = text.charCodeAt(0);
  const maybeSpecial =
    text.length === 0 ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2b /* + */ ||
    c === 0x2d /* - */ ||
    c === 0x2e /* . */ ||
    c === 0x7e /* ~ */ ||
    c === 0x6e /* n */ ||
    c === 0x4e /* N */ ||
    c === 0x74 /* t */ ||
    c === 0x54 /* T */ ||
    c === 0x66 /* f */ ||
    c === 0x46; /* F */
  if (!maybeSpecial) return text;
  if (NULL_RE.test(text)) return null;
  if (BOOL_RE.test(text)) return c === 0x74 || c === 0x54;
  if (INT_OCT_RE.test(text)) return parseInt(text.substring(2), 8);
  if (INT_RE.test(text)) return parseInt(text, 10);
  if (INT_HEX_RE.test(text)) return parseInt(text.substring(2), 16);
  if (FLOAT_NAN_RE.test(text)) {
    if (text.slice(-3).toLowerCase() === 'nan') return NaN;
    return text[0] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  if (FLOAT_EXP_RE.test(text) || FLOAT_RE.test(text)) return parseFloat(text);
  return text;
}
