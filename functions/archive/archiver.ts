// The archive loop of one recorder: uploads each finished, journaled segment to S3 once, in journal order, and
// journals an archive record for it. Runs beside recording and never holds it up: a failure only sets
// `archive-error` and retries with backoff.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { backoffDelay, sleep, type BackoffPolicy, type Logger } from '../lib/index.js';
import { absoluteSegmentPath, archiveCursorPathOf, journalPathOf, segmentObjectKey, type ArchiveRecord, type ArchivedRecorder } from '../contracts/index.js';
import { ArchiveQueue, type PendingSegment } from './archive-queue.js';
import { Bucket } from './bucket.js';
import { addToDayFiles } from './day-files.js';
import { classifyArchiveFailure, type ArchiveFailure } from './failure.js';
import type { ArchiveTarget } from './options.js';

export type ArchiveState = 'archiving' | 'archive-error';

export interface ArchiveCounters {
  /** Segments whose object is complete in the bucket (uploaded now, or found there with the same sha256). */
  archived: number;
  /** Bytes uploaded (not counting objects found already there). */
  bytesUploaded: number;
  /** Segments found in the bucket with the same sha256, so not uploaded again. */
  alreadyThere: number;
  /** Segments whose file was gone before it could be uploaded. */
  missing: number;
  failures: number;
  orphansAborted: number;
}

export interface ArchiveStatus {
  readonly state: ArchiveState;
  readonly bucket: string;
  readonly prefix: string;
  readonly pending: number;
  readonly uploading: string | null;
  /** When the archive last found nothing left to upload (every journaled segment archived), or null. */
  readonly caughtUpAt: string | null;
  readonly lastArchived: Omit<ArchiveRecord, 'kind' | 'device' | 'sha256'> | null;
  readonly lastError: (ArchiveFailure & { readonly at: string }) | null;
  readonly counters: Readonly<ArchiveCounters>;
}

/**
 * What the archive asks of its recorder's command: queue the archived event durably (the event outbox), then
 * journal the archive record (the recorder is the journal's one writer), in that order.
 */
export interface ArchiveReporting {
  announce(record: ArchiveRecord): Promise<void>;
  journal(record: Omit<ArchiveRecord, 'kind'>): Promise<void>;
}

const RETRY: BackoffPolicy = { baseMs: 1000, maxMs: 30_000 };
/** Segments uploaded before the day files are written (and their records journaled), during a backlog. */
const TIMELINE_BATCH = 64;
/** A graceful stop waits at most this long for the batch to join the day files and the journal. */
const CLOSE_PUBLISH_MS = 10_000;

/** The day files are written at most this often while caught up (each write is a GET and a PUT of a day). */
const TIMELINE_EVERY_MS = 60_000;

export class Archiver {
  readonly counters: ArchiveCounters = { archived: 0, bytesUploaded: 0, alreadyThere: 0, missing: 0, failures: 0, orphansAborted: 0 };
  private readonly bucket: Bucket;
  private state: ArchiveState = 'archiving';
  private lastError: (ArchiveFailure & { at: string }) | null = null;
  private lastArchived: ArchiveStatus['lastArchived'] = null;
  private uploading: string | null = null;
  /** Segments uploaded (record) or gone (null), in journal order, not yet in the day files and journaled. */
  private readonly batch: Array<{ readonly item: PendingSegment; readonly record: ArchiveRecord | null }> = [];
  private timelineWrittenAt = 0;
  private caughtUpAt: string | null = null;
  private closed = new AbortController();
  private wake: () => void = () => undefined;
  private loop: Promise<void> | null = null;
  private readonly where: { endpoint: string; bucket: string };
  private readonly onSegment = (): void => this.wake();
  /**
   * The name of the last segment journaled before the latest scan began, so every file named up to it was read
   * by a scan; null before the first scan. Retention takes a file for archived only up to it.
   */
  private scannedThrough: string | null = null;

