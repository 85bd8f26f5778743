import type { Liquid } from 'liquidjs';
import { hasLiquid, knockLiquid, liquidProblem } from '../liquid/engine.js';
import { childPath, TemplateFiles, type StringSource } from '../liquid/sources.js';
import { RESOURCE_KINDS, RESOURCE_TYPES, type ResourceKind } from '../resources.js';
import type { SourceReader, ValidationIssue } from './types.js';
import type { Position } from './positions.js';

/**
 * Liquid syntax checks: every template string of a workflow (channel
 * templates, channel overrides, the settings of steps that render Liquid) and
 * of a guide (step values), and every file an `@` field in them references
 * (text files whole, JSON files string by string). Parse only: nothing is
 * rendered, so no data is needed.
 */

let engine: Liquid | undefined;
function parser(): Liquid {
  return (engine ??= knockLiquid());
}

/**
 * Issues of one template text. `lineOffset` is where the text starts in
 * `file` (1-based), when it is part of a larger file: a problem on the
 * text's first line is shifted by its column, later lines by its line.
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

/** Step types whose `settings` strings Knock renders with Liquid. */
export const LIQUID_SETTINGS_STEP_TYPES = ['http_fetch', 'fetch', 'trigger_workflow', 'ai_agent', 'update_data', 'update_user', 'update_tenant', 'update_object'];

/** The template subtrees of a resource: where Knock renders Liquid. */
export function templateSubtrees(kind: ResourceKind, data: unknown): { node: unknown; pointer: string; field: string }[] {
  const out: { node: unknown; pointer: string; field: string }[] = [];
  if (!isRecord(data) || !Array.isArray(data.steps)) return out;
  if (kind === 'guide') {
    data.steps.forEach((step, i) => {
      if (isRecord(step) && step.values !== undefined) out.push({ node: step.values, pointer: `/steps/${i}/values`, field: childPath(childPath('steps', i), 'values') });
    });
    return out;
  }
  const visit = (steps: unknown[], pointer: string, field: string): void => {
    steps.forEach((step, i) => {
      if (!isRecord(step)) return;
      const at = `${pointer}/${i}`;
      const name = childPath(field, i);
      for (const key of ['template', 'channel_overrides']) {
        if (step[key] !== undefined && step[key] !== null) out.push({ node: step[key], pointer: `${at}/${key}`, field: childPath(name, key) });
      }
      if (typeof step.type === 'string' && LIQUID_SETTINGS_STEP_TYPES.includes(step.type) && step.settings !== undefined) {
        out.push({ node: step.settings, pointer: `${at}/settings`, field: childPath(name, 'settings') });
      }
      for (const group of ['branches', 'cohort_branches']) {
        const branches = step[group];
        if (!Array.isArray(branches)) continue;
        branches.forEach((branch, b) => {
          if (isRecord(branch) && Array.isArray(branch.steps)) {
            visit(branch.steps, `${at}/${group}/${b}/steps`, childPath(childPath(childPath(name, group), b), 'steps'));
          }
        });
      }
    });
  };
  visit(data.steps, '/steps', 'steps');
  return out;
}

export interface ResourceLiquidOptions {
  /** Repository path of the main file; default: the resource type's main file in `dir`. */
  file?: string;
  /** Text of the main file, when the caller has it (saves a read; used only to place issues). */
  text?: string;
}

/**
 * Liquid syntax issues of one parsed workflow or guide. `dir` is the resource
 * folder (workflows/<key> or guides/<key>); `@` files are read through `read`
 * (missing or unreadable ones are left to the reference checker).
 */
export async function resourceLiquidIssues(
  data: unknown,
  read: SourceReader,
  dir: string,
  options: ResourceLiquidOptions = {},
): Promise<ValidationIssue[]> {
  const top = dir.split('/', 1)[0];
  const kind = RESOURCE_KINDS.find((k) => RESOURCE_TYPES[k].dir === top) ?? 'workflow';
  const file = options.file ?? `${dir}/${RESOURCE_TYPES[kind].file}`;
  const files = new TemplateFiles(read, dir, file, options.text);
  const issues: ValidationIssue[] = [];
  const checked = new Set<string>();
  for (const subtree of templateSubtrees(kind, data)) {
    const resolved = await files.resolve(subtree.node, subtree.pointer, subtree.field);
    const visit = (node: unknown, field: string): void => {
      if (typeof node === 'string') {
        const source = resolved.sources.get(field);
        if (source === undefined) return;
        // A file referenced twice is checked once.
        const id = `${source.file}#${source.pointer ?? ''}`;
        if (checked.has(id)) return;
        checked.add(id);
        issues.push(...parseIssues(node, source));
      } else if (Array.isArray(node)) {
        node.forEach((item, i) => visit(item, childPath(field, i)));
      } else if (isRecord(node)) {
        for (const [key, value] of Object.entries(node)) visit(value, childPath(field, key));
      }
    };
    visit(resolved.value, subtree.field);
  }
  return issues.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0)));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
