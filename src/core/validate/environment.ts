import { yamlLib } from '../yaml-lib.js';
import { KnockEnvError } from '../errors.js';
import { assertValidKey, describeKey, keyProblem } from '../keys.js';
import { ENVIRONMENTS_DIR } from '../resources.js';
import { sortIssues } from './resource.js';
import { schemaIssues, type SchemaName } from './schemas.js';
import type { ValidationIssue } from './types.js';
import { joinPointer } from './positions.js';
import { parseYaml, type ParsedYaml } from './yaml.js';

/** The per-environment files, each with the schema of the same name. */
export type EnvironmentFileKind = Extract<SchemaName, 'channel' | 'variables' | 'branding'>;

export const VARIABLES_FILE = 'variables.yaml';
export const BRANDING_FILE = 'branding.yaml';
export const CHANNELS_DIR = 'channels';

/**
 * Names of channel settings that are credentials and so hold only a secret
 * reference; the same pattern as `settings.patternProperties` in
 * schemas/channel.schema.json.
 */
export const CREDENTIAL_FIELD =
  /(^|_)(api_key|access_key|secret_key|private_key|server_key|signing_key|secret|token|password|passphrase|credentials|service_account|service_account_json)$/;

/** Knock variables are read in Liquid as `vars.<key>`, so keys are identifiers. */
export const VARIABLE_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;

/** A `{ secret_env: NAME }` reference: the name of an environment variable read where knock-env runs. */
export interface SecretReference {
  secret_env: string;
}

export function isSecretReference(value: unknown): value is SecretReference {
  return isRecord(value) && Object.hasOwn(value, 'secret_env');
}

/** What a path below environments/ is, judged from the path alone. */
export type EnvironmentPath =
  | { environment: string; kind: 'variables' | 'branding'; file: string }
  | { environment: string; kind: 'channel'; key: string; file: string }
  | { environment: string; kind: null; file: string; problem: string };

/** How a path below environments/ reads, or null for paths outside it. */
export function environmentPathOf(path: string): EnvironmentPath | null {
  const segments = path.split('/');
  if (segments[0] !== ENVIRONMENTS_DIR || segments.length < 2) return null;
  const environment = segments[1] ?? '';
  const rest = segments.slice(2);
  const file = path;
  const expected = `${ENVIRONMENTS_DIR}/${environment}/ holds only ${VARIABLES_FILE}, ${BRANDING_FILE} and ${CHANNELS_DIR}/<key>.yaml`;
  if (rest.length === 0) {
    return { environment, kind: null, file, problem: `${ENVIRONMENTS_DIR}/ holds only one folder per environment` };
  }
  if (rest.length === 1 && rest[0] === VARIABLES_FILE) return { environment, kind: 'variables', file };
  if (rest.length === 1 && rest[0] === BRANDING_FILE) return { environment, kind: 'branding', file };
  if (rest.length === 2 && rest[0] === CHANNELS_DIR) {
    const name = rest[1] ?? '';
    if (name.endsWith('.yaml') && name.length > '.yaml'.length) {
      return { environment, kind: 'channel', key: name.slice(0, -'.yaml'.length), file };
    }
    if (name.endsWith('.yml')) {
      return { environment, kind: null, file, problem: `channel files end in .yaml; rename it to ${name.slice(0, -'.yml'.length)}.yaml` };
    }
  }
  return { environment, kind: null, file, problem: expected };
}

/**
 * Validates one file below environments/: the environment is one of
 * `environments`, the file is one of the three kinds, a channel's file name
 * is a valid key, the YAML parses and satisfies its schema, and no value
 * looks like a secret written out instead of referenced. Every problem is
 * reported, each with file, line, column and JSON pointer.
 */
