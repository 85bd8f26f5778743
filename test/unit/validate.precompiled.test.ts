import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import YAML from 'yaml';
import { knockResourceToFiles } from '../../src/core/knock-format/import.js';
import {
  compileValidator,
  describeErrors,
  getValidator,
  loadPrecompiled,
  precompiledValidatorSource,
  SCHEMA_NAMES,
  type SchemaName,
  type SchemaValidator,
} from '../../src/core/validate/schemas.js';
import { demoDir, knockTemplatesDir, readTree, repoRoot } from './validate-helpers.js';

const decoder = new TextDecoder();

const ACCOUNT_FILE = `version: 1
environments:
  - slug: development
    settings: { obfuscate_recipient_data: false, show_message_contents: true }
  - slug: production
    name: Production
    settings: { obfuscate_recipient_data: true, show_message_contents: false }
settings:
  production_write_access: false
members:
  - { email: ada@larkspur.example, name: Ada, role: owner }
  - { email: sam@larkspur.example, role: member }
api_keys:
  - name: ci
    environment: production
    role: member
    hash: sha256:4f1c0a9e1d7b2c3a5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5
    created_at: 2025-03-01T10:00:00Z
    created_by: ada@larkspur.example
`;

/** Documents that pass their schema: the Knock templates, the demo fixtures, an account file. */
function validDocuments(): { schema: SchemaName; name: string; data: unknown }[] {
  const documents: { schema: SchemaName; name: string; data: unknown }[] = [];
  for (const [schema, dir, file] of [
    ['workflow', 'workflows', 'workflow.yaml'],
    ['guide', 'guides', 'guide.yaml'],
  ] as const) {
    for (const key of readdirSync(path.join(knockTemplatesDir, dir))) {
      const { files } = knockResourceToFiles(schema, key, readTree(path.join(knockTemplatesDir, dir, key)));
      documents.push({ schema, name: `knock ${dir}/${key}`, data: YAML.parse(decoder.decode(files.get(file))) });
    }
    for (const key of readdirSync(path.join(demoDir, dir))) {
      const tree = readTree(path.join(demoDir, dir, key));
      documents.push({ schema, name: `demo ${dir}/${key}`, data: YAML.parse(decoder.decode(tree.get(file))) });
    }
  }
  documents.push({ schema: 'knock-env', name: 'account file', data: YAML.parse(ACCOUNT_FILE) });
  return documents;
}

/** Hand-picked invalid documents, each meant to trip a different keyword. */
const INVALID: { schema: SchemaName; data: unknown }[] = [
  { schema: 'workflow', data: null },
  { schema: 'workflow', data: [] },
  { schema: 'workflow', data: {} },
  { schema: 'workflow', data: { name: '', steps: 'none', bogus: 1 } },
  { schema: 'workflow', data: { name: 'x'.repeat(300), description: 'y'.repeat(300), steps: [], origin_environment: 'X!' } },
  { schema: 'workflow', data: { name: 'x', steps: [{ ref: 'a', type: 'chanel' }, { type: 'delay' }, 3] } },
  {
    schema: 'workflow',
    data: {
      name: 'x',
      steps: [
        { ref: 'd', type: 'delay', settings: { delay_for: { unit: 'fortnights', value: -1 } } },
        { ref: 'b', type: 'batch', settings: { batch_window: { unit: 'minutes' }, batch_order: 'up', batch_items_max_limit: 1 } },
        { ref: 'e', type: 'channel', channel_type: 'email', template: { subjet: 'Hi' } },
        { ref: 'p', type: 'channel', channel_type: 'pigeon', template: {} },
      ],
    },
  },
  {
    schema: 'workflow',
    data: {
      name: 'x',
      conditions: { all: [{ variable: 'data.a', operator: 'equal_too' }], any: [] },
      steps: [{ ref: 's', type: 'channel', channel_type: 'sms', conditions: { any: [{ all: [{}] }, { variable: 1 }] }, template: {} }],
    },
  },
  { schema: 'workflow', data: { name: 'x', conditions: {}, steps: [{ ref: 'b', type: 'branch', branches: [{ steps: [{ ref: 'c', type: 'throttle' }] }] }] } },
  { schema: 'guide', data: { name: 1, steps: null, unknown: true } },
  { schema: 'knock-env', data: { version: 2, environments: [{ slug: 'Prod!' }], members: [{ role: 'editor' }] } },
  { schema: 'knock-env', data: 'text' },
];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const REPLACEMENTS: unknown[] = [null, 0, -1, 1.5, true, '', 'x', 'channel', 'x'.repeat(300), [], [{}], {}, { unit: 'days' }];

