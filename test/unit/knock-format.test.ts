import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { isKnockEnvError } from '../../src/core/errors.js';
import { filesToKnockResource } from '../../src/core/knock-format/export.js';
import { knockResourceToFiles, KNOCK_SCHEMA_URL, toYaml, yamlSchemaModeline } from '../../src/core/knock-format/import.js';
import { withOriginEnvironment } from '../../src/core/ops/commit.js';
import type { ResourceKind } from '../../src/core/resources.js';
import { KNOCK_TEMPLATES } from '../helpers/repo.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isKnockEnvError(error) ? error.code : 'untyped';
  }
  return undefined;
}

function readFolder(dir: string): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  const walk = (current: string): void => {
    for (const name of readdirSync(current)) {
      const path = join(current, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.set(relative(dir, path), readFileSync(path));
    }
  };
  walk(dir);
  return out;
}

const WORKFLOW_YAML = `# yaml-language-server: $schema=../../.knock-env/schemas/workflow.schema.json
origin_environment: development
name: Plant adopted
steps:
  - ref: email_1
    type: channel
    channel_key: postmark
    channel_type: email
    template:
      subject: Say hello
      visual_blocks@: email_1/visual_blocks.json
trigger_frequency: every_trigger
`;

function knockEnvFiles(yaml = WORKFLOW_YAML): Map<string, Uint8Array> {
  return new Map([
    ['workflow.yaml', bytes(yaml)],
    ['email_1/visual_blocks.json', bytes('[{"type":"markdown","content@":"visual_blocks/1.content.md"}]\n')],
    ['email_1/visual_blocks/1.content.md', bytes('Welcome, **{{ data.plant.name }}**!\n')],
  ]);
}

describe('filesToKnockResource', () => {
  it('writes workflow.json in the YAML field order, without origin_environment, ending with $schema', () => {
    const { files, notes } = filesToKnockResource('workflow', 'plant-adopted', knockEnvFiles());
    const text = decoder.decode(files.get('workflow.json'));
    const data = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(data)).toEqual(['name', 'steps', 'trigger_frequency', '$schema']);
    expect(data.$schema).toBe('https://schemas.knock.app/cli/workflow.json');
    expect(Object.keys((data.steps as Record<string, unknown>[])[0]!)).toEqual(['ref', 'type', 'channel_key', 'channel_type', 'template']);
    expect(text).toBe(`${JSON.stringify(data, null, 2)}\n`);
    expect(files.has('workflow.yaml')).toBe(false);
    expect(files.get('email_1/visual_blocks/1.content.md')).toEqual(bytes('Welcome, **{{ data.plant.name }}**!\n'));
    expect(files.get('email_1/visual_blocks.json')).toEqual(bytes('[{"type":"markdown","content@":"visual_blocks/1.content.md"}]\n'));
    // The editor modeline is not a comment worth reporting.
    expect(notes).toEqual([]);
  });

  it('writes guide.json with the guide $schema', () => {
    const yaml = 'name: Tips\nchannel_key: knock-guide\ntype: banner\nsteps: []\n';
    const { files } = filesToKnockResource('guide', 'tips-banner', new Map([['guide.yaml', bytes(yaml)]]));
    expect(JSON.parse(decoder.decode(files.get('guide.json')))).toStrictEqual({
      name: 'Tips',
      channel_key: 'knock-guide',
      type: 'banner',
      steps: [],
      $schema: KNOCK_SCHEMA_URL.guide,
    });
  });

  it('notes what JSON cannot carry: comments, non-finite numbers, unreferenced files, a stray workflow.json', () => {
    const yaml = `${WORKFLOW_YAML}# who owns this: the plants team\nsettings:\n  ratio: .inf # too much\n$schema: https://example.com/other.json\n`;
    const files = knockEnvFiles(yaml);
    files.set('notes.txt', bytes('scratch'));
    files.set('workflow.json', bytes('{}'));
    files.delete('email_1/visual_blocks/1.content.md');
    const result = filesToKnockResource('workflow', 'plant-adopted', files);
    expect(result.notes).toEqual([
      'workflow.yaml sets $schema to "https://example.com/other.json"; written as "https://schemas.knock.app/cli/workflow.json".',
      '2 comment lines of workflow.yaml not carried into workflow.json (JSON has no comments).',
      'workflow.yaml /settings/ratio is a number JSON cannot hold (.inf or .nan); written as null.',
      'email_1/visual_blocks.json /0/content@: email_1/visual_blocks/1.content.md is missing.',
      'notes.txt is not referenced by any "@" field; exported as it is.',
      'workflow.json is replaced by the converted workflow.yaml.',
    ]);
    const data = JSON.parse(decoder.decode(result.files.get('workflow.json'))) as Record<string, unknown>;
    expect(Object.keys(data).at(-1)).toBe('$schema');
    expect(data.settings).toEqual({ ratio: null });
    expect(result.files.get('notes.txt')).toEqual(bytes('scratch'));
  });

  it('keeps a field named __proto__ as data', () => {
    const { files } = filesToKnockResource('guide', 'tips-banner', new Map([['guide.yaml', bytes('name: Tips\n__proto__: kept\n')]]));
    const text = decoder.decode(files.get('guide.json'));
    expect(text).toContain('"__proto__": "kept"');
  });

  it('refuses a bad key, a missing main file, invalid YAML and a document that is not a mapping, with typed errors', () => {
    expect(codeOf(() => filesToKnockResource('workflow', '..', knockEnvFiles()))).toBe('INVALID_KEY');
    expect(codeOf(() => filesToKnockResource('workflow', 'Plant', knockEnvFiles()))).toBe('INVALID_KEY');
    expect(codeOf(() => filesToKnockResource('workflow', 'plant-adopted', new Map()))).toBe('NOT_FOUND');
    expect(codeOf(() => filesToKnockResource('workflow', 'plant-adopted', new Map([['workflow.yaml', bytes('a: [\n')]])))).toBe('VALIDATION_FAILED');
    expect(codeOf(() => filesToKnockResource('workflow', 'plant-adopted', new Map([['workflow.yaml', bytes('a: 1\na: 2\n')]])))).toBe('VALIDATION_FAILED');
    expect(codeOf(() => filesToKnockResource('workflow', 'plant-adopted', new Map([['workflow.yaml', bytes('- a\n')]])))).toBe('VALIDATION_FAILED');
    expect(codeOf(() => filesToKnockResource('workflow', 'plant-adopted', new Map([['workflow.yaml', new Uint8Array([0xff, 0xfe])]])))).toBe('VALIDATION_FAILED');
  });
});

