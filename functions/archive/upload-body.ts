// What an upload reads: the segment file in parts, each hashed before it is sent (S3's part checksum, and the whole
// file's sha256 checked against its journal line's), then read again to send, at a bounded rate.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline, Transform, type Readable } from 'node:stream';

/** The file changed since it was journaled: uploading it would put footage in the bucket that no hash vouches for. */
export class SegmentChangedError extends Error {
  constructor(file: string) {
    super(`${file} no longer matches the sha256 its journal line holds; it is not uploaded`);
    this.name = 'SegmentChangedError';
  }
}

/** Holds each chunk back until the bytes so far fit `bytesPerSecond` since the first one. */
function throttled(bytesPerSecond: number): Transform {
  let started = 0;
  let sent = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (started === 0) started = Date.now();
      sent += chunk.length;
      const due = started + (sent / bytesPerSecond) * 1000;
      const wait = due - Date.now();
      if (wait <= 0) done(null, chunk);
      else setTimeout(() => done(null, chunk), wait);
    },
  });
}

/** Bytes read at a time from a segment file: what an upload holds in memory, besides the SDK's own buffers. */
const CHUNK_BYTES = 256 * 1024;

/**
 * Hashes bytes [start, end) of the file: resolves their SHA-256 in base64 (S3's part checksum, sent before the part),
 * and feeds them to `whole` as well (the file's sha256, checked against the journal's after the last part).
 */
export async function hashRange(file: string, start: number, end: number, whole: Hash): Promise<string> {
  const part = createHash('sha256');
  let read = 0;
  for await (const chunk of createReadStream(file, { start, end: end - 1, highWaterMark: CHUNK_BYTES }) as AsyncIterable<Buffer>) {
    part.update(chunk);
    whole.update(chunk);
    read += chunk.length;
  }
  // Shorter than it was a moment ago: the file changed, and the part would not be what was hashed.
  if (read !== end - start) throw new SegmentChangedError(file);
  return part.digest('base64');
}

/**
 * Bytes [start, end) of the file as a stream for the uploader, read again after `hashRange` (from the page cache),
 * paced when a rate is set. The server checks them against the part checksum from the first read, so a file that
 * changed in between is refused, never stored.
 */
export function rangeBody(file: string, start: number, end: number, bytesPerSecond: number | null): Readable {
  const source = createReadStream(file, { start, end: end - 1, highWaterMark: CHUNK_BYTES });
  if (bytesPerSecond === null) return source;
  const pace = throttled(bytesPerSecond);
  pipeline(source, pace, () => undefined);
  return pace;
}
