// What an upload reads: the segment file, sent at a bounded rate. One PUT sends it once, the journal's sha256 as its
// checksum; a multipart upload hashes each part before it is sent (S3's part checksum, and the whole file's sha256
// checked against its journal line's), then reads it again to send.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline, Transform, type Readable } from 'node:stream';
import { collectYoungGarbage } from '../lib/index.js';

/** The file changed since it was journaled: uploading it would put footage in the bucket that no hash vouches for. */
export class SegmentChangedError extends Error {
  constructor(file: string) {
    super(`${file} no longer matches the sha256 its journal line holds; it is not uploaded`);
    this.name = 'SegmentChangedError';
  }
}

/**
 * Passes bytes [start, end) of the file on, held back when a rate is set until the bytes so far fit `bytesPerSecond`
 * since the first one, and fails (SegmentChangedError) if the file ends before `end`: a body shorter than its
 * Content-Length would leave the request waiting for bytes that never come.
 */
function checkedBody(file: string, expected: number, bytesPerSecond: number | null): Transform {
  let started = 0;
  let sent = 0;
  let sinceCollected = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      sent += chunk.length;
      sinceCollected += chunk.length;
      // The chunks sent before are garbage only a collection frees (young-garbage.ts): a file's worth otherwise.
      if (sinceCollected >= COLLECT_EVERY_BYTES) {
        sinceCollected = 0;
        collectYoungGarbage();
      }
      if (bytesPerSecond === null) return done(null, chunk);
      if (started === 0) started = Date.now();
      const wait = started + (sent / bytesPerSecond) * 1000 - Date.now();
      if (wait <= 0) done(null, chunk);
      else setTimeout(() => done(null, chunk), wait);
    },
    flush(done) {
      done(sent === expected ? null : new SegmentChangedError(file));
    },
  });
}

/**
 * Bytes read at a time from a segment file: what an upload holds in memory, besides the SDK's own buffers. Measured
 * per 7.5 MB upload under the recorder's V8 flags, the sending read's CPU is least here (64 KiB: +30 %, 1 MiB: +40 %).
 */
export const CHUNK_BYTES = 256 * 1024;

/** What an upload may read before the chunks it sent are collected: about what it holds beyond its client's floor. */
const COLLECT_EVERY_BYTES = 4 * 1024 * 1024;

/**
 * Hashes bytes [start, end) of the file: resolves their SHA-256 in base64 (S3's part checksum, sent before the part),
 * and feeds them to `whole` as well (the file's sha256, checked against the journal's after the last part).
 * Reads into `scratch`, reused for every read of every part: a read stream's fresh buffer per chunk is external
 * memory V8 answers with a full GC about once an upload under the recorder's lean flags (measured: the hashing pass
 * cost 40 ms of CPU per 7.5 MB segment that way, most of it GC).
 */
export async function hashRange(file: string, start: number, end: number, whole: Hash, scratch: Buffer): Promise<string> {
  const part = createHash('sha256');
  const handle = await open(file, 'r');
  try {
    for (let at = start; at < end; ) {
      const { bytesRead } = await handle.read(scratch, 0, Math.min(scratch.length, end - at), at);
      // Shorter than it was a moment ago: the file changed, and the part would not be what was hashed.
      if (bytesRead === 0) throw new SegmentChangedError(file);
      const chunk = scratch.subarray(0, bytesRead);
      part.update(chunk);
      whole.update(chunk);
      at += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return part.digest('base64');
}

/**
 * Bytes [start, end) of the file as a stream for the uploader, paced when a rate is set. A file that ended early
 * fails the stream (SegmentChangedError), which the sender turns into an aborted request; bytes that changed fail
 * the server's check against the checksum sent before them (the part's, or the whole file's journal sha256).
 */
export function rangeBody(file: string, start: number, end: number, bytesPerSecond: number | null): Readable {
  const source = createReadStream(file, { start, end: end - 1, highWaterMark: CHUNK_BYTES });
  const body = checkedBody(file, end - start, bytesPerSecond);
  pipeline(source, body, () => undefined);
  return body;
}
