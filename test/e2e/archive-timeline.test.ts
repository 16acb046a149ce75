// The timeline in the bucket (issue 25) against a real S3 server (versitygw), awscli reading back what was written:
// day files of the journal's segment lines, written again without duplicates, and the reader playback will use,
// which answers a range from one GET per day and fails, never answers empty, when a GET fails.
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, truncateSync, writeSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { addToDayFiles } from '../../functions/archive/day-files.js';
import { SegmentChangedError } from '../../functions/archive/upload-body.js';
import { Bucket, MIN_PART_BYTES, type UploadLimits } from '../../functions/archive/bucket.js';
import { BucketTimelineError, classifyArchiveFailure, DEFAULT_PART_MIB, openBucketTimeline } from '../../functions/archive/index.js';
import { parseJournal, type Segment } from '../../functions/contracts/index.js';
import { sha256OfFile } from '../../functions/lib/index.js';
import { useScratch } from '../support/scratch.js';
import { useS3Server } from '../support/s3-server.js';
import { segmentFixture } from '../support/segment.js';

const scratch = useScratch('shifu-archive-timeline-');
const s3 = useS3Server();
const address = (bucket: string) => s3.address(bucket);

/** A journaled segment of device cam from `start` for `seconds`. */
function segment(sequence: number, start: string, seconds: number): Segment {
  return segmentFixture(
    { device: 'cam', start, seconds },
    { sequence, bytes: 1000 + sequence, sha256: String(sequence).repeat(64).slice(0, 64), video: { codec: 'h264', width: 640, height: 480, fps: 10 } },
  );
}

const s1 = segment(1, '2026-11-24T10:00:00.000Z', 3600);
const s2 = segment(2, '2026-11-24T23:30:00.000Z', 3600); // across midnight: in both days' files
const s3seg = segment(3, '2026-11-25T00:30:00.000Z', 3600);

/**
 * The client ports of every TCP connection to `endpoint`'s port the kernel lists (open or in TIME_WAIT, which a
 * closed one stays in for a minute): a new port is a new connection.
 */
async function connectionsTo(endpoint: string): Promise<Set<number>> {
  const port = Number(new URL(endpoint).port);
  const ports = new Set<number>();
  for (const line of (await readFile('/proc/net/tcp', 'utf8')).split('\n').slice(1)) {
    const [local, remote] = line.trim().split(/\s+/).slice(1, 3).map((a) => parseInt(a.split(':')[1] ?? '', 16));
    // Both ends' rows: whichever end closed first keeps its row (TIME_WAIT), the other's goes.
    if (remote === port && local !== undefined) ports.add(local);
    if (local === port && remote !== undefined && remote !== 0) ports.add(remote);
  }
  return ports;
}

const MiB = 1024 * 1024;
/** As the archive uploads by default: a segment up to ARCHIVE_PART_MIB is one PUT. */
const AS_ARCHIVED: UploadLimits = { bytesPerSecond: null, partBytes: DEFAULT_PART_MIB * MiB };
/** As with ARCHIVE_PART_MIB=5: a file over 5 MiB is a multipart upload of 5 MiB parts (S3's smallest). */
const IN_PARTS: UploadLimits = { bytesPerSecond: null, partBytes: MIN_PART_BYTES };

/** Bytes this process has read so far (files and sockets alike: /proc/self/io's rchar, every thread counted). */
async function bytesReadSoFar(): Promise<number> {
  return Number(/^rchar: (\d+)$/m.exec(await readFile('/proc/self/io', 'utf8'))?.[1]);
}

/** Inverts one byte of the file in place (same size, same inode), as a change behind the journal's back would. */
function changeByteAt(file: string, at: number): void {
  const fd = openSync(file, 'r+');
  try {
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, at);
    writeSync(fd, Buffer.from([byte[0]! ^ 0xff]), 0, 1, at);
  } finally {
    closeSync(fd);
  }
}

/** A day file as awscli fetches it, gunzipped and read with the journal's own parser. */
async function dayFileByAwscli(bucket: string, day: string): Promise<Segment[]> {
  const copy = path.join(scratch.dir, `${bucket}-${day}.gz`);
  await s3.aws(['s3', 'cp', `s3://${bucket}/site1/cam/timeline/${day}.jsonl.gz`, copy]);
  return parseJournal(gunzipSync(await readFile(copy)).toString('utf8'));
}

