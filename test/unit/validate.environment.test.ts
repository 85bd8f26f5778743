import { describe, it, expect } from 'vitest';
import path from 'node:path';
import YAML from 'yaml';
import { isKnockEnvError } from '../../src/core/errors.js';
import {
  CREDENTIAL_FIELD,
  emptyEnvironmentFiles,
  environmentPathOf,
  literalSecretKind,
  validateEnvironmentFile,
} from '../../src/core/validate/environment.js';
import { loadSchema } from '../../src/core/validate/schemas.js';
import type { ValidationIssue } from '../../src/core/validate/types.js';
import { demoDir, readTree } from './validate-helpers.js';

const ENVIRONMENTS = ['development', 'staging', 'production'];
const decoder = new TextDecoder();

/** Validates and checks that every issue carries its file, line, column and pointer. */
function check(file: string, text: string, environments: string[] = ENVIRONMENTS): ValidationIssue[] {
  const issues = validateEnvironmentFile(file, text, environments);
  for (const issue of issues) {
    expect(issue.file).toBe(file);
    expect(issue.line).toBeGreaterThanOrEqual(1);
    expect(issue.column).toBeGreaterThanOrEqual(1);
    expect(typeof issue.pointer).toBe('string');
  }
  return issues;
}

/** [code, pointer, line, column] of each issue, for compact comparisons. */
function summary(issues: ValidationIssue[]): [string, string | undefined, number | undefined, number | undefined][] {
  return issues.map((i) => [i.code, i.pointer, i.line, i.column]);
}

const SENDGRID = `# SendGrid in development.
name: Larkspur email
type: email
provider: sendgrid
disabled: false
settings:
  api_key:
    secret_env: SENDGRID_API_KEY
  from_address: hello@dev.larkspur.example
  from_name: Larkspur (dev)
  sandbox_mode: true
  link_tracking: false
  open_tracking: false
  custom_args:
    team: plants
conditions:
  any:
    - variable: recipient.email
      operator: contains
      argument: "@larkspur.example"
    - all:
        - variable: recipient.beta
          operator: equal_to
          argument: "true"
`;

const VARIABLES = `# Variables of development.
app_url: https://dev.larkspur.example
sensors_api_token:
  secret_env: LARKSPUR_SENSORS_API_TOKEN
watering_reminder_hour: 8
show_beta_banner: true
`;

const BRANDING = `primary_color: "#3E7C59"
primary_color_contrast: "#FFF"
logo_url: https://cdn.larkspur.example/brand/logo.png
icon_url: null
`;

