// Finishing the segments ffmpeg closes, one at a time in the order it closed them, across runs: re-anchored on
// the wall clock, repaired after a write error, handed to the store, counted, announced, then a retention sweep.
import type { Logger } from '../lib/index.js';
import { nextRecordingFile, recordingFileIndex, type Segment } from '../contracts/index.js';
import type { ClosedSegment, FfmpegRun } from './ffmpeg-run.js';
import type { FootageUpkeep } from './footage-upkeep.js';
import type { RecordingPlan } from './plan.js';
import type { RecorderReports } from './recorder-types.js';
import type { SegmentStore } from './segment-store.js';

/** A segment ffmpeg closed, as the run that wrote it knows it. */
export interface RunSegment {
  readonly closed: ClosedSegment;
  readonly run: FfmpegRun;
  readonly plan: RecordingPlan;
  readonly gapBeforeSeconds: number;
  /** The wall-clock time of the run's previous cut (this segment's start); null for a run's first. */
  readonly startMs: number | null;
}

export class SegmentFinisher {
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: SegmentStore,
    private readonly upkeep: FootageUpkeep,
    private readonly reports: RecorderReports,
    private readonly log: Logger,
  ) {}

  /** Resolves once every segment queued so far is finished (or left in `.recording/` for recovery). */
  get settled(): Promise<void> {
    return this.queue;
  }

  /**
   * Queues a closed segment for the store. Its times are re-anchored on the wall clock at each cut (start:
   * the previous cut, end: this one), so a camera clock that runs fast or slow cannot move names off the
   * hour; its media duration is reported apart (durationSeconds). `onFinished` gets the segment and the
   * file ffmpeg writes next.
   */
  enqueue(s: RunSegment, onFinished: (segment: Segment, nextFile: string) => void): void {
    const { closed, run } = s;
    const endMs = closed.closedAtMs;
    this.queue = this.queue.then(async () => {
      try {
        // ffmpeg closes a segment in its trailer even after a write error, then exits; the error reaches us on
        // another pipe, so give the run a moment to finish before trusting the segment.
        await run.exitedWithin(500);
        // A segment closed after a write error may be torn: repair it first, or leave it for recovery.
        if (run.sawWriteError && !(await this.store.repair(closed.path))) return;
        const firstOfRun = recordingFileIndex(closed.path) === 0;
        const listedSeconds = firstOfRun ? null : closed.endSeconds - closed.startSeconds;
        const segment = await this.store.finish({ tempPath: closed.path, startMs: s.startMs, endMs, plan: s.plan, recovered: false, gapBeforeSeconds: s.gapBeforeSeconds, listedSeconds });
        this.reports.counters.segmentsFinished++;
        this.reports.counters.bytesWritten += segment.bytes;
        this.log.info(
          { file: segment.file, durationSeconds: segment.durationSeconds, bytes: segment.bytes, sequence: segment.sequence },
          'segment finished',
        );
        onFinished(segment, nextRecordingFile(closed.path));
        this.reports.events.emit('segment', segment);
        await this.upkeep.sweep();
      } catch (err) {
        // The file stays in .recording/ and is recovered before the next run: nothing is lost.
        this.log.error({ err, file: this.store.relative(closed.path) }, 'could not finish segment');
      }
    });
  }
}
