import type { CoreOptions } from '../context.js';
import { KnockEnvError } from '../errors.js';
import { exists } from '../git/fs.js';
import { assertValidKey } from '../keys.js';
import { findGitdir } from '../project.js';
import { yamlSchemaModeline } from '../knock-format/import.js';
import { resourceRef, type ResourceKind } from '../resources.js';

function titleOf(key: string): string {
  const words = key.split(/[-_]+/).filter(Boolean);
  const text = words.join(' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function workflowFiles(key: string): Record<string, string> {
  return {
    'workflow.yaml': `${yamlSchemaModeline('workflow')}
name: ${JSON.stringify(titleOf(key))}
description: Describe when this workflow runs.
categories: []
trigger_data_json_schema:
  type: object
  properties:
    message:
      type: string
steps:
  - ref: in_app_feed_1
    type: channel
    name: In-app feed
    channel_key: in-app-feed
    channel_type: in_app_feed
    template:
      action_url: "{{ vars.app_url }}"
      markdown_body@: in_app_feed_1/markdown_body.md
  - ref: email_1
    type: channel
    name: Email
    channel_key: email
    channel_type: email
    template:
      subject: "{{ data.message | default: 'Hello' }}"
      html_body@: email_1/html_body.html
`,
    'in_app_feed_1/markdown_body.md': 'Hi {{ recipient.name }}, {{ data.message }}\n',
    'email_1/html_body.html': '<p>Hi {{ recipient.name }},</p>\n<p>{{ data.message }}</p>\n',
  };
}

function guideFiles(key: string): Record<string, string> {
  return {
    'guide.yaml': `${yamlSchemaModeline('guide')}
name: ${JSON.stringify(titleOf(key))}
description: Describe what this guide shows.
channel_key: knock-guide
type: banner
steps:
  - ref: step_1
    schema_key: banner
    schema_semver: 0.0.1
    schema_variant_key: default
    values:
      title: ${JSON.stringify(titleOf(key))}
      body: Tell people what is new.
      dismissible: true
`,
  };
}

export interface ScaffoldResult {
  kind: ResourceKind;
  key: string;
  dir: string;
  files: string[];
}

/** Writes a new, valid resource into the working tree (not committed). */
export async function scaffoldResource(options: Pick<CoreOptions, 'fs' | 'dir'> & { kind: ResourceKind; key: string }): Promise<ScaffoldResult> {
  assertValidKey(options.key, `${options.kind} key`);
  const found = await findGitdir(options);
  const root = found?.dir ?? options.dir;
  const ref = resourceRef(options.kind, options.key);
  if (await exists(options.fs, `${root}/${ref.dir}`)) {
    throw new KnockEnvError('REFUSED', `${ref.dir} already exists.`, { hint: 'Edit it, or choose another key.' });
  }
  const files = options.kind === 'workflow' ? workflowFiles(options.key) : guideFiles(options.key);
  const written: string[] = [];
  for (const [name, content] of Object.entries(files)) {
    const path = `${root}/${ref.dir}/${name}`;
    await options.fs.promises.mkdir(path.slice(0, path.lastIndexOf('/')), { recursive: true });
    await options.fs.promises.writeFile(path, content);
    written.push(`${ref.dir}/${name}`);
  }
  return { kind: options.kind, key: options.key, dir: ref.dir, files: written };
}
