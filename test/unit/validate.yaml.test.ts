import { describe, it, expect } from 'vitest';
import { isDeepStrictEqual, inspect } from 'node:util';
import YAML from 'yaml';
import { LIMITS, MAX_FLOW_DEPTH } from '../../src/core/validate/limits.js';
import { SourcePositions } from '../../src/core/validate/positions.js';
import { parseYaml, slowParseYaml } from '../../src/core/validate/yaml.js';
import { fastParseYaml, NOT_HANDLED } from '../../src/core/validate/yaml-fast.js';

/** What the `yaml` package makes of a text: its data, or 'error'. */
function reference(text: string): unknown {
  const parsed = slowParseYaml(text, 'x.yaml');
  return parsed.issues.length > 0 ? 'error' : parsed.data;
}

/** The fast path must either give up or agree exactly with the `yaml` package. */
function expectAgreement(text: string): 'fast' | 'fallback' {
  const fast = fastParseYaml(text);
  if (fast === NOT_HANDLED) return 'fallback';
  const slow = reference(text);
  expect(slow, `yaml rejects a text the fast path accepted:\n${text}`).not.toBe('error');
  // node:util's strict equality: tells -0 from 0 and, unlike toStrictEqual, is not
  // confused by documents with a key named "constructor".
  expect(isDeepStrictEqual(fast, slow), `fast path disagrees on:\n${text}\nfast: ${inspect(fast, { depth: 9 })}\nyaml: ${inspect(slow, { depth: 9 })}`).toBe(true);
  return 'fast';
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TRICKY_STRINGS = [
  '',
  ' ',
  'plain',
  'two words',
  ' leading',
  'trailing ',
  'a #not comment',
  'a#b',
  'key: value',
  'ends with colon:',
  'http://example.com/a#frag',
  '{{ vars.app_url }}/x',
  'Hi {{ name }}',
  "it's",
  'say "hi"',
  '- dash',
  '-dash',
  '? q',
  ':colon',
  '|',
  '>',
  '&anchor',
  '*alias',
  '!tag',
  '%pct',
  '@at',
  '`tick',
  '012',
  '0o17',
  '0x1F',
  '1e3',
  '.5',
  '1.',
  '+1',
  '-0',
  '.inf',
  '.NaN',
  'true',
  'False',
  'null',
  '~',
  'yes',
  'no',
  '2024-01-01',
  '1:30',
  'line one\nline two',
  'line one\nline two\n',
  'trailing newlines\n\n\n',
  '\nleading newline',
  'indented\n  more\nback',
  'tab\there',
  '\ttab first',
  'back\\slash',
  'unicode é ✓ 🎉',
  'a'.repeat(30) + ' ' + 'b'.repeat(30) + ' ' + 'c'.repeat(40),
  'a long sentence that keeps going well past the usual eighty column limit of the yaml stringifier, so it folds',
  'para one\n\npara two',
  '   \n',
  '\u0085nel',
  'x\u2028y',
];

const KEYS = ['name', 'steps', 'ref', 'html_body@', '$schema', 'a b', 'true', '1', '', '#x', 'a: b', '-x', 'x-y', 'é', 'null', '~', 'q?', '<<', 'constructor'];

function randomValue(r: () => number, depth: number): unknown {
  const pick = r();
  if (depth > 3 || pick < 0.45) {
    const kind = Math.floor(r() * 8);
    if (kind < 4) return TRICKY_STRINGS[Math.floor(r() * TRICKY_STRINGS.length)];
    if (kind === 4) return Math.floor(r() * 2000) - 1000;
    if (kind === 5) return [0.5, -1.25, 1e21, 3.0, 123456789012, -0.0][Math.floor(r() * 6)];
    if (kind === 6) return r() < 0.5;
    return null;
  }
  if (pick < 0.7) {
    const n = Math.floor(r() * 4);
    return Array.from({ length: n }, () => randomValue(r, depth + 1));
  }
  const obj: Record<string, unknown> = {};
  const n = Math.floor(r() * 5);
  for (let i = 0; i < n; i++) obj[KEYS[Math.floor(r() * KEYS.length)] as string] = randomValue(r, depth + 1);
  return obj;
}

/** Documents in hand-written styles: odd indentation, comments, blank lines, compact forms, block scalars. */
function handWritten(r: () => number): string {
  const pick = <T,>(a: readonly T[]): T => a[Math.floor(r() * a.length)] as T;
  const scalars = ['v', 'two words', '"dq"', "'sq'", "'it''s'", '"a\\tb"', '[]', '{}', 'x #c', 'x#c', 'http://x:8/y', '1', '0x1F', '1.50', '-0', '~', 'True', 'null', '-1', ':x', '"\\u00e9"', 'a,b', 'a]', '"{{ x }}"', 'é', '2024-01-01', '1e3', '.5', '+1', 'yes', '', '""', "''", 'a  b', 'a\tb'];
  const keys = ['a', 'b', 'c d', '"q"', "'s'", '-x', 'x@', '"1"', 'k:v', 'a#b', 'é', '$s', '"a b"', 'e', 'f', 'g'];
  const space = (): string => pick(['', '', '', ' ', '  ', '\t']);
  const comment = (): string => (r() < 0.15 ? ` #${pick(['', ' c', ' : x', ' - y'])}` : '');
  const blank = (): string => (r() < 0.1 ? `${pick(['', ' ', '   ', '# c', '  # c', '\t'])}\n` : '');
  const blockScalar = (indent: number, step: number): string => {
    let out = `${pick(['|', '|-', '|+', '>', '>-', '>+'])}${comment()}\n`;
    const content = indent + step;
    for (let i = 0, n = 1 + Math.floor(r() * 4); i < n; i++) {
      const kind = r();
      if (kind < 0.15) out += `${pick(['', ' '.repeat(content), ' '.repeat(content + 2)])}\n`;
      else if (kind < 0.25) out += `${' '.repeat(content + 2)}more indented\n`;
      else out += `${' '.repeat(content)}${pick(['text', 'two words', '# not comment', '- item', 'k: v', '  x'])}\n`;
    }
    return r() < 0.3 ? `${out}\n` : out;
  };
  const node = (indent: number, depth: number, under: 'key' | 'dash'): string => {
    const step = pick([1, 2, 2, 2, 3, 4]);
    const k = r();
    if (depth > 3 || k < 0.45) {
      if (r() < 0.12) return ` ${blockScalar(indent, step)}`;
      let v = pick(scalars);
      if (r() < 0.08 && /^[a-z]/.test(v)) v += `\n${' '.repeat(indent + step)}${pick(['cont', 'more words', '- dash', 'k: v', '# c'])}`;
      return `${v === '' ? '' : ` ${v}`}${space()}${comment()}\n`;
    }
    let out = `${comment()}\n${blank()}`;
    if (k < 0.72) {
      for (let i = 0, n = 1 + Math.floor(r() * 3); i < n; i++) {
        out += `${' '.repeat(indent + step)}${pick(keys)}:${node(indent + step, depth + 1, 'key')}${blank()}`;
      }
      return out;
    }
    const at = under === 'key' && r() < 0.3 ? indent : indent + step;
    for (let i = 0, n = 1 + Math.floor(r() * 3); i < n; i++) {
      const dash = `-${' '.repeat(pick([1, 1, 1, 2, 3]))}`;
      if (r() < 0.4) {
        const col = at + dash.length;
        out += `${' '.repeat(at)}${dash}${pick(keys)}:${node(col, depth + 1, 'key')}`;
        for (let j = 1, m = 1 + Math.floor(r() * 3); j < m; j++) out += `${' '.repeat(col)}${pick(keys)}:${node(col, depth + 1, 'key')}`;
      } else {
        out += `${' '.repeat(at)}${dash.trimEnd()}${node(at, depth + 1, 'dash')}`;
      }
      out += blank();
    }
    return out;
  };
  let text = (r() < 0.1 ? '---\n' : '') + (r() < 0.2 ? '# head\n' : '');
  for (let i = 0, n = 1 + Math.floor(r() * 3); i < n; i++) text += `${pick(keys)}:${node(0, 0, 'key')}`;
  return r() < 0.05 ? text.slice(0, -1) : text;
}

const STRINGIFY_OPTIONS: YAML.ToStringOptions[] = [
  {},
  { lineWidth: 0 },
  { blockQuote: 'literal' },
  { blockQuote: 'folded' },
  { blockQuote: false },
  { indentSeq: false },
  { indent: 4 },
  { defaultStringType: 'QUOTE_DOUBLE' },
  { defaultStringType: 'QUOTE_SINGLE' },
  { defaultKeyType: 'PLAIN', singleQuote: true },
  { collectionStyle: 'flow' },
];

describe('YAML fast path', () => {
  it('agrees with the yaml package on generated documents in every stringify style', () => {
    const r = rng(42);
    let fast = 0;
    let total = 0;
    for (let i = 0; i < 300; i++) {
      const value: Record<string, unknown> = { root: randomValue(r, 0), [`k${i}`]: randomValue(r, 1) };
      for (const options of STRINGIFY_OPTIONS) {
        const text = YAML.stringify(value, options);
        total++;
        if (expectAgreement(text) === 'fast') fast++;
      }
    }
    // The fast path must actually be taken for most of these, or it is not worth having.
    expect(fast / total).toBeGreaterThan(0.5);
  });

  it('agrees with the yaml package on hand-written styles', () => {
    const r = rng(2024);
    let fast = 0;
    const total = 4000;
    for (let i = 0; i < total; i++) if (expectAgreement(handWritten(r)) === 'fast') fast++;
    expect(fast / total).toBeGreaterThan(0.3);
  });

  it('agrees with the yaml package on randomly damaged documents', () => {
    const r = rng(7);
    const alphabet = [' ', '  ', '\n', ':', ': ', '-', '- ', '#', ' #', '"', "'", '|', '>', '\t', '[', ']', '{', '}', '&a', '*a', '!', '?', '\\', 'x', '1', '|-', '>+', '\n  ', '\n    '];
    for (let i = 0; i < 2000; i++) {
      const text = YAML.stringify({ root: randomValue(r, 0), other: randomValue(r, 1) }, STRINGIFY_OPTIONS[i % STRINGIFY_OPTIONS.length]);
      let damaged = text;
      const edits = 1 + Math.floor(r() * 3);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(r() * (damaged.length + 1));
        if (r() < 0.35 && damaged.length > 0) damaged = damaged.slice(0, at) + damaged.slice(at + 1);
        else damaged = damaged.slice(0, at) + (alphabet[Math.floor(r() * alphabet.length)] as string) + damaged.slice(at);
      }
      expectAgreement(damaged);
    }
  });

  it.each([
    ['block literal keep with trailing blank lines', 'a: |+\n  x\n\n\nb: 1\n'],
    ['block literal strip', 'a: |-\n  x\n  y\n'],
    ['folded with paragraph', 'a: >\n  x\n  y\n\n  z\n'],
    ['empty block scalar', 'a: |\nb: 1\n'],
    ['block scalar at end without newline', 'a: |\n  x'],
    ['sequence under key at same indentation', 'a:\n- 1\n- 2\nb: 3\n'],
    ['compact mappings in sequence', 'steps:\n  - ref: a\n    type: delay\n  - ref: b\n    settings:\n      x: 1\n'],
    ['document start marker', '---\na: 1\n'],
    ['comments everywhere', '# top\na: 1 # c\n  # indented comment\nb:\n  # inside\n  c: 2\n'],
    ['quoted keys and values', '"a b": \'it\'\'s\'\n\'c\': "x\\ty\\u00e9"\n'],
    ['empty flow collections', 'a: []\nb: {} # c\n'],
    ['flow collections', 'a: [x, {y: 1}]\nb: {c: [d, "e"]} # c\n'],
    ['numbers and specials', 'a: 012\nb: 0x1F\nc: 1e3\nd: .inf\ne: -0\nf: ~\ng: TRUE\nh: 1.50\n'],
    ['duplicate key', 'a: 1\na: 2\n'],
    ['anchor and alias', 'a: &x 1\nb: *x\n'],
    ['multi-line plain scalar', 'a: one\n  two\n'],
    ['tab indentation', 'a:\n\tb: 1\n'],
    ['windows line endings', 'a: 1\r\nb: 2\r\n'],
    ['two documents', 'a: 1\n---\nb: 2\n'],
    ['top-level sequence', '- a\n- b\n'],
    ['proto key', '__proto__: {}\n'],
    ['whitespace-only line longer than the block indentation', 'a: |\n  x\n     \n  y\n'],
    ['constructor key', 'constructor: 1\ntoString: [ ]\n'],
  ])('%s', (_name, text) => {
    expectAgreement(text);
  });

  it.each([
    ['compact mapping after several spaces', 'steps:\n-   ref: a\n    type: delay\n'],
    ['multi-line plain scalar', 'description: one\n  two\n\n  three\nname: x\n'],
    ['folded block', 'a: >-\n  one\n  two\n'],
    ['kept trailing lines', 'a: |+\n  one\n\nb: 1\n'],
    ['quoted keys', '"a": 1\n\'b\': 2\n'],
    ['empty values', 'a:\nb: []\nc: {}\n'],
  ])('handles %s itself, without the yaml package', (_name, text) => {
    expect(expectAgreement(text)).toBe('fast');
  });

  it('takes the fast path for typical resource files', () => {
    const text = [
      '# yaml-language-server: $schema=../../schemas/workflow.schema.json',
      'name: Order shipped',
      'steps:',
      '  - ref: email_1',
      '    type: channel',
      '    channel_type: email',
      '    template:',
      '      subject: "Your order {{ data.order.number }} has shipped"',
      '      html_body@: email_1/body.html',
      '      markdown_body: |',
      '        Hello **{{ recipient.name }}**',
      '',
      '        Thanks.',
      '',
    ].join('\n');
    expect(fastParseYaml(text)).not.toBe(NOT_HANDLED);
    expectAgreement(text);
  });
});

