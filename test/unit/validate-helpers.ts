import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SourceReader } from '../../src/core/validate/types.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const knockTemplatesDir = path.resolve(repoRoot, '../shared/fixtures/knock-templates');
export const demoDir = path.resolve(repoRoot, 'fixtures/demo');

const encoder = new TextEncoder();

/**
 * A SourceReader over an in-memory map of repository paths. Without `size`,
 * the validator has to read files to learn whether they exist.
 */
export function memoryReader(
  files: Map<string, string | Uint8Array> | Record<string, string | Uint8Array>,
  options: { size?: boolean } = {},
): SourceReader & { reads: string[] } {
  const map = files instanceof Map ? files : new Map(Object.entries(files));
  const bytes = (path: string): Uint8Array | null => {
    const value = map.get(path);
    if (value === undefined) return null;
    return typeof value === 'string' ? encoder.encode(value) : value;
  };
  const reads: string[] = [];
  const reader: SourceReader & { reads: string[] } = {
    reads,
    read: async (p) => {
      reads.push(p);
      return bytes(p);
    },
  };
  if (options.size !== false) reader.size = async (p) => bytes(p)?.length ?? null;
  return reader;
}

/** Every file below a folder, by posix path relative to it. */
export function readTree(dir: string): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  const walk = (abs: string, rel: string): void => {
    for (const entry of readdirSync(abs, { withFileTypes: true })) {
      const childAbs = path.join(abs, entry.name);
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(childAbs, childRel);
      else if (entry.isFile()) files.set(childRel, new Uint8Array(readFileSync(childAbs)));
    }
  };
  walk(dir, '');
  return files;
}

/** Places resource-relative files under a repository folder such as workflows/<key>. */
export function underFolder(folder: string, files: Map<string, Uint8Array>): Map<string, Uint8Array> {
  return new Map([...files].map(([p, b]) => [`${folder}/${p}`, b]));
}
