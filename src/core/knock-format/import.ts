import YAML from 'yaml';
import { KnockEnvError } from '../errors.js';
import { assertValidKey } from '../keys.js';
import { RESOURCE_TYPES, type ResourceKind } from '../resources.js';
import { jsonDepthExceeded, MAX_JSON_DEPTH, offsetPosition } from '../validate/limits.js';
import { findFileReferences, resolveReference } from '../validate/resource.js';

/** The main file of a resource in the Knock CLI's layout. */
export const KNOCK_MAIN_FILE: Record<ResourceKind, string> = {
  workflow: 'workflow.json',
  guide: 'guide.json',
};

/** The `$schema` Knock's CLI writes into the main file of each resource. */
export const KNOCK_SCHEMA_URL: Record<ResourceKind, string> = {
  workflow: 'https://schemas.knock.app/cli/workflow.json',
  guide: 'https://schemas.knock.app/cli/guide.json',
};

/** Where `knock-env schemas --write` puts the JSON Schemas, relative to the project root. */
export const PROJECT_SCHEMAS_DIR = '.knock-env/schemas';

/** knock-env's own field, set by `knock-env commit`; Knock has no such field. */
export const ORIGIN_FIELD = 'origin_environment';

/** Fields of Knock CLI files that do not belong in the repository. */
const DROPPED_FIELDS = ['$schema', '__readonly'] as const;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

/**
 * Converts one resource folder from the Knock CLI's layout (workflow.json or
 * guide.json plus the files its `@` fields reference) to knock-env's layout
 * (workflow.yaml or guide.yaml plus the same files). Paths on both sides are
 * relative to the resource folder. The document keeps every field and its
 * order, minus `$schema` and `__readonly`; `@` references and the files
 * they name are kept byte for byte.
 */
export function knockResourceToFiles(
  kind: ResourceKind,
  key: string,
  files: Map<string, Uint8Array>,
): { files: Map<string, Uint8Array>; notes: string[] } {
  assertValidKey(key, kind);
  const mainName = KNOCK_MAIN_FILE[kind];
  const type = RESOURCE_TYPES[kind];
  const main = files.get(mainName);
  if (main === undefined) {
    throw new KnockEnvError('NOT_FOUND', `The ${kind} "${key}" has no ${mainName}.`, {
      hint: `Point the import at a folder pulled with the Knock CLI (knock ${kind} pull).`,
      data: { kind, key, file: mainName },
    });
  }
  const document = parseKnockJson(main, kind, key, mainName);
  if (Object.prototype.hasOwnProperty.call(document, ORIGIN_FIELD)) {
    throw new KnockEnvError('VALIDATION_FAILED', `${mainName} of ${kind} "${key}" has a field "${ORIGIN_FIELD}", which knock-env sets itself.`, {
      hint: `Remove "${ORIGIN_FIELD}" from ${mainName}: \`knock-env commit\` records the environment a resource was created in.`,
      data: { kind, key, file: mainName, field: ORIGIN_FIELD },
    });
  }
  const notes: string[] = [];

  const readonly = document.__readonly;
  if (isRecord(readonly)) {
    if (typeof readonly.key === 'string' && readonly.key !== key) {
      notes.push(`${mainName} says its key is "${readonly.key}"; imported as "${key}".`);
    }
    const dropped = Object.keys(readonly);
    if (dropped.length > 0) notes.push(`Dropped read-only fields: ${dropped.map((f) => `__readonly.${f}`).join(', ')}.`);
  } else if (readonly !== undefined) {
    notes.push(`Dropped __readonly (${JSON.stringify(readonly)}).`);
  }
  const schema = document.$schema;
  if (schema !== undefined && schema !== KNOCK_SCHEMA_URL[kind]) {
    notes.push(`Dropped $schema ${JSON.stringify(schema)}; an export writes ${JSON.stringify(KNOCK_SCHEMA_URL[kind])}.`);
  }
  // fromEntries defines own properties, so even a field named "__proto__" is kept as data.
  const content: Record<string, unknown> = Object.fromEntries(
    Object.entries(document).filter(([field]) => !(DROPPED_FIELDS as readonly string[]).includes(field)),
  );

  const out = new Map<string, Uint8Array>();
  out.set(type.file, encoder.encode(toYaml(content, type.schema)));

  const referenced = referencedFiles(content, files, notes);
  for (const [path, bytes] of files) {
    if (path === mainName) continue;
    if (path === type.file) {
      notes.push(`${path} is replaced by the converted ${mainName}.`);
      continue;
    }
    out.set(path, bytes);
    if (!referenced.has(path)) notes.push(`${path} is not referenced by any "@" field; kept as it is.`);
  }
  return { files: out, notes };
}