describe('knockResourceToFiles', () => {
  it('starts the YAML with a modeline pointing at the project copy of the schemas', () => {
    expect(yamlSchemaModeline('workflow')).toBe('# yaml-language-server: $schema=../../.knock-env/schemas/workflow.schema.json');
    expect(toYaml({ name: 'x' }, 'guide')).toBe('# yaml-language-server: $schema=../../.knock-env/schemas/guide.schema.json\nname: x\n');
  });

  it("refuses a document that sets knock-env's own origin_environment", () => {
    const json = JSON.stringify({ name: 'x', origin_environment: 'production' });
    expect(codeOf(() => knockResourceToFiles('guide', 'tips-banner', new Map([['guide.json', bytes(json)]])))).toBe('VALIDATION_FAILED');
  });

  it('notes a $schema other than the one Knock writes, which is dropped', () => {
    const json = JSON.stringify({ name: 'x', $schema: 'https://example.com/s.json' });
    const { notes } = knockResourceToFiles('guide', 'tips-banner', new Map([['guide.json', bytes(json)]]));
    expect(notes).toEqual(['Dropped $schema "https://example.com/s.json"; an export writes "https://schemas.knock.app/cli/guide.json".']);
  });
});

describe('the two converters are inverses on every Knock template', () => {
  const resources: { kind: ResourceKind; key: string }[] = [];
  for (const kind of ['workflow', 'guide'] as const) {
    for (const key of readdirSync(join(KNOCK_TEMPLATES, `${kind}s`))) resources.push({ kind, key });
  }

  it.each(resources)('$kind $key', ({ kind, key }) => {
    const source = readFolder(join(KNOCK_TEMPLATES, `${kind}s`, key));
    const imported = knockResourceToFiles(kind, key, source);
    const yamlName = `${kind}.yaml`;
    // As committed: knock-env commit adds origin_environment after the modeline.
    const committed = new Map(imported.files);
    committed.set(yamlName, bytes(withOriginEnvironment(decoder.decode(imported.files.get(yamlName)), 'development')));
    expect(YAML.parse(decoder.decode(committed.get(yamlName))).origin_environment).toBe('development');

    const exported = filesToKnockResource(kind, key, committed);
    expect(exported.notes).toEqual([]);
    const original = JSON.parse(decoder.decode(source.get(`${kind}.json`))) as Record<string, unknown>;
    const { __readonly: _readonly, ...expected } = original;
    expect(decoder.decode(exported.files.get(`${kind}.json`))).toBe(`${JSON.stringify(expected, null, 2)}\n`);
    expect([...exported.files.keys()].sort()).toEqual([...source.keys()].sort());
    for (const [path, content] of source) if (path !== `${kind}.json`) expect(exported.files.get(path)).toEqual(content);
  });
});
