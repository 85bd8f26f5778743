import type { CoreOptions } from '../context.js';
import { KnockEnvError } from '../errors.js';
import { exists } from '../git/fs.js';
import { describeKey } from '../keys.js';
import { findGitdir } from '../project.js';
import { yamlSchemaModeline } from '../knock-format/import.js';
import { RESOURCE_TYPES, resourceKeyProblem, resourceKeyRule, resourceRef, type ResourceKind } from '../resources.js';

export interface ScaffoldResult {
  kind: ResourceKind;
  key: string;
  dir: string;
  files: string[];
}

export interface ScaffoldOptions extends Pick<CoreOptions, 'fs' | 'dir'> {
  kind: ResourceKind;
  key: string;
  /** The type's `<kind> new` options (e.g. `type` for a partial), by name. */
  options?: Record<string, string | undefined>;
}

/**
 * Writes a new, valid resource into the working tree (not committed): the
 * files its type module scaffolds, the main YAML file with the editor's
 * schema hint. Refuses a resource folder that already exists, and for types
 * whose folder holds several resources (a locale's translations) any file
 * that exists.
 */
export async function scaffoldResource(options: ScaffoldOptions): Promise<ScaffoldResult> {
  const type = RESOURCE_TYPES[options.kind];
  const problem = resourceKeyProblem(options.kind, options.key);
  if (problem !== null) {
    throw new KnockEnvError('INVALID_KEY', `Invalid ${type.noun} key ${describeKey(options.key)}: ${problem}.`, {
      hint: resourceKeyRule(options.kind),
      data: { key: options.key, problem },
    });
  }
  const values = checkedOptions(options.kind, options.options ?? {});
  const found = await findGitdir(options);
  const root = found?.dir ?? options.dir;
  const ref = resourceRef(options.kind, options.key);
  const files = type.scaffold(options.key, values);
  if (type.mainFileRequired && (await exists(options.fs, `${root}/${ref.dir}`))) {
    throw new KnockEnvError('REFUSED', `${ref.dir} already exists.`, { hint: 'Edit it, or choose another key.' });
  }
  for (const name of Object.keys(files)) {
    if (await exists(options.fs, `${root}/${ref.dir}/${name}`)) {
      throw new KnockEnvError('REFUSED', `${ref.dir}/${name} already exists.`, { hint: 'Edit it, or choose another name.' });
    }
  }
  const written: string[] = [];
  for (const [name, text] of Object.entries(files)) {
    const path = `${root}/${ref.dir}/${name}`;
    const content = name.endsWith('.yaml') && `${ref.dir}/${name}` === ref.file ? `${yamlSchemaModeline(type.schema)}\n${text}` : text;
    await options.fs.promises.mkdir(path.slice(0, path.lastIndexOf('/')), { recursive: true });
    await options.fs.promises.writeFile(path, content);
    written.push(`${ref.dir}/${name}`);
  }
  return { kind: options.kind, key: options.key, dir: ref.dir, files: written };
}

/** The options a scaffold gets: defaults filled in, values outside a choice list refused. */
function checkedOptions(kind: ResourceKind, given: Record<string, string | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const option of RESOURCE_TYPES[kind].scaffoldOptions ?? []) {
    const value = given[option.name] ?? option.default;
    if (value !== undefined && option.choices !== undefined && !option.choices.includes(value)) {
      throw new KnockEnvError('USAGE', `--${option.name} must be one of ${option.choices.join(', ')} (got ${JSON.stringify(value)}).`, {
        hint: `Run \`knock-env ${kind} new --help\`.`,
      });
    }
    out[option.name] = value;
  }
  return out;
}
