/**
 * Parsing one YAML (or JSON) text into plain data with every problem and its
 * place: the fast parser (yaml-fast.ts) first, the `yaml` package when it gives up.
 */
import { yamlLib } from '../yaml-lib.js';
import type { Document } from 'yaml';
import { blockDepthExceeded, describeCharacter, excludedCharacter, flowDepthExceeded, LIMITS, MAX_BLOCK_DEPTH, MAX_FLOW_DEPTH, offsetPosition, yamlSizeIssue } from './limits.js';
import { SourcePositions } from './positions.js';
import type { ValidationIssue } from './types.js';
import { fastParseYaml, NOT_HANDLED } from './yaml-fast.js';

export interface ParsedYaml {
  /** The data, or undefined when the text has syntax problems. */
  data?: unknown;
  issues: ValidationIssue[];
  /** Positions for pointers into this text; built on first use. */
  positions(): SourcePositions;
}

/**
 * Parses one YAML document into plain data. Well-formed files in the common
 * block style take a fast path that builds no syntax tree; everything else
 * (and every file with a problem) goes through the `yaml` package, which
 * reports each problem with its position.
 */
export function parseYaml(text: string, file: string): ParsedYaml {
  const tooLarge = yamlSizeIssue(text, file);
  if (tooLarge !== undefined) return { issues: [tooLarge], positions: () => SourcePositions.of('') };
  const fast = fastParseYaml(text);
  if (fast !== NOT_HANDLED) {
    let positions: SourcePositions | undefined;
    return { data: fast, issues: [], positions: () => (positions ??= SourcePositions.of(text)) };
  }
  return slowParseYaml(text, file);
}

/** The `yaml` package's parse, with every error and its position. */
export function slowParseYaml(text: string, file: string): ParsedYaml {
  const refused = textIssue(text, file);
  if (refused !== undefined) {
    const positions = SourcePositions.of('');
    return { issues: [refused], positions: () => positions };
  }
  const lines = new (yamlLib().LineCounter)();
  const doc = yamlLib().parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
  });
  const positions = SourcePositions.fromDocument(doc, lines);
  const issues: ValidationIssue[] = doc.errors.map((error) => {
    const at = positions.offsetToPosition(error.pos[0]);
    return {
      file,
      line: at.line,
      column: at.column,
      code: error.code === 'DUPLICATE_KEY' ? 'duplicate-key' : 'yaml-syntax',
      message: error.code === 'DUPLICATE_KEY' ? duplicateKeyMessage(error.pos[0], text) : error.message,
    };
  });
  issues.push(...tagIssues(doc, file, text, positions));
  if (issues.length > 0) return { issues, positions: () => positions };
  try {
    const data: unknown = doc.toJS({ maxAliasCount: LIMITS.maxAliasCount });
    return { data, issues, positions: () => positions };
  } catch (error) {
    if (error instanceof ReferenceError && /alias/i.test(error.message)) {
      const at = positions.firstAlias();
      return {
        issues: [
          {
            file,
            ...(at === undefined ? {} : { line: at.line, column: at.column }),
            code: 'alias-limit',
            message: `Aliases expand beyond the limit of ${LIMITS.maxAliasCount} nodes; expand them by hand or use fewer aliases.`,
          },
        ],
        positions: () => positions,
      };
    }
    throw error;
  }
}

/**
 * What makes a text unfit to hand to the `yaml` package at all: a character
 * YAML excludes, or nesting deep enough to exhaust its stack or memory.
 */
function textIssue(text: string, file: string): ValidationIssue | undefined {
  const excluded = excludedCharacter(text);
  if (excluded !== undefined) {
    return {
      file,
      ...offsetPosition(text, excluded),
      code: 'control-character',
      message: `The control character ${describeCharacter(text.charCodeAt(excluded))} is not allowed in YAML; remove it (inside a double-quoted string, write it as an escape such as \\u001b).`,
    };
  }
  const flow = flowDepthExceeded(text);
  if (flow !== undefined) {
    return { file, ...offsetPosition(text, flow), code: 'yaml-syntax', message: `Flow collections ([...] and {...}) nest more than ${MAX_FLOW_DEPTH} levels deep.` };
  }
  const block = blockDepthExceeded(text);
  if (block !== undefined) {
    return { file, ...offsetPosition(text, block), code: 'yaml-syntax', message: `Block collections nest more than ${MAX_BLOCK_DEPTH} levels deep.` };
  }
  return undefined;
}

/** Tags of YAML 1.2's core schema: they only restate what the value already is. */
const CORE_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((name) => `tag:yaml.org,2002:${name}`));

/**
 * Every explicit tag outside the core schema (`!!js/function`, `!binary`,
 * `!!binary`, `!anything`): the `yaml` package would drop an unknown one
 * silently (or build a Buffer), and Knock knows none of them.
 */
function tagIssues(doc: Document.Parsed, file: string, text: string, positions: SourcePositions): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  yamlLib().visit(doc, {
    Node(_key, node) {
      const tag = node.tag;
      if (tag === undefined || CORE_TAGS.has(tag)) return;
      const start = node.range?.[0] ?? 0;
      let bang = text.lastIndexOf('!', start);
      while (bang > 0 && text[bang - 1] === '!') bang--;
      const at = positions.offsetToPosition(bang >= 0 ? bang : start);
      const shown = tag.startsWith('tag:yaml.org,2002:') ? `!!${tag.slice('tag:yaml.org,2002:'.length)}` : tag;
      issues.push({
        file,
        line: at.line,
        column: at.column,
        code: 'yaml-tag',
        message: `The YAML tag ${shown} is not supported: resource files hold plain data (strings, numbers, booleans, null, lists and mappings). Remove the tag.`,
      });
    },
  });
  return issues;
}

function duplicateKeyMessage(offset: number, text: string): string {
  const rest = text.slice(offset);
  const match = /^(?:"((?:[^"\\]|\\.)*)"|'((?:[^']|'')*)'|([^:\n]*?))\s*:/.exec(rest);
  const name = match?.[1] ?? match?.[2]?.replace(/''/g, "'") ?? match?.[3];
  return name !== undefined && name !== '' ? `Duplicate key "${name}".` : 'Duplicate key.';
}