export function validateEnvironmentFile(path: string, text: string, environments: string[]): ValidationIssue[] {
  const at = environmentPathOf(path);
  if (at === null) {
    return [pathIssue(path, 'unexpected-file', `"${path}" is not below ${ENVIRONMENTS_DIR}/, so it is not an environment file.`)];
  }
  const issues: ValidationIssue[] = [];
  if (!environments.includes(at.environment)) {
    const known = environments.length === 0 ? 'none are configured' : `they are ${environments.join(', ')}`;
    issues.push(
      pathIssue(
        path,
        'invalid-key',
        `${describeKey(at.environment)} is not an environment of this project (${known}); move the file below the folder of one of them.`,
      ),
    );
  }
  if (at.kind === null) {
    issues.push(pathIssue(path, 'unexpected-file', `Unexpected file: ${at.problem}.`));
    // A stray YAML file is still searched for secrets: that is where they tend to end up.
    if (/\.(ya?ml|json)$/.test(path)) {
      const parsed = parseYaml(text, path);
      if (parsed.data !== undefined) issues.push(...literalSecretIssues(parsed, path, { prefix: at.environment }));
    }
    return finish(issues);
  }
  if (at.kind === 'channel') {
    const problem = keyProblem(at.key);
    if (problem !== null) {
      issues.push(
        pathIssue(path, 'invalid-key', `Invalid channel key ${describeKey(at.key)} (the file name without .yaml): ${problem}.`),
      );
    }
  }
  const parsed = parseYaml(text, path);
  if (parsed.data === undefined) return finish([...issues, ...parsed.issues]);

  const secrets = literalSecretIssues(parsed, path, {
    prefix: at.kind === 'channel' ? at.key : '',
    credentialsUnder: at.kind === 'channel' ? '/settings' : undefined,
  });
  const ruled = [...secrets];
  if (at.kind === 'variables') ruled.push(...variableKeyIssues(parsed, path));
  // The rule's message says more than the schema's "must be object" at the same place.
  const explained = new Set(ruled.map((i) => i.pointer));
  const schema = schemaIssues(at.kind, parsed.data, path, parsed.positions).filter(
    (i) => i.pointer === undefined || !explained.has(i.pointer),
  );
  return finish([...issues, ...ruled, ...schema]);
}

function finish(issues: ValidationIssue[]): ValidationIssue[] {
  return sortIssues(issues.map((issue) => ({ line: 1, column: 1, pointer: '', ...issue })));
}

/** A problem of the path itself, reported at the start of the file. */
function pathIssue(file: string, code: ValidationIssue['code'], message: string): ValidationIssue {
  return { file, line: 1, column: 1, pointer: '', code, message };
}

function variableKeyIssues(parsed: ParsedYaml, file: string): ValidationIssue[] {
  if (!isRecord(parsed.data)) return [];
  const issues: ValidationIssue[] = [];
  for (const key of Object.keys(parsed.data)) {
    if (key === '$schema' || VARIABLE_KEY.test(key)) continue;
    const pointer = joinPointer('', key);
    const at = parsed.positions().locate(pointer, { key: true });
    issues.push({
      file,
      ...at,
      pointer,
      code: 'invalid-key',
      message: `Invalid variable key ${describeKey(key)}: templates read it as vars.<key>, so it holds only letters, digits and "_" and does not start with a digit.`,
    });
  }
  return issues;
}

// ---------------------------------------------------------------------------
// Literal secrets

interface SecretFormat {
  what: string;
  pattern: RegExp;
}

