import { defineResourceType } from '../type.js';

/** A locale code as Knock takes it: a language, then optional region or script subtags (en, en-US, zh-Hans-CN). */
export const LOCALE_PATTERN = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;

/** The account's default locale, which translation keys are checked against (Knock's default). */
export const DEFAULT_LOCALE = 'en';

/** A translation namespace: letters, digits, "_" and "-". */
export const NAMESPACE_PATTERN = /^[a-zA-Z0-9_-]{1,255}$/;

function localeProblem(locale: string): string | null {
  if (locale.length === 0) return 'it is empty';
  if (locale.length > 35) return 'it is longer than 35 characters';
  return LOCALE_PATTERN.test(locale) ? null : 'it is not a locale code such as en, en-US or zh-Hans-CN';
}

/** The locale and namespace a file of a locale folder holds, or why it does not belong there. */
export function translationFileOf(locale: string, path: string): { namespace: string | null } | { problem: string } {
  if (path.includes('/')) return { problem: `translations/${locale}/ holds files only, no folders` };
  if (path === `${locale}.json`) return { namespace: null };
  const suffix = `.${locale}.json`;
  if (path.endsWith(suffix)) {
    const namespace = path.slice(0, -suffix.length);
    if (NAMESPACE_PATTERN.test(namespace)) return { namespace };
    return { problem: `"${namespace}" is not a namespace (letters, digits, "_" and "-")` };
  }
  return { problem: `translations/${locale}/ holds ${locale}.json and <namespace>.${locale}.json files only` };
}

export const translation = defineResourceType({
  kind: 'translation',
  noun: 'translation',
  plural: 'translations',
  dir: 'translations',
  file: '<locale>.json',
  mainFile: (locale) => `${locale}.json`,
  mainFileRequired: false,
  exampleKey: 'en',
  schema: 'translation',
  keyProblem: localeProblem,
  keyRule: 'Locale folders are named by a locale code such as en, en-US or zh-Hans-CN.',
  owner: 'development',
  productionWriteAccess: false,
  templates: () => [],
  folderFileProblem: (locale, path) => {
    const found = translationFileOf(locale, path);
    return 'problem' in found ? found.problem : null;
  },
  scaffold: (locale, options) => {
    const namespace = options.namespace;
    return { [namespace ? `${namespace}.${locale}.json` : `${locale}.json`]: `${JSON.stringify({ greeting: 'Hello, {{ name }}!' }, null, 2)}\n` };
  },
  scaffoldArgument: 'locale',
  scaffoldOptions: [{ name: 'namespace', description: 'write <namespace>.<locale>.json instead of <locale>.json' }],
  description: 'translations, as Knock keeps them (translations/<locale>/<locale>.json and <namespace>.<locale>.json)',
  knock: { format: 'files', mainFile: '<locale>.json', schemaUrl: '' },
});
