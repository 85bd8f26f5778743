/**
 * Line-based differences between two texts, and the unified format git and
 * diff(1) print. A line keeps its terminator, so a last line without a newline
 * differs from the same line with one, and is shown with git's
 * "\ No newline at end of file" marker.
 */

export type EditType = 'equal' | 'delete' | 'insert';

export interface LineEdit {
  type: EditType;
  /** The line, with its terminator when it has one. */
  line: string;
}

export interface UnifiedDiffOptions {
  /** Name shown after `---`; default `a/<path>`, or /dev/null when `before` is null. */
  fromFile?: string;
  /** Name shown after `+++`; default `b/<path>`, or /dev/null when `after` is null. */
  toFile?: string;
  /** Lines of context around each change (git's default is 3). */
  context?: number;
}

const NO_NEWLINE = '\\ No newline at end of file';

/** Splits a text into lines, each keeping its "\n". */
export function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (;;) {
    const end = text.indexOf('\n', start);
    if (end < 0) {
      if (start < text.length) lines.push(text.slice(start));
      return lines;
    }
    lines.push(text.slice(start, end + 1));
    start = end + 1;
  }
}

/**
 * A shortest edit script from `a` to `b` (Myers' O(ND) algorithm), after the
 * common head and tail are set aside. Past `maxCost` differences the middle is
 * reported as deleted and re-inserted: still a correct script, only not the shortest.
 */
export function diffLines(a: readonly string[], b: readonly string[], maxCost = 2000): LineEdit[] {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const edits: LineEdit[] = [];
  for (let i = 0; i < head; i++) edits.push({ type: 'equal', line: a[i]! });
  edits.push(...myers(a.slice(head, a.length - tail), b.slice(head, b.length - tail), maxCost));
  for (let i = a.length - tail; i < a.length; i++) edits.push({ type: 'equal', line: a[i]! });
  return edits;
}

function myers(a: readonly string[], b: readonly string[], maxCost: number): LineEdit[] {
  const n = a.length;
  const m = b.length;
  if (n === 0) return b.map((line) => ({ type: 'insert', line }));
  if (m === 0) return a.map((line) => ({ type: 'delete', line }));
  const max = Math.min(n + m, maxCost);
  const offset = max + 1;
  let v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = -1;
  for (let d = 0; d <= max && found < 0; d++) {
    // Round d reads the diagonals -d-1..d+1 of the round before; only those are kept.
    trace.push(v.slice(offset - d - 1, offset + d + 2));
    const next = v;
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!) ? v[offset + k + 1]! : v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      next[offset + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
    v = next;
  }
  if (found < 0) {
    return [...a.map((line): LineEdit => ({ type: 'delete', line })), ...b.map((line): LineEdit => ({ type: 'insert', line }))];
  }
  // Walk the trace backwards from (n, m), one difference per round.
  const reversed: LineEdit[] = [];
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    const before = trace[d]!;
    const at = (diagonal: number): number => before[diagonal + d + 1]!;
    const k = x - y;
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const prevK = down ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    while (x > prevX + (down ? 0 : 1) && y > prevY + (down ? 1 : 0)) {
      reversed.push({ type: 'equal', line: a[--x]! });
      y--;
    }
    if (down) reversed.push({ type: 'insert', line: b[--y]! });
    else reversed.push({ type: 'delete', line: a[--x]! });
  }
  while (x > 0 && y > 0) {
    reversed.push({ type: 'equal', line: a[--x]! });
    y--;
  }
  return reversed.reverse();
}

function range(start: number, count: number): string {
  // diff(1) and git: an empty range is shown at the line before it; a one-line range without its count.
  if (count === 0) return `${start - 1},0`;
  return count === 1 ? `${start}` : `${start},${count}`;
}

function printLine(prefix: string, line: string): string[] {
  return line.endsWith('\n') ? [`${prefix}${line.slice(0, -1)}`] : [`${prefix}${line}`, NO_NEWLINE];
}

/**
 * The unified diff from `before` to `after` (null: the file does not exist on
 * that side), as `git diff` prints it from the `---` line on; "" when the texts are equal.
 */
export function unifiedDiff(before: string | null, after: string | null, path: string, options: UnifiedDiffOptions = {}): string {
  if (before === after) return '';
  const context = Math.max(0, options.context ?? 3);
  const edits = diffLines(splitLines(before ?? ''), splitLines(after ?? ''));
  const lines = [
    `--- ${options.fromFile ?? (before === null ? '/dev/null' : `a/${path}`)}`,
    `+++ ${options.toFile ?? (after === null ? '/dev/null' : `b/${path}`)}`,
  ];
  // Positions (in `edits`) of the changes, grouped into hunks whose context touches or overlaps.
  const changed: number[] = [];
  edits.forEach((e, i) => {
    if (e.type !== 'equal') changed.push(i);
  });
  let i = 0;
  while (i < changed.length) {
    let last = i;
    while (last + 1 < changed.length && changed[last + 1]! - changed[last]! <= 2 * context + 1) last++;
    const start = Math.max(0, changed[i]! - context);
    const end = Math.min(edits.length, changed[last]! + context + 1);
    let oldStart = 1;
    let newStart = 1;
    for (let j = 0; j < start; j++) {
      if (edits[j]!.type !== 'insert') oldStart++;
      if (edits[j]!.type !== 'delete') newStart++;
    }
    let oldCount = 0;
    let newCount = 0;
    const body: string[] = [];
    for (let j = start; j < end; j++) {
      const e = edits[j]!;
      if (e.type !== 'insert') oldCount++;
      if (e.type !== 'delete') newCount++;
      body.push(...printLine(e.type === 'equal' ? ' ' : e.type === 'delete' ? '-' : '+', e.line));
    }
    lines.push(`@@ -${range(oldStart, oldCount)} +${range(newStart, newCount)} @@`, ...body);
    i = last + 1;
  }
  return `${lines.join('\n')}\n`;
}
