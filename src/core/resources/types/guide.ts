import { childPath, defineResourceType, isRecord, titleOf, type ResourceUse, type TemplateSubtree } from '../type.js';
import { flattenSteps } from './workflow.js';

/** Where Knock renders Liquid in a guide: the values of its steps. */
function guideTemplates(document: unknown): TemplateSubtree[] {
  if (!isRecord(document) || !Array.isArray(document.steps)) return [];
  const out: TemplateSubtree[] = [];
  document.steps.forEach((step, i) => {
    if (isRecord(step) && step.values !== undefined) out.push({ node: step.values, pointer: `/steps/${i}/values`, field: childPath(childPath('steps', i), 'values') });
  });
  return out;
}

/** The message types (and variants) a guide's steps are built on. */
function guideUses(document: Record<string, unknown>): ResourceUse[] {
  if (!Array.isArray(document.steps)) return [];
  return document.steps.flatMap((step, i): ResourceUse[] =>
    isRecord(step) && typeof step.schema_key === 'string'
      ? [{ kind: 'message-type', key: step.schema_key, pointer: `/steps/${i}/schema_key`, ...(typeof step.schema_variant_key === 'string' ? { variant: step.schema_variant_key } : {}) }]
      : [],
  );
}

function scaffold(key: string): Record<string, string> {
  return {
    'guide.yaml': `name: ${JSON.stringify(titleOf(key))}
description: Describe what this guide shows.
channel_key: knock-guide
type: banner
steps:
  - ref: step_1
    schema_key: banner
    schema_semver: 0.0.1
    schema_variant_key: default
    values:
      title: ${JSON.stringify(titleOf(key))}
      body: Tell people what is new.
      dismissible: true
`,
  };
}

export const guide = defineResourceType({
  kind: 'guide',
  noun: 'guide',
  plural: 'guides',
  dir: 'guides',
  file: 'guide.yaml',
  mainFileRequired: true,
  exampleKey: 'product-tour',
  schema: 'guide',
  owner: 'origin-environment',
  productionWriteAccess: true,
  templates: guideTemplates,
  uses: guideUses,
  items: { label: 'steps', list: (document) => flattenSteps(document?.steps) },
  scaffold,
  description: 'guide resources (guides/<key>/guide.yaml)',
  knock: { format: 'document', mainFile: 'guide.json', schemaUrl: 'https://schemas.knock.app/cli/guide.json' },
});
