import { inflateSync } from 'node:zlib';
import { errnoCode, type FileSystem } from './fs.js';
import type { ObjectType, RawObject } from './objects.js';

/**
 * A reader for git's pack files (index version 2), reading only the bytes of
 * the objects asked for. Loading a general-purpose git library costs more than
 * the few objects a command reads from a pack, and reading a whole pack into
 * memory does not scale; anything this reader does not handle returns null and
 * the caller falls back to isomorphic-git.
 */
interface PackIndex {
  packPath: string;
  /** The whole pack, when it is small enough to hold in memory (read on first use). */
  data?: Buffer;
  fanout: Uint32Array;
  oids: Buffer;
  offsets: Buffer;
  largeOffsets: Buffer;
  count: number;
}

const TYPES: Record<number, ObjectType> = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag' };
const OFS_DELTA = 6;
const REF_DELTA = 7;

export class PackReader {
  private indexes: PackIndex[] | undefined;

  /**
   * Reads the packs of `objectsDir` (default: the repository's own objects
   * directory). A delta whose base is in none of them asks `resolveBase`, when
   * given (packs in a push's quarantine may refer to the repository's objects).
   */
  constructor(
    private readonly fs: FileSystem,
    gitdir: string,
    private readonly objectsDir: string = `${gitdir}/objects`,
    private readonly resolveBase?: (oid: string) => Promise<RawObject | null>,
  ) {}

  private loadedNames = '';

  private async packNames(): Promise<string[]> {
    try {
      return (await this.fs.promises.readdir(`${this.objectsDir}/pack`)).map(String).filter((n) => n.endsWith('.idx')).sort();
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT') throw error;
      return [];
    }
  }

  /**
   * Re-reads the pack list when it changed since it was loaded (a `git gc`
   * or `git repack` ran meanwhile: loose objects moved into a new pack, old
   * packs deleted). Returns whether it changed, so a miss is worth retrying.
   */
  async refresh(): Promise<boolean> {
    if (this.indexes === undefined) return false;
    if ((await this.packNames()).join('\n') === this.loadedNames) return false;
    this.indexes = undefined;
    return true;
  }

  private async load(): Promise<PackIndex[]> {
    if (this.indexes) return this.indexes;
    const dir = `${this.objectsDir}/pack`;
    const names = await this.packNames();
    this.loadedNames = names.join('\n');
    const out: PackIndex[] = [];
    for (const name of names) {
      const buffer = (await this.fs.promises.readFile(`${dir}/${name}`).catch((error: unknown) => {
        if (errnoCode(error) === 'ENOENT') return null; // removed by a repack since the listing
        throw error;
      })) as Buffer | null;
      if (buffer === null) continue;
      if (buffer.readUInt32BE(0) !== 0xff744f63 || buffer.readUInt32BE(4) !== 2) continue;
      const fanout = new Uint32Array(256);
      for (let i = 0; i < 256; i++) fanout[i] = buffer.readUInt32BE(8 + i * 4);
      const count = fanout[255]!;
      const oidsStart = 8 + 256 * 4;
      const offsetsStart = oidsStart + count * 20 + count * 4;
      const largeStart = offsetsStart + count * 4;
      out.push({
        packPath: `${dir}/${name.slice(0, -4)}.pack`,
        fanout,
        count,
        oids: buffer.subarray(oidsStart, oidsStart + count * 20),
        offsets: buffer.subarray(offsetsStart, largeStart),
        largeOffsets: buffer.subarray(largeStart, buffer.length - 40),
      });
    }
    this.indexes = out;
    return out;
  }

