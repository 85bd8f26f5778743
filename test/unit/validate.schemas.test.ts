import { describe, it, expect } from 'vitest';
import { getValidator, loadSchema, SCHEMA_NAMES } from '../../src/core/validate/index.js';

type Schema = Record<string, unknown>;

/** Properties (by path) that an editor would show without documentation. */
function undocumented(schema: Schema): string[] {
  const definitions = (schema.definitions ?? {}) as Record<string, Schema>;
  const missing: string[] = [];
  const documented = (s: Schema): boolean => {
    if (typeof s.description === 'string' && s.description.length > 0) return true;
    const ref = s.$ref;
    if (typeof ref === 'string') return documented(definitions[ref.replace('#/definitions/', '')] ?? {});
    return false;
  };
  const walk = (s: unknown, at: string): void => {
    if (s === null || typeof s !== 'object') return;
    if (Array.isArray(s)) {
      s.forEach((x, i) => walk(x, `${at}/${i}`));
      return;
    }
    const node = s as Schema;
    const properties = node.properties as Record<string, unknown> | undefined;
    if (properties !== undefined && node.type !== undefined) {
      for (const [name, sub] of Object.entries(properties)) {
        if (sub !== true && !documented(sub as Schema)) missing.push(`${at}/properties/${name}`);
      }
    }
    // `if` schemas only select a branch; editors show the fields of the branches.
    for (const [key, value] of Object.entries(node)) if (key !== 'if') walk(value, `${at}/${key}`);
  };
  walk(schema, '#');
  return missing;
}

describe('schemas/', () => {
  it.each(SCHEMA_NAMES.map((n) => [n]))('%s is draft-07 with $id, title and description', (name) => {
    const schema = loadSchema(name);
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.$id).toBe(`https://knock-env.dev/schemas/${name}.schema.json`);
    expect(typeof schema.title).toBe('string');
    expect(typeof schema.description).toBe('string');
  });

  it.each(SCHEMA_NAMES.map((n) => [n]))('%s documents every field', (name) => {
    expect(undocumented(loadSchema(name))).toEqual([]);
  });

  it.each(SCHEMA_NAMES.map((n) => [n]))('%s compiles in ajv strict mode, once', (name) => {
    const validate = getValidator(name);
    expect(typeof validate).toBe('function');
    expect(getValidator(name)).toBe(validate);
  });

  it('knows Knock step types, channel types and condition operators', () => {
    const schema = loadSchema('workflow') as { definitions: Record<string, Schema> };
    const stepTypes = (schema.definitions.step?.properties as Record<string, Schema>).type?.enum;
    expect(stepTypes).toEqual(
      expect.arrayContaining([
        'channel',
        'delay',
        'batch',
        'branch',
        'throttle',
        'http_fetch',
        'trigger_workflow',
        'ai_agent',
        'random_cohort',
        'update_data',
        'update_user',
        'update_tenant',
        'update_object',
      ]),
    );
    const channelStep = schema.definitions.channelStep?.properties as Record<string, Schema>;
    expect(channelStep.channel_type?.enum).toEqual(['email', 'in_app_feed', 'push', 'sms', 'chat', 'http']);
    const operators = (schema.definitions.condition?.properties as Record<string, Schema>).operator?.enum;
    expect(operators).toEqual(
      expect.arrayContaining(['equal_to', 'contains_all', 'exists', 'not_exists', 'is_timestamp_before', 'is_timestamp_between', 'is_audience_member']),
    );
  });
});
