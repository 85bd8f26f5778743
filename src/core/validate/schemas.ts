import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Ajv, ErrorObject, Options, ValidateFunction } from 'ajv';
import type { ValidationIssue } from './types.js';
import { joinPointer, type SourcePositions } from './positions.js';

/** Schemas shipped in the project's schemas/ folder, by file name without `.schema.json`. */
export type SchemaName = 'workflow' | 'guide' | 'knock-env' | 'channel' | 'variables' | 'branding';

export const SCHEMA_NAMES: readonly SchemaName[] = ['workflow', 'guide', 'knock-env', 'channel', 'variables', 'branding'];

/**
 * The schemas/ folder. This module sits three levels below the project root
 * both as source (src/core/validate/) and compiled (dist/core/validate/).
 */
export const SCHEMAS_DIR = new URL('../../../schemas/', import.meta.url);

export function schemaUrl(name: SchemaName): URL {
  return new URL(`${name}.schema.json`, SCHEMAS_DIR);
}

/**
 * Where the build puts precompiled validators (`<name>.cjs`), beside this
 * module in dist/. Running from source there are none, and schemas are
 * compiled at first use instead.
 */
export const PRECOMPILED_DIR = new URL('./compiled/', import.meta.url);

/** Most schema issues reported for one file; the rest are summed up in one last issue. */
export const MAX_SCHEMA_ISSUES = 200;

/** Options of every Ajv instance, at run time and when precompiling, so both report the same errors. */
export const AJV_OPTIONS = {
  allErrors: true,
  strict: true,
  allowUnionTypes: true,
  // Errors carry their schema, so messages can name the allowed fields.
  verbose: true,
  logger: false,
  // Compiling is a per-process start-up cost paid by every command that
  // has no precompiled validator; these two halve it while validation stays
  // far faster than parsing.
  inlineRefs: false,
  code: { optimize: false },
} as const satisfies Options;

/** A schema's validator, compiled by ajv at run time or loaded precompiled; sets `errors` when it returns false. */
export interface SchemaValidator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

// ajv (CommonJS) and the precompiled modules are loaded synchronously and
// only when needed: loading ajv alone costs tens of milliseconds, which a
// process with precompiled validators never pays.
const require = createRequire(import.meta.url);

let ajv: Ajv | undefined;
const validators = new Map<SchemaName, SchemaValidator>();

function newAjv(extra: Options = {}): Ajv {
  const { Ajv: AjvClass } = require('ajv') as typeof import('ajv');
  return new AjvClass({ ...AJV_OPTIONS, ...extra, code: { ...AJV_OPTIONS.code, ...extra.code } });
}

function readSchemaText(name: SchemaName): string {
  return readFileSync(schemaUrl(name), 'utf8');
}

function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

/** Reads a schema file as JSON. */
export function loadSchema(name: SchemaName): Record<string, unknown> {
  return JSON.parse(readSchemaText(name)) as Record<string, unknown>;
}

/** SHA-1 of a schema file's content; a precompiled validator is used only for the content it was built from. */
export function schemaFingerprint(name: SchemaName): string {
  return sha1(readSchemaText(name));
}

/** The validator for one schema: precompiled when the build left an up-to-date one, else compiled; once per process. */
export function getValidator(name: SchemaName): SchemaValidator {
  let validate = validators.get(name);
  if (validate === undefined) {
    validate = loadPrecompiled(name) ?? compileValidator(name);
    validators.set(name, validate);
  }
  return validate;
}

/** The schema compiled by ajv in this process, whatever the build left. */
export function compileValidator(name: SchemaName): ValidateFunction {
  ajv ??= newAjv();
  if (ajv.getSchema(name) === undefined) ajv.addSchema(loadSchema(name), name);
  return ajv.getSchema(name) as ValidateFunction;
}

/**
 * The precompiled validator in `dir`, or undefined when there is none, when it
 * was built from other schema content (a stale build), or when it cannot be
 * loaded; the caller then compiles the schema instead.
 */
export function loadPrecompiled(name: SchemaName, dir: URL = PRECOMPILED_DIR): SchemaValidator | undefined {
  const file = fileURLToPath(new URL(`${name}.cjs`, dir));
  if (!existsSync(file)) return undefined;
  let loaded: { fingerprint?: unknown; validate?: unknown };
  try {
    loaded = require(file) as typeof loaded;
  } catch {
    return undefined;
  }
  if (loaded.fingerprint !== schemaFingerprint(name) || typeof loaded.validate !== 'function') return undefined;
  return loaded.validate as SchemaValidator;
}

/**
 * Source of the CommonJS module `loadPrecompiled` expects for one schema: ajv's
 * standalone code for the validator (`exports.validate`) and the fingerprint of
 * the schema it was built from (`exports.fingerprint`). CommonJS, because it can
 * be loaded synchronously and because ajv's ES module output still calls
 * `require` for its runtime helpers.
 */
export function precompiledValidatorSource(name: SchemaName): string {
  const text = readSchemaText(name);
  const builder = newAjv({ code: { source: true, esm: false } });
  builder.addSchema(JSON.parse(text) as Record<string, unknown>, name);
  const standaloneCode = (require('ajv/dist/standalone') as typeof import('ajv/dist/standalone/index.js')).default;
  const code = standaloneCode(builder, { validate: name });
  return `${code}\nexports.fingerprint = ${JSON.stringify(sha1(text))};\n`;
}

/**
 * Validates data against a schema and turns every error into an issue with
 * its pointer and, through `positions`, its line and column. `positions` is
 * only called when there is an error.
 */
