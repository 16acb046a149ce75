// The archive's rules without a server: its settings (a half-given one stops start-up naming the variable), the
// causes it reports (never a secret), and its queue over the journal (what is pending, where the cursor goes).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { archiveOptions, archiveTarget, classifyArchiveFailure } from '../../functions/archive/index.js';
import { ArchiveQueue, MAX_PENDING } from '../../functions/archive/archive-queue.js';
import { mergeDay } from '../../functions/archive/day-files.js';
import { rangeBody } from '../../functions/archive/upload-body.js';
import { segmentObjectKey, timelineDayKey, utcDaysOf } from '../../functions/contracts/index.js';
import { ConfigError, parseConfig } from '../../functions/lib/index.js';
import { appendArchiveToJournal, appendDeletionToJournal, appendToJournal, type Segment } from '../../functions/recorder/index.js';
import { applyArchivingV8Flags } from '../../functions/commands/recorder.js';
import { useScratch } from '../support/scratch.js';
import { segmentFixture } from '../support/segment.js';

const scratch = useScratch('shifu-archive-unit-');
const config = (env: Record<string, string>) => parseConfig(archiveOptions, [], env).config;

/** Segment `sequence` of cam, one a second from 10:00:00 (each its own file), 2 s long. */
function segment(sequence: number): Segment {
  return segmentFixture({ device: 'cam', start: Date.parse('2026-11-24T10:00:00.000Z') + sequence * 1000, seconds: 2 }, { sequence, sha256: 'ab'.repeat(32), video: null });
}

describe('archive settings', () => {
  it('keeps compiled code between uploads in a recorder with a bucket, and leaves V8 as it is without one', () => {
    const set: string[] = [];
    applyArchivingV8Flags(archiveTarget(config({}), 'cam', {}), (flag) => set.push(flag));
    expect(set, 'without a bucket').toEqual([]);
    applyArchivingV8Flags(archiveTarget(config({ ARCHIVE_S3_BUCKET: 'footage' }), 'cam', {}), (flag) => set.push(flag));
    expect(set, 'with a bucket: the SDK is not compiled again at each upload').toEqual(['--no-flush-bytecode']);
  });

  it('is off without a bucket, and on with one: keys under <prefix><device>/, the rate in bytes per second', () => {
    expect(archiveTarget(config({}), 'cam', {})).toBeNull();
    const target = archiveTarget(config({ ARCHIVE_S3_BUCKET: 'footage', ARCHIVE_MAX_MBPS: '8' }), 'cam', { POD_NAMESPACE: 'deviceshifu' });
    expect(target).toMatchObject({ bucket: 'footage', devicePrefix: 'deviceshifu/cam/', maxBytesPerSecond: 1_000_000, forcePathStyle: false, region: 'us-east-1' });
    expect(archiveTarget(config({ ARCHIVE_S3_BUCKET: 'footage' }), 'cam', {})?.devicePrefix).toBe('cam/');
    expect(archiveTarget(config({ ARCHIVE_S3_BUCKET: 'footage', ARCHIVE_S3_PREFIX: 'site1/' }), 'cam', { POD_NAMESPACE: 'x' })?.devicePrefix).toBe('site1/cam/');
    // Tiered retention: archived footage stays on the volume until another limit, the hard floor above the kubelet's 10 %.
    expect(target).toMatchObject({ keepLocalMs: 0, hardMinFreePercent: 11 });
    expect(archiveTarget(config({ ARCHIVE_S3_BUCKET: 'footage', ARCHIVE_KEEP_LOCAL: '7d', ARCHIVE_HARD_MIN_FREE_PERCENT: '5' }), 'cam', {})).toMatchObject({ keepLocalMs: 604_800_000, hardMinFreePercent: 5 });
    // One PUT up to 128 MiB (2 min of an 8 Mbit/s camera), or as set.
    expect(target?.partBytes).toBe(128 * 1024 * 1024);
    expect(archiveTarget(config({ ARCHIVE_S3_BUCKET: 'footage', ARCHIVE_PART_MIB: '5' }), 'cam', {})?.partBytes).toBe(5 * 1024 * 1024);
  });

  it('stops start-up naming the variable: a bad bucket or rate, an endpoint without a bucket, one AWS key without the other', () => {
    expect(() => config({ ARCHIVE_S3_BUCKET: 'Not_A_Bucket' })).toThrow(/ARCHIVE_S3_BUCKET/);
    expect(() => config({ ARCHIVE_S3_BUCKET: 'footage', ARCHIVE_MAX_MBPS: '0' })).toThrow(/ARCHIVE_MAX_MBPS/);
    expect(() => config({ ARCHIVE_S3_BUCKET: 'footage', ARCHIVE_KEEP_LOCAL: 'a day' })).toThrow(/ARCHIVE_KEEP_LOCAL/);
    expect(() => config({ ARCHIVE_S3_BUCKET: 'footage', ARCHIVE_HARD_MIN_FREE_PERCENT: '100' })).toThrow(/ARCHIVE_HARD_MIN_FREE_PERCENT/);
    for (const mib of ['4', '5121', '6.5']) expect(() => config({ ARCHIVE_S3_BUCKET: 'footage', ARCHIVE_PART_MIB: mib })).toThrow(/ARCHIVE_PART_MIB/);
    expect(() => archiveTarget(config({ ARCHIVE_S3_ENDPOINT: 'http://s3:9000' }), 'cam', {})).toThrow(/ARCHIVE_S3_BUCKET/);
    expect(() => archiveTarget(config({ ARCHIVE_S3_BUCKET: 'footage' }), 'cam', { AWS_ACCESS_KEY_ID: 'id' })).toThrow(ConfigError);
    expect(() => archiveTarget(config({ ARCHIVE_S3_BUCKET: 'footage' }), 'cam', { AWS_ACCESS_KEY_ID: 'id' })).toThrow(/AWS_SECRET_ACCESS_KEY/);
    expect(() => archiveTarget(config({ ARCHIVE_S3_BUCKET: 'footage' }), 'cam', { AWS_SECRET_ACCESS_KEY: 'shh-secret' })).toThrow(/^invalid AWS_ACCESS_KEY_ID(?!.*shh-secret)/);
  });
});

