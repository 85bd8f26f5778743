import { describe, it, expect } from 'vitest';
import { validateResource } from '../../src/core/validate/index.js';
import type { ValidationIssue } from '../../src/core/validate/types.js';
import { memoryReader } from './validate-helpers.js';

const WF = 'workflows/order-shipped';
const MAIN = `${WF}/workflow.yaml`;

/** A workflow file from lines, so tests can name exact line numbers. */
const lines = (...l: string[]): string => `${l.join('\n')}\n`;

const VALID = lines(
  'name: Order shipped', //                     1
  'steps:', //                                  2
  '  - ref: email_1', //                        3
  '    type: channel', //                       4
  '    channel_key: postmark', //               5
  '    channel_type: email', //                 6
  '    template:', //                           7
  '      subject: Your order shipped', //       8
  '      html_body@: email_1/body.html', //     9
);

async function validate(files: Record<string, string | Uint8Array>, key = 'order-shipped', size = true) {
  return validateResource({ kind: 'workflow', key, read: memoryReader(files, { size }) });
}

function only(issues: ValidationIssue[], code: ValidationIssue['code']): ValidationIssue[] {
  return issues.filter((i) => i.code === code);
}

describe('validateResource: a valid workflow', () => {
  it('has no issue and returns the data', async () => {
    const result = await validate({ [MAIN]: VALID, [`${WF}/email_1/body.html`]: '<p>Hi</p>' });
    expect(result.issues).toEqual([]);
    expect(result.data?.name).toBe('Order shipped');
  });

  it('works with a reader that has no size()', async () => {
    const result = await validate({ [MAIN]: VALID, [`${WF}/email_1/body.html`]: '<p>Hi</p>' }, 'order-shipped', false);
    expect(result.issues).toEqual([]);
  });
});

