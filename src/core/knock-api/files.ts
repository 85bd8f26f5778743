import { KNOCK_MAIN_FILE, KNOCK_SCHEMA_URL } from '../knock-format/import.js';
import type { ResourceKind } from '../resources.js';
import { contentOf } from './body.js';
import type { ApiResource, KnockApiKind } from './kinds.js';

const encoder = new TextEncoder();

type PathPart = string | number;

/**
 * A resource read from Knock with `annotate=true`, in the Knock CLI's layout
 * (what `knock pull` writes): every field Knock's annotations mark as
 * extractable goes to a file under the step's folder (`email_1/html_body.html`,
 * `email_1/visual_blocks/1.content.md`), deepest first, and the field becomes
 * `field@` naming it; a JSON file's own `@` paths are relative to its folder.
 * Paths are relative to the resource folder.
 */
export function apiResourceToKnockFiles(api: KnockApiKind, kind: ResourceKind, resource: ApiResource): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  const document = structuredClone(resource) as Record<string, unknown>;
  for (const step of stepsOf(document.steps)) extractStep(step, files);
  const content = contentOf(api, document);
  files.set(KNOCK_MAIN_FILE[kind], encoder.encode(`${JSON.stringify({ ...content, $schema: KNOCK_SCHEMA_URL[kind] }, null, 2)}\n`));
  return files;
}

/** Steps, and the steps inside branch steps, each with a ref. */
function stepsOf(steps: unknown): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  if (!Array.isArray(steps)) return out;
  for (const step of steps) {
    if (!isRecord(step) || typeof step.ref !== 'string') continue;
    out.push(step);
    if (Array.isArray(step.branches)) for (const branch of step.branches) if (isRecord(branch)) out.push(...stepsOf(branch.steps));
  }
  return out;
}

function extractStep(step: Record<string, unknown>, files: Map<string, Uint8Array>): void {
  const found: { parts: PathPart[]; ext: string }[] = [];
  const walk = (node: unknown, parts: PathPart[]): void => {
    if (Array.isArray(node)) {
      node.forEach((item, i) => walk(item, [...parts, i]));
      return;
    }
    if (!isRecord(node)) return;
    const annotation = node.__annotation;
    const extractable = isRecord(annotation) && isRecord(annotation.extractable_fields) ? annotation.extractable_fields : {};
    for (const [field, value] of Object.entries(node)) {
      const settings = extractable[field];
      if (isRecord(settings) && settings.default === true && typeof settings.file_ext === 'string') found.push({ parts: [...parts, field], ext: settings.file_ext });
      // Branches hold steps of their own, extracted into their own folders.
      if (field !== 'branches' && field !== '__annotation') walk(value, [...parts, field]);
    }
  };
  walk(step, []);
  found.sort((a, b) => b.parts.length - a.parts.length);
  for (const { parts, ext } of found) {
    const parent = getAt(step, parts.slice(0, -1));
    const field = parts[parts.length - 1] as string;
    if (!isRecord(parent) || !(field in parent)) continue;
    const relpath = extractedPath(parts, ext, String(step.ref));
    const folder = relpath.includes('/') ? relpath.slice(0, relpath.lastIndexOf('/')) : '';
    const data = rebase(stripAnnotations(parent[field]), folder);
    files.set(relpath, encoder.encode(typeof data === 'string' ? data : JSON.stringify(data, null, 2)));
    replaceField(parent, field, `${field}@`, relpath);
  }
}

/** Knock's file name for an extracted field: below the step's folder, array positions counted from 1 and joined to the next name. */
function extractedPath(parts: PathPart[], ext: string, ref: string): string {
  const rest = parts.slice(Math.min(Math.max(parts.length - 1, 0), 1));
  const names: string[] = [];
  let numbers: number[] = [];
  for (const part of rest) {
    if (typeof part === 'number') numbers.push(part + 1);
    else if (numbers.length > 0) {
      names.push([...numbers, part].join('.'));
      numbers = [];
    } else names.push(part);
  }
  if (numbers.length > 0) names.push(numbers.join('.'));
  const file = names.pop()!;
  return [ref, ...names, `${file}.${ext}`].join('/').toLowerCase();
}

function rebase(value: unknown, folder: string): unknown {
  if (Array.isArray(value)) return value.map((item) => rebase(item, folder));
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [field, item] of Object.entries(value)) {
    out[field] = field.endsWith('@') && typeof item === 'string' && folder !== '' && item.startsWith(`${folder}/`) ? item.slice(folder.length + 1) : rebase(item, folder);
  }
  return out;
}

function stripAnnotations(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripAnnotations);
  if (!isRecord(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([f]) => f !== '__annotation').map(([f, v]) => [f, stripAnnotations(v)]));
}

/** Replaces a field in place, at the end as Knock's CLI does (it sets `field@` and unsets `field`). */
function replaceField(node: Record<string, unknown>, field: string, name: string, value: unknown): void {
  delete node[field];
  node[name] = value;
}

function getAt(node: unknown, parts: PathPart[]): unknown {
  let current = node;
  for (const part of parts) current = (current as Record<string | number, unknown> | undefined)?.[part];
  return current;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