describe('archive failures', () => {
  const where = { endpoint: 'http://s3:9000', bucket: 'footage' };
  it('names the cause from the error name and status only, never its message', () => {
    const refused = Object.assign(new Error('signature for key AKIDSECRET did not match'), { name: 'SignatureDoesNotMatch', $metadata: { httpStatusCode: 403 } });
    const failure = classifyArchiveFailure(refused, where);
    expect(failure).toEqual({ kind: 'credentials', message: expect.stringContaining('refused the credentials for bucket footage (SignatureDoesNotMatch, 403)') });
    expect(failure.message).not.toContain('AKIDSECRET');
    expect(classifyArchiveFailure(Object.assign(new Error('x'), { name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } }), where).kind).toBe('no-bucket');
    const refusedConnect = new AggregateError([Object.assign(new Error('connect'), { code: 'ECONNREFUSED' })]);
    expect(classifyArchiveFailure(refusedConnect, where)).toEqual({ kind: 'unreachable', message: 'cannot reach the S3 server http://s3:9000 (ECONNREFUSED)' });
    expect(classifyArchiveFailure(Object.assign(new Error('x'), { name: 'InternalError', $metadata: { httpStatusCode: 500 } }), where).kind).toBe('server');
  });
});

describe('archive queue', () => {
  it('holds the segments without an archive or deletion record after them, and its cursor survives a restart', async () => {
    const dir = path.join(scratch.dir, 'queue');
    await mkdir(dir, { recursive: true });
    const journal = path.join(dir, 'segments.jsonl');
    for (const n of [1, 2, 3, 4]) await appendToJournal(journal, segment(n));
    const archived = { device: 'cam', sha256: 'ab'.repeat(32), bucket: 'b', key: 'k', etag: 'e', at: '2026-11-24T11:00:00.000Z' };
    await appendArchiveToJournal(journal, { ...archived, archived: segment(2).file });
    await appendDeletionToJournal(journal, { device: 'cam', deleted: segment(3).file, bytes: 100, reason: 'age', at: '2026-11-24T11:00:00.000Z' });
    const queue = await ArchiveQueue.open(path.join(dir, 'archive-cursor.json'), journal);
    expect(await queue.scan()).toBe(2);
    expect(queue.next?.segment.sequence).toBe(1);
    await queue.done(queue.next!);
    expect(queue.next?.segment.sequence).toBe(4);
    // Restarted: the cursor stands at segment 4's line, so segment 1 is not read again.
    const again = await ArchiveQueue.open(path.join(dir, 'archive-cursor.json'), journal);
    expect(await again.scan()).toBe(1);
    expect(again.next?.segment.sequence).toBe(4);
    await again.done(again.next!);
    await appendToJournal(journal, segment(5));
    expect(await again.scan()).toBe(1);
    expect(JSON.parse(await readFile(path.join(dir, 'archive-cursor.json'), 'utf8'))).toEqual({ offset: expect.any(Number) });
  });

  it('reads a backlog in steps of MAX_PENDING, never all of it at once', async () => {
    const dir = path.join(scratch.dir, 'backlog');
    await mkdir(dir, { recursive: true });
    const journal = path.join(dir, 'segments.jsonl');
    await writeFile(journal, Array.from({ length: MAX_PENDING + 3 }, (_, i) => `${JSON.stringify(segment(i + 1))}\n`).join(''));
    const queue = await ArchiveQueue.open(path.join(dir, 'archive-cursor.json'), journal);
    expect(await queue.scan()).toBe(MAX_PENDING);
    for (let n = 0; n < MAX_PENDING; n++) await queue.done(queue.next!);
    expect(await queue.scan()).toBe(3);
    expect(queue.next?.segment.sequence).toBe(MAX_PENDING + 1);
  });
});

