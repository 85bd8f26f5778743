import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { knockEnv, projectWith } from '../helpers/project.js';
import { git } from '../helpers/repo.js';

const MAIN = 'workflows/welcome/workflow.yaml';
const STEPS = 'steps:\n  - ref: email_1\n    type: channel\n    channel_key: email\n    channel_type: email\n    template:\n      subject: Hello\n      html_body: <p>hi</p>\n';
const ORIGIN = 'origin_environment: development';

/** Source text, and what the commit must make of it. */
const CASES: Record<string, [string, string]> = {
  'a quoted first key': [`"name": Welcome\n${STEPS}`, `${ORIGIN}\n"name": Welcome\n${STEPS}`],
  'a single-quoted first key after comments': [`# Welcome\n\n'name': Welcome # the name\n${STEPS}`, `# Welcome\n\n${ORIGIN}\n'name': Welcome # the name\n${STEPS}`],
  'a byte order mark': [`\uFEFFname: Welcome\n${STEPS}`, `\uFEFF${ORIGIN}\nname: Welcome\n${STEPS}`],
  'a byte order mark and a quoted key': [`\uFEFF"name": Welcome\n${STEPS}`, `\uFEFF${ORIGIN}\n"name": Welcome\n${STEPS}`],
  'comments, folded and literal text': [
    `# yaml-language-server: $schema=x\n---\n"name": Welcome   # spaced\ndescription: >-\n  Folded text\n  over lines\n\n  and a paragraph\n${STEPS.replace('<p>hi</p>', '|\n        <p>\n          hi\n        </p>')}`,
    `# yaml-language-server: $schema=x\n---\n${ORIGIN}\n"name": Welcome   # spaced\ndescription: >-\n  Folded text\n  over lines\n\n  and a paragraph\n${STEPS.replace('<p>hi</p>', '|\n        <p>\n          hi\n        </p>')}`,
  ],
  'CRLF line endings': [`"name": Welcome\r\n${STEPS.replace(/\n/g, '\r\n')}`, `${ORIGIN}\r\n"name": Welcome\r\n${STEPS.replace(/\n/g, '\r\n')}`],
  'a flow mapping': ['{"name": Welcome, "steps": []}\n', `{${ORIGIN}, "name": Welcome, "steps": []}\n`],
};

describe('origin_environment is added at commit, every other byte kept', () => {
  for (const [name, [source, expected]] of Object.entries(CASES)) {
    it(`keeps ${name}`, async () => {
      const dir = await projectWith({ [MAIN]: source });
      const commit = await knockEnv(dir, 'commit', '-m', 'Add welcome');
      expect(commit.code, commit.err).toBe(0);
      const onDisk = await readFile(join(dir, MAIN));
      expect(onDisk.toString('utf8')).toBe(expected);
      // The committed blob is the file, byte for byte, and git sees a clean tree.
      const blob = await execa('git', ['cat-file', 'blob', `HEAD:${MAIN}`], { cwd: dir, encoding: 'buffer', stripFinalNewline: false });
      expect(Buffer.from(blob.stdout).equals(onDisk)).toBe(true);
      expect(await git(dir, 'status', '--porcelain')).toBe('');
      expect((await knockEnv(dir, 'validate')).code).toBe(0);
    });
  }
});