  private static find(index: PackIndex, oid: Buffer): number | null {
    const first = oid[0]!;
    let lo = first === 0 ? 0 : index.fanout[first - 1]!;
    let hi = index.fanout[first]!;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const cmp = index.oids.compare(oid, 0, 20, mid * 20, mid * 20 + 20);
      if (cmp === 0) {
        const small = index.offsets.readUInt32BE(mid * 4);
        if ((small & 0x80000000) === 0) return small;
        const at = (small & 0x7fffffff) * 8;
        return Number(index.largeOffsets.readBigUInt64BE(at));
      }
      if (cmp > 0) hi = mid;
      else lo = mid + 1;
    }
    return null;
  }

  /** The object, or null when no pack has it (or it is stored in a way this reader does not handle). */
  async read(oid: string): Promise<RawObject | null> {
    const wanted = Buffer.from(oid, 'hex');
    for (const index of await this.load()) {
      const offset = PackReader.find(index, wanted);
      if (offset !== null) return this.readAt(index, offset, 0);
    }
    return null;
  }

  /** Packs up to this size are read whole, once: a command then slices objects out without further I/O. */
  static readonly WHOLE_PACK_LIMIT = 64 * 1024 * 1024;

  private async bytesAt(index: PackIndex, offset: number, length: number): Promise<Buffer> {
    if (index.data === undefined) {
      const size = (await this.fs.promises.stat(index.packPath)).size;
      if (size <= PackReader.WHOLE_PACK_LIMIT) index.data = (await this.fs.promises.readFile(index.packPath)) as Buffer;
    }
    // In memory: everything to the end of the pack; inflating stops at the end of the object's stream.
    if (index.data !== undefined) return index.data.subarray(offset);
    const handle = await this.fs.promises.open(index.packPath, 'r');
    try {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, offset);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  private async readAt(index: PackIndex, offset: number, depth: number): Promise<RawObject | null> {
    if (depth > 64) return null;
    let chunk = 4096;
    for (;;) {
        const data = await this.bytesAt(index, offset, chunk);
        const bytesRead = data.length;
        let pos = 0;
        let byte = data[pos++]!;
        const type = (byte >> 4) & 7;
        let size = byte & 15;
        let shift = 4;
        while (byte & 0x80) {
          byte = data[pos++]!;
          size += (byte & 0x7f) * 2 ** shift;
          shift += 7;
        }
        let base: { offset?: number; oid?: string } = {};
        if (type === OFS_DELTA) {
          byte = data[pos++]!;
          let back = byte & 0x7f;
          while (byte & 0x80) {
            byte = data[pos++]!;
            back = (back + 1) * 128 + (byte & 0x7f);
          }
          base = { offset: offset - back };
        } else if (type === REF_DELTA) {
          base = { oid: data.toString('hex', pos, pos + 20) };
          pos += 20;
        } else if (!TYPES[type]) {
          return null;
        }
        let inflated: Buffer;
        try {
          inflated = inflateSync(data.subarray(pos));
        } catch (error) {
          // The compressed data ran past the bytes read: read more and try again.
          if (bytesRead === chunk && (error as { code?: string }).code === 'Z_BUF_ERROR') {
            chunk = Math.max(chunk * 4, size * 2 + 1024);
            continue;
          }
          throw error;
        }
        if (TYPES[type]) return { type: TYPES[type]!, content: inflated };
        const baseObject =
          base.offset !== undefined
            ? await this.readAt(index, base.offset, depth + 1)
            : ((await this.read(base.oid!)) ?? (this.resolveBase ? await this.resolveBase(base.oid!) : null));
        if (baseObject === null) return null;
        return { type: baseObject.type, content: applyDelta(baseObject.content, inflated) };
    }
  }
}

function readVarint(delta: Buffer, at: { pos: number }): number {
  let value = 0;
  let shift = 0;
  let byte: number;
  do {
    byte = delta[at.pos++]!;
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return value;
}

/** Applies a git delta (copy and insert instructions) to its base object. */
export function applyDelta(base: Buffer, delta: Buffer): Buffer {
  const at = { pos: 0 };
  readVarint(delta, at);
  const targetSize = readVarint(delta, at);
  const out = Buffer.alloc(targetSize);
  let written = 0;
  while (at.pos < delta.length) {
    const op = delta[at.pos++]!;
    if (op & 0x80) {
      let copyOffset = 0;
      let copySize = 0;
      for (let bit = 0; bit < 4; bit++) if (op & (1 << bit)) copyOffset += delta[at.pos++]! * 2 ** (8 * bit);
      for (let bit = 0; bit < 3; bit++) if (op & (1 << (4 + bit))) copySize += delta[at.pos++]! << (8 * bit);
      if (copySize === 0) copySize = 0x10000;
      base.copy(out, written, copyOffset, copyOffset + copySize);
      written += copySize;
    } else if (op > 0) {
      delta.copy(out, written, at.pos, at.pos + op);
      written += op;
      at.pos += op;
    } else {
      throw new Error('invalid delta instruction');
    }
  }
  if (written !== targetSize) throw new Error('delta produced the wrong size');
  return out;
}
