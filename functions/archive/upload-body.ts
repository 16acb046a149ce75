// What an upload reads: the segment file, checked against the sha256 its journal line holds, at a bounded rate.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline, Transform, type Readable } from 'node:stream';

/** The file changed since it was journaled: uploading it would put footage in the bucket that no hash vouches for. */
export class SegmentChangedError extends Error {
  constructor(file: string) {
    super(`${file} no longer matches the sha256 its journal line holds; it is not uploaded`);
    this.name = 'SegmentChangedError';
  }
}

/** Passes bytes through, and fails at the end when their sha256 is not `expected` (so the upload is aborted). */
function verifying(expected: string, file: string): Transform {
  const hash = createHash('sha256');
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
    flush(done) {
      done(hash.digest('hex') === expected ? null : new SegmentChangedError(file));
    },
  });
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

/**
 * The file as a stream for the uploader: read in 256 KiB chunks, hashed, and paced when a rate is set. Any
 * error (a read, a hash that differs) destroys the stream, which aborts the upload.
 */
export function uploadBody(file: string, sha256: string, bytesPerSecond: number | null): Readable {
  const source = createReadStream(file, { highWaterMark: 256 * 1024 });
  const check = verifying(sha256, file);
  if (bytesPerSecond === null) {
    pipeline(source, check, () => undefined);
    return check;
  }
  const pace = throttled(bytesPerSecond);
  pipeline(source, check, pace, () => undefined);
  return pace;
}
