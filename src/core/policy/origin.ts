import { yamlLib } from '../yaml-lib.js';

const ORIGIN_LINE = /^origin_environment:[ \t]*(["']?)([a-z0-9][a-z0-9_-]*)\1[ \t]*(?:#.*)?$/m;

/**
 * Reads origin_environment without full validation; null when absent or
 * unreadable. A key at column 0 of a block mapping is a top-level key, so a
 * line match settles it without parsing; anything unusual is parsed.
 */
export function originOf(text: string | Uint8Array | null): string | null {
  if (text === null) return null;
  const source = typeof text === 'string' ? text : Buffer.from(text).toString('utf8');
  const match = ORIGIN_LINE.exec(source);
  if (match) return match[2]!;
  if (!source.includes('origin_environment')) return null;
  try {
    const data = yamlLib().parse(source, { maxAliasCount: 100 }) as unknown;
    const origin = (data as { origin_environment?: unknown } | null)?.origin_environment;
    return typeof origin === 'string' ? origin : null;
  } catch {
    return null;
  }
}

/** Where origin_environment is written in a file, when it is a top-level line. */
export function originLine(bytes: Uint8Array | null): { line?: number; column?: number } {
  if (bytes === null) return {};
  const index = Buffer.from(bytes).toString('utf8').split('\n').findIndex((l) => l.startsWith('origin_environment:'));
  return index < 0 ? {} : { line: index + 1, column: 1 };
}
