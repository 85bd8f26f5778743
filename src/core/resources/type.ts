/**
 * The shape every resource type module declares. Code that handles resources
 * (validation, scaffolding, plans, import and export, ownership) reads these
 * declarations instead of naming types; a new type is one module in types/
 * plus its schema in schemas/.
 */

/** A part of a document where Knock renders Liquid. */
export interface TemplateSubtree {
  node: unknown;
  /** JSON pointer of `node` in the main document ('' for a set of top-level fields). */
  pointer: string;
  /** Dotted path of `node`, as Liquid problems name it (e.g. steps[1].template). */
  field: string;
}

/**
 * Who owns a resource of the type. `origin-environment`: the environment named
 * by the resource's origin_environment (origin protection applies);
 * `development`: the lowest environment, always (Knock versions the type and
 * promotes it; nothing creates or edits it above development).
 */
export type OwnerRule = 'origin-environment' | 'development';

/** How a plan compares the items of a document (the steps of a workflow, the variants of a message type). */
export interface PlanItems {
  /** Plural noun for the items, as plans print it: "steps", "variants". */
  label: string;
  /** The items in order, by id (nested items included). */
  list(document: Record<string, unknown> | null): Map<string, Record<string, unknown>>;
  /** The part of an item compared for "changed" (nested items left out, when they are compared on their own). */
  comparable?(item: Record<string, unknown>): unknown;
}

/** A field Knock's CLI writes to a file of its own (as `<field>@`), and the file name it gives it. */
export interface ExtractedField {
  field: string;
  file: string;
}

/** The resource as the Knock CLI lays it out (`knock pull --all`). */
export interface KnockCliLayout {
  /**
   * `document`: a JSON main file plus the files its `@` fields name, which
   * knock-env keeps as a YAML main file plus the same files. `files`: the
   * files are the same on both sides (translations).
   */
  format: 'document' | 'files';
  /** The main file name (for `document`), e.g. workflow.json. */
  mainFile: string;
  /** The `$schema` the Knock CLI writes into the main file. */
  schemaUrl: string;
  /** Fields the Knock CLI extracts into files, for a document (scaffolds write them the same way). */
  extractedFields?(document: Record<string, unknown>): ExtractedField[];
}

/** An option of `<type> new`, e.g. `partial new <key> --type markdown`. */
export interface ScaffoldOption {
  name: string;
  description: string;
  /** Allowed values; any value when absent. */
  choices?: readonly string[];
  default?: string;
}

/** The text of a top-level field, inline or read from its `@` file. */
export interface FieldText {
  text: string;
  /** Repository path of the file the text is in (the main file for an inline value). */
  file: string;
  /** Whether the text is the whole file (an `@` file) rather than a value in the main file. */
  wholeFile: boolean;
}

/** A problem a type's own content checks find, in one top-level field. */
export interface ContentProblem {
  field: string;
  message: string;
  /** Offset in the field's text where the problem is, when it is one place. */
  offset?: number;
}

/** A name of another resource a document uses, by where it says so. */
export interface ResourceUse {
  kind: string;
  key: string;
  /** JSON pointer of the field naming it, in the main file. */
  pointer: string;
  /** Variant of a message type (a guide step's schema_variant_key). */
  variant?: string;
}

export interface ResourceTypeModule<K extends string = string, S extends string = string> {
  /** Stable name of the type, used in ids (`<kind>:<key>`), JSON output and the command `<kind> new`. */
  kind: K;
  /** How messages name one and several: "message type", "message types". */
  noun: string;
  plural: string;
  /** Top-level folder holding one sub-folder per resource. */
  dir: string;
  /** The main file inside a resource folder, as users read it (e.g. workflow.yaml, <locale>.json). */
  file: string;
  /** The main file of one resource; `file` for every key unless the name depends on it. */
  mainFile?(key: string): string;
  /** Whether a folder needs its main file (a locale may hold only namespaced translation files). */
  mainFileRequired: boolean;
  /** Schema name in schemas/ (without .schema.json), for the main file. */
  schema: S;
  /** Why a folder name is not a key of this type, or null; default: Knock's key rule. */
  keyProblem?(key: string): string | null;
  /** The rule keys follow, for messages. */
  keyRule?: string;
  /** A key of the type, for help texts and examples. */
  exampleKey: string;
  owner: OwnerRule;
  /** Whether production write access lets resources of the type be created and edited above development. */
  productionWriteAccess: boolean;
  /** Where Knock renders Liquid in a parsed main document. */
  templates(document: unknown): TemplateSubtree[];
  /** Checks beyond the schema: `field` gives a top-level field's text, inline or from its `@` file. */
  contentChecks?(document: Record<string, unknown>, field: (name: string) => FieldText | undefined): ContentProblem[];
  /** Other resources the document names in its fields (template names inside Liquid are found by the reference checker). */
  uses?(document: Record<string, unknown>): ResourceUse[];
  /**
   * For types whose folder holds several files of one kind (a locale's
   * translations): why a file of the folder does not belong there, or null.
   * Each such file is a JSON document checked against the type's schema.
   */
  folderFileProblem?(key: string, path: string): string | null;
  /** How plans compare the document's items; none when it has no list of items. */
  items?: PlanItems;
  /** What `<kind> new` writes, relative to the resource folder; main YAML files get the editor hint added. */
  scaffold(key: string, options: Record<string, string | undefined>): Record<string, string>;
  scaffoldArgument?: string;
  scaffoldOptions?: readonly ScaffoldOption[];
  /** One line for `<kind> --help`. */
  description: string;
  knock: KnockCliLayout;
}

/** Keeps a module's literal kind and schema name, so the registry can derive the union of kinds. */
export function defineResourceType<const K extends string, const S extends string>(module: ResourceTypeModule<K, S>): ResourceTypeModule<K, S> {
  return module;
}

/** The dotted path of a child: steps[1].template. */
export function childPath(parent: string, segment: string | number): string {
  if (typeof segment === 'number') return `${parent}[${segment}]`;
  return parent === '' ? segment : `${parent}.${segment}`;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The top-level fields of a document that hold templates, inline or as `@`
 * files, as one subtree (the `@` files are resolved by the Liquid reader).
 */
export function topLevelTemplates(document: unknown, fields: readonly string[]): TemplateSubtree[] {
  if (!isRecord(document)) return [];
  const node: Record<string, unknown> = {};
  for (const field of fields) {
    for (const name of [field, `${field}@`]) if (Object.hasOwn(document, name)) node[name] = document[name];
  }
  return Object.keys(node).length === 0 ? [] : [{ node, pointer: '', field: '' }];
}

/** The title a scaffold gives a resource: "welcome-email" -> "Welcome email". */
export function titleOf(key: string): string {
  const text = key.split(/[-_]+/).filter(Boolean).join(' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The objects of a list by their `key` field (position when absent), for plan comparisons. */
export function itemsByKey(list: unknown): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  if (!Array.isArray(list)) return out;
  list.forEach((item, i) => {
    if (isRecord(item)) out.set(typeof item.key === 'string' ? item.key : `#${i}`, item);
  });
  return out;
}
