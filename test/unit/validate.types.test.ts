import { describe, expect, it } from 'vitest';
import { validateResource } from '../../src/core/validate/resource.js';
import type { SourceReader } from '../../src/core/validate/types.js';
import { memoryReader } from './validate-helpers.js';

/** A reader that can also list a folder, as the working tree and git trees can. */
function folderReader(files: Record<string, string>): SourceReader {
  const reader = memoryReader(files);
  return {
    ...reader,
    list: async (dir) => Object.keys(files).filter((p) => p.startsWith(`${dir}/`)).map((p) => p.slice(dir.length + 1)).sort(),
  };
}

describe('validation of layouts, partials, message types and translations', () => {
  it('reports every problem of a layout at once: no {{ content }} in the HTML, Liquid that does not compile in the text', async () => {
    const result = await validateResource({
      kind: 'layout',
      key: 'transactional',
      read: folderReader({
        'layouts/transactional/layout.yaml': 'name: Transactional\nhtml_layout@: html_layout.html\ntext_layout@: text_layout.txt\n',
        'layouts/transactional/html_layout.html': '<html><body>{{ body }}</body></html>\n',
        'layouts/transactional/text_layout.txt': '{{ content }}\n{% if x %}\n',
      }),
    });
    expect(result.issues.map((i) => [i.code, i.file, i.line])).toEqual([
      ['content', 'layouts/transactional/html_layout.html', 1],
      ['liquid-syntax', 'layouts/transactional/text_layout.txt', 2],
    ]);
    expect(result.issues[0]!.message).toContain('{{ content }}');
  });

  it('accepts an inline HTML layout with {{ content }} and refuses an origin_environment (layouts belong to development)', async () => {
    const ok = await validateResource({ kind: 'layout', key: 'inline-one', read: folderReader({ 'layouts/inline-one/layout.yaml': 'name: Inline\nhtml_layout: "<div>{{ content }}</div>"\n' }) });
    expect(ok.issues).toEqual([]);
    const owned = await validateResource({ kind: 'layout', key: 'inline-one', read: folderReader({ 'layouts/inline-one/layout.yaml': 'name: Inline\nhtml_layout: "<div>{{content}}</div>"\norigin_environment: production\n' }) });
    expect(owned.issues.map((i) => [i.code, i.line])).toEqual([['schema', 3]]);
  });

  it("checks a partial's content against its type: a JSON partial holds JSON (Liquid in strings, or standing for a value inline), the file extension matches", async () => {
    const json = await validateResource({
      kind: 'partial',
      key: 'button-data',
      read: folderReader({
        'partials/button-data/partial.yaml': 'name: Button data\ntype: json\ncontent@: content.json\n',
        'partials/button-data/content.json': '{\n  "label": "{{ label }}",\n}\n',
      }),
    });
    expect(json.issues.map((i) => [i.code, i.file, i.line])).toEqual([['json-syntax', 'partials/button-data/content.json', 3]]);
    const inline = await validateResource({
      kind: 'partial',
      key: 'button-data',
      read: folderReader({ 'partials/button-data/partial.yaml': 'name: Button data\ntype: json\ncontent: \'{ "label": "{{ label }}", "count": {{ count }} }\'\n' }),
    });
    expect(inline.issues).toEqual([]);
    const notJson = await validateResource({
      kind: 'partial',
      key: 'button-data',
      read: folderReader({ 'partials/button-data/partial.yaml': 'name: Button data\ntype: json\ncontent: "<p>{{ label }}</p>"\n' }),
    });
    expect(notJson.issues.map((i) => [i.code, i.line, i.pointer])).toEqual([['content', 3, '/content']]);
    const mismatch = await validateResource({
      kind: 'partial',
      key: 'callout',
      read: folderReader({ 'partials/callout/partial.yaml': 'name: Callout\ntype: markdown\ncontent@: content.html\n', 'partials/callout/content.html': '**{{ text }}\n' }),
    });
    expect(mismatch.issues.map((i) => [i.code, i.message])).toEqual([['content', expect.stringContaining('.md file')]]);
  });

  it("compiles a message type's preview and names the place of a Liquid error", async () => {
    const result = await validateResource({
      kind: 'message-type',
      key: 'feature-card',
      read: folderReader({
        'message-types/feature-card/message_type.yaml': 'name: Card\npreview@: preview.html\nvariants:\n  - key: default\n    name: Default\n    fields: []\n',
        'message-types/feature-card/preview.html': '<h2>{{ title }}</h2>\n<p>{% if body %}{{ body }}</p>\n',
      }),
    });
    expect(result.issues.map((i) => [i.code, i.file, i.line])).toEqual([['liquid-syntax', 'message-types/feature-card/preview.html', 2]]);
  });

  it('validates every file of a locale folder: JSON syntax with line and column, objects only, Liquid in strings, file names', async () => {
    const result = await validateResource({
      kind: 'translation',
      key: 'en',
      read: folderReader({
        'translations/en/en.json': '{\n  "greeting": "Hello",\n  "bad": "Hi {{ name "\n}\n',
        'translations/en/admin.en.json': '{\n  "title": "Admin",\n  "count": 3,\n}\n',
        'translations/en/billing.en.json': '["not", "an object"]\n',
        'translations/en/notes.txt': 'stray\n',
      }),
    });
    expect(result.issues.map((i) => [i.code, i.file, i.line])).toEqual([
      ['json-syntax', 'translations/en/admin.en.json', 4],
      ['schema', 'translations/en/billing.en.json', 1],
      ['liquid-syntax', 'translations/en/en.json', 3],
      ['unexpected-file', 'translations/en/notes.txt', undefined],
    ]);
    const good = await validateResource({ kind: 'translation', key: 'en-US', read: folderReader({ 'translations/en-US/en-US.json': '{ "a": { "b": "c" } }', 'translations/en-US/admin.en-US.json': '{}' }) });
    expect(good.issues).toEqual([]);
    const badLocale = await validateResource({ kind: 'translation', key: 'english', read: folderReader({}) });
    expect(badLocale.issues.map((i) => i.code)).toEqual(['invalid-key']);
  });
});