/** Scalars as they may be written inside flow collections, tricky ones included. */
const FLOW_SCALARS = [
  'a',
  'two words',
  'a  b',
  'x-y',
  '-x',
  '-1',
  '1',
  '2.5',
  '-3',
  '0x1F',
  '0o17',
  '012',
  '1e3',
  '.5',
  '+1',
  '-0',
  '.inf',
  '.NaN',
  'true',
  'False',
  'null',
  'Null',
  '~',
  'yes',
  '2024-01-01',
  '1:30',
  'b:c',
  'a::b',
  'a#b',
  'it\'s',
  'say "hi"',
  'http://x.y/z?a=1',
  'mailto:x@y',
  'refs.in_app_feed_1.status',
  '$message.seen',
  'é ✓',
  'q?',
  'k-',
  '"x, y"',
  "'b]'",
  '"c}"',
  '"[a]"',
  "'{b: c}'",
  '""',
  "''",
  "'it''s'",
  '"a\\"b"',
  '"\\u00e9\\t"',
  '" a # b "',
  '"1"',
  "'true'",
  '"{{ vars.app_url }}/x"',
];

/** Entries the fast path must leave to the yaml package (or that are errors). */
const FLOW_ODDITIES = ['a #b', '-', '- x', '?x', ':x', '? k', '&a x', '*a', '!t x', '!!str 1', '%x', '@x', '`x', '|x', '>x', 'a: b', '', 'a\tb', '"x"y', '"open', "'open", 'k:', '"\\q"'];

