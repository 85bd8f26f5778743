import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { readCommit } from '../git/commit.js';
import { readObject, type GitStore, type ObjectType } from '../git/objects.js';
import { isTreeMode, readTree } from '../git/tree.js';

/**
 * The client side of git's push over smart HTTP (send-pack), for one ref at
 * a time. isomorphic-git's push lists every object of the pushed commit's
 * whole tree (and of the merge base's) to decide what to send, which costs a
 * read per folder of the project; here only the paths a new commit changes
 * against its parents are read, so a one-file commit sends (and reads) a
 * handful of objects whatever the size of the project.
 */

// ------------------------------------------------------------------ pkt-lines

export function pktLine(text: string | Buffer): Buffer {
  const payload = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  return Buffer.concat([Buffer.from((payload.length + 4).toString(16).padStart(4, '0'), 'latin1'), payload]);
}

export const FLUSH = Buffer.from('0000', 'latin1');

/** Splits pkt-lines; a flush packet is returned as null. Stops at the first malformed length. */
export function parsePktLines(data: Buffer): (Buffer | null)[] {
  const out: (Buffer | null)[] = [];
  let at = 0;
  while (at + 4 <= data.length) {
    const length = parseInt(data.toString('latin1', at, at + 4), 16);
    if (Number.isNaN(length)) break;
    if (length < 4) {
      out.push(null);
      at += 4;
      continue;
    }
    out.push(data.subarray(at + 4, at + length));
    at += length;
  }
  return out;
}

// ------------------------------------------------------------------ advertisement

export interface Advertisement {
  refs: Map<string, string>;
  capabilities: Set<string>;
}

/** Parses `GET info/refs?service=git-receive-pack`. */
export function parseAdvertisement(body: Buffer): Advertisement {
  const refs = new Map<string, string>();
  const capabilities = new Set<string>();
  for (const line of parsePktLines(body)) {
    if (line === null) continue;
    let text = line.toString('utf8').replace(/\n$/, '');
    if (text.startsWith('# service=')) continue;
    const nul = text.indexOf('\0');
    if (nul >= 0) {
      for (const c of text.slice(nul + 1).split(' ')) if (c) capabilities.add(c);
      text = text.slice(0, nul);
    }
    const [oid, name] = text.split(' ');
    // An empty repository advertises "capabilities^{}" with the zero id.
    if (oid && name && /^[0-9a-f]{40}$/.test(oid) && name !== 'capabilities^{}') refs.set(name, oid);
  }
  return { refs, capabilities };
}

// ------------------------------------------------------------------ objects to send

/**
 * Commits reachable from `tip` that are not reachable from `known` (the
 * remote's heads the local repository has). Walks newest first from both
 * sides, painting what the known heads reach, and stops once every commit
 * left to look at is painted.
 */
export async function commitsToSend(store: GitStore, tip: string, known: string[]): Promise<string[]> {
  type Item = { oid: string; time: number; known: boolean };
  const state = new Map<string, boolean>();
  const queue: Item[] = [];
  const add = async (oid: string, isKnown: boolean) => {
    const seen = state.get(oid);
    if (seen === true || seen === isKnown) return;
    state.set(oid, isKnown);
    const time = (await readCommit(store, oid)).committer.timestamp;
    let i = queue.length;
    while (i > 0 && queue[i - 1]!.time < time) i--;
    queue.splice(i, 0, { oid, time, known: isKnown });
  };
  for (const oid of known) await add(oid, true);
  await add(tip, false);
  const wanted = new Set<string>();
  while (queue.some((item) => !item.known && state.get(item.oid) === false)) {
    const item = queue.shift()!;
    const isKnown = state.get(item.oid) === true;
    if (!isKnown) wanted.add(item.oid);
    else wanted.delete(item.oid);
    for (const parent of (await readCommit(store, item.oid)).parents) await add(parent, isKnown);
  }
  return [...wanted].filter((oid) => state.get(oid) === false);
}

/**
 * Trees and blobs of `tree` that none of `parentTrees` holds at the same
 * path: a folder equal to a parent's is skipped whole, so the walk follows
 * only what changed.
 */
