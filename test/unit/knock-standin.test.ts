import KnockMgmt from '@knocklabs/mgmt';
import { afterEach, describe, expect, it } from 'vitest';
import { KnockStandin } from '../support/knock-standin.js';

let standin: KnockStandin | null = null;
afterEach(async () => {
  await standin?.stop();
  standin = null;
});

async function start(options: ConstructorParameters<typeof KnockStandin>[0] = {}) {
  standin = await new KnockStandin(options).start();
  const client = new KnockMgmt({ serviceToken: standin.token, baseURL: standin.url, maxRetries: 2 });
  return { standin, client };
}

const workflow = (name: string) => ({ name, steps: [{ ref: 'email_1', type: 'channel', channel_key: 'email', template: { subject: 'Hi', html_body: `<p>${name}</p>` } }] });

describe('the Management API stand-in', () => {
  it('keeps a draft apart from the committed content until a scoped commit', async () => {
    const { standin, client } = await start();
    await client.workflows.upsert('welcome', { environment: 'development', workflow: workflow('Welcome') as never });
    await client.workflows.upsert('other', { environment: 'development', workflow: workflow('Other') as never });
    await expect(client.workflows.retrieve('welcome', { environment: 'development', hide_uncommitted_changes: true })).rejects.toMatchObject({ status: 404 });
    expect((await client.workflows.retrieve('welcome', { environment: 'development' })).name).toBe('Welcome');
    await client.commits.commitAll({ environment: 'development', resource_type: 'workflow', resource_id: 'welcome', commit_message: 'one' });
    expect(standin.content('development', 'workflow', 'welcome', true)?.name).toBe('Welcome');
    // The scope held: the other draft stays a draft.
    expect(standin.content('development', 'workflow', 'other', true)).toBeNull();
    expect(standin.commitsOf('development').map((c) => c.resource.identifier)).toEqual(['welcome']);
  });

  it('promotes one environment up, one commit or all unpromoted, and refuses edits outside the origin environment', async () => {
    const { standin, client } = await start();
    await client.workflows.upsert('welcome', { environment: 'development', workflow: workflow('Welcome') as never, commit: true, commit_message: 'a' });
    const [first] = (await client.commits.list({ environment: 'development', promoted: false })).entries;
    const promoted = await client.commits.promoteOne(first!.id);
    expect(promoted.commit.environment).toBe('staging');
    expect(standin.content('staging', 'workflow', 'welcome', true)?.name).toBe('Welcome');
    expect(standin.content('production', 'workflow', 'welcome', true)).toBeNull();
    await client.commits.promoteAll({ to_environment: 'production' });
    expect(standin.content('production', 'workflow', 'welcome', true)?.name).toBe('Welcome');
    const refused = await client.workflows.upsert('welcome', { environment: 'production', workflow: workflow('Edited') as never }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 422 });
    expect(JSON.stringify((refused as { error: unknown }).error)).toContain('origin environment (development)');
    await client.workflows.upsert('welcome', { environment: 'production', workflow: workflow('Forced') as never, force: true });
    expect(standin.content('production', 'workflow', 'welcome')?.name).toBe('Forced');
  });

  it('answers 401 without the token, 422 with field errors, 404 for unknown keys', async () => {
    const { standin, client } = await start();
    const anonymous = new KnockMgmt({ serviceToken: 'wrong', baseURL: standin.url, maxRetries: 0 });
    await expect(anonymous.workflows.list({ environment: 'development' })).rejects.toMatchObject({ status: 401 });
    const bad = await client.workflows.upsert('bad', { environment: 'development', workflow: { name: '', steps: [{ ref: 'a' }, { ref: 'a' }] } as never }).catch((e: unknown) => e);
    expect((bad as { status: number }).status).toBe(422);
    expect((bad as { error: { errors: { field: string }[] } }).error.errors.map((e) => e.field)).toEqual(['name', 'steps[1].ref']);
    await expect(client.guides.retrieve('nope', { environment: 'development' })).rejects.toMatchObject({ status: 404 });
  });

  it('pages at 100, and the client follows every page', async () => {
    const { standin, client } = await start();
    for (let i = 0; i < 250; i++) standin.dashboardEdit('development', 'workflow', `wf-${String(i).padStart(3, '0')}`, workflow(`W${i}`), { commit: true });
    standin.resetCalls();
    const keys: string[] = [];
    for await (const w of client.workflows.list({ environment: 'development', limit: 500 })) keys.push(w.key);
    expect(keys).toHaveLength(250);
    expect(new Set(keys).size).toBe(250);
    expect(standin.reads()).toHaveLength(3);
  });

  it('answers 429 with retry-after and 5xx, which the client retries', async () => {
    const { standin, client } = await start();
    standin.faults = { rateLimited: 1, retryAfterSeconds: 0, serverErrors: 1, serverErrorStatus: 502 };
    const page = await client.workflows.list({ environment: 'development' });
    expect(page.entries).toEqual([]);
    expect(standin.calls.map((c) => c.status)).toEqual([429, 502, 200]);
  });

  it('annotates the fields knock pull writes to files, and hides drafts on request', async () => {
    const { standin, client } = await start();
    standin.dashboardEdit('development', 'workflow', 'welcome', workflow('Committed'), { commit: true });
    standin.dashboardEdit('development', 'workflow', 'welcome', workflow('Draft'));
    const annotated = (await client.workflows.retrieve('welcome', { environment: 'development', annotate: true })) as unknown as { name: string; steps: { template: { __annotation: { extractable_fields: unknown } } }[] };
    expect(annotated.name).toBe('Draft');
    expect(annotated.steps[0]!.template.__annotation.extractable_fields).toEqual({ html_body: { default: true, file_ext: 'html' } });
    const committed = await client.workflows.retrieve('welcome', { environment: 'development', hide_uncommitted_changes: true });
    expect(committed.name).toBe('Committed');
  });
});
