import { keyProblem } from './keys.js';

/**
 * One registry describes every promotable resource type; code that handles
 * resources asks the registry instead of special-casing each type.
 */
export type ResourceKind = 'workflow' | 'guide';

export interface ResourceType {
  kind: ResourceKind;
  /** Top-level folder holding one sub-folder per resource. */
  dir: string;
  /** The main file inside a resource folder. */
  file: string;
  /** Schema name in schemas/ (without .schema.json). */
  schema: string;
}

export const RESOURCE_TYPES: Record<ResourceKind, ResourceType> = {
  workflow: { kind: 'workflow', dir: 'workflows', file: 'workflow.yaml', schema: 'workflow' },
  guide: { kind: 'guide', dir: 'guides', file: 'guide.yaml', schema: 'guide' },
};

export const RESOURCE_KINDS = Object.keys(RESOURCE_TYPES) as ResourceKind[];

export const CONFIG_FILE = 'knock-env.yaml';
export const ENVIRONMENTS_DIR = 'environments';

/** Top-level paths knock-env manages; everything else in the tree is left as it is. */
export const MANAGED_TOP_LEVEL = [CONFIG_FILE, ...RESOURCE_KINDS.map((k) => RESOURCE_TYPES[k].dir), ENVIRONMENTS_DIR];

export interface ResourceRef {
  kind: ResourceKind;
  key: string;
  /** Folder of the resource, e.g. workflows/welcome. */
  dir: string;
  /** Main file, e.g. workflows/welcome/workflow.yaml. */
  file: string;
}

export function resourceRef(kind: ResourceKind, key: string): ResourceRef {
  const type = RESOURCE_TYPES[kind];
  return { kind, key, dir: `${type.dir}/${key}`, file: `${type.dir}/${key}/${type.file}` };
}

export function resourceId(ref: { kind: ResourceKind; key: string }): string {
  return `${ref.kind}:${ref.key}`;
}

/**
 * The resource a repository path belongs to, or null for paths outside
 * workflows/ and guides/. The key is returned even when it is invalid so the
 * caller can report it; `keyProblem` tells whether it is.
 */
export function resourceOfPath(path: string): (ResourceRef & { keyProblem: string | null }) | null {
  const slash = path.indexOf('/');
  if (slash < 0) return null;
  const top = path.slice(0, slash);
  const kind = RESOURCE_KINDS.find((k) => RESOURCE_TYPES[k].dir === top);
  if (kind === undefined) return null;
  const rest = path.slice(slash + 1);
  const next = rest.indexOf('/');
  const key = next < 0 ? rest : rest.slice(0, next);
  return { ...resourceRef(kind, key), keyProblem: next < 0 ? 'it is a file, not a resource folder' : keyProblem(key) };
}

export function isManagedPath(path: string): boolean {
  const top = path.split('/', 1)[0] ?? '';
  return MANAGED_TOP_LEVEL.includes(top);
}