function parseKnockJson(bytes: Uint8Array, kind: ResourceKind, key: string, file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    const text = utf8.decode(bytes);
    const tooDeep = jsonDepthExceeded(text);
    if (tooDeep !== undefined) {
      const at = offsetPosition(text, tooDeep);
      throw new KnockEnvError('VALIDATION_FAILED', `${file} of ${kind} "${key}" nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep (at line ${at.line}, column ${at.column}).`, {
        hint: 'Knock resources are nowhere near this deep: pull the resource again with the Knock CLI.',
        data: { kind, key, file, issues: [{ file, ...at, code: 'json-syntax', message: `Nested more than ${MAX_JSON_DEPTH} levels deep.` }] },
      });
    }
    parsed = JSON.parse(text);
  } catch (error) {
    if (error instanceof KnockEnvError) throw error;
    throw new KnockEnvError('VALIDATION_FAILED', `${file} of ${kind} "${key}" is not valid JSON.`, {
      hint: 'Pull the resource again with the Knock CLI.',
      data: { kind, key, file },
      cause: error,
    });
  }
  if (!isRecord(parsed)) {
    throw new KnockEnvError('VALIDATION_FAILED', `${file} of ${kind} "${key}" is not a JSON object.`, {
      hint: 'Pull the resource again with the Knock CLI.',
      data: { kind, key, file },
    });
  }
  return parsed;
}

/**
 * Paths (relative to the resource folder) of every file reachable through
 * `@` fields, following references inside referenced JSON files. Problems
 * (refused paths, missing files, JSON that does not parse) are added to
 * `notes`.
 */
export function referencedFiles(content: unknown, files: Map<string, Uint8Array>, notes: string[]): Set<string> {
  const found = new Set<string>();
  const visit = (data: unknown, baseDir: string, from: string): void => {
    for (const reference of findFileReferences(data)) {
      if (typeof reference.value !== 'string') continue;
      const resolved = resolveReference(reference.value, baseDir);
      if ('problem' in resolved) {
        notes.push(`${from} ${reference.pointer}: ${JSON.stringify(reference.value)} is refused (${resolved.problem}).`);
        continue;
      }
      if (found.has(resolved.path)) continue;
      const bytes = files.get(resolved.path);
      if (bytes === undefined) {
        notes.push(`${from} ${reference.pointer}: ${resolved.path} is missing.`);
        continue;
      }
      found.add(resolved.path);
      if (resolved.path.toLowerCase().endsWith('.json')) {
        let nested: unknown;
        try {
          nested = JSON.parse(utf8.decode(bytes));
        } catch {
          notes.push(`${resolved.path} is not valid JSON; its "@" references were not followed.`);
          continue;
        }
        const slash = resolved.path.lastIndexOf('/');
        visit(nested, slash < 0 ? '' : resolved.path.slice(0, slash), resolved.path);
      }
    }
  };
  visit(content, '', 'document');
  return found;
}

/**
 * The editor hint for a resource's main file (workflows/<key>/workflow.yaml),
 * pointing at the schemas `knock-env schemas --write` puts in the project, so
 * that the relative path works in every clone.
 */
export function yamlSchemaModeline(schema: string): string {
  return `# yaml-language-server: $schema=../../${PROJECT_SCHEMAS_DIR}/${schema}.schema.json`;
}

/** The YAML text of a converted document, with the editor schema hint on the first line. */
export function toYaml(content: Record<string, unknown>, schema: string): string {
  const body = YAML.stringify(content, {
    // No folding of long lines, and literal blocks for multi-line strings:
    // the file reads like the source and diffs line by line.
    lineWidth: 0,
    blockQuote: 'literal',
    aliasDuplicateObjects: false,
  });
  return `${yamlSchemaModeline(schema)}\n${body}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
