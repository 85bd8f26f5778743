import { createHash } from 'node:crypto';
import { KnockEnvError } from '../errors.js';
import { filesToKnockResource } from '../knock-format/export.js';
import { KNOCK_MAIN_FILE } from '../knock-format/import.js';
import type { ResourceKind } from '../resources.js';
import { resolveReference } from '../validate/resource.js';
import type { KnockApiKind } from './kinds.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The body Knock's Management API takes for one resource, from its folder in
 * knock-env's layout: the Knock CLI's JSON (what `knock-env export` writes)
 * with every `@` field replaced by the content of the file it names (a JSON
 * file as its parsed value, with its own `@` fields resolved against its
 * folder), as `knock push` sends it. Paths are relative to the resource folder.
 */
export function apiBodyOf(kind: ResourceKind, key: string, files: Map<string, Uint8Array>): Record<string, unknown> {
  const converted = filesToKnockResource(kind, key, files).files;
  const main = JSON.parse(utf8.decode(converted.get(KNOCK_MAIN_FILE[kind])!)) as Record<string, unknown>;
  delete main.$schema;
  return inlineReferences(main, '', converted, `${kind} "${key}"`) as Record<string, unknown>;
}

function inlineReferences(value: unknown, baseDir: string, files: Map<string, Uint8Array>, what: string, depth = 0): unknown {
  if (depth > 100) throw new KnockEnvError('VALIDATION_FAILED', `${what} nests "@" files more than 100 deep.`, { hint: 'Run `knock-env validate`.' });
  if (Array.isArray(value)) return value.map((item) => inlineReferences(item, baseDir, files, what, depth + 1));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [field, item] of Object.entries(value as Record<string, unknown>)) {
    if (field.length > 1 && field.endsWith('@') && typeof item === 'string') {
      const resolved = resolveReference(item, baseDir);
      const bytes = 'path' in resolved ? files.get(resolved.path) : undefined;
      if (!('path' in resolved) || bytes === undefined) {
        throw new KnockEnvError('VALIDATION_FAILED', `${what}: "${field}" names ${JSON.stringify(item)}, which ${'problem' in resolved ? `is refused (${resolved.problem})` : 'does not exist'}.`, {
          hint: 'Run `knock-env validate` to see every problem, fix it and commit.',
          data: { field, path: item },
        });
      }
      const text = utf8.decode(bytes);
      const name = field.slice(0, -1);
      if (resolved.path.toLowerCase().endsWith('.json')) {
        const slash = resolved.path.lastIndexOf('/');
        out[name] = inlineReferences(JSON.parse(text), slash < 0 ? '' : resolved.path.slice(0, slash), files, what, depth + 1);
      } else {
        out[name] = text;
      }
    } else {
      Object.defineProperty(out, field, { value: inlineReferences(item, baseDir, files, what, depth + 1), enumerable: true, writable: true, configurable: true });
    }
  }
  return out;
}

/** A resource from Knock without the fields Knock generates (and without annotations, anywhere). */
export function contentOf(type: KnockApiKind, resource: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, item] of Object.entries(resource)) {
    if (!type.generatedFields.includes(field)) out[field] = stripAnnotations(item);
  }
  return out;
}

function stripAnnotations(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripAnnotations);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).filter(([f]) => f !== '__annotation').map(([f, v]) => [f, stripAnnotations(v)]));
}

/** JSON with object keys sorted: equal content, equal text, whatever order the fields came in. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function contentHash(content: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}

/**
 * The fields that differ between two versions of a resource: top-level field
 * names, and for `steps` the refs of the steps added, removed or changed
 * (`steps[email_1]`), as a reviewer would name them.
 */
export function changedFields(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const out: string[] = [];
  for (const name of names) {
    if (canonicalJson(before[name]) === canonicalJson(after[name])) continue;
    const a = before[name];
    const b = after[name];
    if (name === 'steps' && Array.isArray(a) && Array.isArray(b)) {
      const byRef = (list: unknown[]) => new Map(list.map((s, i) => [String((s as { ref?: unknown } | null)?.ref ?? `#${i + 1}`), canonicalJson(s)]));
      const x = byRef(a);
      const y = byRef(b);
      const refs = [...new Set([...x.keys(), ...y.keys()])].filter((ref) => x.get(ref) !== y.get(ref));
      out.push(...(refs.length > 0 ? refs.map((ref) => `steps[${ref}]`) : ['steps (order)']));
    } else {
      out.push(name);
    }
  }
  return out;
}
