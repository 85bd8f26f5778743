import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { knockEnv, projectWith, snapshot, WORKFLOW } from '../helpers/project.js';
import { tempDir } from '../helpers/repo.js';

interface Issue {
  file: string;
  line?: number;
  column?: number;
  code: string;
  message: string;
}

async function validateJson(dir: string): Promise<{ code: number; issues: Issue[] }> {
  const result = await knockEnv(dir, 'validate', '--format', 'json');
  return { code: result.code, issues: (JSON.parse(result.out) as { issues: Issue[] }).issues };
}

const MAIN = 'workflows/welcome/workflow.yaml';

describe('characters YAML 1.2 excludes', () => {
  for (const [name, char] of [
    ['NUL', '\u0000'],
    ['ESC', '\u001b'],
    ['DEL', '\u007f'],
    ['a C1 control', '\u0090'],
  ] as const) {
    it(`refuses ${name} with its line and column, changing nothing`, async () => {
      const dir = await projectWith({ [MAIN]: WORKFLOW('body.html').replace('subject: Hello', `subject: Hel${char}lo`), 'workflows/welcome/body.html': 'hi\n' });
      const before = await snapshot(dir);
      const { code, issues } = await validateJson(dir);
      expect(code).toBe(3);
      expect(issues).toContainEqual(expect.objectContaining({ file: MAIN, line: 8, column: 19, code: 'control-character' }));
      expect((await knockEnv(dir, 'commit', '-m', 'x')).code).toBe(3);
      expect(await snapshot(dir)).toBe(before);
    });
  }

  it('keeps tab, carriage return, NEL and a byte order mark, which YAML allows', async () => {
    const dir = await projectWith({ [MAIN]: `\uFEFF${WORKFLOW('body.html').replace('subject: Hello', 'subject: "Hel\tlo\u0085"').replace(/\n/g, '\r\n')}`, 'workflows/welcome/body.html': 'hi\n' });
    expect((await validateJson(dir)).issues).toEqual([]);
  });

  it('run prints control characters from trigger data escaped, never raw', async () => {
    const dir = await projectWith({
      [MAIN]: WORKFLOW('body.html').replace('subject: Hello', 'subject: "{{ data.title }}"'),
      'workflows/welcome/body.html': '<p>{{ data.title }}</p>\n',
    });
    expect((await knockEnv(dir, 'commit', '-m', 'Add welcome')).code).toBe(0);
    const run = await knockEnv(dir, 'run', 'welcome', '--recipient', 'u1', '--data', JSON.stringify({ title: '\u001b[2J\u001b]0;owned\u0007red\u009b' }));
    expect(run.code).toBe(0);
    expect([...run.out].filter((ch) => ch !== '\n' && ch !== '\t' && (ch < ' ' || (ch >= '\u007f' && ch <= '\u009f')))).toEqual([]);
    expect(run.out).toContain('\\u001b[2J\\u001b]0;owned\\u0007red\\u009b');
  });
});

describe('YAML tags', () => {
  for (const [tag, line, column] of [
    ['!!js/function', 8, 16],
    ['!binary', 8, 16],
    ['!!binary', 8, 16],
    ['!knock', 8, 16],
  ] as const) {
    it(`reports ${tag} as an error at its place`, async () => {
      const dir = await projectWith({ [MAIN]: WORKFLOW('body.html').replace('subject: Hello', `subject: ${tag} aGk=`), 'workflows/welcome/body.html': 'hi\n' });
      const { code, issues } = await validateJson(dir);
      expect(code).toBe(3);
      expect(issues).toContainEqual(expect.objectContaining({ file: MAIN, line, column, code: 'yaml-tag' }));
      expect(issues.find((i) => i.code === 'yaml-tag')?.message).toContain(tag);
    });
  }

  it('accepts the core schema tags, which only restate the value', async () => {
    const dir = await projectWith({ [MAIN]: WORKFLOW('body.html').replace('subject: Hello', 'subject: !!str 12'), 'workflows/welcome/body.html': 'hi\n' });
    expect((await validateJson(dir)).issues).toEqual([]);
  });
});

describe('nesting bombs', () => {
  it('refuses YAML block nesting 100,000 levels deep with its place', async () => {
    const dir = await projectWith({ [MAIN]: `name: Deep\nsteps: []\nx:\n  ${'- '.repeat(100_000)}x\n` });
    const { code, issues } = await validateJson(dir);
    expect(code).toBe(3);
    expect(issues).toEqual([expect.objectContaining({ file: MAIN, line: 4, code: 'yaml-syntax', message: expect.stringContaining('nest more than 100 levels') })]);
  });

  it('refuses YAML indentation nesting past the limit, and accepts it just below', async () => {
    const nested = (levels: number) => `name: Deep\nsteps: []\n${Array.from({ length: levels }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')} 1\n`;
    const deep = await projectWith({ [MAIN]: nested(101) });
    const refused = await validateJson(deep);
    expect(refused.code).toBe(3);
    expect(refused.issues).toContainEqual(expect.objectContaining({ file: MAIN, line: 103, column: 101, code: 'yaml-syntax' }));
    const fine = await projectWith({ [MAIN]: nested(90) });
    expect((await validateJson(fine)).issues.filter((i) => i.code === 'yaml-syntax')).toEqual([]);
  });

  for (const [what, json] of [
    ['1,000 nested objects', `{"name":"Deep","steps":[],"x":${'{"a":'.repeat(1000)}1${'}'.repeat(1000)}}`],
    ['100,000 nested arrays', `{"name":"Deep","steps":[],"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`],
  ] as const) {
    it(`import refuses ${what} with a clear error naming the file and place`, async () => {
      const dir = await projectWith({});
      const source = await tempDir('knock-env-pull-');
      await mkdir(join(source, 'workflows/deep'), { recursive: true });
      await writeFile(join(source, 'workflows/deep/workflow.json'), json);
      const before = await snapshot(dir);
      const result = await knockEnv(dir, 'import', source);
      expect(result.code).toBe(3);
      expect(result.out + result.err).toContain('workflow.json');
      expect(result.out + result.err).toMatch(/more than 100 levels deep \(at line 1, column \d+\)/);
      expect(result.out + result.err).not.toMatch(/RangeError|call stack|\n\s+at /);
      expect(await snapshot(dir)).toBe(before);
    });
  }

  it('validate refuses an @ JSON file nested past the limit', async () => {
    const dir = await projectWith({
      [MAIN]: WORKFLOW('body.html').replace('      subject: Hello\n', '      subject: Hello\n      blocks@: blocks.json\n'),
      'workflows/welcome/body.html': 'hi\n',
      'workflows/welcome/blocks.json': `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
    });
    const { code, issues } = await validateJson(dir);
    expect(code).toBe(3);
    expect(issues).toContainEqual(expect.objectContaining({ file: 'workflows/welcome/blocks.json', line: 1, column: 101, code: 'json-syntax' }));
  });
});