/**
 * Uploads a new file of `bytes` random bytes to a new bucket `name` as one PUT, paced at 1 MiB/s so that the read
 * runs at most a few 256 KiB chunks ahead of what is sent; `meddle`s with the file once a quarter MiB is read (or
 * the upload ended). Resolves what the upload ended with: null when it succeeded, else its error.
 */
async function uploadMeddled(name: string, bytes: number, meddle: (file: string) => void): Promise<unknown> {
  await s3.createBucket(name);
  const file = path.join(scratch.dir, `${name}.mp4`);
  await writeFile(file, randomBytes(bytes));
  const sha256 = (await sha256OfFile(file)).digest('hex');
  const bucket = new Bucket(address(name));
  try {
    await bucket.head('cam/none.mp4');
    const readBefore = await bytesReadSoFar();
    let settled = false;
    const ended = bucket
      .upload({ key: `cam/${name}.mp4`, file, sha256, bytes, contentType: 'video/mp4' }, { ...AS_ARCHIVED, bytesPerSecond: MiB })
      .then(
        () => null,
        (err: unknown) => err,
      )
      .finally(() => (settled = true));
    while (!settled && (await bytesReadSoFar()) - readBefore < MiB / 4) await new Promise((r) => setTimeout(r, 10));
    meddle(file);
    return await ended;
  } finally {
    await bucket.close();
  }
}

describe('the timeline in the bucket', () => {
  it('writes the journal lines of each day once, across midnight and again after a restart, and awscli reads them back', async () => {
    await s3.createBucket('days');
    const bucket = new Bucket(address('days'));
    try {
      await addToDayFiles(bucket, 'site1/cam/', [s1, s2]);
      // A restart archives s2 again (found in the bucket, its record not journaled yet) with s3.
      await addToDayFiles(bucket, 'site1/cam/', [s2, s3seg]);
    } finally {
      await bucket.close();
    }
    expect(await dayFileByAwscli('days', '2026-11-24')).toEqual([s1, s2]);
    expect(await dayFileByAwscli('days', '2026-11-25')).toEqual([s2, s3seg]);

    const timeline = await openBucketTimeline(address('days'), 'site1/');
    try {
      const evening = await timeline.segments('cam', new Date('2026-11-24T23:00:00Z'), new Date('2026-11-25T01:00:00Z'));
      expect(evening).toEqual([
        { segment: s2, key: 'site1/cam/cam_20261124T233000Z.mp4' },
        { segment: s3seg, key: 'site1/cam/cam_20261125T003000Z.mp4' },
      ]);
      // One day from midnight finds the segment that began the evening before, from that day's file alone.
      expect((await timeline.segments('cam', new Date('2026-11-25T00:00:00Z'), new Date('2026-11-26T00:00:00Z'))).map((s) => s.segment.sequence)).toEqual([2, 3]);
      // A day with no day file has no archived footage.
      expect(await timeline.segments('cam', new Date('2026-11-20T00:00:00Z'), new Date('2026-11-21T00:00:00Z'))).toEqual([]);
      await expect(timeline.segments('cam', new Date('2026-01-01T00:00:00Z'), new Date('2026-12-31T00:00:00Z'))).rejects.toThrow(/at most 31 days/);
    } finally {
      timeline.close();
    }
  });

  it('a day file that cannot be read is an error naming the cause, never an empty timeline', async () => {
    await s3.createBucket('broken');
    const garbage = path.join(scratch.dir, 'garbage');
    await writeFile(garbage, 'not gzip\n');
    await s3.aws(['s3', 'cp', garbage, 's3://broken/site1/cam/timeline/2026-11-24.jsonl.gz']);
    const day = [new Date('2026-11-24T00:00:00Z'), new Date('2026-11-25T00:00:00Z')] as const;

    const damaged = await openBucketTimeline(address('broken'), 'site1/');
    const missingBucket = await openBucketTimeline(address('no-such-bucket'), 'site1/');
    const refused = await openBucketTimeline({ ...address('broken'), credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: 'wrong-secret-0123456789' } }, 'site1/');
    try {
      await expect(damaged.segments('cam', ...day)).rejects.toMatchObject({ name: 'BucketTimelineError', kind: 'timeline', message: expect.stringContaining('site1/cam/timeline/2026-11-24.jsonl.gz is not a gzip') });
      await expect(missingBucket.segments('cam', ...day)).rejects.toMatchObject({ kind: 'no-bucket' });
      const wrong = await refused.segments('cam', ...day).then(() => null, (err: unknown) => err);
      expect(wrong).toBeInstanceOf(BucketTimelineError);
      expect(wrong).toMatchObject({ kind: 'credentials' });
      expect(String((wrong as Error).message)).not.toContain('wrong-secret');
      await s3.stop();
      await expect(damaged.segments('cam', ...day)).rejects.toMatchObject({ kind: 'unreachable', message: expect.stringContaining('cannot reach the S3 server') });
    } finally {
      await s3.start();
      for (const t of [damaged, missingBucket, refused]) t.close();
    }
  });
});

