// A reader of the timeline in the bucket, for readers with no volume (playback from the bucket): a device's
// archived segments in a time range, from one GET per UTC day the range touches, never a listing or a HEAD per
// segment. Loads the AWS SDK; `openBucketTimeline` (index.ts) loads it only when asked.
import { S3ServiceException } from '@aws-sdk/client-s3';
import { bucketDevicePrefix, segmentObjectKey, timelineDayKey, timelineFolder, utcDaysOf, type Segment } from '../contracts/index.js';
import { Bucket, type RangedObject } from './bucket.js';
import { decodeDayFile, readDayFile } from './day-files.js';
import { BucketReadError, BucketTimelineError, classifyArchiveFailure } from './failure.js';
import type { BucketAddress } from './options.js';

/** An archived segment and the key of its object. */
export interface BucketSegment {
  readonly segment: Segment;
  readonly key: string;
}

/** A day file as read, with its ETag, for a reader that caches it and asks again only whether it changed. */
export interface DayFile {
  readonly segments: readonly Segment[];
  readonly etag: string;
}

/** The device listing stops after this many pages of 1000: 10,000 devices. */
const MAX_LIST_PAGES = 10;

/** At most this many days in one request: a day file per day, and a year of them is never read at once. */
export const MAX_TIMELINE_DAYS = 31;

export class BucketTimeline {
  private readonly bucket: Bucket;
  private readonly where: { endpoint: string; bucket: string };

  /** `prefix` as the archive's (`ARCHIVE_S3_PREFIX`): devices are the folders under it. */
  constructor(
    address: BucketAddress,
    private readonly prefix: string,
  ) {
    this.bucket = new Bucket(address);
    this.where = { endpoint: address.endpoint ?? `AWS S3 (${address.region})`, bucket: address.bucket };
  }

  /**
   * The device's archived segments that overlap [from, to), by start time. Throws a RangeError for an empty or
   * reversed range or one over MAX_TIMELINE_DAYS days, and a BucketTimelineError when a day file cannot be read
   * (a day with no day file has no archived footage: that is an answer, not a failure).
   */
  async segments(device: string, from: Date, to: Date): Promise<BucketSegment[]> {
    if (!(from.getTime() < to.getTime())) throw new RangeError('invalid range: from must be before to');
    const days = utcDaysOf(from, to);
    if (days.length > MAX_TIMELINE_DAYS) throw new RangeError(`invalid range: at most ${MAX_TIMELINE_DAYS} days at a time (asked ${days.length})`);
    const devicePrefix = bucketDevicePrefix(this.prefix, device);
    const byFile = new Map<string, Segment>();
    for (const day of days) {
      let segments: Segment[];
      try {
        segments = await readDayFile(this.bucket, devicePrefix, day);
      } catch (err) {
        const failure = classifyArchiveFailure(err, this.where);
        throw new BucketTimelineError(day, failure.kind, `${timelineDayKey(devicePrefix, day)}: ${failure.message}`);
      }
      // A segment across midnight is in both days' files.
      for (const s of segments) if (Date.parse(s.startTime) < to.getTime() && Date.parse(s.endTime) > from.getTime()) byFile.set(s.file, s);
    }
    return [...byFile.values()]
      .sort((a, b) => a.startTime.localeCompare(b.startTime) || a.sequence - b.sequence)
      .map((segment) => ({ segment, key: segmentObjectKey(devicePrefix, segment.file) }));
  }

  /** The devices with objects under the prefix: its folders, by S3's delimiter (never a listing of segments). */
  async devices(): Promise<string[]> {
    try {
      return await this.bucket.folders(this.prefix, MAX_LIST_PAGES);
    } catch (err) {
      throw this.readError(`the devices under '${this.prefix}'`, err);
    }
  }

  /**
   * One day file of the device, or 'unchanged' when its ETag is still `etag` (a conditional GET: no body moves).
   * A day with no day file is an empty day (etag ''). Throws a BucketTimelineError naming the cause.
   */
  async day(device: string, day: string, etag: string | null): Promise<DayFile | 'unchanged'> {
    const key = timelineDayKey(bucketDevicePrefix(this.prefix, device), day);
    try {
      const got = await this.bucket.readIfChanged(key, etag || null);
      if (got === 'unchanged') return got;
      if (got === 'missing') return { segments: [], etag: '' };
      return { segments: await decodeDayFile(key, got.body), etag: got.etag };
    } catch (err) {
      const failure = classifyArchiveFailure(err, this.where);
      throw new BucketTimelineError(day, failure.kind, `${key}: ${failure.message}`);
    }
  }

  /**
   * A segment's object as a stream: one GET with `range` (an HTTP Range value) when given, so a range is never a
   * whole-object read. 'unsatisfiable' for a range past its end (416). Throws a BucketReadError naming the cause.
   */
  async object(device: string, file: string, range: string | undefined, signal: AbortSignal): Promise<RangedObject | 'unsatisfiable'> {
    const key = segmentObjectKey(bucketDevicePrefix(this.prefix, device), file);
    try {
      return await this.bucket.streamRange(key, range, signal);
    } catch (err) {
      if (err instanceof S3ServiceException && (err.name === 'InvalidRange' || err.$metadata.httpStatusCode === 416)) return 'unsatisfiable';
      throw this.readError(key, err);
    }
  }

  private readError(what: string, err: unknown): BucketReadError {
    const failure = classifyArchiveFailure(err, this.where);
    return new BucketReadError(what, failure.kind, failure.message);
  }

  /**
   * The UTC days (`YYYY-MM-DD`) of [from, to) that have a day file, oldest first: a listing of the device's
   * timeline folder, one request per 1,000 days, so a reader of a long range GETs only the days with footage.
   * A failure is a BucketTimelineError, never an empty answer.
   */
  async days(device: string, from: Date, to: Date): Promise<string[]> {
    if (!(from.getTime() < to.getTime())) throw new RangeError('invalid range: from must be before to');
    const first = from.toISOString().slice(0, 10);
    const last = new Date(to.getTime() - 1).toISOString().slice(0, 10);
    const folder = timelineFolder(bucketDevicePrefix(this.prefix, device));
    const days: string[] = [];
    try {
      // `<folder><first>` sorts just before that day's key, so the listing starts at it.
      for await (const keys of this.bucket.keys(folder, `${folder}${first}`)) {
        for (const key of keys) {
          const day = /^(\d{4}-\d{2}-\d{2})\.jsonl\.gz$/.exec(key.slice(folder.length))?.[1];
          if (day === undefined) continue;
          if (day > last) return days;
          days.push(day);
        }
      }
    } catch (err) {
      const failure = classifyArchiveFailure(err, this.where);
      throw new BucketTimelineError(`${first}..${last}`, failure.kind, `listing ${folder}: ${failure.message}`);
    }
    return days;
  }

  close(): void {
    void this.bucket.close();
  }
}
