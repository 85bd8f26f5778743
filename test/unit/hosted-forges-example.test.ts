import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../helpers/repo.js';

/**
 * examples/hosted-forges holds together: the files parse, the status check the
 * ruleset requires is the job the workflow runs, only the CI app may move the
 * upper environments, and every promotion and deploy takes its secrets from
 * the environment it acts in.
 */

const DIR = join(REPO_ROOT, 'examples/hosted-forges');

type Job = { name?: string; environment?: unknown; steps?: { run?: string; env?: Record<string, string> }[]; script?: string[]; extends?: string };
const workflow = async (name: string) => parse(await readFile(join(DIR, 'github/workflows', name), 'utf8')) as { on: Record<string, unknown>; jobs: Record<string, Job> };
const runs = (job: Job): string => (job.steps ?? []).map((s) => s.run ?? '').join('\n');

describe('examples/hosted-forges', () => {
  it('GitHub: the ruleset on development requires the check job by its name, on pull requests into development', async () => {
    const ruleset = JSON.parse(await readFile(join(DIR, 'github/ruleset-development.json'), 'utf8')) as { conditions: { ref_name: { include: string[] } }; rules: { type: string; parameters?: { required_status_checks?: { context: string }[] } }[] };
    expect(ruleset.conditions.ref_name.include).toEqual(['refs/heads/development']);
    const required = ruleset.rules.find((r) => r.type === 'required_status_checks')!.parameters!.required_status_checks!.map((c) => c.context);
    const check = await workflow('knock-env-check.yml');
    expect(check.on).toEqual({ pull_request: { branches: ['development'] } });
    expect(required).toEqual([check.jobs.check!.name]);
    expect(runs(check.jobs.check!)).toContain('npx knock-env check --base origin/development --head HEAD --format github');
    expect(ruleset.rules.map((r) => r.type)).toEqual(expect.arrayContaining(['deletion', 'non_fast_forward', 'pull_request']));
  });

  it('GitHub: only the bypass actor moves staging, production and the audit trail; promotions and deploys run in the GitHub Environment they act on', async () => {
    const ruleset = JSON.parse(await readFile(join(DIR, 'github/ruleset-environments.json'), 'utf8')) as { conditions: { ref_name: { include: string[] } }; bypass_actors: { actor_type: string }[]; rules: { type: string }[] };
    expect(ruleset.conditions.ref_name.include.sort()).toEqual(['refs/heads/knock-env/audit', 'refs/heads/production', 'refs/heads/staging']);
    expect(ruleset.bypass_actors.map((a) => a.actor_type)).toEqual(['Integration']);
    expect(ruleset.rules.map((r) => r.type).sort()).toEqual(['creation', 'deletion', 'non_fast_forward', 'update']);
    const promote = await workflow('knock-env-promote.yml');
    for (const job of Object.values(promote.jobs)) expect(job.environment).toBe('${{ inputs.environment }}');
    const step = promote.jobs.promote!.steps!.find((s) => s.run?.includes('knock-env promote'))!;
    expect(step.env!.KNOCK_ENV_API_KEY).toBe('${{ secrets.KNOCK_ENV_API_KEY }}');
    expect(step.run).toContain('npx knock-env promote "$TARGET" --yes');
    const deploy = await workflow('knock-env-deploy-development.yml');
    expect(deploy.jobs.deploy!.environment).toBe('development');
    expect(runs(deploy.jobs.deploy!)).toContain('npx knock-env export ../knock --env development');
  });

  it('GitLab: the check runs on merge requests into development; staging and production take pushes from the CI user only', async () => {
    const ci = parse(await readFile(join(DIR, 'gitlab/.gitlab-ci.yml'), 'utf8')) as Record<string, Job & { rules?: { if: string }[] }>;
    expect(ci['knock-env check']!.rules![0]!.if).toContain('$CI_MERGE_REQUEST_TARGET_BRANCH_NAME == "development"');
    expect(ci['knock-env check']!.script).toContain('npx knock-env check --base origin/development --head HEAD');
    for (const name of ['promote staging', 'promote production', 'deploy staging', 'deploy production']) {
      expect(ci[name]!.environment, name).toEqual({ name: name.split(' ')[1] });
    }
    expect(ci['.promote']!.script).toContain('npx knock-env promote "$CI_ENVIRONMENT_NAME" --yes');
    const settings = JSON.parse(await readFile(join(DIR, 'gitlab/protected-branches.json'), 'utf8')) as { protected_branches: { name: string; allow_force_push: boolean; allowed_to_push: { user_id?: string; access_level?: number }[] }[] };
    for (const branch of settings.protected_branches) {
      expect(branch.allow_force_push, branch.name).toBe(false);
      expect(branch.allowed_to_push, branch.name).toEqual(branch.name === 'development' ? [{ access_level: 0 }] : [{ user_id: 'ci_user_id' }]);
    }
  });

  it('its README says what the hook guarantees that this setup does not, and the main README links it', async () => {
    const readme = await readFile(join(DIR, 'README.md'), 'utf8');
    expect(readme).toMatch(/## What this does not guarantee/);
    expect(readme).toMatch(/What closes the gap/);
    for (const file of [...(await readdir(join(DIR, 'github/workflows'))).map((f) => `github/workflows/${f}`), 'github/ruleset-development.json', 'github/ruleset-environments.json', 'gitlab/.gitlab-ci.yml', 'gitlab/protected-branches.json']) {
      expect(readme, file).toContain(`\`${file}\``);
    }
    expect(await readFile(join(REPO_ROOT, 'README.md'), 'utf8')).toContain('(examples/hosted-forges/README.md)');
  });
});
