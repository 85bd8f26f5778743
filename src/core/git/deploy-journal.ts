import { errnoCode, readIfExists, writeFileAtomic, type FileSystem } from './fs.js';

/** A deploy that started writing to Knock and has not finished (read back and recorded). */
export interface DeployJournalEntry {
  environment: string;
  knockEnvironment: string;
  /** The git commit being deployed. */
  commit: string;
  /** What knock-env had deployed before, or null. */
  previous: string | null;
  startedAt: string;
  /** Writes planned and how many Knock confirmed before the deploy stopped. */
  planned: number;
  confirmed: number;
}

interface JournalFile {
  version: 1;
  deploys: DeployJournalEntry[];
}

export function journalPath(gitdir: string): string {
  return `${gitdir}/knock-env/deploy-journal.json`;
}

/** Interrupted deploys, one per environment at most. */
export async function readDeployJournal(fs: FileSystem, gitdir: string): Promise<DeployJournalEntry[]> {
  const bytes = await readIfExists(fs, journalPath(gitdir));
  if (bytes === null) return [];
  const parsed = JSON.parse(bytes.toString('utf8')) as Partial<JournalFile>;
  return Array.isArray(parsed.deploys) ? parsed.deploys : [];
}

async function writeJournal(fs: FileSystem, gitdir: string, deploys: DeployJournalEntry[]): Promise<void> {
  const path = journalPath(gitdir);
  if (deploys.length === 0) {
    await fs.promises.unlink(path).catch((error: unknown) => {
      if (errnoCode(error) !== 'ENOENT') throw error;
    });
    return;
  }
  await fs.promises.mkdir(path.slice(0, path.lastIndexOf('/')), { recursive: true });
  // A kill never leaves half a journal.
  await writeFileAtomic(fs, path, `${JSON.stringify({ version: 1, deploys } satisfies JournalFile, null, 2)}\n`);
}

export async function recordDeployStart(fs: FileSystem, gitdir: string, entry: DeployJournalEntry): Promise<void> {
  const others = (await readDeployJournal(fs, gitdir)).filter((e) => e.environment !== entry.environment);
  await writeJournal(fs, gitdir, [...others, entry]);
}

export async function recordDeployProgress(fs: FileSystem, gitdir: string, environment: string, confirmed: number): Promise<void> {
  const deploys = await readDeployJournal(fs, gitdir);
  await writeJournal(fs, gitdir, deploys.map((e) => (e.environment === environment ? { ...e, confirmed } : e)));
}

export async function clearDeploy(fs: FileSystem, gitdir: string, environment: string): Promise<void> {
  await writeJournal(fs, gitdir, (await readDeployJournal(fs, gitdir)).filter((e) => e.environment !== environment));
}
