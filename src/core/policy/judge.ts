import { CONFIG_FILE, kindsPhrase, PRODUCTION_WRITABLE_KINDS, RESOURCE_TYPES } from '../resources.js';
import type { KnockEnvConfig } from '../validate/config.js';
import type { ClassifiedChange, ContentView, PathChange, ResourceChangeClass } from './changes.js';
import { ACCOUNT, ownerOfPath, rankOf, type Owner } from './owners.js';
import { permission, permissionError, type Capability, type Principal } from './roles.js';

export { ACCOUNT, type Owner } from './owners.js';

/** Every rule a change can break; stable, for tests and `--json` readers. */
export type VerdictCode =
  /** The path belongs to another environment (DESIGN.md §3). */
  | 'owned-elsewhere'
  /** A new resource's key already exists in another environment. */
  | 'key-exists'
  /** A resource created above the lowest environment without origin_environment. */
  | 'origin-missing'
  /** A new resource whose origin_environment names another environment. */
  | 'origin-mismatch'
  /** origin_environment of an existing resource changes. */
  | 'origin-changed'
  /** A resource created above the lowest environment while production write access is off. */
  | 'write-access-off'
  /** The acting principal's role (or key) does not allow the change there. */
  | 'role'
  /** knock-env.yaml changed other than through knock-env's commands. */
  | 'account-edit'
  /** An account change removes or reorders environments. */
  | 'account-environments'
  /** An account change deletes knock-env.yaml. */
  | 'account-deleted'
  /** A rollback changes a path its environment (or one above) owns. */
  | 'rollback-owned'
  /** A rollback gives a path content the restored state did not have. */
  | 'rollback-content'
  /** A merge brings down content its owner neither has nor is about to get. */
  | 'merge-down-content'
  /** A merge into an environment changes a path of an environment below it. */
  | 'merge-down-lower'
  /** An environment would get content of a path owned at or above it that its owner does not give it. */
  | 'owned-content';

export interface Verdict {
  code: VerdictCode;
  path: string;
  /** The environment owning the path (or "account"), or the one the rule is about. */
  owner: string | null;
  message: string;
  hint: string;
}

/** What kind of change is proposed to one environment. */
export type ChangeKind = 'commit' | 'direct-commit' | 'promotion' | 'rollback' | 'merge-down' | 'account-command';

export interface ProposedChange {
  kind: ChangeKind;
  /** The environment the change is made to. */
  environment: string;
  /** The account as committed before the change: it decides roles and settings. */
  account: KnockEnvConfig;
  /** Environments, lowest first (default: the account's). */
  environments?: string[];
  /** Who makes the change; null when nobody is known yet (a pull request is judged before anyone merges it). */
  principal: Principal | null;
  /** The changed paths, classified (classifyChanges). */
  changes: ClassifiedChange[];
  /** The environments whose current head holds a resource folder (for "a key is created only once"). */
  keysIn?(dir: string): Promise<string[]>;
  /** For knock-env.yaml: the account before and after the change (null after: invalid or deleted). */
  accountBefore?: KnockEnvConfig | null;
  accountAfter?: KnockEnvConfig | null;
  /** For a rollback: the state it restores. */
  restored?: ContentView;
  /**
   * For a merge-down or a promotion: whether the new content of a path owned
   * by `owner` (an environment at or above the one changed) is what that owner
   * has or is about to get. Absent: not judged.
   */
  ownersContent?(change: PathChange, owner: string): Promise<boolean>;
  /** For a promotion: whether it brings commits made for a lower environment (default true); only then the promote role is needed. */
  promotes?: boolean;
  /** For a promotion: whether it brings an account the environment above does not have yet (needs the account role). */
  bringsAccountChange?: boolean;
}

/** The hint for "make the change where it belongs" (one wording everywhere). */
export function changeWhereItBelongs(owner: string, promoteTo?: string): string {
  const reach = promoteTo === undefined ? '' : `, and promote it to ${promoteTo}`;
  return `Make the change in ${owner}: \`knock-env checkout ${owner}\`, edit, then \`knock-env commit\`${reach}.`;
}

const ACCOUNT_HINT = 'Change the account with knock-env (`knock-env members`, `keys`, `settings`, `env create`); discard the edit with `git checkout -- knock-env.yaml`.';

/** Whether `after` keeps every environment of `before`, in the same order, first and last included. */
export function keepsOrder(before: string[], after: string[]): boolean {
  if (after[0] !== before[0] || after[after.length - 1] !== before[before.length - 1]) return false;
  let at = -1;
  for (const env of before) {
    const found = after.indexOf(env);
    if (found <= at) return false;
    at = found;
  }
  return true;
}