/** Formats of well-known keys and tokens, found anywhere in a string. */
const SECRET_FORMATS: readonly SecretFormat[] = [
  { what: 'a SendGrid API key', pattern: /\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}/ },
  { what: 'a secret API key (sk_live_/sk_test_)', pattern: /\b[sr]k_(?:live|test)_[A-Za-z0-9]{8,}/ },
  { what: 'a Slack token', pattern: /\bxox[abposr]-[A-Za-z0-9-]{10,}/ },
  { what: 'a Slack webhook address', pattern: /https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9/_-]{8,}/ },
  { what: 'a Discord webhook address', pattern: /https:\/\/(?:[a-z]+\.)?discord(?:app)?\.com\/api\/webhooks\/\d+\/[A-Za-z0-9_-]{8,}/ },
  { what: 'a Mailgun API key', pattern: /\bkey-[0-9A-Za-z]{32}\b/ },
  { what: 'a Resend API key', pattern: /\bre_(?=[A-Za-z0-9_]*\d)[A-Za-z0-9_]{20,}/ },
  { what: 'a Twilio API key', pattern: /\bSK[0-9a-f]{32}\b/ },
  { what: 'an AWS access key ID', pattern: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/ },
  { what: 'a Google API key', pattern: /\bAIza[0-9A-Za-z_-]{35}/ },
  { what: 'a GitHub token', pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})/ },
  { what: 'a private key', pattern: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/ },
  { what: 'a JSON Web Token', pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/ },
  { what: 'a bearer token', pattern: /\b(?:Bearer|Basic)\s+(?=[A-Za-z0-9+/=_.-]*\d)[A-Za-z0-9+/=_.-]{20,}/ },
  { what: 'a password inside an address', pattern: /\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:(?!\{\{|\$\{)[^\s/@]+@/i },
];

/** Field names whose long random-looking values are taken for secrets. */
const SECRET_FIELD_NAME = /key|token|secret|passw(?:or)?d|credential|auth/i;

/** A token of base64 or hex characters; a scheme such as "Bearer " in front is ignored. */
const TOKEN = /^(?:(?:Bearer|Basic|Token)\s+)?([A-Za-z0-9+/=_.-]{32,})$/;

/** Why a string value looks like a secret, or null. `field` is the name of the property holding it. */
export function literalSecretKind(value: string, field: string): string | null {
  for (const format of SECRET_FORMATS) if (format.pattern.test(value)) return format.what;
  if (SECRET_FIELD_NAME.test(field)) {
    const token = TOKEN.exec(value.trim())?.[1];
    if (token !== undefined && looksRandom(token)) {
      return `a ${token.length}-character token in a field named "${field}"`;
    }
  }
  return null;
}

/**
 * Whether a token reads as random rather than as words: it switches often
 * between lower case, upper case and digits (slugs such as
 * "weekly-digest-2025" hardly do) and its characters are varied.
 */
function looksRandom(token: string): boolean {
  let switches = 0;
  let previous: string | undefined;
  for (const c of token) {
    const kind = c >= '0' && c <= '9' ? 'digit' : c >= 'a' && c <= 'z' ? 'lower' : c >= 'A' && c <= 'Z' ? 'upper' : undefined;
    if (kind === undefined) continue;
    if (previous !== undefined && kind !== previous) switches++;
    previous = kind;
  }
  return switches >= 6 && entropyPerChar(token) >= 3;
}

/** Shannon entropy in bits per character: random tokens score high, words and repeated characters low. */
function entropyPerChar(text: string): number {
  const counts = new Map<string, number>();
  for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / text.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

interface ScanOptions {
  /** Put in front of field names in suggested variable names, e.g. the channel key. */
  prefix: string;
  /** Pointer of the object whose credential-named fields hold only references (a channel's settings). */
  credentialsUnder?: string | undefined;
}

interface Visit {
  value: unknown;
  pointer: string;
  /** Name of the nearest property holding the value. */
  field: string;
  /** Whether the value is the name inside a `{ secret_env: NAME }` reference. */
  inReference: boolean;
}

/** One issue per string value that looks like a secret written out. */
function literalSecretIssues(parsed: ParsedYaml, file: string, options: ScanOptions): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const stack: Visit[] = [{ value: parsed.data, pointer: '', field: '', inReference: false }];
  while (stack.length > 0) {
    const { value, pointer, field, inReference } = stack.pop() as Visit;
    if (typeof value === 'string') {
      const message = literalSecretMessage(value, field, pointer, inReference, options);
      if (message !== null) {
        const at = parsed.positions().locate(pointer);
        issues.push({ file, ...at, pointer, code: 'literal-secret', message });
      }
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => stack.push({ value: item, pointer: joinPointer(pointer, i), field, inReference: false }));
    } else if (isRecord(value)) {
      const reference = isSecretReference(value);
      for (const [key, child] of Object.entries(value)) {
        if (pointer === '' && key === '$schema') continue;
        const inRef = reference && key === 'secret_env';
        stack.push({ value: child, pointer: joinPointer(pointer, key), field: inRef ? field : key, inReference: inRef });
      }
    }
  }
  return issues;
}

function literalSecretMessage(
  value: string,
  field: string,
  pointer: string,
  inReference: boolean,
  options: ScanOptions,
): string | null {
  const name = suggestedName(options.prefix, field);
  const advice = `Secrets never live in the repository: write { secret_env: ${name} } instead and set ${name} where knock-env runs; rotate the secret if it was ever committed or shared.`;
  const kind = literalSecretKind(value, inReference ? '' : field);
  if (kind !== null) {
    if (inReference) return `secret_env holds ${kind}, not the name of an environment variable. ${advice}`;
    return `This looks like ${kind}, written out in the file. ${advice}`;
  }
  const credential =
    options.credentialsUnder !== undefined &&
    !inReference &&
    pointer === joinPointer(options.credentialsUnder, field) &&
    CREDENTIAL_FIELD.test(field);
  if (credential) return `"${field}" is a credential and holds only a reference to a secret, not a value. ${advice}`;
  return null;
}

/** An environment variable name for a secret, e.g. SENDGRID_API_KEY for the api_key of channel sendgrid. */
function suggestedName(prefix: string, field: string): string {
  const name = [prefix, field]
    .filter((s) => s !== '')
    .join('_')
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (name === '') return 'SECRET_NAME';
  return /^[0-9]/.test(name) ? `_${name}` : name;
}

// ---------------------------------------------------------------------------
// A new environment's files

/**
 * The files a new environment starts with: an empty variables.yaml and a
 * copy of each channel file of the environment below it, without any
 * credential, so the new environment has the channel settings but sends
 * nothing until its own secrets are referenced. `below` holds the files of
 * the environment below (other paths are ignored); the result maps
 * repository paths below environments/<env>/ to their text.
 */
export function emptyEnvironmentFiles(env: string, below: { path: string; text: string }[]): Map<string, string> {
  assertValidKey(env, 'environment slug');
  const files = new Map<string, string>();
  files.set(
    `${ENVIRONMENTS_DIR}/${env}/${VARIABLES_FILE}`,
    `# Variables of the ${env} environment, read in templates as {{ vars.<key> }}.\n{}\n`,
  );
  const channels = below
    .map((file) => ({ file, at: environmentPathOf(file.path) }))
    .filter((c): c is { file: { path: string; text: string }; at: Extract<EnvironmentPath, { kind: 'channel' }> } => c.at?.kind === 'channel')
    .sort((a, b) => (a.at.key < b.at.key ? -1 : a.at.key > b.at.key ? 1 : 0));
  for (const { file, at } of channels) {
    const problem = keyProblem(at.key);
    const parsed = parseYaml(file.text, file.path);
    if (problem !== null || !isRecord(parsed.data)) {
      const issues = problem !== null ? [pathIssue(file.path, 'invalid-key', `Invalid channel key ${describeKey(at.key)}: ${problem}.`)] : parsed.issues;
      throw new KnockEnvError('VALIDATION_FAILED', `Cannot copy ${file.path} into the new environment ${env}: it is not a valid channel file.`, {
        hint: `Fix it in ${at.environment} first (knock-env validate shows the problems).`,
        data: { issues },
      });
    }
    const settings = withoutCredentials(parsed.data) as Record<string, unknown>;
    files.set(
      `${ENVIRONMENTS_DIR}/${env}/${CHANNELS_DIR}/${at.key}.yaml`,
      `# Channel ${at.key} in the ${env} environment, without credentials: add each as { secret_env: NAME }.\n` +
        yamlLib().stringify(settings, { lineWidth: 0 }),
    );
  }
  return files;
}

/**
 * A copy of `value` without secret references, credential-named fields or
 * values that look like secrets, at any depth.
 */
function withoutCredentials(value: unknown, field = ''): unknown {
  if (Array.isArray(value)) {
    return value.filter((item) => !isSecretValue(item, field)).map((item) => withoutCredentials(item, field));
  }
  if (isRecord(value)) {
    const copy: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      if (CREDENTIAL_FIELD.test(key) || isSecretValue(child, key)) continue;
      copy[key] = withoutCredentials(child, key);
    }
    return copy;
  }
  return value;
}

function isSecretValue(value: unknown, field: string): boolean {
  return isSecretReference(value) || (typeof value === 'string' && literalSecretKind(value, field) !== null);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
