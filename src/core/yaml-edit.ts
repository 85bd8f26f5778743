import { yamlLib } from './yaml-lib.js';

/**
 * Inserts `key: value` as the first key of a YAML document's top-level
 * mapping, leaving every other byte as it was: a byte order mark, comments,
 * quoting, folded and literal text, line endings and indentation. The line
 * goes just before the first key's line, with that line's indentation and
 * line ending; in a flow mapping (`{ name: x }`) just after the brace. Only
 * a document whose first key does not start its line alone (an anchor, a tag,
 * a `? ` key, `--- name: x`) is re-serialised, as the `yaml` package writes it.
 */
export function insertFirstKey(text: string, key: string, value: string): string {
  const bom = text.startsWith('\uFEFF') ? '\uFEFF' : '';
  const body = text.slice(bom.length);
  const fast = firstPlainKeyLine(body);
  if (fast !== undefined && isPlainWord(value)) return `${bom}${body.slice(0, fast.start)}${key}: ${value}${fast.eol}${body.slice(fast.start)}`;
  const yaml = yamlLib();
  const doc = yaml.parseDocument(body);
  const entry = `${key}: ${yaml.stringify(value, { lineWidth: 0 }).trimEnd()}`;
  const map = doc.contents;
  if (doc.errors.length === 0 && yaml.isMap(map)) {
    if (map.flow === true && map.range) {
      const brace = body.indexOf('{', map.range[0]);
      if (brace >= 0) return `${bom}${body.slice(0, brace + 1)}${entry}${map.items.length > 0 ? ', ' : ''}${body.slice(brace + 1)}`;
    }
    const first = map.items[0]?.key;
    const start = yaml.isNode(first) ? first.range?.[0] : undefined;
    if (start !== undefined) {
      const lineStart = body.lastIndexOf('\n', start - 1) + 1;
      const indent = body.slice(lineStart, start);
      if (/^ *$/.test(indent)) {
        const lineEnd = body.indexOf('\n', start);
        const eol = lineEnd > 0 && body[lineEnd - 1] === '\r' ? '\r\n' : '\n';
        return `${bom}${body.slice(0, lineStart)}${indent}${entry}${eol}${body.slice(lineStart)}`;
      }
    }
  } else if (doc.errors.length === 0 && map === null) {
    // Only comments (or nothing): the key goes at the end.
    return `${bom}${body}${body === '' || body.endsWith('\n') ? '' : '\n'}${entry}\n`;
  }
  if (yaml.isMap(map)) map.items.unshift(doc.createPair(key, value));
  else doc.set(key, value);
  return `${bom}${doc.toString({ lineWidth: 0 })}`;
}

/**
 * Where the first line that is not blank, a comment or `---` starts, when it
 * is a plain block key at column 0 (the common case, decided without the
 * `yaml` package); undefined otherwise.
 */
function firstPlainKeyLine(text: string): { start: number; eol: string } | undefined {
  let offset = 0;
  while (offset < text.length) {
    const end = text.indexOf('\n', offset);
    const line = text.slice(offset, end < 0 ? text.length : end);
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed === '---') {
      if (end < 0) return undefined;
      offset = end + 1;
      continue;
    }
    if (!/^[A-Za-z_][\w$@-]*:(\s|$)/.test(line)) return undefined;
    return { start: offset, eol: line.endsWith('\r') ? '\r\n' : '\n' };
  }
  return undefined;
}

/** A word the core schema reads as a string when written plain: it starts with a letter and is no boolean or null. */
function isPlainWord(value: string): boolean {
  return /^[A-Za-z][\w-]*$/.test(value) && !/^(?:true|false|null)$/i.test(value);
}
