import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import KnockMgmt from '@knocklabs/mgmt';
import { afterEach, describe, expect, it } from 'vitest';
import { deployEnvironment, type DeployOptions } from '../../src/core/deploy/deploy.js';
import { journalPath } from '../../src/core/git/deploy-journal.js';
import { commitChanges } from '../../src/core/ops/commit.js';
import { createEnvironment } from '../../src/core/ops/environments.js';
import { importKnockDirectory } from '../../src/core/ops/import.js';
import { initProject } from '../../src/core/ops/init.js';
import { promoteEnvironment } from '../../src/core/ops/promote.js';
import { readAuditTrail } from '../../src/core/ops/audit.js';
import { readLog } from '../../src/core/ops/log.js';
import { diagnose } from '../../src/core/ops/doctor.js';
import { openProject } from '../../src/core/project.js';
import { KNOCK_TEMPLATES, coreOptionsFor, diskFs, git, tempDir } from '../helpers/repo.js';
import { KnockStandin } from '../support/knock-standin.js';

let standin: KnockStandin | null = null;
afterEach(async () => {
  await standin?.stop();
  standin = null;
});

async function setup(options: ConstructorParameters<typeof KnockStandin>[0] = {}) {
  standin = await new KnockStandin(options).start();
  const dir = await tempDir();
  await initProject(coreOptionsFor(dir));
  await createEnvironment({ ...coreOptionsFor(dir), slug: 'staging' });
  await importKnockDirectory({ fs: diskFs, dir, source: KNOCK_TEMPLATES });
  await commitChanges({ ...coreOptionsFor(dir), message: 'Import the Knock templates' });
  return { dir, standin };
}

function deploy(dir: string, environment: string, extra: Partial<DeployOptions> = {}) {
  const s = standin!;
  return deployEnvironment({
    ...coreOptionsFor(dir),
    environment,
    knock: { serviceToken: s.token, baseURL: s.url, maxRetries: 0 },
    ...extra,
  });
}

async function editWorkflowName(dir: string, key: string, name: string) {
  const file = `${dir}/workflows/${key}/workflow.yaml`;
  const text = await readFile(file, 'utf8');
  await writeFile(file, text.replace(/^name: .*$/m, `name: ${name}`));
  await commitChanges({ ...coreOptionsFor(dir), message: `Rename ${key}` });
}

async function auditDeploys(dir: string) {
  return (await readAuditTrail(await openProject({ fs: diskFs, dir }))).filter((e) => e.operation === 'deploy');
}

