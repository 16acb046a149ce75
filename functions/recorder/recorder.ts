// The recorder of one camera: the long-lived supervisor that outlives every ffmpeg run. It owns the desired state
// (on/off), the state it shows and the retry policy, and starts one RecordingAttempt after another (probe, relay,
// ffmpeg: recording-attempt.ts); the segments go through the SegmentFinisher, and the FootageUpkeep recovers
// crash leftovers and applies retention.
import { EventEmitter } from 'node:events';
import { backoffDelay, type Logger } from '../lib/index.js';
import type { RecorderState, Segment } from '../contracts/index.js';
import type { Failure } from './failure.js';
import { FootageUpkeep } from './footage-upkeep.js';
import { LoginBudget } from './login-budget.js';
import type { ContainerFormat, RecordingPlan } from './plan.js';
import { RecordingAttempt } from './recording-attempt.js';
import type { ArchiveGuard, VolumeReport } from './retention.js';
import { MAX_FAILED_LOGINS, ON_FAILURE, waitForRetry } from './retry-policy.js';
import type { RecorderCounters, RecorderEvents, RecorderSettings } from './recorder-types.js';
import { SegmentFinisher } from './segment-finisher.js';
import { SegmentStore } from './segment-store.js';

export { RECORDER_STATES, type RecorderState } from '../contracts/index.js';
export type { RecorderCounters, RecorderEvents, RecorderSettings } from './recorder-types.js';
export { MAX_FAILED_LOGINS } from './retry-policy.js';

export interface RecorderStatus {
  readonly device: string;
  readonly state: RecorderState;
  readonly recording: boolean;
  readonly since: string;
  readonly camera: string;
  readonly format: ContainerFormat;
  readonly segmentSeconds: number;
  readonly currentSegment: { readonly file: string; readonly startedAt: string | null } | null;
  readonly lastSegment: Segment | null;
  readonly lastError: (Failure & { readonly at: string }) | null;
  readonly lastWriteAt: string | null;
  /** Free space as the last retention sweep saw it (each minute and after each segment); null before the first. */
  readonly volume: VolumeReport | null;
  readonly counters: Readonly<RecorderCounters>;
}

/** `on` after `close` (SIGTERM): the process is going away and would leave a run nobody stops. */
export class RecorderClosingError extends Error {
  constructor() {
    super('the recorder is shutting down (SIGTERM); recording cannot be switched on now');
    this.name = 'RecorderClosingError';
  }
}

/**
 * The long-lived recorder of one camera. It owns the desired state (on/off) and starts a short-lived
 * RecordingAttempt after any failure, with backoff, until it is switched off.
 */
export class Recorder {
  readonly store: SegmentStore;
  /** `segment`, `state` and `deletion`: the events module and logs listen. */
  readonly events = new EventEmitter<RecorderEvents>();
  readonly counters: RecorderCounters = {
    segmentsFinished: 0,
    segmentsRecovered: 0,
    bytesWritten: 0,
    ffmpegRestarts: 0,
    reconnects: 0,
    retentionDeletions: 0,
    segmentsLost: 0,
  };
  private readonly upkeep: FootageUpkeep;
  private readonly finisher: SegmentFinisher;
  private desired: 'on' | 'off' = 'off';
  /** Bumped by every on and off: a supervisor runs only while its generation is the current one. */
  private generation = 0;
  private closing = false;
  private state: RecorderState = 'idle';
  private since = new Date();
  /** The attempt under way, if any: off() stops its ffmpeg run. */
  private attempt: RecordingAttempt | null = null;
  private currentFile: { file: string; startedAt: string | null } | null = null;
  private lastError: (Failure & { at: string }) | null = null;
  private lastWriteAt: number | null = null;
  private loop: Promise<void> | null = null;
  private wake = new AbortController();
  /** Wall-clock end of the last segment before an interruption; the next run's first segment reports the gap. */
  private interruptedAt: number | null = null;
  /** The plan of the last run, if it recorded: reused without a probe while runs keep recording. */
  private provenPlan: RecordingPlan | null = null;
  /** Shared by every probe and run of one start; renewed by an on() that starts recording. */
  private readonly logins = new LoginBudget(MAX_FAILED_LOGINS);

