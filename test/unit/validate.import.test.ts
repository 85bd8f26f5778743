import { describe, it, expect } from 'vitest';
import YAML from 'yaml';
import { knockResourceToFiles } from '../../src/core/knock-format/import.js';
import { isKnockEnvError } from '../../src/core/errors.js';
import { validateResource } from '../../src/core/validate/index.js';
import { memoryReader, underFolder } from './validate-helpers.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);

function knockWorkflow(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'Plant adopted',
    description: 'Welcomes a new plant into the household.',
    steps: [
      {
        name: 'Email',
        type: 'channel',
        ref: 'email_1',
        channel_key: 'postmark',
        channel_type: 'email',
        template: {
          subject: 'Say hello to {{ data.plant.name }}',
          'visual_blocks@': 'email_1/visual_blocks.json',
          settings: { layout_key: 'default' },
        },
      },
      {
        name: 'SMS',
        type: 'channel',
        ref: 'sms_1',
        channel_key: 'twilio',
        channel_type: 'sms',
        template: { text_body: 'Line one\nLine two\n' },
      },
    ],
    trigger_frequency: 'every_trigger',
    __readonly: { key: 'plant-adopted', active: true, valid: true, environment: 'development' },
    $schema: 'https://schemas.knock.app/cli/workflow.json',
    ...extra,
  };
}

function knockFiles(workflow: Record<string, unknown>): Map<string, Uint8Array> {
  return new Map([
    ['workflow.json', bytes(JSON.stringify(workflow, null, 2))],
    ['email_1/visual_blocks.json', bytes('[{"type":"markdown","content@":"visual_blocks/1.content.md"}]')],
    ['email_1/visual_blocks/1.content.md', bytes('Welcome, **{{ data.plant.name }}**!\n')],
  ]);
}

describe('knockResourceToFiles', () => {
  it('writes workflow.yaml without $schema and __readonly, keeping field order and files', () => {
    const { files, notes } = knockResourceToFiles('workflow', 'plant-adopted', knockFiles(knockWorkflow()));
    const text = decoder.decode(files.get('workflow.yaml'));
    expect(text.startsWith('# yaml-language-server: $schema=../../.knock-env/schemas/workflow.schema.json\nname: Plant adopted\n')).toBe(true);
    const data = YAML.parse(text) as Record<string, unknown>;
    expect(Object.keys(data)).toEqual(['name', 'description', 'steps', 'trigger_frequency']);
    expect(files.has('workflow.json')).toBe(false);
    expect(decoder.decode(files.get('email_1/visual_blocks/1.content.md'))).toBe('Welcome, **{{ data.plant.name }}**!\n');
    // Multi-line strings become literal blocks, which read and diff line by line.
    expect(text).toContain('text_body: |\n');
    expect(notes).toEqual(['Dropped read-only fields: __readonly.key, __readonly.active, __readonly.valid, __readonly.environment.']);
  });

  it('produces a resource that validates', async () => {
    const { files } = knockResourceToFiles('workflow', 'plant-adopted', knockFiles(knockWorkflow()));
    const result = await validateResource({
      kind: 'workflow',
      key: 'plant-adopted',
      read: memoryReader(underFolder('workflows/plant-adopted', files)),
    });
    expect(result.issues).toEqual([]);
  });

  it('notes a key that differs from __readonly.key, missing references and unreferenced files', () => {
    const source = knockFiles(knockWorkflow());
    source.delete('email_1/visual_blocks/1.content.md');
    source.set('notes.txt', bytes('scratch'));
    const { files, notes } = knockResourceToFiles('workflow', 'plant-welcome', source);
    expect(notes).toContain('workflow.json says its key is "plant-adopted"; imported as "plant-welcome".');
    expect(notes).toContain('email_1/visual_blocks.json /0/content@: email_1/visual_blocks/1.content.md is missing.');
    expect(notes).toContain('notes.txt is not referenced by any "@" field; kept as it is.');
    expect(files.get('notes.txt')).toEqual(bytes('scratch'));
  });

  it('converts guides', () => {
    const guide = {
      channel_key: 'knock-guide',
      name: 'Tips',
      semver: '0.0.1',
      steps: [{ ref: 'step_1', schema_key: 'banner', schema_semver: '0.0.1', schema_variant_key: 'default', values: { title: 'Hi' } }],
      type: 'banner',
      __readonly: { key: 'tips-banner' },
      $schema: 'https://schemas.knock.app/cli/guide.json',
    };
    const { files } = knockResourceToFiles('guide', 'tips-banner', new Map([['guide.json', bytes(JSON.stringify(guide))]]));
    const text = decoder.decode(files.get('guide.yaml'));
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../../.knock-env/schemas/guide.schema.json');
    const { __readonly: _readonly, $schema: _schema, ...content } = guide;
    expect(YAML.parse(text)).toStrictEqual(content);
  });

  it('refuses a bad key, a missing main file and invalid JSON with typed errors', () => {
    const codeOf = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (error) {
        return isKnockEnvError(error) ? error.code : 'untyped';
      }
      return undefined;
    };
    expect(codeOf(() => knockResourceToFiles('workflow', '../x', knockFiles(knockWorkflow())))).toBe('INVALID_KEY');
    expect(codeOf(() => knockResourceToFiles('workflow', 'plant-adopted', new Map()))).toBe('NOT_FOUND');
    expect(codeOf(() => knockResourceToFiles('workflow', 'plant-adopted', new Map([['workflow.json', bytes('{')]])))).toBe(
      'VALIDATION_FAILED',
    );
    expect(codeOf(() => knockResourceToFiles('workflow', 'plant-adopted', new Map([['workflow.json', bytes('[]')]])))).toBe(
      'VALIDATION_FAILED',
    );
  });
});