  private constructor(
    private readonly recorder: ArchivedRecorder,
    private readonly target: ArchiveTarget,
    private readonly queue: ArchiveQueue,
    private readonly log: Logger,
    private readonly report: ArchiveReporting,
  ) {
    this.bucket = new Bucket(target);
    this.where = { endpoint: target.endpoint ?? `AWS S3 (${target.region})`, bucket: target.bucket };
  }

  static async start(recorder: ArchivedRecorder, target: ArchiveTarget, log: Logger, report: ArchiveReporting): Promise<Archiver> {
    const { out, device } = recorder.settings;
    const queue = await ArchiveQueue.open(archiveCursorPathOf(out, device), journalPathOf(out, device));
    const archiver = new Archiver(recorder, target, queue, log, report);
    recorder.events.on('segment', archiver.onSegment);
    recorder.guardRetention({
      archived: () => archiver.archivedPredicate(),
      keepLocalMs: target.keepLocalMs,
      hardMinFreePercent: target.hardMinFreePercent,
    });
    archiver.loop = archiver.run();
    log.info({ bucket: target.bucket, prefix: target.devicePrefix, endpoint: archiver.where.endpoint }, 'archiving segments');
    return archiver;
  }

  status(): ArchiveStatus {
    return {
      state: this.state,
      bucket: this.target.bucket,
      prefix: this.target.devicePrefix,
      pending: this.queue.size,
      uploading: this.uploading,
      caughtUpAt: this.caughtUpAt,
      lastArchived: this.lastArchived,
      lastError: this.lastError,
      counters: { ...this.counters },
    };
  }