/** A copy of `data` with one value somewhere inside replaced, removed, or given an unknown sibling. */
function mutate(data: unknown, r: () => number): unknown {
  const copy = structuredClone(data);
  const containers: (Record<string, unknown> | unknown[])[] = [];
  const walk = (value: unknown): void => {
    if (value === null || typeof value !== 'object') return;
    containers.push(value as Record<string, unknown> | unknown[]);
    for (const child of Object.values(value)) walk(child);
  };
  walk(copy);
  const target = containers[Math.floor(r() * containers.length)];
  if (target === undefined) return copy;
  const keys = Object.keys(target);
  const key = keys[Math.floor(r() * keys.length)];
  const replacement = structuredClone(REPLACEMENTS[Math.floor(r() * REPLACEMENTS.length)]);
  const action = r();
  if (Array.isArray(target)) {
    if (key === undefined || action < 0.2) target.push(replacement);
    else target[Number(key)] = replacement;
  } else if (key === undefined || action < 0.2) {
    target[`unknwn_${Math.floor(r() * 10)}`] = replacement;
  } else if (action < 0.4) {
    delete target[key];
  } else {
    target[key] = replacement;
  }
  return copy;
}

describe('precompiled validators', () => {
  let dir: string;
  const precompiled = new Map<SchemaName, SchemaValidator>();
  const runtime = new Map<SchemaName, SchemaValidator>();

  beforeAll(() => {
    // Inside the project, so the modules resolve ajv's runtime helpers as they do from dist/.
    const cache = path.join(repoRoot, 'node_modules', '.cache');
    mkdirSync(cache, { recursive: true });
    dir = mkdtempSync(path.join(cache, 'knock-env-precompiled-'));
    for (const name of SCHEMA_NAMES) {
      writeFileSync(path.join(dir, `${name}.cjs`), precompiledValidatorSource(name));
      const loaded = loadPrecompiled(name, pathToFileURL(`${dir}/`));
      if (loaded === undefined) throw new Error(`${name}.cjs did not load`);
      precompiled.set(name, loaded);
      runtime.set(name, compileValidator(name));
    }
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** Both validators give the same verdict, the same error objects and so the same messages. */
  function expectSameVerdict(schema: SchemaName, data: unknown): boolean {
    const fast = precompiled.get(schema) as SchemaValidator;
    const slow = runtime.get(schema) as SchemaValidator;
    expect(fast).not.toBe(slow);
    const valid = slow(data);
    expect(fast(data)).toBe(valid);
    expect(fast.errors ?? null).toEqual(slow.errors ?? null);
    expect(describeErrors(fast.errors ?? [])).toEqual(describeErrors(slow.errors ?? []));
    return valid;
  }

  it('accepts every fixture the runtime-compiled validator accepts', () => {
    const documents = validDocuments();
    expect(documents.length).toBeGreaterThanOrEqual(30);
    for (const { schema, name, data } of documents) expect(expectSameVerdict(schema, data), name).toBe(true);
  });

  it.each(INVALID.map((d, i) => [i, d] as const))('rejects invalid document %i with the same errors', (_i, { schema, data }) => {
    expect(expectSameVerdict(schema, data)).toBe(false);
  });

  it('agrees on mutated fixtures', () => {
    const r = rng(11);
    let rejected = 0;
    let total = 0;
    for (const { schema, data } of validDocuments()) {
      for (let i = 0; i < 40; i++) {
        total++;
        if (!expectSameVerdict(schema, mutate(data, r))) rejected++;
      }
    }
    // Most mutants must be invalid, or this compares little more than "true".
    expect(rejected / total).toBeGreaterThan(0.5);
  });

  it('carries the same schema objects in verbose errors', () => {
    const validate = precompiled.get('workflow') as SchemaValidator;
    expect(validate({ name: 'x', steps: [], bogus: 1 })).toBe(false);
    const error = validate.errors?.[0];
    expect(error).toMatchObject({ keyword: 'additionalProperties', schema: false });
    expect(Object.keys((error?.parentSchema as { properties: object }).properties)).toContain('steps');
  });

  it('is ignored when its schema has changed since it was built, or when it is missing or broken', () => {
    const stale = mkdtempSync(path.join(dir, 'stale-'));
    const source = precompiledValidatorSource('guide').replace(/exports\.fingerprint = "[0-9a-f]{40}";/, 'exports.fingerprint = "0000000000000000000000000000000000000000";');
    writeFileSync(path.join(stale, 'guide.cjs'), source);
    writeFileSync(path.join(stale, 'workflow.cjs'), 'this is not JavaScript');
    const url = pathToFileURL(`${stale}/`);
    expect(loadPrecompiled('guide', url)).toBeUndefined();
    expect(loadPrecompiled('workflow', url)).toBeUndefined();
    expect(loadPrecompiled('knock-env', url)).toBeUndefined();
  });

  it('is not there when running from source, where schemas are compiled at first use', () => {
    expect(loadPrecompiled('workflow')).toBeUndefined();
    expect(typeof getValidator('workflow')).toBe('function');
  });
});
