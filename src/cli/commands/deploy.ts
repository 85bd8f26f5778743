import type { Command } from 'commander';
import type { Io } from '../io.js';
import type { KnockFlags } from './deploy-run.js';

type Run = (fn: (...args: never[]) => Promise<number>) => (...args: unknown[]) => Promise<void>;

export const TOKEN_HELP = 'file holding the Knock service token (default: KNOCK_SERVICE_TOKEN)';

export function registerDeployCommands(program: Command, io: Io, run: Run): void {
  const deploy = program
    .command('deploy')
    .description("make Knock's environment hold what an environment branch holds (plan, apply, read back, record)")
    .argument('<env>', 'the environment branch to deploy')
    .option('--dry-run', 'show the plan; send nothing to Knock')
    .option('-y, --yes', 'deploy without asking (CI)')
    .option('--force', 'overwrite drift, and write directly above development where promotion cannot bring the content')
    .option('--token-file <file>', TOKEN_HELP)
    .option('--format <format>', 'plan format: text or markdown', 'text')
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      `
Plans first: per resource created, updated (the fields), unchanged, deleted in git, only in Knock,
and drift (changed in Knock since knock-env last deployed it, or an uncommitted draft).
In development every change is upserted and committed in Knock, one Knock commit per resource,
its message naming the git commit. Above development content moves by Knock's promotion of the
commits the environment below holds with exactly the branch's content; a resource whose origin
is the environment itself is written directly. Deleted in git: workflows are deactivated,
guides deactivated (archived when the highest environment deploys). Afterwards every deployed
resource is read back and compared, and the deploy is recorded in the audit trail.

Refuses (exit 4) to overwrite drift, or when the environment below never held the version
(deploy it first), unless --force. Knock's field errors on a 422 exit 3. An interrupted deploy
leaves .git/knock-env/deploy-journal.json; the next deploy completes it.

Environment: KNOCK_SERVICE_TOKEN, KNOCK_MGMT_BASE_URL (default https://control.knock.app).

Examples:
  $ knock-env deploy development --dry-run
  $ KNOCK_SERVICE_TOKEN=... knock-env deploy production --yes
  $ knock-env deploy staging --format markdown --dry-run > plan.md`,
    )
    .action(run(async (environment: string, opts: KnockFlags & { dryRun?: boolean; yes?: boolean; force?: boolean; json?: boolean; format?: string }) => (await import('./deploy-run.js')).runDeploy(io, environment, opts)));
  deploy
    .command('map')
    .description("set the Knock environment a branch deploys to (default: the same slug)")
    .argument('<env>', 'the environment branch')
    .argument('<knock-env>', "Knock's environment slug")
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nAn account change: committed on the highest environment and merged down (owner or admin).\n\nExample:\n  $ knock-env deploy map production prod')
    .action(run(async (environment: string, knockEnvironment: string, opts: { json?: boolean }) => (await import('./deploy-run.js')).runMap(io, environment, knockEnvironment, opts)));

  program
    .command('drift')
    .description("compare Knock's environment with the last deploy and the branch (reads only)")
    .argument('<env>', 'the environment branch')
    .option('--token-file <file>', TOKEN_HELP)
    .option('--json', 'machine-readable output')
    .addHelpText('after', `
Reports uncommitted drafts in Knock, content changed in Knock since knock-env last deployed it,
resources only in Knock, and what the branch holds that is not deployed. Exits 0 in sync, 4 when
anything differs.

Examples:
  $ knock-env drift production
  $ knock-env drift development --json`)
    .action(run(async (environment: string, opts: KnockFlags & { json?: boolean }) => (await import('./deploy-run.js')).runDrift(io, environment, opts)));
}