const FLOW_KEYS = ['a', 'b', 'c d', 'url', 'batch_key', '-k', 'k-', 'a:b', 'é', '$s', '"quoted key"', "'s'", '""', '"1"', '1', 'true', 'null', '<<', 'constructor', '__proto__'];

/** A flow collection on one line, with varied spacing; `odd` is the chance of an entry outside the fast subset. */
function flowCollection(r: () => number, depth: number, odd: number): string {
  const pick = <T,>(a: readonly T[]): T => a[Math.floor(r() * a.length)] as T;
  const pad = (): string => pick(['', '', ' ', ' ', '  ']);
  const entry = (): string => {
    if (depth < 4 && r() < 0.25) return flowCollection(r, depth + 1, odd);
    return r() < odd ? pick(FLOW_ODDITIES) : pick(FLOW_SCALARS);
  };
  const n = Math.floor(r() * 4);
  const comma = (): string => `${r() < 0.1 ? ' ' : ''},${pick(['', ' ', ' ', ' ', '  '])}`;
  const trailing = (): string => (r() < odd ? ',' : '');
  if (r() < 0.5) {
    const items = Array.from({ length: n }, entry);
    return `[${pad()}${items.join(comma())}${items.length > 0 ? trailing() : ''}${pad()}]`;
  }
  const pairs = Array.from({ length: n }, () => {
    const key = r() < odd ? pick([...FLOW_KEYS, '[a]', '{}', '? k', '']) : pick(FLOW_KEYS);
    const colon = r() < odd ? pick([':', ' :', ':  ', ':\t']) : ': ';
    return `${key}${colon}${entry()}`;
  });
  return `{${pad()}${pairs.join(comma())}${pairs.length > 0 ? trailing() : ''}${pad()}}`;
}