describe('the upload, part by part', () => {
  it('stores a segment over ARCHIVE_PART_MIB in parts of that size, with its sha256 and part checksums, and refuses a file that no longer matches its journal sha256', async () => {
    await s3.createBucket('parts');
    const file = path.join(scratch.dir, 'seg.mp4');
    await writeFile(file, randomBytes(12 * 1024 * 1024 + 17)); // with ARCHIVE_PART_MIB=7, two parts, the last short
    const inSevens: UploadLimits = { bytesPerSecond: null, partBytes: 7 * MiB };
    const sha256 = (await sha256OfFile(file)).digest('hex');
    const bucket = new Bucket(address('parts'));
    try {
      const bytes = 12 * MiB + 17;
      await bucket.upload({ key: 'cam/seg.mp4', file, sha256, bytes, contentType: 'video/mp4' }, inSevens);
      await expect(bucket.upload({ key: 'cam/changed.mp4', file, sha256: 'ab'.repeat(32), bytes, contentType: 'video/mp4' }, inSevens)).rejects.toBeInstanceOf(SegmentChangedError);
    } finally {
      await bucket.close();
    }
    const head = JSON.parse(await s3.aws(['s3api', 'head-object', '--bucket', 'parts', '--key', 'cam/seg.mp4', '--checksum-mode', 'ENABLED'])) as { ContentLength: number; Metadata: Record<string, string>; ChecksumSHA256?: string };
    expect(head).toMatchObject({ ContentLength: 12 * 1024 * 1024 + 17, Metadata: { sha256 } });
    expect(head.ChecksumSHA256, 'a checksum of the two 7 MiB parts').toMatch(/-2$/);
    const copy = path.join(scratch.dir, 'fetched.mp4');
    await s3.aws(['s3', 'cp', 's3://parts/cam/seg.mp4', copy]);
    expect((await sha256OfFile(copy)).digest('hex')).toBe(sha256);
    // The changed file left nothing: no object, no open multipart upload.
    expect((await s3.objects('parts')).map((o) => o.key)).toEqual(['cam/seg.mp4']);
    expect(await s3.aws(['s3api', 'list-multipart-uploads', '--bucket', 'parts'])).not.toMatch(/changed/);
  });

  it('sends every request of an upload over the connection it keeps, not a new one per part', async () => {
    await s3.createBucket('kept');
    const file = path.join(scratch.dir, 'kept.mp4');
    await writeFile(file, randomBytes(12 * 1024 * 1024 + 17)); // three parts
    const sha256 = (await sha256OfFile(file)).digest('hex');
    const bucket = new Bucket(address('kept'));
    try {
      await bucket.head('cam/kept0.mp4'); // the client's connection, opened before the uploads
      const before = await connectionsTo(s3.endpoint);
      for (const n of [1, 2]) await bucket.upload({ key: `cam/kept${n}.mp4`, file, sha256, bytes: 12 * MiB + 17, contentType: 'video/mp4' }, IN_PARTS);
      const opened = [...(await connectionsTo(s3.endpoint))].filter((port) => !before.has(port));
      expect(opened, 'connections opened by two uploads of three parts each').toEqual([]);
    } finally {
      await bucket.close();
    }
    expect((await s3.objects('kept')).map((o) => o.size)).toEqual([12 * 1024 * 1024 + 17, 12 * 1024 * 1024 + 17]);
  });

  it('sends a segment up to ARCHIVE_PART_MIB as one PUT with its journal sha256, which the server checks: read once, and a changed file is refused and stored nowhere', async () => {
    await s3.createBucket('whole');
    const file = path.join(scratch.dir, 'whole.mp4');
    const bytes = 7_500_000; // 15 s of a 4 Mbit/s camera
    await writeFile(file, randomBytes(bytes));
    const sha256 = (await sha256OfFile(file)).digest('hex');
    const bucket = new Bucket(address('whole'));
    try {
      await bucket.head('cam/none.mp4'); // the SDK's code loaded and its connection open before counting
      const logged = (await s3.requests()).length;
      const readBefore = await bytesReadSoFar();
      await bucket.upload({ key: 'cam/seg.mp4', file, sha256, bytes, contentType: 'video/mp4' }, AS_ARCHIVED);
      expect((await bytesReadSoFar()) - readBefore, 'bytes read to upload 7.5 MB: the file once, no hashing pass').toBeLessThan(bytes * 1.25);
      changeByteAt(file, 3_000_000);
      await expect(bucket.upload({ key: 'cam/changed.mp4', file, sha256, bytes, contentType: 'video/mp4' }, AS_ARCHIVED)).rejects.toBeInstanceOf(SegmentChangedError);
      // One request each, and the refusal is the server's: it hashed what it received against the journal's sha256.
      expect((await s3.requests()).slice(logged).map((r) => [r.operation, r.key, r.status, r.error])).toEqual([
        ['PutObject', 'cam/seg.mp4', 200, null],
        ['PutObject', 'cam/changed.mp4', 400, 'BadDigest'],
      ]);
    } finally {
      await bucket.close();
    }
    const head = JSON.parse(await s3.aws(['s3api', 'head-object', '--bucket', 'whole', '--key', 'cam/seg.mp4', '--checksum-mode', 'ENABLED'])) as { ContentLength: number; Metadata: Record<string, string>; ChecksumSHA256?: string };
    expect(head).toMatchObject({ ContentLength: bytes, Metadata: { sha256 }, ChecksumSHA256: Buffer.from(sha256, 'hex').toString('base64') });
    expect((await s3.objects('whole')).map((o) => o.key)).toEqual(['cam/seg.mp4']);
  });

  it('stores nothing when the bytes change while a PUT is reading them', async () => {
    const bytes = 6 * MiB;
    // The last byte is read about 5 s after the first quarter MiB, and is changed as soon as that much is read.
    expect(await uploadMeddled('midread', bytes, (file) => changeByteAt(file, bytes - 1))).toBeInstanceOf(SegmentChangedError);
    expect(await s3.objects('midread')).toEqual([]);
  });

  it('refuses a file that shrinks while a PUT is reading it, instead of waiting for the bytes that never come', async () => {
    // Cutting the 3 MiB file at 2 MiB comes before the read gets there.
    expect(await uploadMeddled('shrunk', 3 * MiB, (file) => truncateSync(file, 2 * MiB))).toBeInstanceOf(SegmentChangedError);
    expect(await s3.objects('shrunk')).toEqual([]);
  });

  it('names the cause of a PUT the server refuses before reading its body: a missing bucket, wrong keys', async () => {
    const file = path.join(scratch.dir, 'refused.mp4');
    const bytes = 7_500_000;
    await writeFile(file, randomBytes(bytes));
    const sha256 = (await sha256OfFile(file)).digest('hex');
    const where = { endpoint: s3.endpoint, bucket: 'absent' };
    const causes: string[] = [];
    for (const target of [address('absent'), { ...address('absent'), credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: 'wrong-secret-0123456789' } }]) {
      const bucket = new Bucket(target);
      try {
        const failed = await bucket.upload({ key: 'cam/seg.mp4', file, sha256, bytes, contentType: 'video/mp4' }, AS_ARCHIVED).then(() => null, (err: unknown) => err);
        causes.push(classifyArchiveFailure(failed, where).kind);
      } finally {
        await bucket.close();
      }
    }
    // The server answers before the body is read and closes the connection: the client sees a reset, not 'unreachable'.
    expect(causes).toEqual(['no-bucket', 'credentials']);
  });
});