export function schemaIssues(
  name: SchemaName,
  data: unknown,
  file: string,
  positions: () => SourcePositions,
): ValidationIssue[] {
  const validate = getValidator(name);
  if (validate(data)) return [];
  const described = describeErrors(validate.errors ?? []);
  const map = positions();
  const issues: ValidationIssue[] = described.slice(0, MAX_SCHEMA_ISSUES).map((d) => {
    const at = map.locate(d.pointer, { key: d.atKey });
    return {
      file,
      ...(at === undefined ? {} : { line: at.line, column: at.column }),
      pointer: d.pointer,
      code: 'schema',
      message: d.message,
    };
  });
  if (described.length > MAX_SCHEMA_ISSUES) {
    issues.push({
      file,
      code: 'schema',
      message: `${described.length - MAX_SCHEMA_ISSUES} more schema problems not listed.`,
    });
  }
  return issues;
}

interface DescribedError {
  pointer: string;
  /**
   * Whether the position is that of the key naming the pointer's last
   * segment: problems of an object as a whole point at the line that names it.
   */
  atKey: boolean;
  message: string;
}

/** Readable, de-duplicated messages for ajv errors. */
export function describeErrors(errors: readonly ErrorObject[]): DescribedError[] {
  const collapsed = new Set<ErrorObject>();
  const result: DescribedError[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    if (error.keyword !== 'anyOf') continue;
    const children = errors.filter(
      (e) => e !== error && e.instancePath === error.instancePath && e.schemaPath.startsWith(`${error.schemaPath}/`),
    );
    if (children.length > 0 && children.every((e) => e.keyword === 'required')) {
      for (const child of children) collapsed.add(child);
    }
  }
  for (const error of errors) {
    if (error.keyword === 'if' || collapsed.has(error)) continue;
    const described = describe(error, errors);
    const id = `${described.pointer}\u0000${described.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    result.push(described);
  }
  return result;
}

function describe(error: ErrorObject, all: readonly ErrorObject[]): DescribedError {
  const pointer = error.instancePath;
  const params = error.params as Record<string, unknown>;
  const field = lastSegment(pointer);
  switch (error.keyword) {
    case 'required':
      return { pointer, atKey: true, message: `Missing required field "${String(params.missingProperty)}".` };
    case 'additionalProperties': {
      const name = String(params.additionalProperty);
      const known = Object.keys(propertiesOf(error.parentSchema));
      const hint = suggestion(name, known);
      return {
        pointer: joinPointer(pointer, name),
        atKey: true,
        message: `Unknown field "${name}"${field === undefined ? '' : ` in ${field}`}.${hint}`,
      };
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).filter((v) => v !== null);
      const value = error.data;
      const hint = typeof value === 'string' ? suggestion(value, allowed.map(String)) : '';
      const what = field === 'type' && pointer.includes('/steps/') ? 'step type' : field === undefined ? 'value' : `${field}`;
      return {
        pointer,
        atKey: false,
        message: `Unknown ${what} ${JSON.stringify(value)}; expected one of: ${allowed.join(', ')}.${hint}`,
      };
    }
    case 'const':
      return { pointer, atKey: false, message: `Must be ${JSON.stringify(params.allowedValue)}.` };
    case 'type':
      return {
        pointer,
        atKey: false,
        message: `Must be ${String(params.type).split(',').join(' or ')}, not ${jsonType(error.data)}.`,
      };
    case 'pattern':
      return {
        pointer,
        atKey: false,
        message: `${JSON.stringify(error.data)} does not match ${String(params.pattern)}.`,
      };
    case 'anyOf': {
      const missing = all
        .filter(
          (e) =>
            e.keyword === 'required' &&
            e.instancePath === pointer &&
            e.schemaPath.startsWith(`${error.schemaPath}/`),
        )
        .map((e) => `"${String((e.params as Record<string, unknown>).missingProperty)}"`);
      if (missing.length > 0) {
        return { pointer, atKey: true, message: `Missing required field: one of ${joinOr(missing)}.` };
      }
      return { pointer, atKey: false, message: capitalise(error.message ?? 'is not valid') + '.' };
    }
    case 'maxProperties':
    case 'minProperties': {
      const known = Object.keys(propertiesOf(error.parentSchema));
      if (known.length === 2 && known.includes('all') && known.includes('any')) {
        return { pointer, atKey: true, message: 'A condition group has exactly one of "all" or "any".' };
      }
      return { pointer, atKey: true, message: capitalise(error.message ?? 'is not valid') + '.' };
    }
    default:
      return { pointer, atKey: false, message: capitalise(error.message ?? 'is not valid') + '.' };
  }
}

function propertiesOf(schema: unknown): Record<string, unknown> {
  if (schema !== null && typeof schema === 'object' && 'properties' in schema) {
    const properties = (schema as { properties?: unknown }).properties;
    if (properties !== null && typeof properties === 'object') return properties as Record<string, unknown>;
  }
  return {};
}

function lastSegment(pointer: string): string | undefined {
  if (pointer === '') return undefined;
  const segment = pointer.slice(pointer.lastIndexOf('/') + 1).replace(/~1/g, '/').replace(/~0/g, '~');
  return /^\d+$/.test(segment) ? undefined : segment;
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (Number.isInteger(value)) return 'integer';
  return typeof value;
}

function joinOr(items: string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** " Did you mean "x"?" for a close known name, or "". */
export function suggestion(name: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  const limit = Math.max(1, Math.min(3, Math.floor(name.length / 3)));
  return best !== undefined && bestDistance <= limit ? ` Did you mean "${best}"?` : '';
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return Infinity;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + cost);
    }
    previous = current;
  }
  return previous[b.length] as number;
}

export type { ErrorObject, ValidateFunction };
