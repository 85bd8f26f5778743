/**
 * Parsing one YAML (or JSON) text into plain data with every problem and its
 * place: the fast parser (yaml-fast.ts) first, the `yaml` package when it gives up.
 */
import { yamlLib } from '../yaml-lib.js';
import { flowDepthExceeded, LIMITS, MAX_FLOW_DEPTH, yamlSizeIssue } from './limits.js';
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
  const tooDeep = flowDepthExceeded(text);
  if (tooDeep !== undefined) {
    const positions = SourcePositions.of('');
    const before = text.slice(0, tooDeep);
    const line = before.split('\n').length;
    return {
      issues: [
        {
          file,
          line,
          column: tooDeep - before.lastIndexOf('\n'),
          code: 'yaml-syntax',
          message: `Flow collections ([...] and {...}) nest more than ${MAX_FLOW_DEPTH} levels deep.`,
        },
      ],
      positions: () => positions,
    };
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

function duplicateKeyMessage(offset: number, text: string): string {
  const rest = text.slice(offset);
  const match = /^(?:"((?:[^"\\]|\\.)*)"|'((?:[^']|'')*)'|([^:\n]*?))\s*:/.exec(rest);
  const name = match?.[1] ?? match?.[2]?.replace(/''/g, "'") ?? match?.[3];
  return name !== undefined && name !== '' ? `Duplicate key "${name}".` : 'Duplicate key.';
}
