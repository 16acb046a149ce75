// Looking after the device's footage while the recorder lives, whatever ffmpeg does: finishing what a crash
// (or a volume too full to repair on) left in `.recording/`, and retention sweeps each minute and after each
// segment, with the volume as the last sweep saw it.
import type { Logger } from '../lib/index.js';
import type { Segment } from '../contracts/index.js';
import { recoverSegments } from './crash-recovery.js';
import { applyRetention, type ArchiveGuard, type RetentionPolicy, type VolumeReport } from './retention.js';
import type { RecorderReports } from './recorder-types.js';
import type { SegmentStore } from './segment-store.js';

export class FootageUpkeep {
  /** One recovery at a time: the supervisor, the sweep timer and segment finishes all ask for it. */
  private recovering: Promise<Segment[]> = Promise.resolve([]);
  private timer: NodeJS.Timeout | null = null;
  private lastVolume: VolumeReport | null = null;
  private archiveGuard: ArchiveGuard | null = null;

  constructor(
    private readonly store: SegmentStore,
    private readonly policy: RetentionPolicy,
    private readonly ffprobe: string,
    private readonly reports: RecorderReports,
    private readonly log: Logger,
    /** File-name stem of the ffmpeg run that is writing now, if any: recovery leaves its files alone. */
    private readonly activeStem: () => string | null,
  ) {}

  /** Free space as the last retention sweep saw it; null before the first. */
  get volume(): VolumeReport | null {
    return this.lastVolume;
  }

  /** From now on retention deletes only what `guard` says is archived. */
  guardRetention(guard: ArchiveGuard): void {
    this.archiveGuard = guard;
  }

  /** Sweeps each minute from now on (the process does not wait for the timer). */
  start(): void {
    this.timer = setInterval(() => void this.sweep(), 60_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Finishes, as recovered segments, the files in `.recording/` that no running ffmpeg owns, and announces them. */
  recoverLeftovers(): Promise<Segment[]> {
    this.recovering = this.recovering.then(() => this.recoverOnce());
    return this.recovering;
  }

  private async recoverOnce(): Promise<Segment[]> {
    const recovered = await recoverSegments(this.store, { ffprobe: this.ffprobe, log: this.log, activeStem: this.activeStem() ?? undefined }).catch((err: unknown) => {
      this.log.error({ err }, 'recovery failed');
      return [] as Segment[];
    });
    for (const segment of recovered) {
      this.reports.counters.segmentsRecovered++;
      this.reports.events.emit('segment', segment);
    }
    return recovered;
  }

  async sweep(): Promise<void> {
    // Files whose repair was deferred (volume full) are retried here, while the next run records.
    if (this.activeStem() !== null) await this.recoverLeftovers();
    try {
      const { deletions, volume } = await applyRetention(this.store, this.policy, this.log, Date.now(), this.archiveGuard);
      // Logged when it starts and when it ends, not every minute in between.
      if (volume.warning !== null && this.lastVolume?.warning == null) this.log.warn({ volume }, 'free-space floor not restored: other data fills the volume');
      if (volume.warning === null && this.lastVolume?.warning != null) this.log.info({ volume }, 'free-space floor holds again');
      this.lastVolume = volume;
      for (const deletion of deletions) {
        this.reports.counters.retentionDeletions++;
        if (deletion.reason === 'hard-floor') this.reports.counters.segmentsLost++;
        this.reports.events.emit('deletion', deletion);
      }
    } catch (err) {
      this.log.error({ err }, 'retention sweep failed');
    }
  }
}
