import type { Liquid } from 'liquidjs';
import { hasLiquid, knockLiquid, liquidProblem } from '../liquid/engine.js';
import { childPath, TemplateFiles, type StringSource } from '../liquid/sources.js';
import { mainFileName, RESOURCE_TYPES, resourceTypeOfDir, type ResourceKind, type TemplateSubtree } from '../resources.js';
import type { SourceReader, ValidationIssue } from './types.js';
import type { Position } from './positions.js';

/**
 * Liquid syntax problems of one text, placed in `file` (1-based), when it is
 * part of a larger file: a problem on the text's first line is shifted by its
 * column, later lines by its line.
 */
export function liquidIssues(text: string, file: string, lineOffset?: { line: number; column: number }): ValidationIssue[] {
  const locate =
    lineOffset === undefined
      ? (line: number, column: number): Position => ({ line, column })
      : (line: number, column: number): Position =>
          line === 1 ? { line: lineOffset.line, column: lineOffset.column + column - 1 } : { line: lineOffset.line + line - 1, column };
  return parseIssues(text, { file, locate });
}

/**
 * Liquid syntax checks: every template string of a resource (where its type
 * module says Knock renders Liquid), and every file an `@` field in them references
 * (text files whole, JSON files string by string). Parse only: nothing is
 * rendered, so no data is needed.
 */

let engine: Liquid | undefined;
function parser(): Liquid {
  return (engine ??= knockLiquid());
}

/**
 * Texts known to parse. Resources are often written from the same templates,
 * so a repository of thousands of workflows holds far fewer distinct texts;
 * each is parsed once per process. Bounded, so memory stays flat.
 */
const parsed = new Set<string>();
const MAX_REMEMBERED = 20_000;

function parseIssues(text: string, source: Pick<StringSource, 'file' | 'locate'> & { pointer?: string }): ValidationIssue[] {
  if (!hasLiquid(text) || parsed.has(text)) return [];
  try {
    parser().parse(text);
    if (parsed.size >= MAX_REMEMBERED) parsed.clear();
    parsed.add(text);
    return [];
  } catch (error) {
    const problem = liquidProblem(error);
    const at = problem.line === undefined ? undefined : source.locate(problem.line, problem.column ?? 1);
    return [
      {
        file: source.file,
        ...(at === undefined ? {} : { line: at.line, column: at.column }),
        ...(source.pointer === undefined ? {} : { pointer: source.pointer }),
        code: 'liquid-syntax',
        message: `Liquid: ${problem.message}.`.replace(/\.\.$/, '.'),
      },
    ];
  }
}

export { LIQUID_SETTINGS_STEP_TYPES } from '../resources/types/workflow.js';

/** The template subtrees of a resource: where Knock renders Liquid, as its type declares. */
export function templateSubtrees(kind: ResourceKind, data: unknown): TemplateSubtree[] {
  return RESOURCE_TYPES[kind].templates(data);
}

export interface ResourceLiquidOptions {
  /** Repository path of the main file; default: the resource type's main file in `dir`. */
  file?: string;
  /** Text of the main file, when the caller has it (saves a read; used only to place issues). */
  text?: string;
}

/**
 * Liquid syntax issues of one parsed resource. `dir` is the resource
 * folder (e.g. workflows/<key>); `@` files are read through `read`
 * (missing or unreadable ones are left to the reference checker).
 */
export async function resourceLiquidIssues(
  data: unknown,
  read: SourceReader,
  dir: string,
  options: ResourceLiquidOptions = {},
): Promise<ValidationIssue[]> {
  const issues: ValidationIssue[] = [];
  await forEachTemplateString(data, read, dir, options, (text, source) => issues.push(...parseIssues(text, source)));
  return issues.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0)));
}

/**
 * Calls `visit` once for every template string of a parsed resource (where
 * its type says Knock renders Liquid), `@` files read and JSON files taken
 * string by string; a file referenced twice is visited once.
 */
export async function forEachTemplateString(
  data: unknown,
  read: SourceReader,
  dir: string,
  options: ResourceLiquidOptions,
  visit: (text: string, source: StringSource) => void,
): Promise<void> {
  const [top = '', key = ''] = dir.split('/', 2);
  const type = resourceTypeOfDir(top) ?? RESOURCE_TYPES.workflow;
  const file = options.file ?? `${dir}/${mainFileName(type, key)}`;
  const files = new TemplateFiles(read, dir, file, options.text);
  const seen = new Set<string>();
  for (const subtree of type.templates(data)) {
    const resolved = await files.resolve(subtree.node, subtree.pointer, subtree.field);
    const walk = (node: unknown, field: string): void => {
      if (typeof node === 'string') {
        const source = resolved.sources.get(field);
        if (source === undefined) return;
        const id = `${source.file}#${source.pointer ?? ''}`;
        if (seen.has(id)) return;
        seen.add(id);
        visit(node, source);
      } else if (Array.isArray(node)) {
        node.forEach((item, i) => walk(item, childPath(field, i)));
      } else if (isRecord(node)) {
        for (const [name, value] of Object.entries(node)) walk(value, childPath(field, name));
      }
    };
    walk(resolved.value, subtree.field);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
