import { randomBytes, timingSafeEqual } from 'node:crypto';
import { hashSecret } from '../access.js';
import { KnockEnvError } from '../errors.js';
import { errnoCode, type FileSystem } from '../git/fs.js';

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

/**
 * Stores (or replaces) a member's token hash. The file is written to a
 * temporary name with mode 0600, synced and renamed into place.
 */
export async function storeMemberToken(fs: FileSystem, repository: string, email: string, token: string, now: Date): Promise<void> {
  const current = await readCredentials(fs, repository);
  const members = current.members.filter((m) => m.email.toLowerCase() !== email.toLowerCase());
  members.push({ email, hash: hashSecret(token), created_at: now.toISOString() });
  members.sort((a, b) => (a.email < b.email ? -1 : a.email > b.email ? 1 : 0));
  const path = credentialsPath(repository);
  const dir = path.slice(0, path.lastIndexOf('/'));
  await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  const handle = await fs.promises.open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify({ version: 1, members } satisfies CredentialsFile, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.promises.rename(tmp, path);
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
