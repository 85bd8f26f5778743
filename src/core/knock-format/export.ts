import { isDocument, isNode, parseDocument, visit } from 'yaml';
import { KnockEnvError } from '../errors.js';
import { assertValidKey } from '../keys.js';
import { RESOURCE_TYPES, type ResourceKind } from '../resources.js';
import { decodeUtf8 } from '../validate/limits.js';
import { escapePointerSegment } from '../validate/positions.js';
import { parseYaml } from '../validate/yaml.js';
import { KNOCK_MAIN_FILE, KNOCK_SCHEMA_URL, ORIGIN_FIELD, referencedFiles } from './import.js';

const encoder = new TextEncoder();

/**
 * Converts one resource folder from knock-env's layout (workflow.yaml or
 * guide.yaml plus the files its `@` fields reference) to the Knock CLI's
 * layout: the inverse of `knockResourceToFiles`. The main file becomes
 * 2-space JSON with the YAML's fields in the YAML's order, without
 * `origin_environment` (knock-env's own field) and ending with the
 * `$schema` Knock's CLI writes. Every other file is kept byte for byte.
 * Paths on both sides are relative to the resource folder.
 */
export function filesToKnockResource(
  kind: ResourceKind,
  key: string,
  files: Map<string, Uint8Array>,
): { files: Map<string, Uint8Array>; notes: string[] } {
  assertValidKey(key, kind);
  const type = RESOURCE_TYPES[kind];
  const mainName = KNOCK_MAIN_FILE[kind];
  const main = files.get(type.file);
  if (main === undefined) {
    throw new KnockEnvError('NOT_FOUND', `The ${kind} "${key}" has no ${type.file}.`, {
      hint: `Every ${kind} folder needs a ${type.file}; run \`knock-env validate\` to see what is wrong.`,
      data: { kind, key, file: type.file },
    });
  }
  const document = parseResourceYaml(main, kind, key, type.file);
  const notes: string[] = [];

  const schema = document.$schema;
  if (schema !== undefined && schema !== KNOCK_SCHEMA_URL[kind]) {
    notes.push(`${type.file} sets $schema to ${JSON.stringify(schema)}; written as ${JSON.stringify(KNOCK_SCHEMA_URL[kind])}.`);
  }
  const comments = commentLines(main);
  if (comments > 0) {
    notes.push(`${comments} comment line${comments === 1 ? '' : 's'} of ${type.file} not carried into ${mainName} (JSON has no comments).`);
  }
  // fromEntries defines own properties, so even a field named "__proto__" is kept as data.
  const content: Record<string, unknown> = Object.fromEntries(
    Object.entries(document).filter(([field]) => field !== ORIGIN_FIELD && field !== '$schema'),
  );
  for (const pointer of nonFiniteNumbers(content)) {
    notes.push(`${type.file} ${pointer} is a number JSON cannot hold (.inf or .nan); written as null.`);
  }

  const out = new Map<string, Uint8Array>();
  out.set(mainName, encoder.encode(`${JSON.stringify({ ...content, $schema: KNOCK_SCHEMA_URL[kind] }, null, 2)}\n`));

  const referenced = referencedFiles(content, files, notes);
  for (const [path, bytes] of files) {
    if (path === type.file) continue;
    if (path === mainName) {
      notes.push(`${path} is replaced by the converted ${type.file}.`);
      continue;
    }
    out.set(path, bytes);
    if (!referenced.has(path)) notes.push(`${path} is not referenced by any "@" field; exported as it is.`);
  }
  return { files: out, notes };
}

function parseResourceYaml(bytes: Uint8Array, kind: ResourceKind, key: string, file: string): Record<string, unknown> {
  const decoded = decodeUtf8(bytes, file);
  const parsed = 'issue' in decoded ? { issues: [decoded.issue], data: undefined } : parseYaml(decoded.text, file);
  if (parsed.issues.length > 0 || parsed.data === undefined) {
    throw new KnockEnvError('VALIDATION_FAILED', `${file} of ${kind} "${key}" is not valid YAML.`, {
      hint: 'Run `knock-env validate` to see every problem with its line and column.',
      data: { kind, key, file, issues: parsed.issues },
    });
  }
  const data = parsed.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new KnockEnvError('VALIDATION_FAILED', `${file} of ${kind} "${key}" is not a mapping of fields.`, {
      hint: 'Run `knock-env validate` to see what is wrong.',
      data: { kind, key, file },
    });
  }
  return data as Record<string, unknown>;
}

/** Comment lines of a YAML text, leaving out editor hints (`# yaml-language-server: ...`). */
function commentLines(bytes: Uint8Array): number {
  const text = new TextDecoder().decode(bytes);
  if (!text.includes('#')) return 0;
  const doc = parseDocument(text);
  let count = 0;
  const add = (comment: string | null | undefined): void => {
    if (!comment) return;
    for (const lineText of comment.split('\n')) {
      if (lineText.trim() !== '' && !/^\s*yaml-language-server:/.test(lineText)) count++;
    }
  };
  add(doc.commentBefore);
  add(doc.comment);
  visit(doc, (_key, node) => {
    if (isNode(node) && !isDocument(node)) {
      add(node.commentBefore);
      add(node.comment);
    }
  });
  return count;
}

/** JSON pointers of numbers JSON.stringify would write as null. Iterative, so deep documents cannot exhaust the stack. */
function nonFiniteNumbers(data: unknown): string[] {
  const found: string[] = [];
  const stack: { value: unknown; pointer: string }[] = [{ value: data, pointer: '' }];
  while (stack.length > 0) {
    const { value, pointer } = stack.pop() as { value: unknown; pointer: string };
    if (typeof value === 'number' && !Number.isFinite(value)) found.push(pointer);
    else if (Array.isArray(value)) value.forEach((item, i) => stack.push({ value: item, pointer: `${pointer}/${i}` }));
    else if (value !== null && typeof value === 'object') {
      for (const [name, item] of Object.entries(value)) stack.push({ value: item, pointer: `${pointer}/${escapePointerSegment(name)}` });
    }
  }
  return found.sort();
}
