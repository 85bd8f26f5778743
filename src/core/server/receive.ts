import { type Principal } from '../access.js';
import { type GitStore } from '../git/objects.js';
import { readRef } from '../git/refs.js';
import { branchRef, HIGHEST_ENVIRONMENT, loadConfigAt, type Project } from '../project.js';
import { CONFIG_FILE } from '../resources.js';
import { type KnockEnvConfig } from '../validate/config.js';
import { shortOid } from '../ops/shared.js';
import { identifyPusher, type PusherEnvironment } from './identity.js';
import { PushCheck } from './push-check.js';
import type { PushedRef, PushRejection } from './push-types.js';

export type { PushedRef, PushRejection } from './push-types.js';

/**
 * What a knock-env server accepts in a push (the pre-receive hook's verdict):
 * the rules every knock-env command follows locally, held against whatever a
 * plain git client sends. The account (roles, environments, settings) is read
 * from knock-env.yaml on the server's production branch as it stands before
 * the push, so nobody grants themselves a role in the push that uses it.
 */

export const ZERO_OID = '0000000000000000000000000000000000000000';

/** One line of a pre-receive hook's input; null stands for git's all-zero id (created or deleted). */
export interface PushVerdict {
  accepted: boolean;
  rejections: PushRejection[];
  /** Who pushed, when the server could tell. */
  principal: Principal | null;
}

export interface CheckPushOptions {
  /** The server's repository; objectDirs holds the push's quarantine while the hook runs. */
  store: GitStore;
  updates: PushedRef[];
  /** The member's email the server authenticated (REMOTE_USER). */
  remoteUser?: string;
  /** An API key's secret the server authenticated. */
  apiKey?: string;
  /** The hook's environment and the server's identity mappings (forges' variables for the pusher): identity.ts. */
  pusher?: PusherEnvironment;
}

const OID = /^[0-9a-f]{40}$/;

/** Parses "<old> <new> <ref>" lines as git gives them to a pre-receive hook. */
export function parseHookInput(text: string): PushedRef[] {
  const out: PushedRef[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const [old, next, ref] = line.split(/\s+/, 3);
    if (!old || !next || !ref || !OID.test(old) || !OID.test(next)) continue;
    out.push({ ref, old: old === ZERO_OID ? null : old, new: next === ZERO_OID ? null : next });
  }
  return out;
}

/** One rejection as the pusher reads it (git prefixes every line with "remote: "). */
export function formatRejection(r: PushRejection): string {
  const facts = [r.commit ? `commit ${shortOid(r.commit)}` : '', r.path ? `path ${r.path}` : '', r.environment ? `environment ${r.environment}` : '', r.code ? `rule ${r.code}` : ''].filter((f) => f !== '');
  const lines = [`  - ${r.ref}: ${r.message}`];
  if (facts.length > 0) lines.push(`      (${facts.join(', ')})`);
  if (r.hint) lines.push(`      hint: ${r.hint}`);
  return lines.join('\n');
}

/** Judges a push; never throws (a failure to read the push refuses it). */
export async function checkPush(options: CheckPushOptions): Promise<PushVerdict> {
  const updates = options.updates.filter((u) => u.old !== u.new);
  if (updates.length === 0) return { accepted: true, rejections: [], principal: null };
  const refuseAll = (message: string, hint?: string): PushVerdict => ({
    accepted: false,
    rejections: updates.map((u) => ({ ref: u.ref, message, ...(hint ? { hint } : {}) })),
    principal: null,
  });
  const { store } = options;
  const productionHead = await readRef(store, branchRef(HIGHEST_ENVIRONMENT)).catch(() => null);
  if (productionHead === null) {
    return refuseAll(`the server's repository has no ${HIGHEST_ENVIRONMENT} branch, so it cannot tell who may do what.`, 'Ask the server\'s administrator to push the project\'s branches (`git push --all`) before anyone else pushes.');
  }
  let config: KnockEnvConfig;
  try {
    config = await loadConfigAt(store, productionHead);
  } catch (error) {
    return refuseAll(`${CONFIG_FILE} on the server's ${HIGHEST_ENVIRONMENT} branch cannot be read: ${error instanceof Error ? error.message : String(error)}`, 'The server\'s administrator has to repair it.');
  }
  const identified = identifyPusher(config, options);
  if ('refusal' in identified) return refuseAll(identified.refusal.message, identified.refusal.hint);
  const who = identified.principal;
  // One object for every read, so parsed packs and trees are shared; the directory is never used.
  const project: Project = Object.assign(Object.create(null) as object, store, { dir: store.gitdir });
  const check = new PushCheck(project, config, who, updates);
  try {
    await check.run();
  } catch (error) {
    const rejections = [...check.rejections, ...updates.map((u) => ({ ref: u.ref, message: `the server could not check this push: ${error instanceof Error ? error.message : String(error)}`, hint: 'Run `git fsck` on your clone and push again; if it persists, tell the server\'s administrator.' }))];
    return { accepted: false, rejections, principal: who };
  }
  return { accepted: check.rejections.length === 0, rejections: check.rejections, principal: who };
}