describe('deploy to Knock', () => {
  it('first deploy creates every resource committed in development; a second writes nothing; one change writes once', async () => {
    const { dir, standin } = await setup();
    const first = await deploy(dir, 'development');
    const created = first.plan.resources.filter((r) => r.status === 'created');
    expect(created.length).toBeGreaterThan(10);
    expect(first.writes).toBe(created.length);
    expect(standin.writes()).toHaveLength(created.length);
    // Committed, with the git commit named in Knock's commit message; no draft left behind.
    const head = await git(dir, 'rev-parse', 'development');
    const replies = standin.resource('development', 'workflow', 'replies')!;
    expect(replies.draft).toBeNull();
    expect(standin.commitsOf('development').every((c) => c.commit_message.includes(head))).toBe(true);
    // The @ files went inline: the visual blocks and their nested markdown file.
    const blocks = (replies.committed!.steps as { template?: { visual_blocks?: { content?: string }[] } }[]).find((s) => s.template?.visual_blocks)!.template!.visual_blocks!;
    expect(blocks[0]!.content).toBe(await readFile(`${KNOCK_TEMPLATES}/workflows/replies/email_1/visual_blocks/1.content.md`, 'utf8'));
    expect(first.knockCommits).toHaveLength(created.length);
    const [event] = await auditDeploys(dir);
    expect(event).toMatchObject({ environment: 'development', to: head, from: null });
    expect(await git(dir, 'log', '-1', '--format=%(trailers:key=Knock-Env-Knock-Environment,valueonly)', 'knock-env/audit')).toBe('development');
    expect(existsSync(journalPath(`${dir}/.git`))).toBe(false);
    const log = await readLog({ fs: diskFs, dir, environment: 'development', promotionsOnly: true });
    expect(log.entries.map((e) => [e.type, e.to])).toEqual([['deploy', head]]);

    standin.resetCalls();
    const second = await deploy(dir, 'development');
    expect(second.deployed).toBe(false);
    expect(second.plan.counts.writes).toBe(0);
    expect(standin.writes()).toHaveLength(0);

    await editWorkflowName(dir, 'replies', 'Replies to comments');
    standin.resetCalls();
    const third = await deploy(dir, 'development');
    expect(third.plan.resources.filter((r) => r.status !== 'unchanged')).toEqual([expect.objectContaining({ kind: 'workflow', key: 'replies', status: 'updated', fields: ['name'], action: 'upsert' })]);
    expect(standin.writes()).toHaveLength(1);
    expect(standin.content('development', 'workflow', 'replies', true)?.name).toBe('Replies to comments');
    expect((await auditDeploys(dir)).length).toBe(2);
  });

  it('above development, promotes the commits the environment below holds, and refuses what it never held', async () => {
    const { dir, standin } = await setup();
    await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'staging' });
    await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'production' });
    await expect(deploy(dir, 'staging')).rejects.toMatchObject({ code: 'REFUSED', message: expect.stringContaining('deploy development first') });
    expect(standin.writes()).toHaveLength(0);

    await deploy(dir, 'development');
    standin.resetCalls();
    const staging = await deploy(dir, 'staging');
    expect(staging.plan.resources.every((r) => r.status !== 'created' || r.action === 'promote')).toBe(true);
    expect(standin.writes().every((c) => /^\/v1\/commits\/[^/]+\/promote$/.test(c.path))).toBe(true);
    expect(standin.content('staging', 'workflow', 'replies', true)).toEqual(standin.content('development', 'workflow', 'replies', true));
    const production = await deploy(dir, 'production');
    expect(production.writes).toBe(staging.writes);
    expect(standin.content('production', 'guide', 'nps-survey', true)).toEqual(standin.content('development', 'guide', 'nps-survey', true));

    // A change committed and promoted in git reaches production only once staging has it.
    await editWorkflowName(dir, 'mentions', 'Mentions (v2)');
    await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'staging' });
    await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'production' });
    await deploy(dir, 'development');
    await expect(deploy(dir, 'production')).rejects.toMatchObject({ code: 'REFUSED', message: expect.stringContaining('deploy staging first') });
    await deploy(dir, 'staging');
    standin.resetCalls();
    await deploy(dir, 'production');
    expect(standin.writes()).toHaveLength(1);
    expect(standin.content('production', 'workflow', 'mentions', true)?.name).toBe('Mentions (v2)');
  });

  it('--force writes directly above development when the environment below never held the version', async () => {
    const { dir, standin } = await setup();
    await promoteEnvironment({ ...coreOptionsFor(dir), environment: 'staging' });
    const forced = await deploy(dir, 'staging', { force: true });
    expect(forced.plan.resources.filter((r) => r.action !== 'none').every((r) => r.action === 'write' && r.force)).toBe(true);
    expect(standin.writes().every((c) => c.query.force === 'true')).toBe(true);
    expect(standin.content('staging', 'workflow', 'replies', true)?.name).toBe('Replies');
  });

  it('refuses to overwrite drift (a dashboard commit, an uncommitted draft) unless --force, naming who changed it', async () => {
    const { dir, standin } = await setup();
    await deploy(dir, 'development');
    const edited = { ...standin.content('development', 'workflow', 'replies', true)!, name: 'Edited in Knock' };
    standin.dashboardEdit('development', 'workflow', 'replies', edited, { commit: true, author: 'grace@example.com' });
    await editWorkflowName(dir, 'replies', 'Edited in git');
    standin.resetCalls();
    const refused = await deploy(dir, 'development').catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'REFUSED', data: { refusals: [expect.objectContaining({ key: 'replies', reason: expect.stringContaining('grace@example.com') })] } });
    expect(standin.writes()).toHaveLength(0);
    await deploy(dir, 'development', { force: true });
    expect(standin.content('development', 'workflow', 'replies', true)?.name).toBe('Edited in git');

    standin.dashboardEdit('development', 'workflow', 'mentions', { ...standin.content('development', 'workflow', 'mentions', true)!, name: 'A draft' });
    await editWorkflowName(dir, 'mentions', 'Mentions renamed');
    await expect(deploy(dir, 'development')).rejects.toMatchObject({ code: 'REFUSED', message: expect.stringContaining('uncommitted changes') });
    // Drift on a resource the deploy does not change is reported, not refused.
    const plan = await deploy(dir, 'development', { dryRun: true, force: true });
    expect(plan.plan.resources.find((r) => r.key === 'mentions')?.drift).toEqual({ reason: 'uncommitted-draft' });
  });

  it('a deploy that fails after some writes leaves a journal; the next completes it and only then records it', async () => {
    const { dir, standin } = await setup();
    standin.faults = { failWritesAfter: 3 };
    await expect(deploy(dir, 'development')).rejects.toMatchObject({ code: 'REMOTE_ERROR' });
    expect(existsSync(journalPath(`${dir}/.git`))).toBe(true);
    expect(await auditDeploys(dir)).toHaveLength(0);
    expect(standin.commitsOf('development').length).toBeGreaterThanOrEqual(3);
    const doctor = await diagnose(coreOptionsFor(dir));
    expect(doctor.findings.filter((f) => f.check === 'deploy')).toEqual([expect.objectContaining({ code: 'deploy-incomplete', environment: 'development', message: expect.stringContaining('3 of') })]);
    standin.faults = {};
    standin.resetCalls();
    const resumed = await deploy(dir, 'development');
    expect(resumed.plan.resumes).toBe(await git(dir, 'rev-parse', 'development'));
    expect(resumed.plan.refusals).toEqual([]);
    expect(resumed.writes).toBe(resumed.plan.counts.created);
    expect(existsSync(journalPath(`${dir}/.git`))).toBe(false);
    expect(await auditDeploys(dir)).toHaveLength(1);
    expect((await diagnose(coreOptionsFor(dir))).findings.filter((f) => f.check === 'deploy')).toEqual([]);
  });

  it('rides out a rate limit and a 5xx through the client\'s retries', async () => {
    const { dir, standin } = await setup();
    standin.faults = { rateLimited: 2, retryAfterSeconds: 0, serverErrors: 1, serverErrorStatus: 503 };
    const result = await deploy(dir, 'development', { knock: { serviceToken: standin.token, baseURL: standin.url, maxRetries: 4 } });
    expect(result.deployed).toBe(true);
    expect(standin.calls.filter((c) => c.status === 429)).toHaveLength(2);
    expect(standin.calls.filter((c) => c.status === 503)).toHaveLength(1);
  });

  it('shows a 422 as a validation problem with Knock\'s field errors', async () => {
    const { dir } = await setup({ channels: ['in-app-feed', 'apns', 'sendgrid', 'twilio'] });
    const error = await deploy(dir, 'development').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'VALIDATION_FAILED', data: { errors: expect.arrayContaining([{ field: 'steps[0].channel_key', message: 'channel "knock-email" does not exist' }]) } });
  });

  it('refuses a bad token with AUTH_FAILED, and never puts the token in the journal, the audit trail or an error', async () => {
    const { dir, standin } = await setup();
    const error = await deploy(dir, 'development', { knock: { serviceToken: 'sk_wrong_secret', baseURL: standin.url, maxRetries: 0 } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'AUTH_FAILED' });
    expect(JSON.stringify({ message: (error as Error).message, data: (error as { data: unknown }).data })).not.toContain('sk_wrong_secret');
    standin.faults = { failWritesAfter: 1 };
    await deploy(dir, 'development').catch(() => undefined);
    expect(await readFile(journalPath(`${dir}/.git`), 'utf8')).not.toContain(standin.token);
    standin.faults = {};
    await deploy(dir, 'development');
    expect(await git(dir, 'log', '--format=%B', 'knock-env/audit')).not.toContain(standin.token);
  });

  it('two deploys of one environment at once: the second waits, re-plans, and writes nothing twice', async () => {
    const { dir, standin } = await setup();
    const [a, b] = await Promise.all([deploy(dir, 'development'), deploy(dir, 'development')]);
    const writes = a.writes + b.writes;
    expect(writes).toBe(Math.max(a.plan.counts.created, b.plan.counts.created));
    expect(standin.writes()).toHaveLength(writes);
    expect(await auditDeploys(dir)).toHaveLength(1);
  });

  it('the client reads as the stand-in pages: one listing of each view', async () => {
    const { dir, standin } = await setup();
    await deploy(dir, 'development');
    standin.resetCalls();
    await deploy(dir, 'development', { client: new KnockMgmt({ serviceToken: standin.token, baseURL: standin.url }) });
    const listings = standin.reads().filter((c) => c.path === '/v1/workflows' || c.path === '/v1/guides');
    expect(listings).toHaveLength(4);
  });
});
