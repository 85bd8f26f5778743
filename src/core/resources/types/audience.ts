import { defineResourceType, itemsByKey, titleOf } from '../type.js';

function scaffold(key: string): Record<string, string> {
  return {
    'audience.yaml': `name: ${JSON.stringify(titleOf(key))}
description: Describe who is in this audience.
type: dynamic
segments:
  - conditions:
      - property: recipient.plan
        operator: equal_to
        argument: premium
`,
  };
}

export const audience = defineResourceType({
  kind: 'audience',
  noun: 'audience',
  plural: 'audiences',
  dir: 'audiences',
  file: 'audience.yaml',
  mainFileRequired: true,
  exampleKey: 'premium-users',
  schema: 'audience',
  owner: 'development',
  productionWriteAccess: false,
  templates: () => [],
  items: { label: 'segments', list: (document) => itemsByKey(document?.segments) },
  scaffold,
  description: 'audiences (audiences/<key>/audience.yaml: static, or dynamic with segments)',
  knock: { format: 'document', mainFile: 'audience.json', schemaUrl: 'https://schemas.knock.app/cli/audience.json' },
});
