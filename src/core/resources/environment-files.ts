/**
 * The second registry: files below environments/<env>/, owned by that
 * environment and never promoted. Each kind names its schema in schemas/.
 */

export const ENVIRONMENTS_DIR = 'environments';

export interface EnvironmentFileType<K extends string = string> {
  kind: K;
  /** Schema name in schemas/ (without .schema.json). */
  schema: K;
  /** Path below environments/<env>/: a file name, or a folder holding one `<key>.yaml` per item. */
  path: { file: string } | { folder: string; extension: string };
  /** What it holds, for messages and help. */
  description: string;
}

export const ENVIRONMENT_FILE_TYPES = [
  { kind: 'channel', schema: 'channel', path: { folder: 'channels', extension: '.yaml' }, description: "a channel's settings in the environment" },
  { kind: 'variables', schema: 'variables', path: { file: 'variables.yaml' }, description: 'the environment variables templates read as vars.<key>' },
  { kind: 'branding', schema: 'branding', path: { file: 'branding.yaml' }, description: "the environment's branding (logo, colours)" },
] as const satisfies readonly EnvironmentFileType[];

export type EnvironmentFileKind = (typeof ENVIRONMENT_FILE_TYPES)[number]['kind'];

/** The glob, relative to the project root, of the files of one kind. */
export function environmentFileGlob(type: EnvironmentFileType): string {
  return 'file' in type.path ? `${ENVIRONMENTS_DIR}/*/${type.path.file}` : `${ENVIRONMENTS_DIR}/*/${type.path.folder}/*${type.path.extension}`;
}

/** "variables.yaml, branding.yaml and channels/<key>.yaml": what an environment folder may hold. */
export function environmentFilesPhrase(): string {
  const single = ENVIRONMENT_FILE_TYPES.flatMap((t) => ('file' in t.path ? [t.path.file] : []));
  const folders = ENVIRONMENT_FILE_TYPES.flatMap((t) => ('folder' in t.path ? [`${t.path.folder}/<key>${t.path.extension}`] : []));
  return listPhrase([...single, ...folders]);
}

/** "a, b and c" (or "a, b or c"). */
export function listPhrase(items: readonly string[], conjunction: 'and' | 'or' = 'and'): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} ${conjunction} ${items[items.length - 1]}`;
}
