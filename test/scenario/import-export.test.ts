import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isKnockEnvError } from '../../src/core/errors.js';
import type { FileSystem } from '../../src/core/git/fs.js';
import { commitChanges } from '../../src/core/ops/commit.js';
import { createEnvironment } from '../../src/core/ops/environments.js';
import { exportEnvironment } from '../../src/core/ops/export.js';
import { importKnockDirectory } from '../../src/core/ops/import.js';
import { initProject } from '../../src/core/ops/init.js';
import { promoteEnvironment } from '../../src/core/ops/promote.js';
import { describeSchemas } from '../../src/core/ops/schemas.js';
import { RESOURCE_MODULES, RESOURCE_TYPES, type ResourceKind } from '../../src/core/resources.js';
import { SCHEMA_NAMES } from '../../src/core/validate/schemas.js';
import { KNOCK_TEMPLATES, assertChain, coreOptionsFor, diskFs, git, tempDir, filesUnder } from '../helpers/repo.js';


async function writeFiles(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

async function newProject(): Promise<string> {
  const dir = await tempDir();
  await initProject(coreOptionsFor(dir));
  return dir;
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return isKnockEnvError(error) ? error.code : `untyped: ${String(error)}`;
  }
  return undefined;
}

/** Keys of every object in a JSON value, in order, with their paths: equal lists mean equal field order everywhere. */
function fieldOrder(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => fieldOrder(item, `${path}/${i}`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, item]) => [`${path}/${key}`, ...fieldOrder(item, `${path}/${key}`)]);
}

/** A small workflow in the Knock CLI's layout. */
function knockWorkflow(name: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'workflow.json': `${JSON.stringify(
      {
        name,
        steps: [
          {
            channel_key: 'in-app-feed',
            channel_type: 'in_app_feed',
            name: 'In-app feed',
            ref: 'in_app_feed_1',
            template: { 'markdown_body@': 'in_app_feed_1/markdown_body.md' },
            type: 'channel',
          },
        ],
        __readonly: { key: 'x', active: false },
        $schema: 'https://schemas.knock.app/cli/workflow.json',
      },
      null,
      2,
    )}\n`,
    'in_app_feed_1/markdown_body.md': `Hello from ${name}\n`,
    ...extra,
  };
}

function underFolder(folder: string, files: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([path, content]) => [`${folder}/${path}`, content]));
}

describe('import → commit → promote → export of every Knock template', () => {
  it('gives back the original JSON (less __readonly), field order included, and every referenced file byte for byte', async () => {
    const dir = await newProject();
    const result = await importKnockDirectory({ fs: diskFs, dir, source: KNOCK_TEMPLATES });

    // Every type of the registry the template library ships (workflows, guides, partials, message types).
    const expected: { kind: ResourceKind; key: string }[] = [];
    for (const type of RESOURCE_MODULES) {
      if (!existsSync(join(KNOCK_TEMPLATES, type.dir))) continue;
      for (const key of (await readdir(join(KNOCK_TEMPLATES, type.dir))).sort()) expected.push({ kind: type.kind, key });
    }
    expect(new Set(expected.map((e) => e.kind))).toEqual(new Set(['workflow', 'guide', 'partial', 'message-type']));
    expect(result.resources.map((r) => ({ kind: r.kind, key: r.key }))).toEqual(expected);
    expect(result.resources.every((r) => r.status === 'imported')).toBe(true);
    expect(result.imported).toBe(expected.length);
    expect(result.skipped).toBe(0);
    // What knock-env does not manage is said, not silently ignored.
    expect(result.notImported).toEqual([{ path: 'LICENSE', reason: 'not a Knock resource folder' }]);
    // The only things dropped are the read-only fields.
    for (const r of result.resources) expect(r.notes.every((n) => n.startsWith('Dropped read-only fields: __readonly.')), r.key).toBe(true);
    // The fixtures are converted, not copied: the project holds YAML main files.
    expect(existsSync(join(dir, 'partials/numbered-list/partial.yaml'))).toBe(true);
    expect(existsSync(join(dir, 'partials/numbered-list/partial.json'))).toBe(false);

    await commitChanges({ ...coreOptionsFor(dir), message: 'Import from Knock' });
    await createEnvironment({ ...coreOptionsFor(dir), slug: 'staging' });
    await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'staging' });
    await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'production' });
    await assertChain(dir, ['development', 'staging', 'production']);

    const out = join(await tempDir(), 'knock');
    const exported = await exportEnvironment({ fs: diskFs, dir, target: out, environment: 'production' });
    expect(exported.environment).toBe('production');
    expect(exported.commit).toBe(await git(dir, 'rev-parse', 'production'));
    expect(exported.skipped).toBe(0);
    expect(exported.resources.map((r) => ({ kind: r.kind, key: r.key }))).toEqual(expected);
    for (const r of exported.resources) expect(r.notes, r.key).toEqual([]);

    for (const { kind, key } of expected) {
      const folder = `${RESOURCE_TYPES[kind].dir}/${key}`;
      const source = await filesUnder(join(KNOCK_TEMPLATES, folder));
      const written = await filesUnder(join(out, folder));
      expect([...written.keys()].sort(), folder).toEqual([...source.keys()].sort());

      const main = RESOURCE_TYPES[kind].knock.mainFile;
      const original = JSON.parse(source.get(main)!.toString('utf8')) as Record<string, unknown>;
      const { __readonly: _readonly, ...withoutReadonly } = original;
      const roundTripped = JSON.parse(written.get(main)!.toString('utf8')) as Record<string, unknown>;
      expect(roundTripped, folder).toStrictEqual(withoutReadonly);
      expect(fieldOrder(roundTripped), folder).toEqual(fieldOrder(withoutReadonly));
      // Knock writes 2-space JSON with a final newline; so does the export.
      expect(written.get(main)!.toString('utf8'), folder).toBe(`${JSON.stringify(withoutReadonly, null, 2)}\n`);

      for (const [path, bytes] of source) {
        if (path !== main) expect(written.get(path)!.equals(bytes), `${folder}/${path}`).toBe(true);
      }
    }
  });
});

