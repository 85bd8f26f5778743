import { createRequire } from 'node:module';
import type * as YamlModule from 'yaml';

const require = createRequire(import.meta.url);
let loaded: typeof YamlModule | undefined;

/**
 * The `yaml` package, loaded on first use. Loading it costs about 60 ms, and
 * most commands never need it: the fast parser reads their files, and only
 * errors, unusual syntax and edits that keep comments call for it.
 */
export function yamlLib(): typeof YamlModule {
  loaded ??= require('yaml') as typeof YamlModule;
  return loaded;
}