async function changedObjects(store: GitStore, tree: string, parentTrees: string[], into: Map<string, ObjectType>): Promise<void> {
  if (parentTrees.includes(tree) || into.has(tree)) return;
  into.set(tree, 'tree');
  const parents = await Promise.all(parentTrees.map(async (oid) => new Map((await readTree(store, oid)).map((e) => [e.name, e]))));
  for (const entry of await readTree(store, tree)) {
    const same = parents.map((p) => p.get(entry.name)).filter((e) => e !== undefined);
    if (same.some((e) => e.oid === entry.oid)) continue;
    if (isTreeMode(entry.mode)) {
      await changedObjects(store, entry.oid, same.filter((e) => isTreeMode(e.mode)).map((e) => e.oid), into);
    } else if (entry.mode !== '160000') {
      into.set(entry.oid, 'blob');
    }
  }
}

/** Every object the remote needs to have `tip`, given that it has the commits `known` reach. */
export async function objectsToSend(store: GitStore, tip: string, known: string[]): Promise<Map<string, ObjectType>> {
  const objects = new Map<string, ObjectType>();
  for (const oid of await commitsToSend(store, tip, known)) {
    const commit = await readCommit(store, oid);
    objects.set(oid, 'commit');
    const parentTrees = await Promise.all(commit.parents.map(async (p) => (await readCommit(store, p)).tree));
    await changedObjects(store, commit.tree, parentTrees, objects);
  }
  return objects;
}

// ------------------------------------------------------------------ pack

const TYPE_CODE: Record<ObjectType, number> = { commit: 1, tree: 2, blob: 3, tag: 4 };

/** A version 2 pack of whole (undeltified) objects. */
export async function writePack(store: GitStore, objects: Map<string, ObjectType>): Promise<Buffer> {
  const header = Buffer.alloc(12);
  header.write('PACK', 0, 'latin1');
  header.writeUInt32BE(2, 4);
  header.writeUInt32BE(objects.size, 8);
  const parts: Buffer[] = [header];
  for (const oid of objects.keys()) {
    const { type, content } = await readObject(store, oid);
    let size = content.length;
    const bytes = [(TYPE_CODE[type] << 4) | (size & 0x0f)];
    size >>= 4;
    while (size > 0) {
      bytes[bytes.length - 1]! |= 0x80;
      bytes.push(size & 0x7f);
      size >>= 7;
    }
    parts.push(Buffer.from(bytes), deflateSync(content, { level: 1 }));
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([body, createHash('sha1').update(body).digest()]);
}

// ------------------------------------------------------------------ result

export interface PushReport {
  unpack: string;
  refs: Map<string, { ok: boolean; reason?: string }>;
  /** The server's messages (its hooks' output among them), line by line. */
  messages: string[];
}

/** Parses a receive-pack answer: side-band channel 1 carries the report, 2 the messages, 3 a fatal error. */
export function parseReport(body: Buffer, sideBand: boolean): PushReport {
  let reportData: Buffer = body;
  const messages: string[] = [];
  if (sideBand) {
    const data: Buffer[] = [];
    let progress = '';
    for (const line of parsePktLines(body)) {
      if (line === null || line.length === 0) continue;
      const band = line[0];
      const payload = line.subarray(1);
      if (band === 1) data.push(payload);
      else if (band === 2) progress += payload.toString('utf8');
      else if (band === 3) messages.push(`error: ${payload.toString('utf8').trim()}`);
    }
    messages.unshift(...progress.split(/\r|\n/).map((l) => l.trimEnd()).filter((l) => l !== ''));
    reportData = Buffer.concat(data);
  }
  const report: PushReport = { unpack: '', refs: new Map(), messages };
  for (const line of parsePktLines(reportData)) {
    if (line === null) continue;
    const text = line.toString('utf8').replace(/\n$/, '');
    if (text.startsWith('unpack ')) report.unpack = text.slice('unpack '.length);
    else if (text.startsWith('ok ')) report.refs.set(text.slice(3), { ok: true });
    else if (text.startsWith('ng ')) {
      const rest = text.slice(3);
      const space = rest.indexOf(' ');
      report.refs.set(space < 0 ? rest : rest.slice(0, space), { ok: false, reason: space < 0 ? 'rejected' : rest.slice(space + 1) });
    }
  }
  return report;
}

/** The request body updating one ref: the command, a flush, then the pack. */
export function receivePackRequest(ref: string, oldOid: string, newOid: string, capabilities: Set<string>, pack: Buffer): Buffer {
  const wanted = ['report-status', 'side-band-64k', 'agent=knock-env'].filter((c) => c.startsWith('agent=') || capabilities.has(c));
  return Buffer.concat([pktLine(`${oldOid} ${newOid} ${ref}\0${wanted.join(' ')}\n`), FLUSH, pack]);
}