describe('validateResource: YAML problems', () => {
  it('reports malformed YAML with file, line and column', async () => {
    const result = await validate({ [MAIN]: lines('name: Order shipped', 'steps: [', '  - ref: a') });
    expect(result.issues.length).toBeGreaterThan(0);
    for (const issue of result.issues) {
      expect(issue).toMatchObject({ file: MAIN, code: 'yaml-syntax' });
      expect(issue.line).toBeGreaterThanOrEqual(2);
      expect(issue.column).toBeGreaterThanOrEqual(1);
    }
    expect(result.data).toBeUndefined();
  });

  it('reports a duplicate key with its line and column', async () => {
    const result = await validate({ [MAIN]: lines('name: a', 'steps: []', 'name: b') });
    expect(result.issues).toEqual([
      { file: MAIN, line: 3, column: 1, code: 'duplicate-key', message: 'Duplicate key "name".' },
    ]);
  });

  it('reports a duplicate key inside a step', async () => {
    const result = await validate({
      [MAIN]: lines('name: a', 'steps:', '  - ref: delay_1', '    type: delay', '    ref: delay_2', '    settings: {}'),
    });
    expect(result.issues).toEqual([expect.objectContaining({ code: 'duplicate-key', line: 5, column: 5 })]);
  });

  it('stops an alias bomb with alias-limit', async () => {
    const bomb = ['name: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) {
      bomb.push(`x${i}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    }
    const result = await validate({ [MAIN]: lines(...bomb) });
    expect(result.issues).toEqual([expect.objectContaining({ file: MAIN, code: 'alias-limit', line: 2 })]);
  });

  it('refuses deeply nested flow collections before parsing them', async () => {
    const started = performance.now();
    const result = await validate({ [MAIN]: `name: n\nsteps: []\nsettings:\n  x: ${'['.repeat(200_000)}${']'.repeat(200_000)}\n` });
    expect(result.issues).toEqual([
      expect.objectContaining({ file: MAIN, code: 'yaml-syntax', line: 4, column: 106, message: expect.stringContaining('100 levels') }),
    ]);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('refuses block nesting past the depth limit at its place, and parses it just below', async () => {
    const nested = (levels: number) => Array.from({ length: levels }, (_, i) => `${' '.repeat(i)}k:`).join('\n');
    const deep = await validate({ [MAIN]: `name: n\nsteps: []\nsettings:\n${nested(1300).replace(/^/gm, '  ')} 1\n` });
    expect(deep.issues).toEqual([expect.objectContaining({ file: MAIN, line: 103, column: 102, code: 'yaml-syntax', message: 'Block collections nest more than 100 levels deep.' })]);
    const fine = await validate({ [MAIN]: `name: n\nsteps: []\nsettings:\n${nested(90).replace(/^/gm, '  ')} 1\n` });
    expect(fine.issues).toEqual([]);
  });

  it('refuses text that is not UTF-8', async () => {
    const result = await validate({ [MAIN]: new Uint8Array([0x6e, 0x61, 0x6d, 0x65, 0x3a, 0x20, 0xff, 0xfe, 0x0a]) });
    expect(result.issues).toEqual([expect.objectContaining({ file: MAIN, code: 'yaml-syntax' })]);
  });
});

describe('validateResource: schema problems', () => {
  it('reports several violations together, each with pointer, line and column', async () => {
    const text = lines(
      'name: 5', //                               1
      'descripton: typo', //                      2
      'steps:', //                                3
      '  - type: delay', //                       4  (no ref)
      '    settings:', //                         5
      '      delay_for:', //                      6
      '        unit: fortnights', //              7
      '        value: 2', //                      8
      '  - ref: email_1', //                      9
      '    type: channel', //                     10
      '    chanel_key: postmark', //              11
      '    channel_type: email', //               12
      '    template:', //                         13
      '      html_body: <p>Hi</p>', //            14  (no subject)
      '    conditions:', //                       15
      '      all:', //                            16
      '        - variable: data.plan', //         17
      '          operator: equals', //            18
      '          argument: pro', //               19
    );
    const result = await validate({ [MAIN]: text });
    const byPointer = Object.fromEntries(result.issues.map((i) => [i.pointer, i]));
    expect(result.issues.every((i) => i.code === 'schema' && i.file === MAIN)).toBe(true);
    expect(byPointer['/name']).toMatchObject({ line: 1, column: 7, message: 'Must be string, not integer.' });
    expect(byPointer['/descripton']).toMatchObject({ line: 2, column: 1 });
    expect(byPointer['/descripton']?.message).toContain('Did you mean "description"?');
    expect(byPointer['/steps/0']).toMatchObject({ line: 4, column: 5, message: 'Missing required field "ref".' });
    expect(byPointer['/steps/0/settings/delay_for/unit']).toMatchObject({ line: 7, column: 15 });
    expect(byPointer['/steps/1/chanel_key']).toMatchObject({ line: 11, column: 5 });
    expect(byPointer['/steps/1/chanel_key']?.message).toContain('Did you mean "channel_key"?');
    expect(byPointer['/steps/1/template']).toMatchObject({
      line: 13,
      column: 5,
      message: 'Missing required field: one of "subject" or "subject@".',
    });
    expect(byPointer['/steps/1/conditions/all/0/operator']).toMatchObject({ line: 18, column: 21 });
    expect(byPointer['/steps/1/conditions/all/0/operator']?.message).toContain('"equals"');
    expect(result.issues).toHaveLength(7);
    // The data is still returned, so callers can show what parsed.
    expect(result.data?.name).toBe(5);
  });

  it('names an unknown step type once, without complaining about its fields', async () => {
    const text = lines(
      'name: Order shipped',
      'steps:',
      '  - ref: email_1',
      '    type: chanel',
      '    channel_key: postmark',
      '    template:',
      '      subject: Hi',
    );
    const result = await validate({ [MAIN]: text });
    expect(result.issues).toEqual([
      {
        file: MAIN,
        line: 4,
        column: 11,
        pointer: '/steps/0/type',
        code: 'schema',
        message: expect.stringContaining('Unknown step type "chanel"'),
      },
    ]);
    expect(result.issues[0]?.message).toContain('Did you mean "channel"?');
  });

  it('checks steps nested in branches', async () => {
    const text = lines(
      'name: n',
      'steps:',
      '  - ref: branch_1',
      '    type: branch',
      '    branches:',
      '      - name: a',
      '        steps:',
      '          - ref: sms_1',
      '            type: channel',
      '            channel_type: sms',
      '            template:',
      '              text_bdy: hi',
    );
    const result = await validate({ [MAIN]: text });
    const pointers = result.issues.map((i) => i.pointer);
    expect(pointers).toContain('/steps/0/branches/0/steps/0/template/text_bdy');
    expect(pointers).toContain('/steps/0/branches/0/steps/0/template');
  });

  it('refuses a condition group with both all and any', async () => {
    const text = lines('name: n', 'steps: []', 'conditions:', '  all: []', '  any: []');
    const result = await validate({ [MAIN]: text });
    expect(result.issues).toEqual([
      expect.objectContaining({ pointer: '/conditions', line: 3, message: 'A condition group has exactly one of "all" or "any".' }),
    ]);
  });

  it('checks origin_environment against the slug rule', async () => {
    const result = await validate({ [MAIN]: lines('name: n', 'steps: []', 'origin_environment: Prod') });
    expect(result.issues).toEqual([expect.objectContaining({ code: 'schema', pointer: '/origin_environment', line: 3 })]);
  });

  it('refuses x and x@ side by side', async () => {
    const text = lines(
      'name: n',
      'steps:',
      '  - ref: sms_1',
      '    type: channel',
      '    channel_type: sms',
      '    template:',
      '      text_body: hi',
      '      text_body@: sms_1/body.txt',
    );
    const result = await validate({ [MAIN]: text, [`${WF}/sms_1/body.txt`]: 'hi' });
    expect(result.issues).toEqual([
      expect.objectContaining({ code: 'schema', pointer: '/steps/0/template/text_body@', line: 8, column: 7 }),
    ]);
  });

  it('validates guides against the guide schema', async () => {
    const text = lines(
      'name: Tour',
      'channel_key: guides',
      'steps:',
      '  - ref: S1',
      '    schema_key: banner',
      '    schema_semver: 0.0.1',
      '    schema_variant_key: default',
      'activation_url_patterns:',
      '  - directive: allow',
    );
    const result = await validateResource({
      kind: 'guide',
      key: 'tour-guide',
      read: memoryReader({ 'guides/tour-guide/guide.yaml': text }),
    });
    expect(result.issues.map((i) => [i.pointer, i.line])).toEqual([
      ['/steps/0/ref', 4],
      ['/activation_url_patterns/0', 9],
    ]);
  });
});

describe('validateResource: @ file references', () => {
  it('reports a missing file at the field that names it', async () => {
    const result = await validate({ [MAIN]: VALID });
    expect(result.issues).toEqual([
      {
        file: MAIN,
        line: 9,
        column: 19,
        pointer: '/steps/0/template/html_body@',
        code: 'file-ref-missing',
        message: expect.stringContaining(`${WF}/email_1/body.html`),
      },
    ]);
  });

  it.each([
    ['a parent path', '../other-workflow/body.html'],
    ['an absolute path', '/etc/passwd'],
    ['a Windows path', 'C:/body.html'],
    ['a backslash', 'email_1\\body.html'],
    ['a NUL byte', 'email_1/body.html\u0000.txt'],
    ['a path that climbs out after going in', 'email_1/../../x'],
  ])('refuses %s', async (_name, path) => {
    const text = VALID.replace('html_body@: email_1/body.html', `html_body@: ${JSON.stringify(path)}`);
    const result = await validate({ [MAIN]: text, 'workflows/other-workflow/body.html': 'x', '/etc/passwd': 'x' });
    expect(result.issues).toEqual([
      expect.objectContaining({ file: MAIN, line: 9, column: 19, pointer: '/steps/0/template/html_body@', code: 'file-ref-escapes' }),
    ]);
  });

  it('accepts a path that stays inside after normalising', async () => {
    const text = VALID.replace('email_1/body.html', './email_1/../email_1/body.html');
    const result = await validate({ [MAIN]: text, [`${WF}/email_1/body.html`]: 'x' });
    expect(result.issues).toEqual([]);
  });

  it('follows references inside referenced JSON, relative to that file', async () => {
    const text = VALID.replace('html_body@: email_1/body.html', 'visual_blocks@: email_1/visual_blocks.json');
    const blocks = JSON.stringify(
      [
        { type: 'markdown', 'content@': 'visual_blocks/1.content.md' },
        { type: 'markdown', 'content@': 'visual_blocks/2.content.md' },
        { type: 'markdown', 'content@': '../../../secrets.md' },
      ],
      null,
      2,
    );
    const result = await validate({
      [MAIN]: text,
      [`${WF}/email_1/visual_blocks.json`]: blocks,
      [`${WF}/email_1/visual_blocks/1.content.md`]: 'one',
      // Relative to the resource folder instead of the JSON file's folder: not what Knock does.
      [`${WF}/visual_blocks/2.content.md`]: 'two',
    });
    const file = `${WF}/email_1/visual_blocks.json`;
    expect(result.issues).toEqual([
      expect.objectContaining({ file, pointer: '/1/content@', code: 'file-ref-missing', line: 8, column: 17 }),
      expect.objectContaining({ file, pointer: '/2/content@', code: 'file-ref-escapes', line: 12, column: 17 }),
    ]);
  });

  it('allows a nested reference to climb back to the resource folder, not beyond', async () => {
    const text = VALID.replace('html_body@: email_1/body.html', 'visual_blocks@: email_1/visual_blocks.json');
    const result = await validate({
      [MAIN]: text,
      [`${WF}/email_1/visual_blocks.json`]: '[{"type":"markdown","content@":"../shared.md"},{"type":"markdown","content@":"../../x.md"}]',
      [`${WF}/shared.md`]: 'ok',
      'workflows/x.md': 'outside',
    });
    expect(result.issues.map((i) => [i.pointer, i.code])).toEqual([['/1/content@', 'file-ref-escapes']]);
  });

  it('refuses deeply nested referenced JSON at its place without exhausting the stack', async () => {
    const text = VALID.replace('html_body@: email_1/body.html', 'visual_blocks@: email_1/visual_blocks.json');
    const nested = `${'['.repeat(200_000)}{"content@":"nowhere.md"}${']'.repeat(200_000)}`;
    const result = await validate({ [MAIN]: text, [`${WF}/email_1/visual_blocks.json`]: nested });
    expect(result.issues).toEqual([expect.objectContaining({ file: `${WF}/email_1/visual_blocks.json`, code: 'json-syntax', line: 1, column: 101 })]);
  });

  it('follows @ references in referenced JSON nested up to the depth limit', async () => {
    const text = VALID.replace('html_body@: email_1/body.html', 'visual_blocks@: email_1/visual_blocks.json');
    const nested = `${'['.repeat(99)}{"content@":"nowhere.md"}${']'.repeat(99)}`;
    const result = await validate({ [MAIN]: text, [`${WF}/email_1/visual_blocks.json`]: nested });
    expect(result.issues).toEqual([
      expect.objectContaining({ file: `${WF}/email_1/visual_blocks.json`, code: 'file-ref-missing', pointer: `${'/0'.repeat(99)}/content@` }),
    ]);
  });

  it('reports referenced JSON that does not parse', async () => {
    const text = VALID.replace('html_body@: email_1/body.html', 'visual_blocks@: email_1/visual_blocks.json');
    const result = await validate({ [MAIN]: text, [`${WF}/email_1/visual_blocks.json`]: '[\n  {"type": "markdown",}\n]' });
    expect(result.issues).toEqual([
      expect.objectContaining({ file: `${WF}/email_1/visual_blocks.json`, code: 'json-syntax', line: 2 }),
    ]);
  });

  it('reports @ fields that are not strings, even in open-ended places', async () => {
    const text = lines('name: n', 'steps: []', 'settings:', '  notes@: 5');
    const result = await validate({ [MAIN]: text });
    expect(result.issues).toEqual([expect.objectContaining({ code: 'schema', pointer: '/settings/notes@', line: 4 })]);
  });

  it('refuses a referenced file over 10 MiB', async () => {
    const big = new Uint8Array(10 * 1024 * 1024 + 1);
    for (const size of [true, false]) {
      const result = await validate({ [MAIN]: VALID, [`${WF}/email_1/body.html`]: big }, 'order-shipped', size);
      expect(result.issues).toEqual([expect.objectContaining({ file: `${WF}/email_1/body.html`, code: 'file-too-large' })]);
    }
  });
});

describe('validateResource: keys and files', () => {
  it.each([
    ['a parent path', '../x'],
    ['upper case', 'A'],
    ['upper case, long enough', 'Welcome'],
    ['a slash', 'x/y'],
    ['a NUL byte', 'abc\u0000def'],
    ['300 characters', 'a'.repeat(300)],
    ['a leading dot', '.hidden'],
    ['two characters', 'ab'],
  ])('refuses a key with %s and reads nothing', async (_name, key) => {
    const reader = memoryReader({ [`workflows/${key}/workflow.yaml`]: VALID });
    const result = await validateResource({ kind: 'workflow', key, read: reader });
    expect(result.issues).toEqual([expect.objectContaining({ file: 'workflows', code: 'invalid-key' })]);
    expect(result.issues[0]?.message).toContain('Invalid workflow key');
    expect(reader.reads).toEqual([]);
  });

  it('reports a missing main file', async () => {
    const result = await validate({});
    expect(result.issues).toEqual([expect.objectContaining({ file: MAIN, code: 'missing-main-file' })]);
  });

  it('refuses a main file over 1 MiB, with or without size()', async () => {
    const text = `name: big\nsteps: []\nsettings:\n  padding: "${'x'.repeat(1024 * 1024)}"\n`;
    for (const size of [true, false]) {
      const reader = memoryReader({ [MAIN]: text }, { size });
      const result = await validateResource({ kind: 'workflow', key: 'order-shipped', read: reader });
      expect(result.issues).toEqual([expect.objectContaining({ file: MAIN, code: 'file-too-large' })]);
      // With size() available, the file is not even read.
      expect(reader.reads.length).toBe(size ? 0 : 1);
    }
  });

  it('reports every kind of problem at once', async () => {
    const text = lines(
      'name: n',
      'steps:',
      '  - ref: email_1',
      '    type: channel',
      '    channel_type: email',
      '    template:',
      '      subject: 1',
      '      html_body@: ../escape.html',
      '      text_body@: email_1/missing.txt',
    );
    const result = await validate({ [MAIN]: text });
    expect(only(result.issues, 'schema')).toHaveLength(1);
    expect(only(result.issues, 'file-ref-escapes')).toHaveLength(1);
    expect(only(result.issues, 'file-ref-missing')).toHaveLength(1);
    // Sorted by position in the file.
    expect(result.issues.map((i) => i.line)).toEqual([7, 8, 9]);
  });
});
