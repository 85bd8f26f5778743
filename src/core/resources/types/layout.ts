import { defineResourceType, titleOf, topLevelTemplates, type ContentProblem, type FieldText } from '../type.js';

/** `{{ content }}`, where Knock puts the message body. */
export const CONTENT_TAG = /\{\{-?\s*content\s*-?\}\}/;

/** The layout every Knock account starts with; templates may name it without the repository holding it. */
export const DEFAULT_LAYOUT_KEY = 'default';

function contentChecks(document: Record<string, unknown>, field: (name: string) => FieldText | undefined): ContentProblem[] {
  const html = field('html_layout');
  if (html === undefined || CONTENT_TAG.test(html.text)) return [];
  const what = document.is_mjml === true ? 'MJML' : 'HTML';
  return [{ field: 'html_layout', message: `The ${what} layout has no {{ content }}: Knock puts the message body there.` }];
}

function scaffold(key: string): Record<string, string> {
  return {
    'layout.yaml': `name: ${JSON.stringify(titleOf(key))}
html_layout@: html_layout.html
text_layout@: text_layout.txt
footer_links:
  - text: Manage preferences
    url: "{{ vars.app_url }}/preferences"
`,
    'html_layout.html': `<!doctype html>
<html>
  <body style="font-family: sans-serif; margin: 0; padding: 24px;">
    {{ content }}
    <footer style="margin-top: 32px; font-size: 12px; color: #666;">
      {% for link in footer_links %}<a href="{{ link.url }}">{{ link.text }}</a> {% endfor %}
    </footer>
  </body>
</html>
`,
    'text_layout.txt': `{{ content }}

{% for link in footer_links %}{{ link.text }}: {{ link.url }}
{% endfor %}`,
  };
}

export const layout = defineResourceType({
  kind: 'layout',
  noun: 'email layout',
  plural: 'email layouts',
  dir: 'layouts',
  file: 'layout.yaml',
  mainFileRequired: true,
  exampleKey: 'transactional',
  schema: 'layout',
  owner: 'development',
  productionWriteAccess: false,
  templates: (document) => topLevelTemplates(document, ['html_layout', 'text_layout']),
  contentChecks,
  scaffold,
  description: 'email layouts (layouts/<key>/layout.yaml; the body goes where the layout says {{ content }})',
  knock: {
    format: 'document',
    mainFile: 'layout.json',
    schemaUrl: 'https://schemas.knock.app/cli/email-layout.json',
    extractedFields: () => [
      { field: 'html_layout', file: 'html_layout.html' },
      { field: 'text_layout', file: 'text_layout.txt' },
    ],
  },
});
