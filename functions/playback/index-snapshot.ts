// The footage index on disk (PLAYBACK_INDEX_DIR, the pod's own emptyDir; never the volume, which stays read-only):
// after a restart only what the journal gained since is read, not a year of lines.
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { SegmentColumns } from './footage-index.js';

/** Bumped when the layout changes: an index of another version is not used (the journal is read again). */
const SNAPSHOT_VERSION = 1;
/** Bytes of the journal hashed at its start and before the indexed end: they must be the same for the index to be used. */
const CHECK_BYTES = 4096;

const snapshotSchema = z.object({
  version: z.literal(SNAPSHOT_VERSION),
  journal: z.string(),
  ino: z.number(),
  end: z.number().int().nonnegative(),
  check: z.string(),
  names: z.array(z.string()),
  startMs: z.string(),
  endMs: z.string(),
  bytes: z.string(),
  offset: z.string(),
  length: z.string(),
  recovered: z.string(),
});

export interface Snapshot {
  readonly end: number;
  readonly names: readonly string[];
  readonly startMs: Float64Array;
  readonly endMs: Float64Array;
  readonly bytes: Float64Array;
  readonly offset: Float64Array;
  readonly length: Uint32Array;
  readonly recovered: Uint8Array;
}

function fileOf(dir: string, device: string): string {
  return path.join(dir, `${device}.index.json`);
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

const b64 = (a: Float64Array | Uint32Array | Uint8Array, n: number, width: number): string => Buffer.from(a.buffer, a.byteOffset, n * width).toString('base64');

function column<T>(text: string, width: number, count: number, make: (b: ArrayBuffer) => T): T {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== count * width) throw new Error('on-disk index: a column has the wrong length');
  // Copied into a fresh buffer: typed arrays need their own aligned memory.
  const copy = new ArrayBuffer(bytes.length);
  new Uint8Array(copy).set(bytes);
  return make(copy);
}

/** The device's index as last saved, when it belongs to this journal (same inode, same bytes up to its end); else null. */
export async function loadSnapshot(dir: string, device: string, journal: string, info: { ino: number; size: number }): Promise<Snapshot | null> {
  const text = await readFile(fileOf(dir, device), 'utf8').catch(() => null);
  if (text === null) return null;
  const s = snapshotSchema.parse(JSON.parse(text));
  if (s.journal !== journal || s.ino !== info.ino || s.end > info.size) return null;
  if ((await journalCheck(journal, s.end)) !== s.check) return null;
  const n = s.names.length;
  return {
    end: s.end,
    names: s.names,
    startMs: column(s.startMs, 8, n, (b) => new Float64Array(b)),
    endMs: column(s.endMs, 8, n, (b) => new Float64Array(b)),
    bytes: column(s.bytes, 8, n, (b) => new Float64Array(b)),
    offset: column(s.offset, 8, n, (b) => new Float64Array(b)),
    length: column(s.length, 4, n, (b) => new Uint32Array(b)),
    recovered: column(s.recovered, 1, n, (b) => new Uint8Array(b)),
  };
}

/** Writes the device's index (a temporary file renamed over the last, so a crash leaves the old one or the new). */
export async function saveSnapshot(dir: string, device: string, journal: string, ino: number, end: number, c: SegmentColumns): Promise<void> {
  await mkdir(dir, { recursive: true });
  const n = c.size;
  const recovered = new Uint8Array(n);
  for (let i = 0; i < n; i++) recovered[i] = c.isRecovered(i) ? 1 : 0;
  const body = JSON.stringify({
    version: SNAPSHOT_VERSION,
    journal,
    ino,
    end,
    check: await journalCheck(journal, end),
    names: Array.from({ length: n }, (_, row) => c.name(row)),
    startMs: b64(c.startMs, n, 8),
    endMs: b64(c.endMs, n, 8),
    bytes: b64(c.bytes, n, 8),
    offset: b64(c.offset, n, 8),
    length: b64(c.length, n, 4),
    recovered: b64(recovered, n, 1),
  });
  const file = fileOf(dir, device);
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, body);
  await rename(temporary, file);
}
