import type { Document, LineCounter, Node as YamlNode } from 'yaml';
import { yamlLib } from '../yaml-lib.js';
import { flowDepthExceeded } from './limits.js';

export interface Position {
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
}

// ---------------------------------------------------------------------------
// JSON pointers

export function escapePointerSegment(segment: string | number): string {
  return String(segment).replace(/~/g, '~0').replace(/\//g, '~1');
}

export function joinPointer(base: string, segment: string | number): string {
  return `${base}/${escapePointerSegment(segment)}`;
}

export function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

// ---------------------------------------------------------------------------
// Positions of nodes, built only when an issue needs one

/** Maps JSON pointers to line/column in one YAML (or JSON) text. */
export class SourcePositions {
  private constructor(
    private readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  static of(text: string): SourcePositions {
    const lines = new (yamlLib().LineCounter)();
    const source = flowDepthExceeded(text) === undefined ? text : '';
    const doc = yamlLib().parseDocument(source, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
    return new SourcePositions(doc, lines);
  }

  /** @internal used by the slow parse path, which already has the document. */
  static fromDocument(doc: Document.Parsed, lines: LineCounter): SourcePositions {
    return new SourcePositions(doc, lines);
  }

  offsetToPosition(offset: number): Position {
    const { line, col } = this.lines.linePos(offset);
    return line === 0 ? { line: 1, column: offset + 1 } : { line, column: col };
  }

  /**
   * Position of the node a pointer designates. When the pointer goes past the
   * document (a missing property), the deepest existing node is used. With
   * `key`, the position of the mapping key naming the last segment is returned.
   */
  locate(pointer: string, options: { key?: boolean } = {}): Position | undefined {
    const segments = pointerSegments(pointer);
    let node: unknown = this.doc.contents;
    let position = rangeStart(node);
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i] as string;
      if (yamlLib().isAlias(node)) node = node.resolve(this.doc);
      if (yamlLib().isMap(node)) {
        const pair = node.items.find((p) => keyString(p.key) === segment);
        if (pair === undefined) break;
        const keyStart = rangeStart(pair.key);
        if (i === segments.length - 1 && options.key === true && keyStart !== undefined) {
          position = keyStart;
          break;
        }
        node = pair.value;
        position = rangeStart(node) ?? keyStart ?? position;
      } else if (yamlLib().isSeq(node)) {
        const item: unknown = node.items[Number(segment)];
        if (item === undefined || !/^\d+$/.test(segment)) break;
        node = item;
        position = rangeStart(node) ?? position;
      } else {
        break;
      }
    }
    return position === undefined ? undefined : this.offsetToPosition(position);
  }

  /** Position of the first alias node, for reporting alias-limit problems. */
  firstAlias(): Position | undefined {
    let offset: number | undefined;
    yamlLib().visit(this.doc, {
      Alias(_key, node) {
        offset = node.range?.[0];
        return yamlLib().visit.BREAK;
      },
    });
    return offset === undefined ? undefined : this.offsetToPosition(offset);
  }
}

function rangeStart(node: unknown): number | undefined {
  if (node !== null && typeof node === 'object' && 'range' in node) {
    const range = (node as YamlNode).range;
    if (Array.isArray(range)) return range[0];
  }
  return undefined;
}

function keyString(key: unknown): string | undefined {
  if (yamlLib().isScalar(key)) return key.value === null ? '' : String(key.value);
  return undefined;
}
