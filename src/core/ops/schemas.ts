import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CoreOptions } from '../context.js';
import { readIfExists, writeFileAtomic } from '../git/fs.js';
import { PROJECT_SCHEMAS_DIR } from '../knock-format/import.js';
import { openProject } from '../project.js';
import { CONFIG_FILE, ENVIRONMENT_FILE_TYPES, environmentFileGlob, RESOURCE_MODULES } from '../resources.js';
import { SCHEMA_NAMES, SCHEMAS_DIR, schemaUrl, type SchemaName } from '../validate/schemas.js';

/** The files of a project each schema describes, as globs relative to the project root (from the registries). */
export const SCHEMA_FILES = Object.fromEntries([
  ...RESOURCE_MODULES.map((m) => [m.schema, `${m.dir}/*/${m.mainFile ? m.file.replace(/<[^>]+>/g, '*') : m.file}`]),
  ['knock-env', CONFIG_FILE],
  ...ENVIRONMENT_FILE_TYPES.map((t) => [t.schema, environmentFileGlob(t)]),
]) as Record<SchemaName, string>;

export interface SchemaLocation {
  name: SchemaName;
  /** Absolute path of the schema installed with knock-env. */
  path: string;
  /** The project files it describes (a glob relative to the project root). */
  files: string;
  /** First line for those files, pointing at the copy `knock-env schemas --write` puts in the project. */
  modeline: string;
}

export interface WrittenSchema {
  name: SchemaName;
  /** Path relative to the project root. */
  path: string;
  status: 'created' | 'updated' | 'unchanged';
}

export interface WrittenSchemas {
  /** Absolute path of the project's schema folder. */
  directory: string;
  files: WrittenSchema[];
}

export interface SchemasReport {
  /** Absolute path of the schemas installed with knock-env. */
  directory: string;
  schemas: SchemaLocation[];
  /** A value for VS Code's `yaml.schemas` setting: schema path to the files it describes. */
  vscode: { 'yaml.schemas': Record<string, string> };
  /** Set when the schemas were copied into the project. */
  written: WrittenSchemas | null;
}

/** The modeline of a file matched by `glob`, relative to the folder holding it. */
function modelineFor(name: SchemaName): string {
  const depth = SCHEMA_FILES[name].split('/').length - 1;
  return `# yaml-language-server: $schema=${'../'.repeat(depth)}${PROJECT_SCHEMAS_DIR}/${name}.schema.json`;
}

/** Where the JSON Schemas installed with knock-env are, one per kind of file. */
export function installedSchemas(): Omit<SchemasReport, 'written'> {
  const schemas = SCHEMA_NAMES.map((name) => ({
    name,
    path: fileURLToPath(schemaUrl(name)),
    files: SCHEMA_FILES[name],
    modeline: modelineFor(name),
  }));
  const vscode = Object.fromEntries(schemas.map((s) => [s.path, s.files]));
  return { directory: fileURLToPath(SCHEMAS_DIR).replace(/\/$/, ''), schemas, vscode: { 'yaml.schemas': vscode } };
}

/**
 * Copies the installed schemas into the project's `.knock-env/schemas/`, so
 * that the relative `$schema` lines of the files knock-env writes work in
 * every clone once the folder is committed. Files already up to date are
 * left untouched.
 */
export async function writeProjectSchemas(options: Pick<CoreOptions, 'fs' | 'dir'>): Promise<WrittenSchemas> {
  const project = await openProject(options);
  const directory = `${project.dir}/${PROJECT_SCHEMAS_DIR}`;
  await options.fs.promises.mkdir(directory, { recursive: true });
  const files: WrittenSchema[] = [];
  for (const name of SCHEMA_NAMES) {
    // The installed schema is part of knock-env itself, not of the project, so it is read from the real disk.
    const content = readFileSync(schemaUrl(name));
    const target = `${directory}/${name}.schema.json`;
    const current = await readIfExists(options.fs, target);
    const status = current === null ? 'created' : current.equals(content) ? 'unchanged' : 'updated';
    if (status !== 'unchanged') await writeFileAtomic(options.fs, target, content);
    files.push({ name, path: `${PROJECT_SCHEMAS_DIR}/${name}.schema.json`, status });
  }
  return { directory, files };
}

/**
 * The schemas report: where the installed schemas are and, with `write`, the
 * copy made in the project. When the project has its copy, the VS Code
 * setting points at it (relative paths work for everyone who clones).
 */
export async function describeSchemas(options: Pick<CoreOptions, 'fs' | 'dir'> & { write?: boolean }): Promise<SchemasReport> {
  const installed = installedSchemas();
  if (!options.write) return { ...installed, written: null };
  const written = await writeProjectSchemas(options);
  const vscode = Object.fromEntries(written.files.map((f) => [f.path, SCHEMA_FILES[f.name]]));
  return { ...installed, vscode: { 'yaml.schemas': vscode }, written };
}
