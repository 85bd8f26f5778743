import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { isKnockEnvError, type KnockEnvError } from '../../src/core/errors.js';
import { checkRange } from '../../src/core/ops/check.js';
import { commitChanges } from '../../src/core/ops/commit.js';
import { createEnvironment } from '../../src/core/ops/environments.js';
import { initProject } from '../../src/core/ops/init.js';
import { createKey } from '../../src/core/ops/members.js';
import { promoteEnvironment } from '../../src/core/ops/promote.js';
import { scaffoldResource } from '../../src/core/ops/scaffold.js';
import { validateWorkingTree } from '../../src/core/ops/validate.js';
import { validateConfigText } from '../../src/core/validate/config.js';
import { coreOptionsFor, diskFs, git, tempDir } from '../helpers/repo.js';

/**
 * Each rule here was once removable without any test noticing; each test
 * fails when its rule is taken out.
 */

const WELCOME = 'workflows/welcome-email/workflow.yaml';
const HTML = 'workflows/welcome-email/email_1/html_body.html';

async function project(): Promise<string> {
  const dir = await tempDir();
  const as = () => coreOptionsFor(dir);
  await initProject(as());
  await createEnvironment({ ...as(), slug: 'staging' });
  await scaffoldResource({ fs: diskFs, dir, kind: 'workflow', key: 'welcome-email' });
  await commitChanges({ ...as(), message: 'Welcome' });
  return dir;
}

async function refusal(promise: Promise<unknown>): Promise<KnockEnvError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isKnockEnvError(error)) throw new Error(`expected a KnockEnvError, got ${String(error)}`);
  return error;
}

describe('rules pinned by tests', () => {
  it('commit refuses a change of origin_environment of an existing resource, and writes nothing', async () => {
    const dir = await project();
    const before = await git(dir, 'rev-parse', 'development');
    const text = await readFile(`${dir}/${WELCOME}`, 'utf8');
    expect(text).toContain('origin_environment: development');
    await writeFile(`${dir}/${WELCOME}`, text.replace('origin_environment: development', 'origin_environment: staging'));
    const error = await refusal(commitChanges({ ...coreOptionsFor(dir), message: 'Take it over' }));
    expect(error.code).toBe('OWNERSHIP');
    expect((error.data?.problems as { code: string; path: string }[]).map((p) => [p.code, p.path])).toEqual([['origin-changed', WELCOME]]);
    expect(error.hint).toContain('Restore `origin_environment: development`');
    expect(await git(dir, 'rev-parse', 'development')).toBe(before);
  });

  it('refuses two API keys with the same name in knock-env.yaml', async () => {
    const dir = await project();
    await createKey({ ...coreOptionsFor(dir), environment: 'staging', name: 'ci' });
    await createKey({ ...coreOptionsFor(dir), environment: 'development', name: 'ci-dev' });
    const text = await git(dir, 'show', 'production:knock-env.yaml');
    expect(validateConfigText(text).issues).toEqual([]);
    const twice = text.replace('name: ci-dev', 'name: ci');
    expect(twice).not.toBe(text);
    const { issues, data } = validateConfigText(twice);
    expect(data).toBeUndefined();
    expect(issues).toEqual([expect.objectContaining({ code: 'config-rule', pointer: '/api_keys/1/name', message: 'API key name "ci" is used twice.' })]);
  });

  it('refuses an account without an owner', () => {
    const text = 'version: 1\nenvironments:\n  - slug: development\n    settings: { obfuscate_recipient_data: false, show_message_contents: true }\n  - slug: production\n    settings: { obfuscate_recipient_data: true, show_message_contents: false }\nsettings:\n  production_write_access: false\nmembers:\n  - email: ada@example.com\n    role: admin\n';
    expect(validateConfigText(text).issues).toEqual([expect.objectContaining({ code: 'config-rule', pointer: '/members', message: expect.stringMatching(/has no owner/) })]);
    expect(validateConfigText(text.replace('role: admin', 'role: owner')).issues).toEqual([]);
  });

  it('validate, commit and check report a Liquid error of a template', async () => {
    const dir = await project();
    await writeFile(`${dir}/${HTML}`, '<p>{% if recipient.name %}Hi</p>\n');
    const report = await validateWorkingTree({ fs: diskFs, dir });
    expect(report.resources.flatMap((r) => r.issues).map((i) => [i.file, i.code])).toEqual([[HTML, 'liquid-syntax']]);
    const error = await refusal(commitChanges({ ...coreOptionsFor(dir), message: 'Broken Liquid' }));
    expect(error.code).toBe('VALIDATION_FAILED');
    expect((error.data?.issues as { file: string; code: string }[]).map((i) => [i.file, i.code])).toEqual([[HTML, 'liquid-syntax']]);
    await git(dir, 'checkout', '-q', '-b', 'pr');
    await git(dir, 'commit', '-qam', 'Broken Liquid');
    const checked = await checkRange({ fs: diskFs, dir, base: 'development', head: 'pr' });
    expect(checked.issues.map((i) => [i.file, i.code])).toEqual([[HTML, 'liquid-syntax']]);
  });

  it('promote refuses invalid content committed on development with plain git, and moves nothing', async () => {
    const dir = await project();
    await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'staging' });
    const staging = await git(dir, 'rev-parse', 'staging');
    const text = await readFile(`${dir}/${WELCOME}`, 'utf8');
    await writeFile(`${dir}/${WELCOME}`, text.replace(/^steps:/m, 'steps: 3\nold_steps:'));
    await git(dir, 'commit', '-qam', 'Invalid, with plain git');
    const error = await refusal(promoteEnvironment({ ...coreOptionsFor(dir), environment: 'staging' }));
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.message).toMatch(/nothing was promoted/);
    expect(await git(dir, 'rev-parse', 'staging')).toBe(staging);
  });
});
