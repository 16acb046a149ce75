// Segments from the bucket the recorder archives to: the timeline from its day files (one GET per UTC day that has
// one, found by listing the device's timeline folder), each segment's object streamed, from an offset for a partial
// copy. The bucket's word is checked like the playback server's: size and sha256 against the journal's line.
import path from 'node:path';
import { openBucketObjects, openBucketTimeline, BucketTimelineError, classifyArchiveFailure, type BucketAddress } from '../archive/index.js';
import { bucketDevicePrefix, segmentObjectKey, timelineFolder } from '../contracts/index.js';
import type { ExportItem } from './resume.js';
import { ExportError, type OpenedSegment, type SegmentSource } from './segments.js';

const DAY_MS = 86_400_000;

/** The bucket's segments under `prefix` (the archive's ARCHIVE_S3_PREFIX). Loads the AWS SDK. */
export async function bucketSegments(address: BucketAddress, prefix: string): Promise<SegmentSource> {
  const where = { endpoint: address.endpoint ?? `AWS S3 (${address.region})`, bucket: address.bucket };
  const description = `bucket ${where.bucket} at ${where.endpoint}`;
  const timeline = await openBucketTimeline(address, prefix);
  const objects = await openBucketObjects(address);
  /** A failure to read the timeline ends the export: an error, never an empty answer. */
  const failed = (err: unknown): never => {
    if (err instanceof BucketTimelineError) throw new ExportError('timeline_failed', `timeline from ${description}: ${err.message}`);
    throw err;
  };

  return {
    description,
    async *batches(device, window) {
      const from = window.since ?? new Date(0);
      // Without --until: everything up to now and a day on (clocks differ), as from the playback server.
      const to = window.until ?? new Date(Date.now() + DAY_MS);
      const days = await timeline.days(device, from, to).catch(failed);
      if (days.length === 0 && (await timeline.days(device, new Date(0), new Date(Date.now() + DAY_MS)).catch(failed)).length === 0) {
        const folder = timelineFolder(bucketDevicePrefix(prefix, device));
        throw new ExportError('device_missing', `${description} has no timeline of ${device} (no day file under ${folder}); check --device and --s3-prefix`);
      }
      // A segment across midnight is in both days' files: it is copied once.
      let before = new Set<string>();
      for (const day of days) {
        const dayStart = Date.parse(`${day}T00:00:00Z`);
        const listed = await timeline.segments(device, new Date(Math.max(from.getTime(), dayStart)), new Date(Math.min(to.getTime(), dayStart + DAY_MS))).catch(failed);
        const items: ExportItem[] = listed.flatMap(({ segment }) => {
          const name = path.posix.basename(segment.file);
          return before.has(name) ? [] : [{ name, bytes: segment.bytes, sha256: segment.sha256, start: new Date(segment.startTime), end: new Date(segment.endTime), segment }];
        });
        before = new Set(listed.map(({ segment }) => path.posix.basename(segment.file)));
        if (items.length > 0) yield items;
      }
    },
    async open(device, item, offset): Promise<OpenedSegment> {
      const key = segmentObjectKey(bucketDevicePrefix(prefix, device), item.name);
      let object;
      try {
        object = await objects.stream(key, offset);
      } catch (err) {
        const failure = classifyArchiveFailure(err, where);
        return { kind: 'failed', detail: `${key}: ${failure.message}`, final: failure.kind === 'credentials' || failure.kind === 'no-bucket' };
      }
      if (object === null) return { kind: 'gone', detail: `gone from the bucket (${key}; a lifecycle rule expired it?)` };
      // The archive stored the journal's sha256 with the object: another one means another file under that name.
      if (object.sha256 !== null && item.sha256 !== undefined && object.sha256 !== item.sha256) {
        object.body.destroy();
        return { kind: 'failed', detail: `${key}: its x-amz-meta-sha256 ${object.sha256.slice(0, 12)}… differs from the journal's ${item.sha256.slice(0, 12)}…`, final: true };
      }
      return { kind: 'body', body: object.body, from: object.from, bytes: object.bytes, lastModifiedMs: object.lastModified?.getTime() ?? null };
    },
    async close() {
      timeline.close();
      await objects.close();
    },
  };
}
