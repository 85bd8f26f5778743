import { keyProblem as knockKeyProblem, KEY_PATTERN } from '../keys.js';
import { ENVIRONMENTS_DIR, listPhrase } from './environment-files.js';
import type { OwnerRule, ResourceTypeModule } from './type.js';
import { audience } from './types/audience.js';
import { guide } from './types/guide.js';
import { layout } from './types/layout.js';
import { messageType } from './types/message-type.js';
import { partial } from './types/partial.js';
import { translation } from './types/translation.js';
import { workflow } from './types/workflow.js';

export * from './environment-files.js';
export type { ContentProblem, ExtractedField, FieldText, KnockCliLayout, OwnerRule, PlanItems, ResourceTypeModule, ResourceUse, ScaffoldOption, TemplateSubtree } from './type.js';
export { DEFAULT_LAYOUT_KEY } from './types/layout.js';
export { BUILT_IN_MESSAGE_TYPES } from './types/message-type.js';
export { DEFAULT_LOCALE, translationFileOf } from './types/translation.js';

/**
 * Every promotable resource type, in the order listings and reports use. A
 * new type is one module in types/ and its schema in schemas/, added here.
 */
export const RESOURCE_MODULES = [workflow, guide, layout, partial, translation, messageType, audience] as const;

export type ResourceKind = (typeof RESOURCE_MODULES)[number]['kind'];
export type ResourceSchemaName = (typeof RESOURCE_MODULES)[number]['schema'];
export type ResourceType = ResourceTypeModule<ResourceKind, ResourceSchemaName>;

export const RESOURCE_TYPES = Object.fromEntries(RESOURCE_MODULES.map((m) => [m.kind, m])) as Record<ResourceKind, ResourceType>;

export const RESOURCE_KINDS: ResourceKind[] = RESOURCE_MODULES.map((m) => m.kind);

const BY_DIR = new Map<string, ResourceType>(RESOURCE_MODULES.map((m) => [m.dir, m]));

/** The type whose top-level folder is `dir`, or undefined. */
export function resourceTypeOfDir(dir: string): ResourceType | undefined {
  return BY_DIR.get(dir);
}

export function isResourceKind(value: string): value is ResourceKind {
  return Object.hasOwn(RESOURCE_TYPES, value);
}

export const CONFIG_FILE = 'knock-env.yaml';

/** Top-level paths knock-env manages; everything else in the tree is left as it is. */
export const MANAGED_TOP_LEVEL = [CONFIG_FILE, ...RESOURCE_MODULES.map((m) => m.dir), ENVIRONMENTS_DIR];

export interface ResourceRef {
  kind: ResourceKind;
  key: string;
  /** Folder of the resource, e.g. workflows/welcome. */
  dir: string;
  /** Main file, e.g. workflows/welcome/workflow.yaml. */
  file: string;
}

/** The main file's name inside the folder of `key`. */
export function mainFileName(type: ResourceTypeModule, key: string): string {
  return type.mainFile?.(key) ?? type.file;
}

export function resourceRef(kind: ResourceKind, key: string): ResourceRef {
  const type = RESOURCE_TYPES[kind];
  return { kind, key, dir: `${type.dir}/${key}`, file: `${type.dir}/${key}/${mainFileName(type, key)}` };
}

export function resourceId(ref: { kind: ResourceKind; key: string }): string {
  return `${ref.kind}:${ref.key}`;
}

/** Why `key` cannot name a resource of the type, or null. */
export function resourceKeyProblem(kind: ResourceKind, key: string): string | null {
  const type: ResourceTypeModule = RESOURCE_TYPES[kind];
  return type.keyProblem ? type.keyProblem(key) : knockKeyProblem(key);
}

/** The rule keys of the type follow, for messages. */
export function resourceKeyRule(kind: ResourceKind): string {
  const type: ResourceTypeModule = RESOURCE_TYPES[kind];
  return type.keyRule ?? `Keys match ${KEY_PATTERN.source}.`;
}

/**
 * The resource a repository path belongs to, or null for paths outside the
 * resource folders. The key is returned even when it is invalid so the
 * caller can report it; `keyProblem` tells whether it is.
 */
export function resourceOfPath(path: string): (ResourceRef & { keyProblem: string | null }) | null {
  const slash = path.indexOf('/');
  if (slash < 0) return null;
  const type = BY_DIR.get(path.slice(0, slash));
  if (type === undefined) return null;
  const rest = path.slice(slash + 1);
  const next = rest.indexOf('/');
  const key = next < 0 ? rest : rest.slice(0, next);
  return { ...resourceRef(type.kind, key), keyProblem: next < 0 ? 'it is a file, not a resource folder' : resourceKeyProblem(type.kind, key) };
}

export function isManagedPath(path: string): boolean {
  const top = path.split('/', 1)[0] ?? '';
  return MANAGED_TOP_LEVEL.includes(top);
}

/**
 * How ownership of a resource path is decided, for the policy module: the
 * type, whether origin protection applies (the owner is the resource's
 * origin_environment) or the lowest environment always owns it, and whether
 * production write access lets it be created and edited above development.
 * Null for paths outside the resource folders.
 */
export function ownershipOfPath(path: string): { kind: ResourceKind; owner: OwnerRule; originProtected: boolean; productionWriteAccess: boolean } | null {
  const resource = resourceOfPath(path);
  if (resource === null) return null;
  const type = RESOURCE_TYPES[resource.kind];
  return { kind: type.kind, owner: type.owner, originProtected: type.owner === 'origin-environment', productionWriteAccess: type.productionWriteAccess };
}

/** Types whose resources carry origin_environment (origin protection applies). */
export const ORIGIN_PROTECTED_KINDS: ResourceKind[] = RESOURCE_MODULES.filter((m) => m.owner === 'origin-environment').map((m) => m.kind);

/** Types production write access covers. */
export const PRODUCTION_WRITABLE_KINDS: ResourceKind[] = RESOURCE_MODULES.filter((m) => m.productionWriteAccess).map((m) => m.kind);

/** "workflows and guides": the plural nouns of the given types (default: all), for messages. */
export function kindsPhrase(kinds: readonly ResourceKind[] = RESOURCE_KINDS, conjunction: 'and' | 'or' = 'and'): string {
  return listPhrase(kinds.map((k) => RESOURCE_TYPES[k].plural), conjunction);
}

/** "workflows/<key>/ or guides/<key>/": where resources of the given types live, for messages. */
export function foldersPhrase(kinds: readonly ResourceKind[] = RESOURCE_KINDS, conjunction: 'and' | 'or' = 'or'): string {
  return listPhrase(kinds.map((k) => `${RESOURCE_TYPES[k].dir}/<key>/`), conjunction);
}
