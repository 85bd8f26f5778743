import { defineResourceType, itemsByKey, titleOf, topLevelTemplates, type ContentProblem, type FieldText } from '../type.js';

export const PARTIAL_TYPES = ['html', 'text', 'markdown', 'json'] as const;
export type PartialType = (typeof PARTIAL_TYPES)[number];

/** The extension the Knock CLI gives a partial's content file, by type. */
export const PARTIAL_EXTENSION: Record<PartialType, string> = { html: 'html', text: 'txt', markdown: 'md', json: 'json' };

function partialType(document: Record<string, unknown>): PartialType | undefined {
  return PARTIAL_TYPES.find((t) => t === document.type);
}

/** Liquid output and tags, blanked out so that the JSON around them can be read. */
const LIQUID = /\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g;

function contentChecks(document: Record<string, unknown>, field: (name: string) => FieldText | undefined): ContentProblem[] {
  const type = partialType(document);
  const content = field('content');
  if (type === undefined || content === undefined) return [];
  const problems: ContentProblem[] = [];
  const reference = document['content@'];
  if (typeof reference === 'string') {
    const extension = reference.slice(reference.lastIndexOf('.') + 1).toLowerCase();
    const expected = PARTIAL_EXTENSION[type];
    if (extension !== expected && !(type === 'markdown' && extension === 'markdown')) {
      problems.push({ field: 'content', message: `A ${type} partial keeps its content in a .${expected} file; ${reference} says otherwise.` });
    }
  }
  // A .json content file is parsed as JSON by the reference checker, which reports where it fails.
  if (type === 'json' && !content.wholeFile) {
    // Liquid inside strings is fine; Liquid outside them stands for a value.
    const text = content.text.replace(LIQUID, (m, offset: number, all: string) => (insideString(all, offset) ? ' '.repeat(m.length) : `0${' '.repeat(m.length - 1)}`));
    try {
      JSON.parse(text);
    } catch (error) {
      const at = /position (\d+)/.exec(error instanceof Error ? error.message : '');
      problems.push({ field: 'content', message: `A json partial holds JSON: ${error instanceof Error ? error.message : String(error)}.`, ...(at ? { offset: Number(at[1]) } : {}) });
    }
  }
  if (type === 'html' && /^\s*[{[]/.test(content.text) && !/</.test(content.text)) {
    problems.push({ field: 'content', message: 'An html partial holds HTML; this content reads as JSON. Set type: json.' });
  }
  return problems;
}

function insideString(text: string, offset: number): boolean {
  let inside = false;
  for (let i = 0; i < offset; i++) {
    if (text[i] === '\\' && inside) i++;
    else if (text[i] === '"') inside = !inside;
  }
  return inside;
}

const SAMPLE: Record<PartialType, string> = {
  html: '<p style="margin: 0 0 16px;">{{ text | default: "Hello" }}</p>\n',
  text: '{{ text | default: "Hello" }}\n',
  markdown: '**{{ text | default: "Hello" }}**\n',
  json: '{ "text": "{{ text | default: \'Hello\' }}" }\n',
};

function scaffold(key: string, options: Record<string, string | undefined>): Record<string, string> {
  const type = PARTIAL_TYPES.find((t) => t === options.type) ?? 'html';
  const file = `content.${PARTIAL_EXTENSION[type]}`;
  return {
    'partial.yaml': `name: ${JSON.stringify(titleOf(key))}
type: ${type}
content@: ${file}
input_schema:
  - key: text
    label: Text
    type: text
    settings:
      default: Hello
`,
    [file]: SAMPLE[type],
  };
}

export const partial = defineResourceType({
  kind: 'partial',
  noun: 'partial',
  plural: 'partials',
  dir: 'partials',
  file: 'partial.yaml',
  mainFileRequired: true,
  exampleKey: 'call-to-action',
  schema: 'partial',
  owner: 'development',
  productionWriteAccess: false,
  templates: (document) => topLevelTemplates(document, ['content']),
  contentChecks,
  items: {
    label: 'parameters',
    list: (document) => itemsByKey(document?.input_schema),
  },
  scaffold,
  scaffoldOptions: [{ name: 'type', description: 'what the content is', choices: PARTIAL_TYPES, default: 'html' }],
  description: 'partials (partials/<key>/partial.yaml; templates use them as {% render "<key>" %})',
  knock: {
    format: 'document',
    mainFile: 'partial.json',
    schemaUrl: 'https://schemas.knock.app/cli/partial.json',
    extractedFields: (document) => [{ field: 'content', file: `content.${PARTIAL_EXTENSION[partialType(document) ?? 'text']}` }],
  },
});
