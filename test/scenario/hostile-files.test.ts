import { mkdir, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { knockEnv, projectWith, snapshot, WORKFLOW } from '../helpers/project.js';
import { git } from '../helpers/repo.js';

describe('symbolic links inside resource folders', () => {
  it('refuses an @ path through a linked folder: validate, run --working-tree and commit, with nothing printed from outside', async () => {
    const dir = await projectWith({ 'workflows/welcome/workflow.yaml': WORKFLOW('etcdir/passwd') });
    await symlink('/etc', join(dir, 'workflows/welcome/etcdir'));
    const before = await snapshot(dir);

    const validate = await knockEnv(dir, 'validate', '--format', 'json');
    expect(validate.code).toBe(3);
    const report = JSON.parse(validate.out) as { issues: { file: string; code: string }[] };
    expect(report.issues).toContainEqual(expect.objectContaining({ file: 'workflows/welcome/etcdir', code: 'symlink' }));

    const run = await knockEnv(dir, 'run', 'welcome', '--working-tree', '--recipient', 'u1');
    expect(run.code).toBe(3);
    expect(run.out + run.err).not.toContain('root:');
    expect(run.err).toContain('workflows/welcome/etcdir');

    const commit = await knockEnv(dir, 'commit', '-m', 'link');
    expect(commit.code).toBe(3);
    expect(await snapshot(dir)).toBe(before);
  });

  it('never caches a verdict for a folder holding a link, so doctor and promote see it once plain git commits it', async () => {
    const dir = await projectWith({ 'workflows/welcome/workflow.yaml': WORKFLOW('body.html'), 'workflows/welcome/body.html': '<p>hi</p>\n' });
    expect((await knockEnv(dir, 'commit', '-m', 'Add welcome')).code).toBe(0);
    expect((await knockEnv(dir, 'validate')).code).toBe(0);
    // The body becomes a link to a file outside the project, committed with plain git (mode 120000).
    await unlink(join(dir, 'workflows/welcome/body.html'));
    await symlink('/etc/hostname', join(dir, 'workflows/welcome/body.html'));
    expect((await knockEnv(dir, 'validate')).code).toBe(3);
    await git(dir, 'add', '-A');
    await git(dir, 'commit', '-q', '-m', 'plain git: body is a link');
    expect(await git(dir, 'ls-tree', 'HEAD', 'workflows/welcome/body.html')).toMatch(/^120000 /);
    expect((await knockEnv(dir, 'validate')).code).toBe(3);

    const doctor = await knockEnv(dir, 'doctor', '--json');
    expect(doctor.code).not.toBe(0);
    expect(doctor.out).toContain('workflows/welcome/body.html is a symbolic link');

    const head = await git(dir, 'rev-parse', 'production');
    const promote = await knockEnv(dir, 'promote', 'production', '--yes');
    expect(promote.code).toBe(3);
    expect(await git(dir, 'rev-parse', 'production')).toBe(head);
  });

  it('refuses an @ file that is itself a link, so run and export never disagree', async () => {
    const dir = await projectWith({ 'workflows/welcome/workflow.yaml': WORKFLOW('body.html'), 'outside.html': '<p>outside</p>\n' });
    await symlink('../../outside.html', join(dir, 'workflows/welcome/body.html'));
    const validate = await knockEnv(dir, 'validate', '--format', 'json');
    expect(validate.code).toBe(3);
    expect(JSON.parse(validate.out).issues).toContainEqual(expect.objectContaining({ file: 'workflows/welcome/body.html', code: 'symlink' }));
    const run = await knockEnv(dir, 'run', 'welcome', '--working-tree', '--recipient', 'u1');
    expect(run.code).toBe(3);
    expect(run.out).not.toContain('outside');
  });

  it('refuses a resource folder that is a link', async () => {
    const dir = await projectWith({ 'elsewhere/welcome/workflow.yaml': WORKFLOW('body.html'), 'elsewhere/welcome/body.html': 'x\n' });
    await mkdir(join(dir, 'workflows'), { recursive: true });
    await symlink('../elsewhere/welcome', join(dir, 'workflows/welcome'));
    const validate = await knockEnv(dir, 'validate', 'workflows/welcome', '--format', 'json');
    expect(validate.code).toBe(3);
    expect(JSON.parse(validate.out).issues).toContainEqual(expect.objectContaining({ file: 'workflows/welcome', code: 'symlink' }));
  });
});
