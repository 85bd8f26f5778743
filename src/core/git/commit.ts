import { KnockEnvError } from '../errors.js';
import { readTyped, writeObject, type GitStore } from './objects.js';

export interface Identity {
  name: string;
  email: string;
}

export interface Signature extends Identity {
  /** Seconds since the epoch. */
  timestamp: number;
  /** Minutes east of UTC, as git records it (+0100 is 60). */
  timezoneOffset: number;
}

export interface CommitData {
  tree: string;
  parents: string[];
  author: Signature;
  committer: Signature;
  message: string;
}

export interface ParsedCommit extends CommitData {
  oid: string;
}

function formatTimezone(offsetMinutes: number): string {
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`;
}

function formatSignature(s: Signature): string {
  const clean = (v: string) => v.replace(/[<>\n]/g, '');
  return `${clean(s.name)} <${clean(s.email)}> ${s.timestamp} ${formatTimezone(s.timezoneOffset)}`;
}

function parseSignature(text: string): Signature {
  const match = /^(.*) <(.*)> (-?\d+) ([+-])(\d\d)(\d\d)$/.exec(text);
  if (!match) return { name: text, email: '', timestamp: 0, timezoneOffset: 0 };
  const minutes = Number(match[5]) * 60 + Number(match[6]);
  return {
    name: match[1] ?? '',
    email: match[2] ?? '',
    timestamp: Number(match[3]),
    timezoneOffset: match[4] === '-' ? -minutes : minutes,
  };
}

export function serializeCommit(commit: CommitData): Buffer {
  const lines = [`tree ${commit.tree}`];
  for (const parent of commit.parents) lines.push(`parent ${parent}`);
  lines.push(`author ${formatSignature(commit.author)}`, `committer ${formatSignature(commit.committer)}`);
  const message = commit.message.endsWith('\n') ? commit.message : `${commit.message}\n`;
  return Buffer.from(`${lines.join('\n')}\n\n${message}`, 'utf8');
}

export function parseCommit(oid: string, content: Buffer): ParsedCommit {
  const text = content.toString('utf8');
  const split = text.indexOf('\n\n');
  const header = split < 0 ? text : text.slice(0, split);
  const message = split < 0 ? '' : text.slice(split + 2);
  let tree = '';
  const parents: string[] = [];
  let author: Signature | undefined;
  let committer: Signature | undefined;
  for (const line of header.split('\n')) {
    if (line.startsWith('tree ')) tree = line.slice(5);
    else if (line.startsWith('parent ')) parents.push(line.slice(7));
    else if (line.startsWith('author ')) author = parseSignature(line.slice(7));
    else if (line.startsWith('committer ')) committer = parseSignature(line.slice(10));
  }
  if (tree === '' || !author || !committer) {
    throw new KnockEnvError('UNSUPPORTED_REPOSITORY', `Commit ${oid} is malformed.`, { hint: 'Run `git fsck`.' });
  }
  return { oid, tree, parents, author, committer, message };
}

export async function readCommit(store: GitStore, oid: string): Promise<ParsedCommit> {
  return parseCommit(oid, await readTyped(store, oid, 'commit'));
}

export async function writeCommit(store: GitStore, commit: CommitData): Promise<string> {
  return writeObject(store, 'commit', serializeCommit(commit));
}

/** Git-style trailers ("Key: value" lines in the last paragraph). */
export function formatMessage(subject: string, body: string | undefined, trailers: Record<string, string>): string {
  const paragraphs = [subject.trim()];
  if (body && body.trim() !== '') paragraphs.push(body.trim());
  const trailerLines = Object.entries(trailers).map(([k, v]) => `${k}: ${v.replace(/\n/g, ' ')}`);
  if (trailerLines.length > 0) paragraphs.push(trailerLines.join('\n'));
  return `${paragraphs.join('\n\n')}\n`;
}

export function parseTrailers(message: string): Record<string, string> {
  const paragraphs = message.trimEnd().split(/\n\s*\n/);
  const last = paragraphs.length > 1 ? paragraphs[paragraphs.length - 1] ?? '' : '';
  const out: Record<string, string> = {};
  for (const line of last.split('\n')) {
    const match = /^([A-Za-z][A-Za-z0-9-]*): (.*)$/.exec(line);
    if (match) out[match[1]!] = match[2]!;
  }
  return out;
}

export function subjectOf(message: string): string {
  return message.split('\n', 1)[0] ?? '';
}