describe('knock-env import', () => {
  it('reports and skips hostile or invalid source names without building a path from them', async () => {
    const dir = await newProject();
    const source = await tempDir();
    const outside = await tempDir();
    await writeFiles(source, {
      ...underFolder('workflows/welcome-email', knockWorkflow('Welcome')),
      ...underFolder('workflows/Upper-Case', knockWorkflow('Upper')),
      ...underFolder('workflows/ab', knockWorkflow('Too short')),
      ...underFolder('workflows/with space', knockWorkflow('Space')),
      ...underFolder('workflows/.hidden', knockWorkflow('Hidden')),
      'workflows/stray-file': '{}',
      'guides/broken/guide.json': '{ not json',
      'layouts/default/email_layout.json': '{}',
      'translations/en.json': '{}',
    });
    await writeFiles(outside, knockWorkflow('Elsewhere'));
    await symlink(outside, join(source, 'workflows', 'linked-folder'));

    // A listing can name "..": a hostile file system, or a network share. It is judged before it is used.
    const hostileNames = ['..', 'a/../../escape', 'nul\0byte'];
    const fs = {
      ...diskFs,
      promises: {
        ...diskFs.promises,
        readdir: (async (path: string, opts: never) => {
          const entries = (await diskFs.promises.readdir(path, opts)) as unknown[];
          if (resolve(path) !== join(source, 'workflows')) return entries;
          const dirent = (name: string) => ({ name, isDirectory: () => true, isFile: () => false, isSymbolicLink: () => false });
          return [...entries, ...hostileNames.map(dirent)];
        }) as unknown as FileSystem['promises']['readdir'],
      },
    } as FileSystem;

    const result = await importKnockDirectory({ fs, dir, source });
    const byKey = new Map(result.resources.map((r) => [r.key, r]));
    expect(byKey.get('welcome-email')?.status).toBe('imported');
    for (const key of ['Upper-Case', 'ab', 'with space', '.hidden', ...hostileNames]) {
      expect(byKey.get(key)?.status, key).toBe('skipped');
      expect(byKey.get(key)?.code, key).toBe('invalid-key');
    }
    expect(byKey.get('Upper-Case')?.reason).toContain('upper-case');
    expect(byKey.get('stray-file')).toMatchObject({ status: 'skipped', code: 'not-a-folder' });
    expect(byKey.get('linked-folder')).toMatchObject({ status: 'skipped', code: 'not-a-folder' });
    expect(byKey.get('broken')).toMatchObject({ kind: 'guide', status: 'skipped', code: 'invalid-resource' });
    // A layout folder without layout.json, a translation file where a locale folder belongs.
    expect(byKey.get('default')).toMatchObject({ kind: 'layout', status: 'skipped', code: 'invalid-resource' });
    expect(byKey.get('en.json')).toMatchObject({ kind: 'translation', status: 'skipped', code: 'invalid-key' });
    expect(result.notImported).toEqual([]);
    expect(result).toMatchObject({ imported: 1, skipped: 12 });

    // Only the valid workflow was written, and nothing outside the project.
    expect(await readdir(join(dir, 'workflows'))).toEqual(['welcome-email']);
    expect(existsSync(join(dir, 'guides'))).toBe(false);
    expect(existsSync(join(dirname(dir), 'workflow.yaml'))).toBe(false);
    expect(existsSync(join(dir, 'escape'))).toBe(false);
    expect(await git(dir, 'status', '--porcelain')).toBe('?? workflows/');
  });

  it('refuses to overwrite an existing resource folder unless --force, which replaces it whole', async () => {
    const dir = await newProject();
    const source = await tempDir();
    await writeFiles(source, underFolder('workflows/welcome-email', knockWorkflow('Welcome')));
    const first = await importKnockDirectory({ fs: diskFs, dir, source });
    expect(first.resources[0]).toMatchObject({ status: 'imported', dir: 'workflows/welcome-email' });
    expect(first.resources[0]?.files.sort()).toEqual(['workflows/welcome-email/in_app_feed_1/markdown_body.md', 'workflows/welcome-email/workflow.yaml']);
    expect(first.resources[0]?.replaced).toBeUndefined();

    const body = join(dir, 'workflows/welcome-email/in_app_feed_1/markdown_body.md');
    await writeFile(body, 'edited in the project\n');
    await writeFile(join(dir, 'workflows/welcome-email/scratch.txt'), 'left over\n');

    const again = await importKnockDirectory({ fs: diskFs, dir, source });
    expect(again.resources[0]).toMatchObject({ status: 'skipped', code: 'exists' });
    expect(again.resources[0]?.reason).toContain('--force');
    expect(await readFile(body, 'utf8')).toBe('edited in the project\n');

    const forced = await importKnockDirectory({ fs: diskFs, dir, source, force: true });
    expect(forced.resources[0]).toMatchObject({ status: 'imported', replaced: true });
    expect(await readFile(body, 'utf8')).toBe('Hello from Welcome\n');
    expect(existsSync(join(dir, 'workflows/welcome-email/scratch.txt'))).toBe(false);
  });

  it('keeps an unreferenced file, says so in notes, and exports it back', async () => {
    const dir = await newProject();
    const source = await tempDir();
    await writeFiles(source, {
      ...underFolder('workflows/welcome-email', knockWorkflow('Welcome', { 'notes/todo.txt': 'remember the footer\n', '.DS_Store': 'x' })),
    });
    const result = await importKnockDirectory({ fs: diskFs, dir, source });
    const notes = result.resources[0]?.notes ?? [];
    expect(result.resources[0]?.status).toBe('imported');
    expect(notes).toContain('notes/todo.txt is not referenced by any "@" field; kept as it is.');
    expect(notes).toContain('.DS_Store is a hidden file; not imported.');
    expect(notes).toContain('Dropped read-only fields: __readonly.key, __readonly.active.');
    expect(notes).toContain('workflow.json says its key is "x"; imported as "welcome-email".');
    expect(await readFile(join(dir, 'workflows/welcome-email/notes/todo.txt'), 'utf8')).toBe('remember the footer\n');
    expect(existsSync(join(dir, 'workflows/welcome-email/.DS_Store'))).toBe(false);

    await commitChanges({ ...coreOptionsFor(dir), message: 'Import' });
    const out = await tempDir();
    const exported = await exportEnvironment({ fs: diskFs, dir, target: out });
    expect(exported.environment).toBe('development');
    expect(exported.resources[0]?.notes).toEqual(['notes/todo.txt is not referenced by any "@" field; exported as it is.']);
    expect(await readFile(join(out, 'workflows/welcome-email/notes/todo.txt'), 'utf8')).toBe('remember the footer\n');
  });

  it('refuses a source that is missing, has no workflows/ or guides/, or is the project itself', async () => {
    const dir = await newProject();
    expect(await codeOf(importKnockDirectory({ fs: diskFs, dir, source: 'no-such-folder' }))).toBe('NOT_FOUND');
    const single = await tempDir();
    await writeFiles(single, knockWorkflow('One'));
    expect(await codeOf(importKnockDirectory({ fs: diskFs, dir, source: single }))).toBe('NOT_FOUND');
    expect(await codeOf(importKnockDirectory({ fs: diskFs, dir, source: '.' }))).toBe('REFUSED');
    expect(await codeOf(importKnockDirectory({ fs: diskFs, dir: await tempDir(), source: KNOCK_TEMPLATES }))).toBe('NOT_A_PROJECT');
  });
});

