import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { errnoCode, readIfExists, type FileSystem } from './git/fs.js';
import type { ResourceKind } from './resources.js';
import { SCHEMA_NAMES, schemaUrl } from './validate/schemas.js';

/**
 * Bump when validation rules change in code (not in schemas/, which are
 * fingerprinted by content), so cached verdicts of the old rules are dropped.
 */
const RULES_VERSION = 3;

let fingerprint: string | undefined;

/** Identifies the rules a verdict was reached under: the schema files' content and the rules version. */
export function validatorFingerprint(): string {
  if (fingerprint === undefined) {
    const hash = createHash('sha1').update(`rules ${RULES_VERSION}\n`);
    // The schemas ship with the program, not with the project: read from the package, not through the injected fs.
    for (const name of SCHEMA_NAMES) hash.update(readFileSync(schemaUrl(name)));
    fingerprint = hash.digest('hex').slice(0, 16);
  }
  return fingerprint;
}

/**
 * Remembers which resource folders (by git tree id, which covers every file in
 * the folder) passed validation. A tree id names exact content, so a verdict
 * never goes stale; it is only re-earned when the rules change.
 */
export class ValidationCache {
  private readonly known = new Set<string>();
  private readonly added: string[] = [];

  private constructor(private readonly fs: FileSystem, private readonly path: string) {}

  static async open(fs: FileSystem, gitdir: string): Promise<ValidationCache> {
    const cache = new ValidationCache(fs, `${gitdir}/knock-env/valid-${validatorFingerprint()}`);
    const text = (await readIfExists(fs, cache.path))?.toString('latin1') ?? '';
    for (const line of text.split('\n')) if (line.length > 0) cache.known.add(line);
    return cache;
  }

  has(kind: ResourceKind, treeOid: string): boolean {
    return this.known.has(`${kind} ${treeOid}`);
  }

  add(kind: ResourceKind, treeOid: string): void {
    const line = `${kind} ${treeOid}`;
    if (this.known.has(line)) return;
    this.known.add(line);
    this.added.push(line);
  }

  /** Appends new verdicts; a failure to write only costs a later re-validation. */
  async save(): Promise<void> {
    if (this.added.length === 0) return;
    const lines = `${this.added.splice(0).join('\n')}\n`;
    try {
      await this.fs.promises.mkdir(this.path.slice(0, this.path.lastIndexOf('/')), { recursive: true });
      await this.fs.promises.appendFile(this.path, lines);
    } catch (error) {
      if (errnoCode(error) !== 'EACCES' && errnoCode(error) !== 'EROFS') throw error;
    }
  }
}