  constructor(
    readonly settings: RecorderSettings,
    private readonly log: Logger,
  ) {
    this.store = new SegmentStore({
      root: settings.out,
      device: settings.device,
      ffmpeg: settings.ffmpeg,
      ffprobe: settings.ffprobe,
      log,
    });
    const reports = { events: this.events, counters: this.counters };
    this.upkeep = new FootageUpkeep(this.store, settings.retention, settings.ffprobe, reports, log, () => this.attempt?.stem ?? null);
    this.finisher = new SegmentFinisher(this.store, this.upkeep, reports, log);
  }

  /** From now on retention deletes only what `guard` says is archived (the archive calls it when it starts). */
  guardRetention(guard: ArchiveGuard): void {
    this.upkeep.guardRetention(guard);
  }

  /** Opens the store, finishes what a crash left behind, and starts retention sweeps. */
  async open(): Promise<Segment[]> {
    await this.store.open();
    const recovered = await this.upkeep.recoverLeftovers();
    // A restart (a new pod, a crash) is an interruption too: the first segment reports the time since the
    // last journaled one ended, so a gap across pods is visible in the journal and the events.
    const last = this.store.lastSegment;
    if (last !== null) this.interruptedAt = Date.parse(last.endTime);
    this.upkeep.start();
    await this.upkeep.sweep();
    return recovered;
  }

  status(): RecorderStatus {
    return {
      device: this.settings.device,
      state: this.state,
      recording: this.desired === 'on',
      since: this.since.toISOString(),
      camera: this.settings.camera.displayUrl,
      format: this.settings.format,
      segmentSeconds: this.settings.segmentSeconds,
      currentSegment: this.state === 'recording' ? this.currentFile : null,
      lastSegment: this.store.lastSegment,
      lastError: this.lastError,
      lastWriteAt: this.lastWriteAt === null ? null : new Date(this.lastWriteAt).toISOString(),
      volume: this.upkeep.volume,
      counters: { ...this.counters },
    };
  }

  /** Seconds since media was last written, or null before the first write. */
  secondsSinceLastWrite(): number | null {
    return this.lastWriteAt === null ? null : (Date.now() - this.lastWriteAt) / 1000;
  }

  /**
   * Switches recording on; idempotent. Resolves at once: the state tells how the camera answers. An on
   * during an off starts a new supervisor generation after the old one has stopped, so the off still
   * answers (the last request wins). Refused (RecorderClosingError) once the recorder is closing.
   */
  on(): RecorderStatus {
    if (this.closing) throw new RecorderClosingError();
    // Also after the recorder stopped trying (wrong password): an explicit on is the user's go-ahead.
    if (this.desired !== 'on' || this.loop === null) {
      this.desired = 'on';
      this.logins.renew();
      const generation = ++this.generation;
      this.log.info({ camera: this.settings.camera.displayUrl }, 'recording switched on');
      const loop = (this.loop ?? Promise.resolve()).then(() => this.supervise(generation));
      this.loop = loop;
      void loop.finally(() => {
        if (this.loop === loop) this.loop = null;
      });
    }
    return this.status();
  }

  /** Switches recording off; idempotent. Resolves once the last segment is closed, playable and journaled. */
  async off(): Promise<RecorderStatus> {
    if (this.desired === 'on') this.log.info('recording switched off');
    this.desired = 'off';
    // Ends this generation's supervisor even if an on comes before it has stopped.
    this.generation++;
    this.wake.abort();
    const loop = this.loop;
    await this.attempt?.stop();
    await loop;
    await this.finisher.settled;
    // A loop that stopped trying left its state (unauthorized); off is idle, unless an on came meanwhile.
    if (this.desired === 'off') this.setState('idle');
    return this.status();
  }

