import type { CoreOptions } from '../context.js';
import { KnockEnvError } from '../errors.js';
import { readObject, type GitStore } from '../git/objects.js';
import type { TreeDifference } from '../git/tree.js';
import { findGitdir } from '../project.js';
import { resourceOfPath } from '../resources.js';
import type { ChangePlan } from './plan.js';

/** One changed file of a plan with its text on both sides. */
export interface FileTexts {
  path: string;
  status: TreeDifference['status'];
  /** Text before the change; null when the file is added, or binary. */
  before: string | null;
  /** Text after the change; null when the file is deleted, or binary. */
  after: string | null;
  /** Set when either side holds a NUL byte (git's test for a binary file). */
  binary: boolean;
  /** Sizes in bytes (null for a side where the file does not exist). */
  beforeSize: number | null;
  afterSize: number | null;
  /** Set when a side is larger than `maxBytes` and was not decoded. */
  tooLarge: boolean;
  /** The resource the file belongs to, as "<kind>:<key>", or null for other files. */
  resource: string | null;
}

export interface PlanTextOptions {
  /** Sides larger than this are not decoded (their text is null, `tooLarge` is set). Default 1 MiB. */
  maxBytes?: number;
}

function looksBinary(content: Buffer): boolean {
  return content.subarray(0, 8000).includes(0);
}

async function sideOf(store: GitStore, oid: string | undefined, maxBytes: number): Promise<{ text: string | null; binary: boolean; size: number | null; tooLarge: boolean }> {
  if (oid === undefined) return { text: null, binary: false, size: null, tooLarge: false };
  const { content } = await readObject(store, oid);
  if (looksBinary(content)) return { text: null, binary: true, size: content.length, tooLarge: false };
  if (content.length > maxBytes) return { text: null, binary: false, size: content.length, tooLarge: true };
  return { text: content.toString('utf8'), binary: false, size: content.length, tooLarge: false };
}

/**
 * The before and after text of every file a plan changes, in the plan's order
 * (the order of `git diff --name-only`), read from the blobs the plan names.
 */
export async function planFileTexts(store: GitStore, plan: ChangePlan, options: PlanTextOptions = {}): Promise<FileTexts[]> {
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  const out: FileTexts[] = [];
  for (const d of plan.differences) {
    const before = await sideOf(store, d.oldOid, maxBytes);
    const after = await sideOf(store, d.newOid, maxBytes);
    const resource = resourceOfPath(d.path);
    out.push({
      path: d.path,
      status: d.status,
      before: before.text,
      after: after.text,
      binary: before.binary || after.binary,
      beforeSize: before.size,
      afterSize: after.size,
      resource: resource && resource.keyProblem === null ? `${resource.kind}:${resource.key}` : null,
      tooLarge: before.tooLarge || after.tooLarge,
    });
  }
  return out;
}

/** The same, locating the repository from a directory (for callers that hold no store). */
export async function planFileTextsIn(options: Pick<CoreOptions, 'fs' | 'dir'>, plan: ChangePlan, textOptions: PlanTextOptions = {}): Promise<FileTexts[]> {
  const found = await findGitdir(options);
  if (found === null) {
    throw new KnockEnvError('NOT_A_PROJECT', `${options.dir} is not inside a git repository.`, { hint: 'Run it inside a knock-env project.' });
  }
  return planFileTexts({ fs: options.fs, gitdir: found.gitdir, cache: {} }, plan, textOptions);
}