function named(r: ResourceChangeClass): string {
  return `${r.kind} "${r.key}"`;
}

/** Every path of a classified change, with the change itself. */
function pathsOf(c: ClassifiedChange): PathChange[] {
  return c.class === 'resource' ? c.paths : [c.change];
}

/**
 * Judges a proposed change to one environment and returns every verdict at
 * once (an empty list: allowed). Validity is judged apart (validateChanges).
 */
export async function judgeChange(input: ProposedChange): Promise<Verdict[]> {
  return new Judgement(input).run();
}

class Judgement {
  private readonly verdicts: Verdict[] = [];
  private readonly needs = new Map<Capability, string>();
  private readonly environments: string[];
  private readonly env: string;
  private readonly lowest: string;
  private readonly highest: string;

  constructor(private readonly input: ProposedChange) {
    this.environments = input.environments ?? input.account.environments.map((e) => e.slug);
    this.env = input.environment;
    this.lowest = this.environments[0]!;
    this.highest = this.environments[this.environments.length - 1]!;
  }

  private add(code: VerdictCode, path: string, owner: string | null, message: string, hint: string): void {
    this.verdicts.push({ code, path, owner, message, hint });
  }

  /** The owner of a changed path, judged from the state before the change; null for a resource the change creates. */
  ownerOf(c: ClassifiedChange): Owner | null {
    if (c.class === 'resource') return c.claimed ? ownerOfPath(c.file, this.environments, { origin: c.originBefore }) : null;
    return ownerOfPath(c.path, this.environments, undefined);
  }

  rank(owner: Owner): number {
    return rankOf(owner, this.environments);
  }

  async run(): Promise<Verdict[]> {
    const { kind } = this.input;
    if (kind === 'rollback') await this.rollback();
    else if (kind === 'merge-down') await this.mergeDown();
    else if (kind === 'promotion') await this.promotion();
    else await this.edits(this.input.changes);
    this.roles();
    return this.verdicts;
  }

  private roles(): void {
    const who = this.input.principal;
    if (who === null) return;
    for (const [capability, action] of this.needs) {
      const where = capability === 'manage-account' ? this.highest : this.env;
      const reason = permission(this.input.account, who, capability, where);
      if (reason === null) continue;
      const error = permissionError(this.input.account, who, capability, where, reason, action);
      this.add('role', '', where, error.message, error.hint ?? '');
    }
  }

  /** Changes made in the environment: a commit, a direct commit, an account change, or a merge's own changes. */
  private async edits(changes: ClassifiedChange[]): Promise<void> {
    const env = this.env;
    for (const c of changes) {
      // A path with an invalid key, or below environments/ for no environment of the account, is a validation problem only.
      if (c.class === 'invalid-key' || (c.class === 'environment-file' && !this.environments.includes(c.environment))) continue;
      if (c.class === 'resource') {
        await this.resourceEdit(c);
        continue;
      }
      const owner = this.ownerOf(c)!;
      if (c.class === 'account') {
        this.accountEdit(c);
      } else if (owner !== env) {
        const message =
          c.class === 'environment-file'
            ? `${c.path} belongs to the ${owner} environment; it cannot be changed in ${env}.`
            : `${c.path} belongs to ${owner} (paths outside ${CONFIG_FILE}, workflows/, guides/ and environments/ belong to the lowest environment); it cannot be changed in ${env}.`;
        this.add('owned-elsewhere', c.path, owner, message, changeWhereItBelongs(owner, this.promoteTo(owner)));
      } else if (c.class === 'environment-file') {
        this.needs.set('configure-environment', `change ${env}'s channels, variables or branding`);
      } else {
        this.needs.set('edit-resources', `commit files in ${env}`);
      }
    }
  }

  /** The environment a change made in `owner` reaches by promotion: this one, when the owner is below it. */
  private promoteTo(owner: Owner): string | undefined {
    return owner !== ACCOUNT && rankOf(owner, this.environments) < rankOf(this.env, this.environments) ? this.env : undefined;
  }