describe('the timeline in the bucket', () => {
  it('names the UTC days a segment touches, so one across midnight is in both days and a reader of one day GETs one file', () => {
    expect(utcDaysOf(new Date('2026-11-24T10:00:00Z'), new Date('2026-11-24T11:00:00Z'))).toEqual(['2026-11-24']);
    expect(utcDaysOf(new Date('2026-11-24T23:30:00Z'), new Date('2026-11-25T00:30:00Z'))).toEqual(['2026-11-24', '2026-11-25']);
    // Ending at midnight touches nothing of the next day.
    expect(utcDaysOf(new Date('2026-11-24T23:00:00Z'), new Date('2026-11-25T00:00:00Z'))).toEqual(['2026-11-24']);
    expect(timelineDayKey('site1/cam/', '2026-11-24')).toBe('site1/cam/timeline/2026-11-24.jsonl.gz');
    expect(segmentObjectKey('site1/cam/', 'cam/cam_20261124T100000Z.mp4')).toBe('site1/cam/cam_20261124T100000Z.mp4');
  });

  it('merges a day as a set of segments by file, by start time: written again after a restart, nothing doubles', () => {
    const [a, b, c] = [segment(3), segment(1), segment(2)].map((s, i) => ({ ...s, startTime: `2026-11-24T1${i}:00:00.000Z` }));
    expect(mergeDay([a!, b!], [b!, c!]).map((s) => s.sequence)).toEqual([3, 1, 2]);
    expect(mergeDay([c!, a!], [a!])).toEqual([a, c]);
  });
});

describe('the upload body', () => {
  it('holds a few MiB of the file at a time, however large the file: the chunks sent are collected as it goes', async () => {
    // 32 MiB read and dropped chunk by chunk, as the socket does. Without collecting, every chunk stays allocated
    // until V8 next collects by itself (measured here: 16-19.5 MiB at most, three runs; with it, 4 MiB).
    const file = path.join(scratch.dir, 'segment.bin');
    await writeFile(file, Buffer.alloc(32 * 1024 * 1024, 1));
    const before = process.memoryUsage().arrayBuffers;
    let most = 0;
    let bytes = 0;
    for await (const chunk of rangeBody(file, 0, 32 * 1024 * 1024, null) as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      most = Math.max(most, process.memoryUsage().arrayBuffers - before);
    }
    expect(bytes).toBe(32 * 1024 * 1024);
    expect(most / 2 ** 20, 'MiB of file chunks allocated at once').toBeLessThan(12);
  });
});
