// Refuses imports that go up the layers of src/ (docs/ARCHITECTURE.md): a file may
// import files of its own layer and of the layers below it, never above. Type-only
// imports are erased at run time and may name a shape defined above (CoreOptions
// names the RemoteAccess the command line passes in); `npm run cycles` still counts them.
import madge from 'madge';

/** Lowest first; a path belongs to the first layer with a matching prefix. */
const LAYERS = [
  ['foundations', ['core/errors.ts', 'core/yaml-lib.ts', 'core/yaml-edit.ts', 'core/textdiff.ts', 'core/keys.ts', 'core/context.ts']],
  ['git', ['core/git/']],
  ['resources and validation', ['core/resources', 'core/validate/', 'core/liquid/', 'core/knock-format/', 'core/run/', 'core/project.ts', 'core/worktree.ts', 'core/validation-cache.ts']],
  ['policy', ['core/policy/', 'core/access.ts', 'core/ownership.ts']],
  ['operations', ['core/ops/']],
  ['remote and server', ['core/remote/', 'core/server/', 'core/deploy/', 'core/knock-api/']],
  ['command line', ['cli/']],
];

/**
 * Upward imports that are being removed; each must still occur (a stale entry fails the
 * check too, so the list only shrinks).
 */
const KNOWN_UPWARD = [
  // originOf moves into the policy module.
  'core/ownership.ts -> core/ops/analyse.ts',
];

function layerOf(file) {
  const index = LAYERS.findIndex(([, prefixes]) => prefixes.some((prefix) => file.startsWith(prefix)));
  return index;
}

const graph = (
  await madge('src', { fileExtensions: ['ts'], tsConfig: 'tsconfig.json', detectiveOptions: { ts: { skipTypeImports: true } } })
).obj();
const problems = [];
const known = new Set(KNOWN_UPWARD);
const seen = new Set();
for (const [file, imports] of Object.entries(graph)) {
  const from = layerOf(file);
  if (from < 0) {
    problems.push(`src/${file} belongs to no layer: add it to LAYERS in scripts/check-layers.mjs`);
    continue;
  }
  for (const target of imports) {
    const to = layerOf(target);
    if (to <= from) continue;
    const edge = `${file} -> ${target}`;
    if (known.has(edge)) seen.add(edge);
    else problems.push(`src/${file} (${LAYERS[from][0]}) imports src/${target} (${LAYERS[to][0]}), a layer above it`);
  }
}
for (const edge of known) if (!seen.has(edge)) problems.push(`${edge} is listed in KNOWN_UPWARD but no longer imported: remove it from the list`);
if (problems.length > 0) {
  for (const problem of problems) console.error(problem);
  console.error(`\n${problems.length} upward import${problems.length === 1 ? '' : 's'}; layers, lowest first: ${LAYERS.map(([name]) => name).join(' → ')}. Move the shared code down, or pass it in from above.`);
  process.exit(1);
}
console.log(`No upward imports across ${Object.keys(graph).length} files (${LAYERS.map(([name]) => name).join(' → ')}); ${seen.size} known one${seen.size === 1 ? '' : 's'} being removed.`);
