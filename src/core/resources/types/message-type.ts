import { defineResourceType, itemsByKey, titleOf, topLevelTemplates } from '../type.js';

/**
 * Knock's built-in message types: every account has them, so guides may use
 * them without the repository holding them (a repository that customises one
 * holds it under the same key). Variants by message type.
 */
export const BUILT_IN_MESSAGE_TYPES: Readonly<Record<string, readonly string[]>> = {
  banner: ['default', 'single-action', 'multi-action'],
  card: ['default', 'single-action', 'multi-action'],
  modal: ['default', 'single-action', 'multi-action'],
};

function scaffold(key: string): Record<string, string> {
  return {
    'message_type.yaml': `name: ${JSON.stringify(titleOf(key))}
description: Describe where this component shows.
semver: 0.0.1
preview@: preview.html
variants:
  - key: default
    name: Default
    fields:
      - key: title
        label: Title
        type: text
        settings:
          required: true
          default: ${JSON.stringify(titleOf(key))}
      - key: body
        label: Body
        type: markdown
        settings:
          required: true
          default: Tell people what is new.
`,
    'preview.html': '<div class="card">\n  <h2>{{ title }}</h2>\n  <div>{{ body }}</div>\n</div>\n',
  };
}

export const messageType = defineResourceType({
  kind: 'message-type',
  noun: 'message type',
  plural: 'message types',
  dir: 'message-types',
  file: 'message_type.yaml',
  mainFileRequired: true,
  exampleKey: 'feature-card',
  schema: 'message-type',
  owner: 'development',
  productionWriteAccess: false,
  templates: (document) => topLevelTemplates(document, ['preview']),
  items: { label: 'variants', list: (document) => itemsByKey(document?.variants) },
  scaffold,
  description: 'message types, the schemas of guide steps (message-types/<key>/message_type.yaml)',
  knock: {
    format: 'document',
    mainFile: 'message_type.json',
    schemaUrl: 'https://schemas.knock.app/cli/message-type.json',
    extractedFields: () => [{ field: 'preview', file: 'preview.html' }],
  },
});