describe('validateEnvironmentFile: valid files', () => {
  it('accepts a channel, variables and branding', () => {
    expect(check('environments/development/channels/sendgrid.yaml', SENDGRID)).toEqual([]);
    expect(check('environments/development/variables.yaml', VARIABLES)).toEqual([]);
    expect(check('environments/staging/branding.yaml', BRANDING)).toEqual([]);
    expect(check('environments/production/variables.yaml', '# None yet.\n{}\n')).toEqual([]);
  });

  it('accepts every provider of each channel type it knows', () => {
    const cases: [string, string, string][] = [
      ['postmark', 'email', 'postmark'],
      ['ses', 'email', 'ses'],
      ['mailgun', 'email', 'mailgun'],
      ['resend', 'email', 'resend'],
      ['smtp', 'email', 'smtp'],
      ['apns', 'push', 'apns'],
      ['fcm', 'push', 'fcm'],
      ['expo', 'push', 'expo'],
      ['twilio', 'sms', 'twilio'],
      ['sns-sms', 'sms', 'sns'],
      ['vonage', 'sms', 'vonage'],
      ['slack', 'chat', 'slack'],
      ['msteams', 'chat', 'msteams'],
      ['discord', 'chat', 'discord'],
      ['webhook', 'http', 'webhook'],
      ['in-app-feed', 'in_app_feed', 'knock'],
      ['knock-guide', 'in_app_guide', 'knock'],
    ];
    for (const [key, type, provider] of cases) {
      const issues = check(`environments/development/channels/${key}.yaml`, `type: ${type}\nprovider: ${provider}\n`);
      expect(issues, key).toEqual([]);
    }
  });

  it('accepts the demo environments', () => {
    const tree = readTree(path.join(demoDir, 'environments'));
    const paths = [...tree.keys()].sort();
    expect(paths).toEqual(
      ['development', 'production'].flatMap((env) => [
        `${env}/branding.yaml`,
        `${env}/channels/larkspur-feed.yaml`,
        `${env}/channels/larkspur-postmark.yaml`,
        `${env}/variables.yaml`,
      ]),
    );
    for (const [p, bytes] of tree) {
      const text = decoder.decode(bytes);
      expect(check(`environments/${p}`, text, ['development', 'production']), p).toEqual([]);
      const data = YAML.parse(text) as Record<string, unknown>;
      if (p.endsWith('variables.yaml')) {
        expect(data.app_url).toMatch(/^https:\/\//);
        expect(Object.values(data).some((v) => typeof v === 'object' && v !== null && 'secret_env' in v)).toBe(true);
      }
    }
  });
});

describe('validateEnvironmentFile: paths', () => {
  it('reports an environment the project does not have', () => {
    const issues = check('environments/qa/variables.yaml', VARIABLES);
    expect(summary(issues)).toEqual([['invalid-key', '', 1, 1]]);
    expect(issues[0]?.message).toContain('"qa" is not an environment');
    expect(issues[0]?.message).toContain('development, staging, production');
  });

  it('still checks the content of a file in an unknown environment', () => {
    const issues = check('environments/qa/branding.yaml', 'primary_color: green\n');
    expect(summary(issues)).toEqual([
      ['invalid-key', '', 1, 1],
      ['schema', '/primary_color', 1, 16],
    ]);
  });

  it.each([
    'environments/development/secrets.yaml',
    'environments/development/README.md',
    'environments/development/channels/sendgrid.yml',
    'environments/development/channels/email/sendgrid.yaml',
    'environments/development/channels/.yaml',
    'environments/development/variables/app.yaml',
    'environments/development',
    'workflows/welcome/workflow.yaml',
  ])('reports %s as an unexpected file', (file) => {
    const issues = check(file, 'a: 1\n');
    expect(issues.map((i) => i.code)).toContain('unexpected-file');
    expect(issues.filter((i) => i.code !== 'unexpected-file' && i.code !== 'invalid-key')).toEqual([]);
  });

  it('suggests the .yaml name for a .yml channel file', () => {
    const [issue] = check('environments/development/channels/twilio.yml', 'type: sms\nprovider: twilio\n');
    expect(issue?.message).toContain('rename it to twilio.yaml');
  });

  it('looks for secrets in an unexpected YAML file too', () => {
    const issues = check('environments/development/secrets.yaml', 'sendgrid: SG.aaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n');
    expect(summary(issues)).toEqual([
      ['unexpected-file', '', 1, 1],
      ['literal-secret', '/sendgrid', 1, 11],
    ]);
  });

  it.each([
    ['Send Grid', 'upper-case'],
    ['sg', 'shorter than 3'],
    ['email.sendgrid', 'must start with'],
    ['-sendgrid', 'must start with'],
  ])('reports the channel key %j as invalid-key', (key, reason) => {
    const issues = check(`environments/development/channels/${key}.yaml`, 'type: email\nprovider: sendgrid\n');
    expect(summary(issues)).toEqual([['invalid-key', '', 1, 1]]);
    expect(issues[0]?.message).toContain(reason);
  });

  it('reads paths below environments/', () => {
    expect(environmentPathOf('environments/staging/channels/apns.yaml')).toEqual({
      environment: 'staging',
      kind: 'channel',
      key: 'apns',
      file: 'environments/staging/channels/apns.yaml',
    });
    expect(environmentPathOf('environments/staging/variables.yaml')?.kind).toBe('variables');
    expect(environmentPathOf('environments/staging/notes.txt')?.kind).toBeNull();
    expect(environmentPathOf('guides/tour/guide.yaml')).toBeNull();
  });
});

describe('validateEnvironmentFile: content', () => {
  it('reports YAML syntax errors with their position', () => {
    const issues = check('environments/development/variables.yaml', 'app_url: https://x.example\nbroken: [1, 2\nother: 3\n');
    expect(issues.length).toBeGreaterThan(0);
    expect(issues.every((i) => i.code === 'yaml-syntax')).toBe(true);
    expect(issues[0]?.line).toBeGreaterThanOrEqual(2);
  });

  it('reports duplicate keys', () => {
    const issues = check('environments/development/variables.yaml', 'app_url: a\napp_url: b\n');
    expect(summary(issues)).toEqual([['duplicate-key', '', 2, 1]]);
  });

  it('reports channel schema problems together, with positions', () => {
    const text = `name: Larkspur email
type: email
provider: twilio
setings: {}
settings:
  from_address: 42
  sandbox_mode: "yes"
conditions:
  all:
    - variable: recipient.email
      operator: ends_with
`;
    const issues = check('environments/development/channels/sendgrid.yaml', text);
    expect(summary(issues)).toEqual([
      ['schema', '/provider', 3, 11],
      ['schema', '/setings', 4, 1],
      ['schema', '/settings/from_address', 6, 17],
      ['schema', '/settings/sandbox_mode', 7, 17],
      ['schema', '/conditions/all/0/operator', 11, 17],
    ]);
    expect(issues[0]?.message).toContain('expected one of: sendgrid');
    expect(issues[1]?.message).toContain('Did you mean "settings"?');
  });

  it('requires type and provider, and knows channel types', () => {
    expect(summary(check('environments/development/channels/sendgrid.yaml', 'name: x\n'))).toEqual([
      ['schema', '', 1, 1],
      ['schema', '', 1, 1],
    ]);
    const issues = check('environments/development/channels/pigeon.yaml', 'type: pigeon\nprovider: coop\n');
    expect(summary(issues)).toEqual([['schema', '/type', 1, 7]]);
    expect(issues[0]?.message).toContain('in_app_guide');
    expect(summary(check('environments/development/channels/sendgrid.yaml', '- type: email\n'))).toEqual([['schema', '', 1, 1]]);
  });

  it('accepts provider settings it does not know, but only references in credential fields', () => {
    const text = `type: sms
provider: twilio
settings:
  account_sid: AC0123
  sender_id: Larkspur
  messaging_service: plants
  auth_token:
    secret_env: TWILIO_AUTH_TOKEN
  client_secret:
    secret_env: ""
  server_key: 12345
`;
    const issues = check('environments/development/channels/twilio.yaml', text);
    expect(summary(issues)).toEqual([
      ['schema', '/settings/client_secret/secret_env', 10, 17],
      ['schema', '/settings/server_key', 11, 15],
    ]);
  });

  it('reports variables problems: keys, values and references', () => {
    const text = `app-url: https://dev.larkspur.example
1st: one
tags: [a, b]
token:
  secret_env: lower_case
password:
  secret: X
empty:
`;
    const issues = check('environments/development/variables.yaml', text);
    expect(summary(issues)).toEqual([
      ['invalid-key', '/app-url', 1, 1],
      ['invalid-key', '/1st', 2, 1],
      ['schema', '/tags', 3, 7],
      ['schema', '/token/secret_env', 5, 15],
      ['schema', '/password', 6, 1],
      ['schema', '/password/secret', 7, 3],
      ['schema', '/empty', 8, 7],
    ]);
    expect(issues[0]?.message).toContain('vars.<key>');
    expect(issues[4]?.message).toBe('Missing required field "secret_env".');
  });

  it('reports branding problems', () => {
    const text = `primary_color: green
primary_color_contrast: "#12345"
logo_url: ftp://cdn.larkspur.example/logo.png
favicon_url: https://cdn.larkspur.example/favicon.ico
`;
    expect(summary(check('environments/development/branding.yaml', text))).toEqual([
      ['schema', '/primary_color', 1, 16],
      ['schema', '/primary_color_contrast', 2, 25],
      ['schema', '/logo_url', 3, 11],
      ['schema', '/favicon_url', 4, 1],
    ]);
  });
});

describe('literal secrets', () => {
  const FORMATS: [string, string, string][] = [
    ['SendGrid key', 'api_key', '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'],
    ['Stripe-style live key', 'stripe', 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'],
    ['Stripe-style test key', 'billing', 'sk_test_51H8xYzAbCdEf0123456789'],
    ['Slack bot token', 'bot', 'xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx'],
    ['Slack webhook', 'incoming_webhook_url', 'https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX'],
    ['Discord webhook', 'url', 'https://discord.com/api/webhooks/123456789012345678/abcDEF_ghiJKL-mno'],
    ['Mailgun key', 'mg', 'key-3ax6xnjp29jd6fds4gc373sgvjxteol0'],
    ['Resend key', 'resend', 're_123abcDE_NKFusih9vKVQknRAQfmFcWCv'],
    ['AWS access key ID', 'aws', 'AKIAIOSFODNN7EXAMPLE'],
    ['Google API key', 'fcm', 'AIzaSyA1bCdEfGhIjKlMnOpQrStUvWxYz0123456'],
    ['private key', 'p8', '-----BEGIN PRIVATE KEY-----\nMIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQg\n-----END PRIVATE KEY-----\n'],
    ['JWT', 'session', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U'],
    ['password in an address', 'smtp_url', 'smtp://larkspur:hunter2@smtp.larkspur.example:587'],
    ['bearer token', 'authorization_header', 'Bearer 4f9c2a7d1e8b3f6a0c5d9e2b7a4f1c8d'],
    ['hex token in a token field', 'sensors_api_token', '8f14e45fceea167a5a36dedd4bea2543'],
    ['base64 secret in a secret field', 'webhook_secret_b64', 'q2L8vN3xR7tY1wZ5aB9cD4eF6gH0jK2mN8pQ'],
    ['UUID in a key field', 'postmark_server_key', '0f9e8d7c-6b5a-4321-9876-abcdef012345'],
  ];

  it.each(FORMATS)('flags a %s in variables.yaml', (_what, key, value) => {
    const text = YAML.stringify({ app_url: 'https://dev.larkspur.example', [key]: value });
    const issues = check('environments/development/variables.yaml', text);
    expect(summary(issues)).toEqual([['literal-secret', `/${key}`, 2, key.length + 3]]);
    expect(issues[0]?.message).toContain('secret_env');
    expect(issues[0]?.message).toContain(key.toUpperCase());
  });

  it.each(FORMATS)('flags a %s in channel settings', (_what, key, value) => {
    const text = `type: http\nprovider: webhook\nsettings:\n  ${key}: ${JSON.stringify(value)}\n`;
    const issues = check('environments/development/channels/webhook.yaml', text);
    expect(summary(issues)).toEqual([['literal-secret', `/settings/${key}`, 4, key.length + 5]]);
    expect(issues[0]?.message).toContain(`{ secret_env: WEBHOOK_${key.toUpperCase()} }`);
  });

  it('flags secrets nested in lists and objects of settings, and in a secret_env name', () => {
    const text = `type: http
provider: webhook
settings:
  url: https://hooks.larkspur.example/knock
  headers:
    - key: Authorization
      value: Bearer 0123456789abcdef0123456789abcdef
    - key: X-Api-Key
      value:
        secret_env: LARKSPUR_HOOK_KEY
  json_overrides:
    signing:
      api_key: c3VwZXJzZWNyZXQtc2lnbmluZy1rZXktMTIzNDU2Nzg5MA==
  token:
    secret_env: xoxp-1234567890-abcdefghijkl
`;
    const issues = check('environments/development/channels/webhook.yaml', text);
    expect(summary(issues)).toEqual([
      ['literal-secret', '/settings/headers/0/value', 7, 14],
      ['literal-secret', '/settings/json_overrides/signing/api_key', 13, 16],
      ['literal-secret', '/settings/token/secret_env', 15, 17],
    ]);
    expect(issues[2]?.message).toContain('not the name of an environment variable');
  });

  it('flags any literal in a credential field, in place of the schema message', () => {
    const text = 'type: email\nprovider: smtp\nsettings:\n  password: hunter2\n  api_key: abc\n';
    const issues = check('environments/development/channels/smtp.yaml', text);
    expect(summary(issues)).toEqual([
      ['literal-secret', '/settings/password', 4, 13],
      ['literal-secret', '/settings/api_key', 5, 12],
    ]);
    expect(issues[0]?.message).toContain('"password" is a credential');
    expect(issues[0]?.message).toContain('{ secret_env: SMTP_PASSWORD }');
  });

  it('leaves references and ordinary values alone', () => {
    const text = `type: email
provider: smtp
settings:
  host: smtp.larkspur.example
  port: 587
  username: larkspur-mailer
  password:
    secret_env: LARKSPUR_SMTP_PASSWORD_FOR_THE_PRODUCTION_RELAY_2025
  url: "smtp://larkspur:{{ vars.smtp_password }}@smtp.larkspur.example"
  authorization: "Bearer {{ vars.sensors_api_token }}"
  key_id: ABC123DEFG
  template_key: weekly-care-digest-for-larkspur-gardeners-2025
  primary_key_description: the key used for the greenhouse sensor relay
  access_key_id:
    secret_env: AWS_ACCESS_KEY_ID
  logo_url: https://cdn.larkspur.example/brand/3f9a2c7e1b5d4a8f9c0e2b4d6f8a1c3e5b7d9f0a.png
  color: "#3E7C59"
`;
    expect(check('environments/development/channels/smtp.yaml', text)).toEqual([]);
  });

  it('tells what a value looks like', () => {
    expect(literalSecretKind('SG.aaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbb', 'x')).toBe('a SendGrid API key');
    expect(literalSecretKind('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1', 'token')).toBeNull();
    expect(literalSecretKind('8f14e45fceea167a5a36dedd4bea2543', 'description')).toBeNull();
    expect(literalSecretKind('8f14e45fceea167a5a36dedd4bea2543', 'secret')).toContain('32-character token');
    expect(literalSecretKind('weekly-care-digest-for-larkspur-gardeners-2025', 'template_key')).toBeNull();
    expect(literalSecretKind('LARKSPUR_PRODUCTION_SENDGRID_KEY_2025', 'key')).toBeNull();
  });

  it('uses the same credential names as the channel schema', () => {
    const schema = loadSchema('channel') as { definitions: { settings: { patternProperties: Record<string, unknown> } } };
    expect(Object.keys(schema.definitions.settings.patternProperties)).toEqual([CREDENTIAL_FIELD.source]);
  });
});

describe('emptyEnvironmentFiles', () => {
  const below = [
    { path: 'environments/development/channels/sendgrid.yaml', text: SENDGRID },
    {
      path: 'environments/development/channels/twilio.yaml',
      text: `# Twilio
type: sms
provider: twilio
settings:
  account_sid: AC0123
  auth_token:
    secret_env: TWILIO_AUTH_TOKEN
  sender_id: Larkspur
  test_mode: true
`,
    },
    {
      path: 'environments/development/channels/webhook.yaml',
      text: `type: http
provider: webhook
settings:
  url: https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX
  headers:
    - key: X-Api-Key
      value:
        secret_env: HOOK_KEY
    - key: X-Plant
      value: fern
  json_overrides:
    auth:
      token: 0123456789abcdef0123456789abcdef
      client_id: larkspur
  signing_secret:
    secret_env: HOOK_SIGNING_SECRET
`,
    },
    { path: 'environments/development/variables.yaml', text: VARIABLES },
    { path: 'environments/development/branding.yaml', text: BRANDING },
  ];

  it('starts with empty variables and copies of the channels, without credentials', () => {
    const files = emptyEnvironmentFiles('staging', below);
    expect([...files.keys()]).toEqual([
      'environments/staging/variables.yaml',
      'environments/staging/channels/sendgrid.yaml',
      'environments/staging/channels/twilio.yaml',
      'environments/staging/channels/webhook.yaml',
    ]);
    for (const [file, text] of files) {
      expect(text.split('\n')[0]).toMatch(/^# \S.*$/);
      const [, ...rest] = text.split('\n');
      expect(rest[0]).not.toMatch(/^#/);
      expect(rest.join('\n')).not.toContain('secret_env');
      expect(check(file, text)).toEqual([]);
    }
    expect(YAML.parse(files.get('environments/staging/variables.yaml') as string)).toEqual({});

    const sendgrid = YAML.parse(files.get('environments/staging/channels/sendgrid.yaml') as string) as Record<string, unknown>;
    const original = YAML.parse(SENDGRID) as Record<string, Record<string, unknown>>;
    const { api_key: _dropped, ...settings } = original.settings as Record<string, unknown>;
    expect(sendgrid).toEqual({ ...original, settings });

    expect(YAML.parse(files.get('environments/staging/channels/twilio.yaml') as string)).toEqual({
      type: 'sms',
      provider: 'twilio',
      settings: { account_sid: 'AC0123', sender_id: 'Larkspur', test_mode: true },
    });
    expect(YAML.parse(files.get('environments/staging/channels/webhook.yaml') as string)).toEqual({
      type: 'http',
      provider: 'webhook',
      settings: {
        headers: [{ key: 'X-Api-Key' }, { key: 'X-Plant', value: 'fern' }],
        json_overrides: { auth: { client_id: 'larkspur' } },
      },
    });
  });

  it('starts a new environment with the demo channels', () => {
    const tree = readTree(path.join(demoDir, 'environments/development'));
    const files = emptyEnvironmentFiles(
      'staging',
      [...tree].map(([p, bytes]) => ({ path: `environments/development/${p}`, text: decoder.decode(bytes) })),
    );
    expect([...files.keys()].sort()).toEqual([
      'environments/staging/channels/larkspur-feed.yaml',
      'environments/staging/channels/larkspur-postmark.yaml',
      'environments/staging/variables.yaml',
    ]);
    for (const [file, text] of files) {
      expect(text.slice(text.indexOf('\n'))).not.toContain('secret_env');
      expect(check(file, text)).toEqual([]);
    }
  });

  it('refuses an invalid environment slug', () => {
    let error: unknown;
    try {
      emptyEnvironmentFiles('../prod', below);
    } catch (e) {
      error = e;
    }
    expect(isKnockEnvError(error, 'INVALID_KEY')).toBe(true);
  });

  it('refuses to copy a channel file that does not parse', () => {
    let error: unknown;
    try {
      emptyEnvironmentFiles('staging', [{ path: 'environments/development/channels/sendgrid.yaml', text: 'type: [email\n' }]);
    } catch (e) {
      error = e;
    }
    expect(isKnockEnvError(error, 'VALIDATION_FAILED')).toBe(true);
    expect((error as { data: { issues: ValidationIssue[] } }).data.issues[0]?.code).toBe('yaml-syntax');
  });
});