  /** Stops recording and retention for good (SIGTERM); from now on, on() is refused. */
  async close(): Promise<RecorderStatus> {
    this.closing = true;
    this.upkeep.stop();
    return this.off();
  }

  /** Whether supervisor `generation` should go on: switched on, and no off or newer on since it started. */
  private current(generation: number): boolean {
    return this.desired === 'on' && this.generation === generation;
  }

  private setState(state: RecorderState, failure: Failure | null = null): void {
    if (failure) this.lastError = { ...failure, at: new Date().toISOString() };
    if (state === this.state) return;
    this.state = state;
    this.since = new Date();
    this.log.info({ state, ...(failure ? { reason: failure.kind, error: failure.message } : {}) }, 'recorder state');
    this.events.emit('state', state, failure);
  }

  private async supervise(generation: number): Promise<void> {
    let attempt = 0;
    let refusedInARow = 0;
    let failure: Failure | null = null;
    while (this.current(generation)) {
      this.wake = new AbortController();
      if (failure === null) this.setState('connecting');
      // The previous run's last segment must be journaled before leftovers are looked for.
      await this.finisher.settled;
      await this.upkeep.recoverLeftovers();
      const outcome = await this.runAttempt(generation);
      if (!this.current(generation)) break;
      if (outcome.recorded) attempt = 0;
      failure = outcome.failure;
      refusedInARow = failure.kind === 'unauthorized' ? refusedInARow + 1 : 0;
      // The budget counts the logins the camera refused, whatever failed in between (a dropped connection
      // does not make a camera forget them); in a row counts refusals without a login sent (none configured).
      if (failure.kind === 'unauthorized' && (this.logins.spent || refusedInARow >= MAX_FAILED_LOGINS)) {
        const failedLogins = Math.max(this.logins.failed, refusedInARow);
        const message =
          `${failure.message}. The camera refused the login ${failedLogins} times: stopped trying, so that it ` +
          'does not lock the account. Fix the user name or password, then POST /record/on (or restart the recorder).';
        this.setState('unauthorized', { kind: 'unauthorized', message });
        this.log.error({ reason: 'unauthorized', failedLogins }, 'camera refused the login; stopped trying until /record/on');
        return;
      }
      const handling = ON_FAILURE[failure.kind];
      this.setState(handling.state, failure);
      if (failure.kind === 'disk') await this.upkeep.sweep();
      const delay = backoffDelay(attempt++, handling.retry);
      this.log.warn({ reason: failure.kind, error: failure.message, retryInMs: delay }, 'camera run ended; retrying');
      this.counters.reconnects++;
      await waitForRetry(this.settings.camera, delay, handling.pollCamera, this.wake.signal);
    }
    if (this.generation === generation) this.setState('idle');
  }

  /** One attempt (probe, relay, ffmpeg run); what it learnt is kept for the next one. */
  private async runAttempt(generation: number): ReturnType<RecordingAttempt['record']> {
    const reports = { events: this.events, counters: this.counters };
    const attempt = new RecordingAttempt(
      { settings: this.settings, store: this.store, finisher: this.finisher, logins: this.logins, reports, log: this.log },
      this.provenPlan,
      {
        wanted: () => this.current(generation),
        interruptedAt: () => this.interruptedAt,
        currentFile: (file) => {
          this.currentFile = file;
        },
        recording: () => {
          this.interruptedAt = null;
          this.setState('recording');
        },
        wrote: () => {
          this.lastWriteAt = Date.now();
        },
      },
    );
    this.attempt = attempt;
    try {
      const outcome = await attempt.record();
      // A run that records nothing drops the plan, and the next attempt probes again.
      if (outcome.plan) this.provenPlan = outcome.recorded ? outcome.plan : null;
      if (outcome.interrupted) this.interruptedAt = Date.now();
      return outcome;
    } finally {
      if (this.attempt === attempt) this.attempt = null;
    }
  }
}
