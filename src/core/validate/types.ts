import type { ResourceKind } from '../resources.js';

export type IssueCode =
  | 'yaml-syntax'
  | 'duplicate-key'
  | 'schema'
  | 'invalid-key'
  | 'file-ref-missing'
  | 'file-ref-escapes'
  | 'file-too-large'
  | 'missing-main-file'
  | 'unexpected-file'
  | 'alias-limit'
  | 'key-mismatch'
  /** A JSON file referenced through an `@` field does not parse. */
  | 'json-syntax'
  /** knock-env.yaml breaks a rule the schema cannot express (order, uniqueness, references). */
  | 'config-rule'
  /** A value in an environment file looks like a secret written out instead of a `{ secret_env: NAME }` reference. */
  | 'literal-secret'
  /** A change the target environment does not own (origin environment, another environment's files). */
  | 'ownership'
  /** A change to knock-env.yaml, which only knock-env's own commands make. */
  | 'account-change'
  /** A template string or `@` template file whose Liquid does not parse. */
  | 'liquid-syntax'
  /** A symbolic link inside a resource folder (or a resource folder that is one). */
  | 'symlink'
  /** An entry that is neither a regular file nor a folder: a submodule, a FIFO, a device. */
  | 'special-file'
  /** A character YAML 1.2 excludes (NUL, ESC and other control characters). */
  | 'control-character'
  /** A YAML tag (`!!js/function`, `!binary`, any `!name`): resource files hold plain data. */
  | 'yaml-tag';

/** One problem in one file. Line and column are 1-based. */
export interface ValidationIssue {
  /** Repository-relative posix path of the file the problem is in. */
  file: string;
  line?: number;
  column?: number;
  /** JSON pointer into the parsed document, e.g. /steps/2/template. */
  pointer?: string;
  code: IssueCode;
  message: string;
}

/** Reads repository-relative posix paths, from a working tree or a git tree. */
export interface SourceReader {
  /** File content, or null when there is no such file. */
  read(path: string): Promise<Uint8Array | null>;
  /** Size in bytes without reading, or null when there is no such file. Optional. */
  size?(path: string): Promise<number | null>;
  /**
   * Entries at or below a repository folder (and the folders on the way to
   * it) that are not regular files or folders: symbolic links, submodules,
   * FIFOs. `read` never follows them. Optional.
   */
  specialEntries?(dir: string): Promise<SpecialEntry[]>;
}

export interface SpecialEntry {
  /** Repository path of the entry. */
  path: string;
  kind: 'symlink' | 'submodule' | 'other';
}

export interface ResourceValidation {
  kind: ResourceKind;
  key: string;
  issues: ValidationIssue[];
  /** The parsed main document when it parsed (even if it has schema issues). */
  data?: Record<string, unknown>;
}
