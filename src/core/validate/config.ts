import { describeKey, keyProblem } from '../keys.js';
import { CONFIG_FILE } from '../resources.js';
import { schemaIssues } from './schemas.js';
import type { ValidationIssue } from './types.js';
import { type SourcePositions } from './positions.js';
import { parseYaml } from './yaml.js';
import { sortIssues } from './resource.js';

/** Roles, as in Knock. */
export type Role = 'owner' | 'admin' | 'member' | 'production_member' | 'support';

export const ROLES: readonly Role[] = ['owner', 'admin', 'member', 'production_member', 'support'];

export interface EnvironmentSettings {
  /** Hide recipient data in logs. */
  obfuscate_recipient_data: boolean;
  /** Show sent message contents in logs. */
  show_message_contents: boolean;
}

export interface EnvironmentConfig {
  slug: string;
  name?: string;
  /** The Knock environment `deploy` deploys this branch to; absent: the same slug. */
  knock_environment?: string;
  settings: EnvironmentSettings;
}

export interface Member {
  email: string;
  name?: string;
  role: Role;
}

export interface ApiKeyRecord {
  name: string;
  /** The one environment the key acts in. */
  environment: string;
  role: Role;
  /** Hash of the secret; the secret itself is never stored. */
  hash: string;
  /** ISO-8601. */
  created_at: string;
  created_by?: string;
}

/** knock-env.yaml, as schemas/knock-env.schema.json describes it. */
export interface KnockEnvConfig {
  $schema?: string;
  version: 1;
  /** Lowest to highest: development first, production last. */
  environments: EnvironmentConfig[];
  settings: { production_write_access: boolean };
  /** Always present after validation (an absent list reads as empty). */
  members: Member[];
  /** Always present after validation (an absent list reads as empty). */
  api_keys: ApiKeyRecord[];
}

export const LOWEST_ENVIRONMENT = 'development';
export const HIGHEST_ENVIRONMENT = 'production';

/**
 * Validates the text of knock-env.yaml: YAML, schema, then the rules the
 * schema cannot express. `data` is returned only when there is no issue.
 */
export function validateConfigText(
  text: string,
  file: string = CONFIG_FILE,
): { issues: ValidationIssue[]; data?: KnockEnvConfig } {
  const parsed = parseYaml(text, file);
  if (parsed.data === undefined) return { issues: parsed.issues };
  const issues = schemaIssues('knock-env', parsed.data, file, parsed.positions).map((issue) =>
    slugIssue(issue, parsed.data),
  );
  if (issues.length > 0) return { issues };
  const config = parsed.data as KnockEnvConfig;
  config.members ??= [];
  config.api_keys ??= [];
  const ruleIssues = configRuleIssues(config, file, parsed.positions);
  if (ruleIssues.length > 0) return { issues: sortIssues(ruleIssues) };
  return { issues: [], data: config };
}

const SLUG_POINTER = /^\/(?:environments\/\d+\/slug|api_keys\/\d+\/environment)$/;

/** A slug the schema's pattern refused is reported as a key problem, with the reason. */
function slugIssue(issue: ValidationIssue, data: unknown): ValidationIssue {
  if (issue.pointer === undefined || !SLUG_POINTER.test(issue.pointer)) return issue;
  const value = valueAt(data, issue.pointer);
  if (typeof value !== 'string') return issue;
  const problem = keyProblem(value);
  if (problem === null) return issue;
  return { ...issue, code: 'invalid-key', message: `Invalid environment slug ${describeKey(value)}: ${problem}.` };
}

function valueAt(data: unknown, pointer: string): unknown {
  let node = data;
  for (const segment of pointer.slice(1).split('/')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[segment];
  }
  return node;
}

function configRuleIssues(config: KnockEnvConfig, file: string, positions: () => SourcePositions): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const add = (code: ValidationIssue['code'], pointer: string, message: string): void => {
    const at = positions().locate(pointer);
    issues.push({ file, ...(at === undefined ? {} : { line: at.line, column: at.column }), pointer, code, message });
  };

  const slugs = new Map<string, number>();
  config.environments.forEach((environment, i) => {
    const problem = keyProblem(environment.slug);
    if (problem !== null) {
      add('invalid-key', `/environments/${i}/slug`, `Invalid environment slug ${describeKey(environment.slug)}: ${problem}.`);
    }
    const first = slugs.get(environment.slug);
    if (first !== undefined) {
      add('config-rule', `/environments/${i}/slug`, `Environment "${environment.slug}" is listed twice (also at position ${first + 1}).`);
    } else {
      slugs.set(environment.slug, i);
    }
  });
  const firstSlug = config.environments[0]?.slug;
  const lastSlug = config.environments[config.environments.length - 1]?.slug;
  if (firstSlug !== LOWEST_ENVIRONMENT) {
    add('config-rule', '/environments/0/slug', `The lowest environment must be "${LOWEST_ENVIRONMENT}", not "${String(firstSlug)}".`);
  }
  if (lastSlug !== HIGHEST_ENVIRONMENT) {
    add(
      'config-rule',
      `/environments/${config.environments.length - 1}/slug`,
      `The highest environment must be "${HIGHEST_ENVIRONMENT}", not "${String(lastSlug)}".`,
    );
  }

  const emails = new Map<string, number>();
  config.members.forEach((member, i) => {
    const email = member.email.toLowerCase();
    if (emails.has(email)) {
      add('config-rule', `/members/${i}/email`, `Member ${member.email} is listed twice.`);
    } else {
      emails.set(email, i);
    }
    if (member.role === 'production_member' && !config.settings.production_write_access) {
      add(
        'config-rule',
        `/members/${i}/role`,
        'The production_member role exists only while settings.production_write_access is on.',
      );
    }
  });

  const keyNames = new Set<string>();
  config.api_keys.forEach((key, i) => {
    if (keyNames.has(key.name)) add('config-rule', `/api_keys/${i}/name`, `API key name "${key.name}" is used twice.`);
    keyNames.add(key.name);
    if (!slugs.has(key.environment)) {
      add('config-rule', `/api_keys/${i}/environment`, `API key "${key.name}" belongs to "${key.environment}", which is not an environment.`);
    }
    if (key.role === 'production_member' && !config.settings.production_write_access) {
      add(
        'config-rule',
        `/api_keys/${i}/role`,
        'The production_member role exists only while settings.production_write_access is on.',
      );
    }
  });
  return issues;
}
