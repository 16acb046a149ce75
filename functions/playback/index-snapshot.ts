// The footage index on disk (PLAYBACK_INDEX_DIR, the pod's own emptyDir; never the volume, which stays read-only):
// after a restart only what the journal gained since is read, not a year of lines.
import { createHash } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { replaceFile } from '../lib/index.js';

/** What the on-disk index holds of the columns (presence is not kept: the folder is walked at start-up). */
export interface SavedColumns {
  readonly key: Float64Array;
  readonly startMs: Float64Array;
  readonly endMs: Float64Array;
  readonly bytes: Float64Array;
  readonly offset: Float64Array;
  readonly length: Uint32Array;
  readonly recovered: Uint8Array;
  /** Rows whose name has no numeric key, with the name. */
  readonly odd: ReadonlyArray<readonly [number, string]>;
}

/** Bumped when the layout changes: an index of another version is not used (the journal is read again). */
const SNAPSHOT_VERSION = 3;
/** Bytes of the journal hashed at its start and before the indexed end: they must be the same for the index to be used. */
const CHECK_BYTES = 4096;

/** The file starts with this, then the header's length (4 bytes), the header (JSON), padding to 8, the columns. */
const MAGIC = Buffer.from('SHIFUIDX');

const headerSchema = z.object({
  version: z.literal(SNAPSHOT_VERSION),
  journal: z.string(),
  ino: z.number(),
  end: z.number().int().nonnegative(),
  check: z.string(),
  rows: z.number().int().nonnegative(),
  odd: z.array(z.tuple([z.number().int().nonnegative(), z.string()])),
});

/** Column widths in the file's order: key, startMs, endMs, bytes, offset (8 bytes), length (4), recovered (1). */
const WIDTHS = [8, 8, 8, 8, 8, 4, 1] as const;

export interface Snapshot {
  readonly end: number;
  readonly columns: SavedColumns;
}

function fileOf(dir: string, device: string): string {
  return path.join(dir, `${device}.index`);
}

/** sha256 of the journal's first bytes and of the bytes before `end`: a replaced or rewritten journal differs. */
async function journalCheck(journal: string, end: number): Promise<string> {
  const handle = await open(journal, 'r');
  try {
    const hash = createHash('sha256');
    for (const from of [0, Math.max(0, end - CHECK_BYTES)]) {
      const buffer = Buffer.alloc(Math.min(CHECK_BYTES, end));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, from);
      hash.update(buffer.subarray(0, bytesRead));
    }
    return hash.digest('hex');
  } finally {
    await handle.close();
  }
}

/** A column copied out of the file into memory of its own (typed arrays need aligned memory). */
function column<T>(file: Buffer, at: number, bytes: number, make: (b: ArrayBuffer) => T): T {
  if (at + bytes > file.length) throw new Error('on-disk index: shorter than its header says');
  const copy = new ArrayBuffer(bytes);
  new Uint8Array(copy).set(file.subarray(at, at + bytes));
  return make(copy);
}

/** The device's index as last saved, when it belongs to this journal (same inode, same bytes up to its end); else null. */
export async function loadSnapshot(dir: string, device: string, journal: string, info: { ino: number; size: number }): Promise<Snapshot | null> {
  const file = await readFile(fileOf(dir, device)).catch(() => null);
  if (file === null) return null;
  if (file.length < MAGIC.length + 4 || !file.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error('on-disk index: not an index file');
  const headerLength = file.readUInt32LE(MAGIC.length);
  const headerAt = MAGIC.length + 4;
  const h = headerSchema.parse(JSON.parse(file.toString('utf8', headerAt, headerAt + headerLength)));
  if (h.journal !== journal || h.ino !== info.ino || h.end > info.size) return null;
  if ((await journalCheck(journal, h.end)) !== h.check) return null;
  const n = h.rows;
  if (h.odd.some(([row]) => row >= n)) throw new Error('on-disk index: a name outside the rows');
  let at = align(headerAt + headerLength);
  const next = <T>(width: number, make: (b: ArrayBuffer) => T): T => {
    const out = column(file, at, width * n, make);
    at = align(at + width * n);
    return out;
  };
  const columns: SavedColumns = {
    key: next(8, (b) => new Float64Array(b)),
    startMs: next(8, (b) => new Float64Array(b)),
    endMs: next(8, (b) => new Float64Array(b)),
    bytes: next(8, (b) => new Float64Array(b)),
    offset: next(8, (b) => new Float64Array(b)),
    length: next(4, (b) => new Uint32Array(b)),
    recovered: next(1, (b) => new Uint8Array(b)),
    odd: h.odd,
  };
  return { end: h.end, columns };
}

const align = (n: number): number => Math.ceil(n / 8) * 8;

/** Writes the device's index (replaceFile: a crash leaves the old one or the new, whole). */
export async function saveSnapshot(dir: string, device: string, journal: string, ino: number, end: number, c: SavedColumns): Promise<void> {
  await mkdir(dir, { recursive: true });
  const n = c.key.length;
  const header = Buffer.from(JSON.stringify({ version: SNAPSHOT_VERSION, journal, ino, end, check: await journalCheck(journal, end), rows: n, odd: c.odd }));
  const parts: Buffer[] = [MAGIC, Buffer.alloc(4), header];
  parts[1]!.writeUInt32LE(header.length);
  let at = MAGIC.length + 4 + header.length;
  for (const [i, col] of [c.key, c.startMs, c.endMs, c.bytes, c.offset, c.length, c.recovered].entries()) {
    parts.push(Buffer.alloc(align(at) - at));
    at = align(at);
    parts.push(Buffer.from(col.buffer, col.byteOffset, WIDTHS[i]! * n));
    at += WIDTHS[i]! * n;
  }
  await replaceFile(fileOf(dir, device), Buffer.concat(parts));
}
