import type { FieldText, ResourceTypeModule } from '../resources.js';
import { liquidIssues } from './liquid.js';
import { schemaIssues, type SchemaName } from './schemas.js';
import type { SourceReader, ValidationIssue } from './types.js';
import { decodeUtf8, LIMITS, tooLargeIssue } from './limits.js';
import type { SourcePositions } from './positions.js';
import { parseYaml } from './yaml.js';

/**
 * The checks a type module declares beyond its schema (an HTML layout's
 * {{ content }}, a partial's content against its type), on the main
 * document with its top-level `@` files read. Each problem is placed at the
 * file and line it is in.
 */
export async function contentIssues(
  type: ResourceTypeModule,
  document: Record<string, unknown>,
  read: SourceReader,
  dir: string,
  main: { file: string; positions: () => SourcePositions },
): Promise<ValidationIssue[]> {
  if (type.contentChecks === undefined) return [];
  const texts = new Map<string, FieldText & { pointer: string }>();
  for (const [name, value] of Object.entries(document)) {
    if (typeof value !== 'string') continue;
    if (name.endsWith('@') && name.length > 1) {
      // Missing or unreadable files are the reference checker's to report.
      const file = `${dir}/${value.replace(/^\.\//, '')}`;
      const bytes = value.includes('..') ? null : await read.read(file);
      const decoded = bytes === null || bytes.length > LIMITS.maxReferencedFileBytes ? null : decodeUtf8(bytes, file);
      if (decoded !== null && !('issue' in decoded)) texts.set(name.slice(0, -1), { text: decoded.text, file, wholeFile: true, pointer: `/${name}` });
    } else if (!texts.has(name)) {
      texts.set(name, { text: value, file: main.file, wholeFile: false, pointer: `/${name}` });
    }
  }
  return type.contentChecks(document, (name) => texts.get(name)).map((problem) => {
    const source = texts.get(problem.field);
    const file = source?.file ?? main.file;
    let at: { line: number; column: number } | undefined;
    if (source?.wholeFile && problem.offset !== undefined) {
      at = positionOf(source.text, problem.offset);
    } else if (source?.wholeFile) {
      at = { line: 1, column: 1 };
    } else {
      at = main.positions().locate(`/${problem.field}`) ?? main.positions().locate(`/${problem.field}@`);
    }
    return { file, ...(at ? { line: at.line, column: at.column } : {}), ...(source?.wholeFile ? {} : { pointer: source?.pointer ?? `/${problem.field}` }), code: 'content', message: problem.message };
  });
}

/**
 * The files of a folder that holds several documents of its type (a
 * locale's translations): each file must be one the type accepts, be a JSON
 * object and satisfy the schema; with `liquid`, every string must compile.
 */
export async function folderFileIssues(type: ResourceTypeModule, key: string, dir: string, read: SourceReader): Promise<{ issues: ValidationIssue[]; files: number }> {
  const issues: ValidationIssue[] = [];
  const files = read.list ? await read.list(dir) : [];
  for (const name of files) {
    const file = `${dir}/${name}`;
    const problem = type.folderFileProblem?.(key, name) ?? null;
    if (problem !== null) {
      issues.push({ file, code: 'unexpected-file', message: `${name} does not belong in ${dir}/: ${problem}.` });
      continue;
    }
    const size = read.size ? await read.size(file) : undefined;
    if (size !== undefined && size !== null && size > LIMITS.maxReferencedFileBytes) {
      issues.push(tooLargeIssue(file, size, LIMITS.maxReferencedFileBytes));
      continue;
    }
    const bytes = await read.read(file);
    if (bytes === null) continue;
    const decoded = decodeUtf8(bytes, file);
    if ('issue' in decoded) {
      issues.push(decoded.issue);
      continue;
    }
    issues.push(...jsonDocumentIssues(decoded.text, file, type.schema as SchemaName));
  }
  return { issues, files: files.length };
}

/** A JSON document: it parses (with the place it fails), is an object, satisfies the schema, and its strings compile as Liquid. */
export function jsonDocumentIssues(text: string, file: string, schema: SchemaName): ValidationIssue[] {
  try {
    JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const offset = /position (\d+)/.exec(message);
    const at = offset === null ? undefined : positionOf(text, Number(offset[1]));
    return [{ file, ...(at ?? {}), code: 'json-syntax', message: `Not valid JSON: ${message}.` }];
  }
  const parsed = parseYaml(text, file);
  if (parsed.data === undefined) return parsed.issues;
  const issues = [...parsed.issues];
  if (parsed.data === null || typeof parsed.data !== 'object' || Array.isArray(parsed.data)) {
    return [...issues, { file, line: 1, column: 1, code: 'schema', message: 'A translation file holds a JSON object of keys to strings.' }];
  }
  issues.push(...schemaIssues(schema, parsed.data, file, parsed.positions));
  const visit = (node: unknown, pointer: string): void => {
    if (typeof node === 'string') {
      const at = parsed.positions().locate(pointer);
      for (const issue of liquidIssues(node, file, at ? { line: at.line, column: at.column + 1 } : undefined)) issues.push({ ...issue, pointer });
    } else if (node !== null && typeof node === 'object') {
      for (const [name, value] of Object.entries(node)) visit(value, `${pointer}/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`);
    }
  };
  visit(parsed.data, '');
  return issues;
}

function positionOf(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.min(offset, text.length));
  return { line: before.split('\n').length, column: before.length - before.lastIndexOf('\n') };
}