describe('knock-env export', () => {
  it('reads the committed head, not the working tree', async () => {
    const dir = await newProject();
    const source = await tempDir();
    await writeFiles(source, underFolder('workflows/welcome-email', knockWorkflow('Welcome')));
    await importKnockDirectory({ fs: diskFs, dir, source });
    await commitChanges({ ...coreOptionsFor(dir), message: 'Import' });
    await writeFile(join(dir, 'workflows/welcome-email/in_app_feed_1/markdown_body.md'), 'not committed\n');
    await writeFiles(dir, underFolder('workflows/draft-only', knockWorkflow('Draft')));

    const out = await tempDir();
    const exported = await exportEnvironment({ fs: diskFs, dir, target: out });
    expect(exported.resources.map((r) => r.key)).toEqual(['welcome-email']);
    expect(await readFile(join(out, 'workflows/welcome-email/in_app_feed_1/markdown_body.md'), 'utf8')).toBe('Hello from Welcome\n');
    const json = JSON.parse(await readFile(join(out, 'workflows/welcome-email/workflow.json'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(['name', 'steps', '$schema']);
    expect(json.$schema).toBe('https://schemas.knock.app/cli/workflow.json');
    expect(json).not.toHaveProperty('origin_environment');
  });

  it('refuses a non-empty target unless --force, a target overlapping the project, and an unknown environment', async () => {
    const dir = await newProject();
    const source = await tempDir();
    await writeFiles(source, underFolder('workflows/welcome-email', knockWorkflow('Welcome')));
    await importKnockDirectory({ fs: diskFs, dir, source });
    await commitChanges({ ...coreOptionsFor(dir), message: 'Import' });

    const out = await tempDir();
    await writeFiles(out, { 'README.md': 'mine\n', 'workflows/welcome-email/stale.txt': 'old\n' });
    expect(await codeOf(exportEnvironment({ fs: diskFs, dir, target: out }))).toBe('REFUSED');
    expect(existsSync(join(out, 'workflows/welcome-email/workflow.json'))).toBe(false);

    const forced = await exportEnvironment({ fs: diskFs, dir, target: out, force: true });
    expect(forced.exported).toBe(1);
    expect(await readFile(join(out, 'README.md'), 'utf8')).toBe('mine\n');
    expect(existsSync(join(out, 'workflows/welcome-email/stale.txt'))).toBe(false);

    for (const target of ['.', '..', 'workflows', 'workflows/welcome-email', '.git/x', 'environments']) {
      expect(await codeOf(exportEnvironment({ fs: diskFs, dir, target, force: true })), target).toBe('REFUSED');
    }
    expect(await git(dir, 'status', '--porcelain')).toBe('');
    // A folder of its own inside the project is fine.
    expect((await exportEnvironment({ fs: diskFs, dir, target: 'knock' })).exported).toBe(1);
    expect(await codeOf(exportEnvironment({ fs: diskFs, dir, target: await tempDir(), environment: 'staging' }))).toBe('UNKNOWN_ENVIRONMENT');
    // Production has nothing yet: an empty export, not an error.
    expect((await exportEnvironment({ fs: diskFs, dir, target: join(await tempDir(), 'p'), environment: 'production' })).resources).toEqual([]);
  });
});

describe('knock-env schemas', () => {
  it('names the installed schemas and copies them where the modeline of imported files points', async () => {
    const dir = await newProject();
    const listed = await describeSchemas({ fs: diskFs, dir });
    expect(listed.schemas.map((s) => s.name)).toEqual([...SCHEMA_NAMES]);
    for (const s of listed.schemas) expect(existsSync(s.path), s.path).toBe(true);
    expect(listed.written).toBeNull();
    expect(listed.vscode['yaml.schemas'][listed.schemas[0]!.path]).toBe('workflows/*/workflow.yaml');

    const written = await describeSchemas({ fs: diskFs, dir, write: true });
    expect(written.written?.files.map((f) => f.status)).toEqual(SCHEMA_NAMES.map(() => 'created'));
    for (const s of listed.schemas) {
      expect((await readFile(join(dir, '.knock-env/schemas', `${s.name}.schema.json`))).equals(await readFile(s.path))).toBe(true);
    }
    expect(written.vscode['yaml.schemas']).toMatchObject({ '.knock-env/schemas/channel.schema.json': 'environments/*/channels/*.yaml' });
    const again = await describeSchemas({ fs: diskFs, dir, write: true });
    expect(again.written?.files.map((f) => f.status)).toEqual(SCHEMA_NAMES.map(() => 'unchanged'));

    // The first line of an imported workflow resolves to the copy.
    const source = await tempDir();
    await writeFiles(source, underFolder('workflows/welcome-email', knockWorkflow('Welcome')));
    await importKnockDirectory({ fs: diskFs, dir, source });
    const yamlPath = join(dir, 'workflows/welcome-email/workflow.yaml');
    const first = (await readFile(yamlPath, 'utf8')).split('\n')[0]!;
    expect(first).toBe(listed.schemas.find((s) => s.name === 'workflow')?.modeline);
    expect(existsSync(resolve(dirname(yamlPath), first.replace('# yaml-language-server: $schema=', '')))).toBe(true);
    // The modeline stays first once knock-env commit adds origin_environment.
    await commitChanges({ ...coreOptionsFor(dir), message: 'Import' });
    expect((await readFile(yamlPath, 'utf8')).split('\n').slice(0, 2)).toEqual([first, 'origin_environment: development']);
  });
});
