import { randomBytes, timingSafeEqual } from 'node:crypto';
import { hashSecret } from '../access.js';
import { KnockEnvError } from '../errors.js';
import { errnoCode, type FileSystem } from '../git/fs.js';
import { acquireRepositoryLock, type LockOptions } from '../git/refs.js';

/**
 * Access tokens of members for a knock-env server, kept inside the bare
 * repository's directory but outside git's objects and refs, so they are never
 * fetched or pushed: only a hash of each token is stored, and the file is
 * readable by its owner alone.
 */
export const CREDENTIALS_DIR = 'knock-env';
export const CREDENTIALS_FILE = 'credentials.json';

export interface MemberCredential {
  email: string;
  /** sha256:<hex> of the token; the token itself is shown once and never stored. */
  hash: string;
  /** ISO-8601. */
  created_at: string;
}

export interface CredentialsFile {
  version: 1;
  members: MemberCredential[];
}

export function credentialsPath(repository: string): string {
  return `${repository.replace(/\/+$/, '')}/${CREDENTIALS_DIR}/${CREDENTIALS_FILE}`;
}

export async function readCredentials(fs: FileSystem, repository: string): Promise<CredentialsFile> {
  const path = credentialsPath(repository);
  let text: string;
  try {
    text = ((await fs.promises.readFile(path)) as Buffer).toString('utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return { version: 1, members: [] };
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<CredentialsFile>;
    if (parsed.version !== 1 || !Array.isArray(parsed.members)) throw new Error('unexpected shape');
    return { version: 1, members: parsed.members.filter((m) => typeof m?.email === 'string' && typeof m?.hash === 'string') };
  } catch (error) {
    throw new KnockEnvError('UNSUPPORTED_REPOSITORY', `${path} is not a knock-env credentials file.`, {
      hint: 'Move it away and issue the tokens again with `knock-env server add-user`.',
      cause: error,
    });
  }
}

/** A new member token: 32 random bytes, recognisable by its prefix. */
export function newMemberToken(): string {
  return `kenvm_${randomBytes(32).toString('base64url')}`;
}

function credentialsDir(repository: string): string {
  const path = credentialsPath(repository);
  return path.slice(0, path.lastIndexOf('/'));
}

/** The lock every writer of the credentials file holds: <bare-repo>/knock-env/knock-env.lock, taken over when its process is gone (as the repository lock). */
export function credentialsLockPath(repository: string): string {
  return `${credentialsDir(repository)}/knock-env.lock`;
}

/**
 * Stores (or replaces) a member's token hash; says whether it replaced one.
 * Writers take the credentials lock for the whole read-change-write, so two
 * at the same moment both land; the file is written to a temporary name with
 * mode 0600, synced and renamed into place (and the folder synced), so a
 * reader sees the old file or the new one, never part of one.
 */
export async function storeMemberToken(fs: FileSystem, repository: string, email: string, token: string, now: Date, lock: LockOptions): Promise<{ replaced: boolean }> {
  const dir = credentialsDir(repository);
  await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
  const held = await acquireRepositoryLock(fs, dir, lock);
  try {
    const current = await readCredentials(fs, repository);
    const members = current.members.filter((m) => m.email.toLowerCase() !== email.toLowerCase());
    const replaced = members.length < current.members.length;
    members.push({ email, hash: hashSecret(token), created_at: now.toISOString() });
    members.sort((a, b) => (a.email < b.email ? -1 : a.email > b.email ? 1 : 0));
    await writeCredentials(fs, repository, { version: 1, members });
    return { replaced };
  } finally {
    await held.release();
  }
}

async function writeCredentials(fs: FileSystem, repository: string, file: CredentialsFile): Promise<void> {
  const path = credentialsPath(repository);
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  const handle = await fs.promises.open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(file, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.promises.rename(tmp, path);
  } catch (error) {
    await fs.promises.unlink(tmp).catch(() => undefined);
    throw error;
  }
  const folder = await fs.promises.open(credentialsDir(repository), 'r').catch(() => null);
  if (folder) {
    await folder.sync().catch(() => undefined);
    await folder.close();
  }
}

/** Whether a token is the one stored for an email, compared in constant time. */
export function verifyMemberToken(credentials: CredentialsFile, email: string, token: string): boolean {
  const presented = Buffer.from(hashSecret(token), 'utf8');
  let ok = false;
  for (const member of credentials.members) {
    if (member.email.toLowerCase() !== email.toLowerCase()) continue;
    const stored = Buffer.from(member.hash, 'utf8');
    if (stored.length === presented.length && timingSafeEqual(stored, presented)) ok = true;
  }
  return ok;
}
