import { describe, it, expect } from 'vitest';
import { validateConfigText } from '../../src/core/validate/index.js';

const VALID = `# yaml-language-server: $schema=./schemas/knock-env.schema.json
version: 1
environments:
  - slug: development
    settings:
      obfuscate_recipient_data: false
      show_message_contents: true
  - slug: staging
    name: Staging
    settings:
      obfuscate_recipient_data: false
      show_message_contents: true
  - slug: production
    settings:
      obfuscate_recipient_data: true
      show_message_contents: false
settings:
  production_write_access: false
members:
  - email: ada@larkspur.example
    name: Ada
    role: owner
  - email: sam@larkspur.example
    role: member
api_keys:
  - name: ci-staging
    environment: staging
    role: member
    hash: sha256:4f1c0a9e1d7b2c3a5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5
    created_at: 2025-03-01T10:00:00Z
    created_by: ada@larkspur.example
`;

describe('validateConfigText', () => {
  it('accepts a valid account file and returns typed data', () => {
    const result = validateConfigText(VALID);
    expect(result.issues).toEqual([]);
    expect(result.data?.environments.map((e) => e.slug)).toEqual(['development', 'staging', 'production']);
    expect(result.data?.settings.production_write_access).toBe(false);
    expect(result.data?.api_keys[0]?.environment).toBe('staging');
  });

  it('reads absent members and api_keys as empty lists', () => {
    const text = VALID.slice(0, VALID.indexOf('members:'));
    const result = validateConfigText(text);
    expect(result.issues).toEqual([]);
    expect(result.data?.members).toEqual([]);
    expect(result.data?.api_keys).toEqual([]);
  });

  it('reports schema problems together, with positions, and returns no data', () => {
    const text = VALID.replace('version: 1', 'version: 2').replace('role: member\napi_keys', 'role: editor\napi_keys').replace(
      '      show_message_contents: false\n',
      '',
    );
    const result = validateConfigText(text, 'knock-env.yaml');
    expect(result.data).toBeUndefined();
    expect(result.issues.map((i) => [i.pointer, i.line, i.code])).toEqual([
      ['/version', 2, 'schema'],
      ['/environments/2/settings', 14, 'schema'],
      ['/members/1/role', 23, 'schema'],
    ]);
    expect(result.issues.every((i) => i.file === 'knock-env.yaml')).toBe(true);
  });

  it('reports a bad environment slug as invalid-key, with the reason', () => {
    const result = validateConfigText(VALID.replace('slug: staging', 'slug: Staging'));
    expect(result.issues).toEqual([
      expect.objectContaining({ code: 'invalid-key', pointer: '/environments/1/slug', line: 8, message: expect.stringContaining('upper-case') }),
    ]);
  });

  it('requires development first and production last', () => {
    const text = VALID.replace('slug: development', 'slug: dev').replace('slug: production', 'slug: live');
    const result = validateConfigText(text);
    expect(result.issues.map((i) => [i.code, i.pointer])).toEqual([
      ['config-rule', '/environments/0/slug'],
      ['config-rule', '/environments/2/slug'],
    ]);
  });

  it('refuses duplicate environments, members and key names, and keys of unknown environments', () => {
    const text = VALID.replace('slug: staging', 'slug: development')
      .replace('sam@larkspur.example', 'ADA@larkspur.example')
      .replace('environment: staging', 'environment: quality');
    const result = validateConfigText(text);
    expect(result.issues.map((i) => [i.code, i.pointer])).toEqual([
      ['config-rule', '/environments/1/slug'],
      ['config-rule', '/members/1/email'],
      ['config-rule', '/api_keys/0/environment'],
    ]);
  });

  it('allows production_member only while production write access is on', () => {
    const text = VALID.replace('role: member\napi_keys', 'role: production_member\napi_keys').replace(
      'role: member\n    hash',
      'role: production_member\n    hash',
    );
    expect(validateConfigText(text).issues.map((i) => i.pointer)).toEqual(['/members/1/role', '/api_keys/0/role']);
    const allowed = validateConfigText(text.replace('production_write_access: false', 'production_write_access: true'));
    expect(allowed.issues).toEqual([]);
  });

  it('reports YAML problems and oversized files', () => {
    expect(validateConfigText('version: 1\nversion: 1\n').issues).toEqual([
      expect.objectContaining({ code: 'duplicate-key', line: 2, column: 1 }),
    ]);
    const huge = `${VALID}# ${'x'.repeat(1024 * 1024)}\n`;
    expect(validateConfigText(huge).issues).toEqual([expect.objectContaining({ code: 'file-too-large', file: 'knock-env.yaml' })]);
  });
});