  private async resourceEdit(r: ResourceChangeClass): Promise<void> {
    const { env, lowest } = this;
    // Types without origin protection (layouts, partials, translations, message types, audiences)
    // belong to the lowest environment wherever they are, and production write access does not cover them.
    if (RESOURCE_TYPES[r.kind].owner !== 'origin-environment') {
      if (env !== lowest) {
        this.add(
          'owned-elsewhere',
          r.file,
          lowest,
          `${named(r)} belongs to ${lowest}: ${RESOURCE_TYPES[r.kind].plural} are created in ${lowest}, changed only there and promoted (production write access covers ${kindsPhrase(PRODUCTION_WRITABLE_KINDS)} only); it cannot be ${r.status === 'added' ? 'created' : r.status === 'deleted' ? 'deleted' : 'changed'} in ${env}.`,
          changeWhereItBelongs(lowest, env),
        );
        return;
      }
      this.needs.set('edit-resources', `commit ${RESOURCE_TYPES[r.kind].plural}`);
      return;
    }
    const owner = this.ownerOf(r);
    if (owner === null) {
      const elsewhere = ((await this.input.keysIn?.(r.dir)) ?? []).filter((e) => e !== env);
      if (elsewhere.length > 0) {
        const first = elsewhere[0]!;
        this.add('key-exists', r.file, first, `${named(r)} already exists in ${elsewhere.join(', ')}; a key can be created only once.`, `Choose another key, or edit it in ${first} (\`knock-env checkout ${first}\`) and promote it.`);
        return;
      }
      if (env !== lowest && !this.input.account.settings?.production_write_access) {
        this.add(
          'write-access-off',
          r.file,
          lowest,
          `${named(r)} cannot be created in ${env}: production write access is off, so workflows and guides are created in ${lowest} and promoted.`,
          `Create it in ${lowest} and promote it, or ask an owner to run \`knock-env settings set production-write-access on\`.`,
        );
        return;
      }
      if (r.originAfter === null && env !== lowest) {
        this.add('origin-missing', r.file, env, `${named(r)} is created in ${env} without origin_environment; a resource created in ${env} must say origin_environment: ${env}.`, 'Create resources with `knock-env commit`, which sets origin_environment to the environment it commits to.');
        return;
      }
      // An origin that names no environment is a validation problem (validateChanges), not a claim of another owner.
      if (r.originAfter !== null && r.originAfter !== env && this.environments.includes(r.originAfter)) {
        this.add('origin-mismatch', r.file, env, `${named(r)} says origin_environment: ${r.originAfter}, but it is created in ${env}.`, `Remove the origin_environment line (\`knock-env commit\` sets it), or create it in ${r.originAfter}.`);
        return;
      }
      this.needs.set('edit-resources', 'commit workflows and guides');
      return;
    }
    if (owner !== env) {
      this.add('owned-elsewhere', r.file, owner, `${named(r)} belongs to ${owner} (its origin environment); it cannot be ${r.status === 'deleted' ? 'deleted' : 'changed'} in ${env}.`, changeWhereItBelongs(owner, this.promoteTo(owner)));
      return;
    }
    if (r.status === 'modified') {
      const changed = r.originBefore !== null ? r.originAfter !== r.originBefore : r.originAfter !== null && r.originAfter !== lowest;
      if (changed) {
        this.add(
          'origin-changed',
          r.file,
          owner,
          `${named(r)}: origin_environment cannot change (it is ${r.originBefore ?? `absent, which means ${lowest}`}; the change makes it ${r.originAfter ?? 'absent'}).`,
          r.originBefore !== null ? `Restore \`origin_environment: ${r.originBefore}\` in ${r.file}.` : `Remove the origin_environment line from ${r.file}.`,
        );
        return;
      }
    }
    this.needs.set('edit-resources', 'commit workflows and guides');
  }

  private accountEdit(c: Extract<ClassifiedChange, { class: 'account' }>): void {
    if (this.input.kind !== 'account-command') {
      this.add('account-edit', c.path, ACCOUNT, `${CONFIG_FILE} holds the account (environments, settings, members, API keys); it is changed only through knock-env's commands, never in a commit, a pull request or a push of your own.`, ACCOUNT_HINT);
      return;
    }
    if (this.env !== this.highest) {
      this.add('owned-elsewhere', c.path, ACCOUNT, `${CONFIG_FILE} holds the account and is committed only on ${this.highest} (and merged down); it cannot be changed in ${this.env}.`, ACCOUNT_HINT);
      return;
    }
    if (c.status === 'deleted') {
      this.add('account-deleted', c.path, ACCOUNT, `${CONFIG_FILE} is deleted: the project would no longer be a knock-env project.`, 'Restore it.');
      return;
    }
    const before = this.input.accountBefore?.environments.map((e) => e.slug);
    const after = this.input.accountAfter?.environments.map((e) => e.slug);
    if (before && after && !keepsOrder(before, after)) {
      this.add('account-environments', c.path, ACCOUNT, `The change removes or reorders environments (${before.join(' → ')} becomes ${after.join(' → ')}); environments are only ever added.`, 'Add environments with `knock-env env create <slug>`.');
    }
    this.needs.set('manage-account', `change the account (${CONFIG_FILE})`);
  }

