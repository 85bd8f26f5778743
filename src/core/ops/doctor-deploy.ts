import type { FileSystem } from '../git/fs.js';
import { readDeployJournal } from '../git/deploy-journal.js';

/** What `doctor` reports about deploys: one finding per environment whose deploy to Knock was interrupted. */
export interface DeployFinding {
  check: 'deploy';
  code: 'deploy-incomplete';
  severity: 'warning';
  environment: string;
  commit: string;
  message: string;
  hint: string;
  fixable: false;
}

export async function checkDeployJournal(project: { fs: FileSystem; gitdir: string }): Promise<DeployFinding[]> {
  let entries;
  try {
    entries = await readDeployJournal(project.fs, project.gitdir);
  } catch {
    return [
      {
        check: 'deploy',
        code: 'deploy-incomplete',
        severity: 'warning',
        environment: '',
        commit: '',
        message: 'The deploy journal (.git/knock-env/deploy-journal.json) cannot be read.',
        hint: 'Remove it and run `knock-env deploy <env>` for each environment: the plan compares with Knock itself.',
        fixable: false,
      },
    ];
  }
  return entries.map((e) => ({
    check: 'deploy',
    code: 'deploy-incomplete',
    severity: 'warning',
    environment: e.environment,
    commit: e.commit,
    message: `A deploy of ${e.environment} to Knock's ${e.knockEnvironment} (${e.commit.slice(0, 7)}, started ${e.startedAt}) stopped before it was read back and recorded; ${e.confirmed} of ${e.planned} writes were confirmed.`,
    hint: `Run \`knock-env deploy ${e.environment}\`: it plans against what Knock holds now and completes the deploy.`,
    fixable: false,
  }));
}
