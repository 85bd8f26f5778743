import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { diffLines, splitLines, unifiedDiff } from '../../src/core/textdiff.js';

/** Applies a unified diff (as unifiedDiff prints it) to a text; the inverse the tests check against. */
function applyPatch(before: string, patch: string): string {
  const source = splitLines(before);
  const out: string[] = [];
  let at = 0;
  const lines = patch.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let i = 2;
  while (i < lines.length) {
    const header = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@$/.exec(lines[i]!);
    if (!header) throw new Error(`bad hunk header: ${lines[i]}`);
    const oldStart = Number(header[1]);
    const oldCount = header[2] === undefined ? 1 : Number(header[2]);
    const first = oldCount === 0 ? oldStart : oldStart - 1;
    while (at < first) out.push(source[at++]!);
    i++;
    while (i < lines.length && !lines[i]!.startsWith('@@')) {
      const text = lines[i]!;
      const noNewline = lines[i + 1] === '\\ No newline at end of file';
      const line = `${text.slice(1)}${noNewline ? '' : '\n'}`;
      if (text[0] === ' ' || text[0] === '-') {
        if (source[at] !== line) throw new Error(`context mismatch at ${at}: ${JSON.stringify(source[at])} vs ${JSON.stringify(line)}`);
        at++;
      }
      if (text[0] === ' ' || text[0] === '+') out.push(line);
      i += noNewline ? 2 : 1;
    }
  }
  while (at < source.length) out.push(source[at++]!);
  return out.join('');
}

/** Length of a longest common subsequence, by dynamic programming: the number of lines a shortest script keeps. */
function lcsLength(a: string[], b: string[]): number {
  const row = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = 0;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = a[i - 1] === b[j - 1] ? diagonal + 1 : Math.max(row[j]!, row[j - 1]!);
      diagonal = above;
    }
  }
  return row[b.length]!;
}

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomText(next: () => number, lines: number): string {
  const words = ['a', 'b', 'c', 'steps:', '  - ref: x', '', '{{ name }}'];
  const out: string[] = [];
  for (let i = 0; i < lines; i++) out.push(words[Math.floor(next() * words.length)]!);
  return out.join('\n') + (next() < 0.8 ? '\n' : '');
}

function mutate(next: () => number, text: string): string {
  const lines = text.split('\n');
  const edits = 1 + Math.floor(next() * 5);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(next() * (lines.length + 1));
    const what = next();
    if (what < 0.4) lines.splice(at, 1);
    else if (what < 0.8) lines.splice(at, 0, `new ${Math.floor(next() * 3)}`);
    else lines.splice(at, 1, 'changed');
  }
  return lines.join('\n');
}

describe('splitLines', () => {
  it('keeps each line terminator, and a last line without one', () => {
    expect(splitLines('')).toEqual([]);
    expect(splitLines('a')).toEqual(['a']);
    expect(splitLines('a\n')).toEqual(['a\n']);
    expect(splitLines('a\nb')).toEqual(['a\n', 'b']);
    expect(splitLines('\n\n')).toEqual(['\n', '\n']);
    expect(splitLines('a\r\nb\n')).toEqual(['a\r\n', 'b\n']);
  });
});