  /**
   * A rollback restores, in paths lower environments own, the content of an
   * earlier state of its environment; what the environment (or one above it)
   * owns stays as it is.
   */
  private async rollback(): Promise<void> {
    const position = this.environments.indexOf(this.env);
    const restored = this.input.restored;
    for (const c of this.input.changes) {
      const owner = this.ownerOf(c) ?? this.lowest;
      for (const change of pathsOf(c)) {
        if (this.rank(owner) >= position) {
          this.add('rollback-owned', change.path, owner, `The rollback changes ${change.path}, which ${owner === ACCOUNT ? 'holds the account' : `belongs to ${owner}`}; a rollback of ${this.env} restores only what lower environments promoted into it.`, `Roll back with \`knock-env rollback ${this.env}\`.`);
          continue;
        }
        if (!restored?.entry) continue;
        const then = await restored.entry(change.path);
        const same = change.newOid === undefined ? then === null : then !== null && then.oid === change.newOid && (change.newMode === undefined || then.mode === change.newMode);
        if (!same) this.add('rollback-content', change.path, owner, `The rollback gives ${change.path} content it did not have in the state it restores.`, `Roll back with \`knock-env rollback ${this.env}\`.`);
      }
    }
    this.needs.set('promote', `roll back ${this.env}`);
  }

  /**
   * A merge into the environment may give paths owned above it only their
   * owner's content; changes in paths it owns are judged as edits made there;
   * paths of lower environments stay as they were (they arrive by promotion).
   */
  private async mergeDown(): Promise<void> {
    const position = this.environments.indexOf(this.env);
    const own: ClassifiedChange[] = [];
    for (const c of this.input.changes) {
      const owner = this.ownerOf(c) ?? this.env;
      const rank = this.rank(owner);
      if (rank > position) {
        const holder = owner === ACCOUNT ? this.highest : owner;
        for (const change of pathsOf(c)) {
          if (!this.input.ownersContent || (await this.input.ownersContent(change, holder))) continue;
          this.add(
            'merge-down-content',
            change.path,
            holder,
            `The merge into ${this.env} gives ${change.path} (owned by ${owner === ACCOUNT ? `the account, committed on ${holder}` : holder}) content that is neither ${holder}'s current content nor that of a commit made for ${holder} on top of its current head; a merge may only bring down what ${holder} has or is about to get, never an earlier state.`,
            owner === ACCOUNT
              ? `Change the account in ${holder} with knock-env (\`knock-env members\`, \`keys\`, \`settings\`), which merges it down; to merge by hand, merge ${holder}'s current head.`
              : `Change it in ${holder} with knock-env, which merges it down; to merge by hand, merge ${holder}'s current head.`,
          );
        }
      } else if (owner === this.env || (owner === ACCOUNT && rank === position)) {
        own.push(c);
      } else {
        for (const change of pathsOf(c)) {
          this.add('merge-down-lower', change.path, owner, `The merge into ${this.env} changes ${change.path}, which belongs to ${owner}, an environment below ${this.env}.`, `Changes of ${owner} reach ${this.env} by promotion (\`knock-env promote\`), never by a merge.`);
        }
      }
    }
    await this.edits(own);
  }

  /**
   * A promotion moves the environment onto content of the one below: paths
   * owned there or above must arrive as their owner has them (content its
   * owner no longer has never comes back by a fast-forward).
   */
  private async promotion(): Promise<void> {
    if (this.input.promotes !== false) this.needs.set('promote', 'promote');
    if (this.input.bringsAccountChange) this.needs.set('manage-account', `move ${this.env} onto a change of the account (${CONFIG_FILE})`);
    const position = this.environments.indexOf(this.env);
    for (const c of this.input.changes) {
      const owner = this.ownerOf(c) ?? this.lowest;
      if (this.rank(owner) < position) continue;
      const holder = owner === ACCOUNT ? this.highest : owner;
      for (const change of pathsOf(c)) {
        if (!this.input.ownersContent || (await this.input.ownersContent(change, holder))) continue;
        this.add(
          'owned-content',
          change.path,
          holder,
          `${this.env} would get ${change.path} (owned by ${owner === ACCOUNT ? `the account, committed on ${holder}` : holder}) with content that is neither ${holder}'s current content nor that of a commit made for ${holder} on top of its current head; ${this.env} takes it only as ${holder} has it or is about to get it.`,
          `Make the change in ${holder} with knock-env (it merges it down into the lower environments), fetch, and promote again; content ${holder} no longer has never comes back by a promotion.`,
        );
      }
    }
  }
}