  /**
   * Stops the loop; an upload in flight is aborted and done again after the next start. What is uploaded already
   * joins the day files and the journal first (call it before the event outbox closes), so a graceful stop leaves
   * the next start nothing to find again; if the bucket cannot take it within CLOSE_PUBLISH_MS, the next start does
   * it, as after a crash.
   */
  async close(): Promise<void> {
    this.recorder.events.off('segment', this.onSegment);
    this.closed.abort();
    this.wake();
    await this.bucket.stopUploads();
    await this.loop;
    if (this.batch.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      const published = this.publish().then(
        () => true,
        (err: unknown) => {
          this.log.warn({ kind: classifyArchiveFailure(err, this.where).kind, pending: this.batch.length }, 'could not publish the uploaded segments at stop; the next start does');
          return true;
        },
      );
      const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), CLOSE_PUBLISH_MS)));
      if (!(await Promise.race([published, late]))) this.log.warn({ pending: this.batch.length }, 'publishing the uploaded segments at stop took too long; the next start does');
      clearTimeout(timer);
    }
    await this.bucket.close();
  }

  private async run(): Promise<void> {
    let failures = 0;
    let orphansChecked = false;
    while (!this.closed.signal.aborted) {
      try {
        if (!orphansChecked) {
          const aborted = await this.bucket.abortOrphans(this.target.devicePrefix);
          orphansChecked = true;
          this.counters.orphansAborted += aborted.length;
          if (aborted.length > 0) this.log.warn({ keys: aborted }, 'aborted multipart uploads a previous recorder left open');
        }
        const journaledBefore = this.recorder.status().lastSegment?.file;
        await this.queue.scan();
        this.scannedThrough = journaledBefore === undefined ? '' : path.posix.basename(journaledBefore);
        const item = this.queue.nextExcept(new Set(this.batch.map((b) => b.item)));
        if (item !== null && this.batch.length < TIMELINE_BATCH) {
          this.caughtUpAt = null;
          this.batch.push({ item, record: await this.archive(item) });
        } else if (this.batch.length > 0) {
          // Caught up with uploads: the day files are written at most once a minute (rewritten whole, see
          // day-files.ts), so a day of 2 s segments costs 1440 writes, not 43200; new segments upload meanwhile.
          const wait = this.timelineWrittenAt + TIMELINE_EVERY_MS - Date.now();
          if (item === null && wait > 0) await this.idle(wait);
          else await this.publish();
        } else {
          this.caughtUpAt = new Date().toISOString();
          this.recover();
          failures = 0;
          await this.idle(60_000);
          continue;
        }
        this.recover();
        failures = 0;
      } catch (err) {
        this.uploading = null;
        if (this.closed.signal.aborted) return;
        const failure = classifyArchiveFailure(err, this.where);
        this.counters.failures++;
        const delay = backoffDelay(failures++, RETRY);
        if (this.state !== 'archive-error' || this.lastError?.message !== failure.message) {
          this.log.warn({ kind: failure.kind, reason: failure.message, retryInMs: delay }, 'archive-error: could not archive a segment; retrying');
        }
        this.state = 'archive-error';
        this.lastError = { ...failure, at: new Date().toISOString() };
        await sleep(delay, this.closed.signal);
      }
    }
  }

  /**
   * The batch's objects are complete: they join the day files, then each is announced and journaled and the cursor
   * moves past it. A crash before the end leaves segments without their record; after the restart they are found
   * in the bucket (same sha256) and added to the day files again, which changes nothing there.
   */
  private async publish(): Promise<void> {
    const archived = this.batch.flatMap((b) => (b.record === null ? [] : [b.item.segment]));
    if (archived.length > 0) await addToDayFiles(this.bucket, this.target.devicePrefix, archived);
    this.timelineWrittenAt = Date.now();
    for (let done = this.batch.shift(); done !== undefined; done = this.batch.shift()) {
      const { item, record } = done;
      try {
        if (record !== null) {
          // Queued before the record is journaled: a crash between the two announces it again (same id), never not at all.
          await this.report.announce(record);
          const { kind: _kind, ...fields } = record;
          await this.report.journal(fields);
          this.lastArchived = { archived: record.archived, bucket: record.bucket, key: record.key, etag: record.etag, at: record.at };
        }
        await this.queue.done(item);
      } catch (err) {
        this.batch.unshift(done);
        throw err;
      }
    }
  }

  /**
   * Which finished files are in the bucket now, for retention: the archive uploads in journal order, so they are
   * the names before the first pending one, among those a scan has read. Anything newer, and everything before the
   * first scan, counts as not archived.
   */
  archivedPredicate(): (name: string) => boolean {
    const through = this.scannedThrough;
    const firstPending = this.queue.firstPendingName();
    if (through === null) return () => false;
    return (name) => name <= through && (firstPending === null || name < firstPending);
  }

  private recover(): void {
    if (this.state === 'archive-error') this.log.info({ pending: this.queue.size }, 'archiving again');
    this.state = 'archiving';
  }

  /** Waits for the next finished segment, or `ms` (journal lines the recorder did not announce, such as recovery's). */
  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /** Uploads the segment (unless its object is there already); null when its file is gone. */
  private async archive(item: PendingSegment): Promise<ArchiveRecord | null> {
    const { segment } = item;
    const file = absoluteSegmentPath(this.recorder.settings.out, segment.file);
    const present = await stat(file).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return false;
        throw err;
      },
    );
    if (!present) {
      this.counters.missing++;
      this.log.warn({ file: segment.file }, 'segment file is gone before it was archived; skipping it');
      return null;
    }
    const key = segmentObjectKey(this.target.devicePrefix, segment.file);
    this.uploading = segment.file;
    // Uploaded by a predecessor before a crash cut its journaling short: the same bytes are there, so no second
    // copy. Only the backlog can be so (an upload of this process waits in the batch for its record, never again).
    const existing = item.backlog ? await this.bucket.head(key) : null;
    let etag: string;
    if (existing !== null && existing.sha256 === segment.sha256) {
      etag = existing.etag;
      this.counters.alreadyThere++;
    } else {
      etag = await this.bucket.upload(
        { key, file, sha256: segment.sha256, bytes: segment.bytes, contentType: segment.mimeType },
        { bytesPerSecond: this.target.maxBytesPerSecond, partBytes: this.target.partBytes },
      );
      this.counters.bytesUploaded += segment.bytes;
    }
    this.uploading = null;
    this.counters.archived++;
    this.log.info({ file: segment.file, key, bytes: segment.bytes }, 'segment archived');
    return { kind: 'archive', device: segment.device, archived: segment.file, sha256: segment.sha256, bucket: this.target.bucket, key, etag, at: new Date().toISOString() };
  }
}