describe('diffLines', () => {
  it('finds a shortest edit script', () => {
    const edits = diffLines(['a', 'b', 'c', 'a', 'b', 'b', 'a'], ['c', 'b', 'a', 'b', 'a', 'c']);
    expect(edits.filter((e) => e.type !== 'equal')).toHaveLength(5);
    expect(edits.filter((e) => e.type !== 'insert').map((e) => e.line)).toEqual(['a', 'b', 'c', 'a', 'b', 'b', 'a']);
    expect(edits.filter((e) => e.type !== 'delete').map((e) => e.line)).toEqual(['c', 'b', 'a', 'b', 'a', 'c']);
  });

  it('is minimal and reproduces both sides on random inputs', () => {
    const next = random(7);
    for (let round = 0; round < 300; round++) {
      const a = splitLines(randomText(next, Math.floor(next() * 30)));
      const b = splitLines(mutate(next, a.join('')));
      const edits = diffLines(a, b);
      expect(edits.filter((e) => e.type !== 'insert').map((e) => e.line)).toEqual(a);
      expect(edits.filter((e) => e.type !== 'delete').map((e) => e.line)).toEqual(b);
      expect(edits.filter((e) => e.type === 'equal')).toHaveLength(lcsLength(a, b));
    }
  });

  it('falls back to delete-and-insert past its cost limit, still correct', () => {
    const a = Array.from({ length: 50 }, (_, i) => `a${i}\n`);
    const b = Array.from({ length: 50 }, (_, i) => `b${i}\n`);
    const edits = diffLines(a, b, 10);
    expect(edits.filter((e) => e.type === 'delete').map((e) => e.line)).toEqual(a);
    expect(edits.filter((e) => e.type === 'insert').map((e) => e.line)).toEqual(b);
  });
});

describe('unifiedDiff', () => {
  it('prints hunks as git does, with three lines of context', () => {
    const before = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', ''].join('\n');
    const after = ['one', 'two', 'three', 'four', 'FIVE', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', ''].join('\n');
    expect(unifiedDiff(before, after, 'x.txt')).toBe(
      [
        '--- a/x.txt',
        '+++ b/x.txt',
        '@@ -2,9 +2,10 @@',
        ' two',
        ' three',
        ' four',
        '-five',
        '+FIVE',
        ' six',
        ' seven',
        ' eight',
        ' nine',
        ' ten',
        '+eleven',
        '',
      ].join('\n'),
    );
    expect(unifiedDiff(before, after, 'x.txt', { context: 0 })).toBe(['--- a/x.txt', '+++ b/x.txt', '@@ -5 +5 @@', '-five', '+FIVE', '@@ -10,0 +11 @@', '+eleven', ''].join('\n'));
  });

  it('shows new and deleted files against /dev/null, and a missing final newline', () => {
    expect(unifiedDiff(null, 'a\nb\n', 'n.txt')).toBe(['--- /dev/null', '+++ b/n.txt', '@@ -0,0 +1,2 @@', '+a', '+b', ''].join('\n'));
    expect(unifiedDiff('a\n', null, 'n.txt')).toBe(['--- a/n.txt', '+++ /dev/null', '@@ -1 +0,0 @@', '-a', ''].join('\n'));
    expect(unifiedDiff('a\nb', 'a\nb\n', 'n.txt')).toBe(['--- a/n.txt', '+++ b/n.txt', '@@ -1,2 +1,2 @@', ' a', '-b', '\\ No newline at end of file', '+b', ''].join('\n'));
    expect(unifiedDiff('same\n', 'same\n', 'n.txt')).toBe('');
  });

  it('round-trips: applying the printed diff to the old text gives the new one', () => {
    const next = random(42);
    for (let round = 0; round < 300; round++) {
      const before = randomText(next, Math.floor(next() * 40));
      const after = mutate(next, before);
      const context = Math.floor(next() * 4);
      const patch = unifiedDiff(before, after, 'f', { context });
      if (before === after) expect(patch).toBe('');
      else expect(applyPatch(before, patch)).toBe(after);
    }
  });

  it('is accepted by git apply', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'knock-env-textdiff-'));
    try {
      const next = random(3);
      for (let round = 0; round < 12; round++) {
        const before = randomText(next, 5 + Math.floor(next() * 30));
        const after = mutate(next, before);
        if (before === after) continue;
        await writeFile(join(dir, 'f.txt'), before);
        await writeFile(join(dir, 'p.diff'), unifiedDiff(before, after, 'f.txt'));
        await execa('git', ['apply', '--unsafe-paths', 'p.diff'], { cwd: dir });
        expect(await readFile(join(dir, 'f.txt'), 'utf8')).toBe(after);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