/** A block document whose values and sequence items are flow collections, as people write them by hand. */
function flowDocument(r: () => number, odd: number): string {
  const pick = <T,>(a: readonly T[]): T => a[Math.floor(r() * a.length)] as T;
  const comment = (): string => (r() < 0.15 ? pick([' # c', '  # [x]', '\t# {y}']) : '');
  const value = (): string => (r() < 0.8 ? flowCollection(r, 0, odd) : pick(FLOW_SCALARS.filter((v) => !v.includes('#'))));
  const lines: string[] = [];
  for (let i = 0, n = 1 + Math.floor(r() * 4); i < n; i++) {
    const key = `k${i}`;
    const kind = r();
    if (kind < 0.5) {
      lines.push(`${key}: ${value()}${comment()}`);
    } else if (kind < 0.8) {
      lines.push(`${key}:`);
      const indent = pick(['', '  ', '    ']);
      for (let j = 0, m = 1 + Math.floor(r() * 3); j < m; j++) lines.push(`${indent}- ${value()}${comment()}`);
    } else {
      lines.push(`${key}:`);
      for (let j = 0, m = 1 + Math.floor(r() * 2); j < m; j++) {
        lines.push(`  - ref: r${j}`);
        lines.push(`    settings: ${value()}${comment()}`);
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

describe('YAML fast path, flow collections', () => {
  it.each([
    ['quoted value with a comma', 'a: {a: "x, y"}\n', { a: { a: 'x, y' } }],
    ['quoted brackets', "a: [a, 'b]', \"c}\"]\n", { a: ['a', 'b]', 'c}'] }],
    ['a URL', 'a: {url: http://x.y/z?a=1}\n', { a: { url: 'http://x.y/z?a=1' } }],
    ['a colon inside a plain scalar', 'a: {a: b:c}\n', { a: { a: 'b:c' } }],
    ['empty collections', 'a: {}\nb: []\nc: { }\nd: [ ]\n', { a: {}, b: [], c: {}, d: [] }],
    ['core schema scalars', 'a: [1, 2.5, -3, true, null, ~]\n', { a: [1, 2.5, -3, true, null, null] }],
    ['a quoted key', 'a: { "quoted key": 1 }\n', { a: { 'quoted key': 1 } }],
    ['nested collections', 'settings: { batch_key: comment_id, batch_window: { unit: minutes, value: 15 } }\n', { settings: { batch_key: 'comment_id', batch_window: { unit: 'minutes', value: 15 } } }],
    ['a sequence of names', 'categories: [comments, mentions]\n', { categories: ['comments', 'mentions'] }],
    ['block sequence items', 'all:\n  - { variable: refs.a.status, operator: less_than, argument: $message.seen }\n  - [1, [2, [3]]]\n', { all: [{ variable: 'refs.a.status', operator: 'less_than', argument: '$message.seen' }, [1, [2, [3]]]] }],
    ['a compact mapping', 'steps:\n  - ref: a\n    settings: {delay_for: {unit: hours, value: 2}}\n', { steps: [{ ref: 'a', settings: { delay_for: { unit: 'hours', value: 2 } } }] }],
    ['no spaces after commas', 'a: [a,b]\nb: {a: b,c: d}\n', { a: ['a', 'b'], b: { a: 'b', c: 'd' } }],
    ['spaces before commas', 'a: [a , "b" ,c]\n', { a: ['a', 'b', 'c'] }],
    ['a hash inside a scalar', 'a: [a#b]\n', { a: ['a#b'] }],
    ['a comment after the collection', 'a: [1] # [2]\nb: {c: d}\t# e\n', { a: [1], b: { c: 'd' } }],
    ['quoted escapes', "a: ['it''s', \"\\u00e9\\n\", \"a\\\"b\"]\n", { a: ["it's", 'é\n', 'a"b'] }],
    ['dashes', 'a: [-x, -1, -.5, x-, a-b]\n', { a: ['-x', -1, -0.5, 'x-', 'a-b'] }],
    ['a key ending in a colon', 'a: {b:: c}\n', { a: { 'b:': 'c' } }],
    ['an empty quoted key', "a: {'': 1}\n", { a: { '': 1 } }],
  ])('reads %s itself', (_name, text, expected) => {
    expect(expectAgreement(text)).toBe('fast');
    expect(fastParseYaml(text)).toStrictEqual(expected);
  });

  it.each([
    ['a line break inside', 'a: [1,\n  2]\n'],
    ['a line break inside at the same indentation', 'a: [1,\n2]\n'],
    ['a comment inside', 'a: [1, # c\n  2]\n'],
    ['an anchor and an alias', 'a: [&x y, *x]\n'],
    ['a tag', 'a: [!!str 1]\n'],
    ['an explicit key', 'a: {? k : v}\n'],
    ['a pair in a sequence', 'a: [k: v]\n'],
    ['a key without a value', 'a: {k}\n'],
    ['an empty value', 'a: {k: }\n'],
    ['a trailing comma', 'a: [x, y,]\n'],
    ['a trailing comma in a mapping', 'a: {x: 1,}\n'],
    ['an adjacent value after a quoted key', 'a: {"k":1}\n'],
    ['space before the colon', 'a: {k : 1}\n'],
    ['a plain key with a colon', 'a: {k:1}\n'],
    ['a number as a key', 'a: {1: x}\n'],
    ['a duplicate key', 'a: {k: 1, k: 2}\n'],
    ['a tab as a separator', 'a: [x,\ty]\n'],
    ['a collection as a key', 'a: [x]: y\n'],
    ['text after the collection', 'a: [x] y\n'],
    ['a comment without a space', 'a: [x]#c\n'],
    ['an unclosed collection', 'a: [x, y\n'],
    ['a flow collection as the document', '{a: 1}\n'],
    ['a flow collection on the next line', 'a:\n  [1, 2]\n'],
    ['a collection followed by a more indented line', 'a: [1]\n  b\n'],
    ['__proto__', 'a: {__proto__: 1}\n'],
  ])('leaves %s to the yaml package', (_name, text) => {
    expect(expectAgreement(text)).toBe('fallback');
  });

  it('agrees with the yaml package on hand-written flow documents', () => {
    const r = rng(31);
    let fast = 0;
    const total = 4000;
    for (let i = 0; i < total; i++) if (expectAgreement(flowDocument(r, 0)) === 'fast') fast++;
    expect(fast / total).toBeGreaterThan(0.5);
  });

  it('agrees with the yaml package on flow documents with odd entries', () => {
    const r = rng(32);
    let fast = 0;
    const total = 4000;
    for (let i = 0; i < total; i++) if (expectAgreement(flowDocument(r, 0.15)) === 'fast') fast++;
    // Both outcomes must be common for this to test anything.
    expect(fast / total).toBeGreaterThan(0.05);
    expect(fast / total).toBeLessThan(0.95);
  });

  it('agrees with the yaml package on values the yaml package writes in flow style', () => {
    const r = rng(33);
    let fast = 0;
    let total = 0;
    for (let i = 0; i < 600; i++) {
      const value = randomValue(r, 0);
      for (const options of [{ lineWidth: 0 }, { lineWidth: 0, flowCollectionPadding: false }, { lineWidth: 0, defaultStringType: 'QUOTE_SINGLE' as const }]) {
        const flow = YAML.stringify(value, { ...options, collectionStyle: 'flow' }).trimEnd();
        total += 2;
        if (expectAgreement(`key: ${flow}\nnext: 1\n`) === 'fast') fast++;
        if (expectAgreement(`items:\n  - ${flow}\n  - x\n`) === 'fast') fast++;
      }
    }
    expect(fast / total).toBeGreaterThan(0.4);
  });

  it('agrees with the yaml package on randomly damaged flow documents', () => {
    const r = rng(34);
    const alphabet = [' ', ',', ', ', ':', ': ', '[', ']', '{', '}', '"', "'", '#', ' #', '-', '- ', '?', '&a', '*a', '!', '\t', '\n', '\n  ', 'x', '1', '\\'];
    for (let i = 0; i < 4000; i++) {
      let damaged = flowDocument(r, 0);
      const edits = 1 + Math.floor(r() * 2);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(r() * (damaged.length + 1));
        if (r() < 0.35 && damaged.length > 0) damaged = damaged.slice(0, at) + damaged.slice(at + 1);
        else damaged = damaged.slice(0, at) + (alphabet[Math.floor(r() * alphabet.length)] as string) + damaged.slice(at);
      }
      expectAgreement(damaged);
    }
  });

  it('gives up on flow collections nested deeper than the slow path allows', () => {
    const deep = (n: number): string => `${'['.repeat(n)}x${']'.repeat(n)}`;
    expect(expectAgreement(`a: ${deep(MAX_FLOW_DEPTH)}\n`)).toBe('fast');
    expect(expectAgreement(`a: ${deep(MAX_FLOW_DEPTH + 1)}\n`)).toBe('fallback');
    // The slow path counts brackets in strings too, and so refuses this text.
    expect(expectAgreement(`a: [x]\nb: "${'['.repeat(MAX_FLOW_DEPTH + 1)}"\n`)).toBe('fallback');
  });

  it('takes the fast path for the benchmark workflows in both styles', async () => {
    const generator = new URL('../../scripts/bench/generate.mjs', import.meta.url).href;
    const { generateWorkflow } = (await import(generator)) as { generateWorkflow: (index: number, options?: { style?: string }) => string };
    for (let i = 0; i < 200; i++) {
      for (const style of ['mixed', 'block']) expect(expectAgreement(generateWorkflow(i, { style })), `${style} ${i}`).toBe('fast');
    }
    expect(fastParseYaml(generateWorkflow(5, { style: 'mixed' }))).toStrictEqual(fastParseYaml(generateWorkflow(5, { style: 'block' })));
  });
});

describe('YAML slow path', () => {
  it('reports every syntax error with its line and column', () => {
    const parsed = parseYaml('a: 1\nb: [1, 2\nc: "x\n', 'f.yaml');
    expect(parsed.data).toBeUndefined();
    expect(parsed.issues.length).toBeGreaterThan(0);
    for (const issue of parsed.issues) {
      expect(issue.code).toBe('yaml-syntax');
      expect(issue.file).toBe('f.yaml');
      expect(issue.line).toBeGreaterThanOrEqual(2);
      expect(issue.column).toBeGreaterThanOrEqual(1);
    }
  });

  it('reports duplicate keys as duplicate-key, naming the key and its position', () => {
    const parsed = parseYaml('name: x\nsteps: []\nname: y\n', 'f.yaml');
    expect(parsed.issues).toEqual([
      { file: 'f.yaml', line: 3, column: 1, code: 'duplicate-key', message: 'Duplicate key "name".' },
    ]);
  });

  it('stops alias bombs with alias-limit', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      lines.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const parsed = parseYaml(lines.join('\n') + '\n', 'bomb.yaml');
    expect(parsed.data).toBeUndefined();
    expect(parsed.issues).toHaveLength(1);
    expect(parsed.issues[0]).toMatchObject({ file: 'bomb.yaml', code: 'alias-limit', line: 2 });
  });

  it('accepts a few aliases below the limit', () => {
    const parsed = parseYaml('a: &a {x: 1}\nb: *a\n', 'f.yaml');
    expect(parsed.issues).toEqual([]);
    expect(parsed.data).toEqual({ a: { x: 1 }, b: { x: 1 } });
  });

  it('maps JSON pointers to lines and columns, keys included', () => {
    const text = 'name: x\nsteps:\n  - ref: a\n    type: chanel\n  - ref: b\n';
    const positions = SourcePositions.of(text);
    expect(positions.locate('/steps/0/type')).toEqual({ line: 4, column: 11 });
    expect(positions.locate('/steps/0/type', { key: true })).toEqual({ line: 4, column: 5 });
    expect(positions.locate('/steps/1')).toEqual({ line: 5, column: 5 });
    // A missing property falls back to the deepest node that exists.
    expect(positions.locate('/steps/1/template/subject')).toEqual({ line: 5, column: 5 });
    expect(positions.locate('')).toEqual({ line: 1, column: 1 });
  });

  it('exposes the documented limits', () => {
    expect(LIMITS).toEqual({ maxYamlBytes: 1048576, maxReferencedFileBytes: 10485760, maxAliasCount: 100 });
  });
});
