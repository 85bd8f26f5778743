// Precompiles the validators of schemas/*.schema.json into
// dist/core/validate/compiled/<name>.cjs, so that commands load them instead
// of compiling the schemas with ajv at start-up. Each module records the
// SHA-1 of the schema it was built from; a module whose schema has changed
// since is ignored and the schema compiled at run time, as when running from
// source. Run after tsc, which builds the module this script uses:
//
//   tsc -p tsconfig.build.json && node scripts/compile-schemas.mjs

import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = new URL('../dist/core/validate/schemas.js', import.meta.url);
if (!existsSync(built)) {
  console.error(`${fileURLToPath(built)} is missing; run "tsc -p tsconfig.build.json" first.`);
  process.exit(1);
}

const { PRECOMPILED_DIR, SCHEMA_NAMES, precompiledValidatorSource } = await import(built.href);

const dir = fileURLToPath(PRECOMPILED_DIR);
mkdirSync(dir, { recursive: true });
for (const name of SCHEMA_NAMES) {
  const file = fileURLToPath(new URL(`${name}.cjs`, PRECOMPILED_DIR));
  // Written aside and renamed, so a command running meanwhile never loads half a module.
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, precompiledValidatorSource(name));
  renameSync(partial, file);
}
console.log(`Precompiled ${SCHEMA_NAMES.length} schema validators into ${dir}`);
