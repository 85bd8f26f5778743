import { existsSync } from 'node:fs';
import { createFsFromVolume, Volume } from 'memfs';
import { describe, expect, it } from 'vitest';
import type { FileSystem } from '../../src/core/git/fs.js';
import { scaffoldResource } from '../../src/core/ops/scaffold.js';
import { SCHEMA_FILES } from '../../src/core/ops/schemas.js';
import {
  ENVIRONMENT_FILE_TYPES,
  kindsPhrase,
  MANAGED_TOP_LEVEL,
  ownershipOfPath,
  RESOURCE_KINDS,
  RESOURCE_MODULES,
  resourceOfPath,
  resourceRef,
} from '../../src/core/resources.js';
import { environmentPathOf } from '../../src/core/validate/environment.js';
import { validateResource } from '../../src/core/validate/resource.js';
import { SCHEMA_NAMES, schemaUrl } from '../../src/core/validate/schemas.js';
import { memoryReader } from './validate-helpers.js';

describe('the resource-type registry', () => {
  it('gives every type a schema file, an editor glob and a managed top-level folder', () => {
    for (const type of RESOURCE_MODULES) {
      expect(SCHEMA_NAMES).toContain(type.schema);
      expect(existsSync(schemaUrl(type.schema))).toBe(true);
      expect(SCHEMA_FILES[type.schema].startsWith(`${type.dir}/*/`)).toBe(true);
      expect(MANAGED_TOP_LEVEL).toContain(type.dir);
    }
    for (const type of ENVIRONMENT_FILE_TYPES) {
      expect(SCHEMA_NAMES).toContain(type.schema);
      expect(existsSync(schemaUrl(type.schema))).toBe(true);
    }
  });

  it('maps every path inside a type folder back to that type, with its owner rule', () => {
    for (const type of RESOURCE_MODULES) {
      const key = type.exampleKey;
      const ref = resourceRef(type.kind, key);
      expect(resourceOfPath(`${ref.dir}/nested/file.txt`)).toMatchObject({ kind: type.kind, key, keyProblem: null });
      expect(resourceOfPath(ref.file)?.file).toBe(ref.file);
      expect(ownershipOfPath(ref.file)).toEqual({
        kind: type.kind,
        owner: type.owner,
        originProtected: type.owner === 'origin-environment',
        productionWriteAccess: type.productionWriteAccess,
      });
    }
    expect(resourceOfPath('README.md')).toBeNull();
    expect(resourceOfPath('workflows/Bad Key/workflow.yaml')?.keyProblem).toMatch(/upper-case|only a-z/);
    expect(ownershipOfPath('environments/production/variables.yaml')).toBeNull();
  });

  it('names the types in messages from the registry', () => {
    expect(kindsPhrase(['workflow', 'guide'])).toBe('workflows and guides');
    expect(kindsPhrase(['workflow', 'guide'], 'or')).toBe('workflows or guides');
  });

  it('scaffolds a resource of every type that validates without a problem', async () => {
    for (const type of RESOURCE_MODULES) {
      const fs = createFsFromVolume(new Volume()) as unknown as FileSystem;
      await fs.promises.mkdir('/repo', { recursive: true });
      const key = type.exampleKey;
      const result = await scaffoldResource({ fs, dir: '/repo', kind: type.kind, key });
      expect(result.files).toContain(resourceRef(type.kind, key).file);
      const files = new Map<string, Uint8Array>();
      for (const file of result.files) files.set(file, (await fs.promises.readFile(`/repo/${file}`)) as Uint8Array);
      const validation = await validateResource({ kind: type.kind, key, read: memoryReader(files) });
      expect(validation.issues).toEqual([]);
      await expect(scaffoldResource({ fs, dir: '/repo', kind: type.kind, key })).rejects.toMatchObject({ code: 'REFUSED' });
    }
    expect(RESOURCE_KINDS.length).toBe(RESOURCE_MODULES.length);
  });

  it('reads environment files through the second registry', () => {
    expect(environmentPathOf('environments/staging/channels/sendgrid.yaml')).toMatchObject({ kind: 'channel', key: 'sendgrid' });
    expect(environmentPathOf('environments/staging/branding.yaml')).toMatchObject({ kind: 'branding' });
    const stray = environmentPathOf('environments/staging/notes.txt');
    expect(stray?.kind).toBeNull();
    expect(stray && 'problem' in stray ? stray.problem : '').toBe('environments/staging/ holds only variables.yaml, branding.yaml and channels/<key>.yaml');
  });
});
