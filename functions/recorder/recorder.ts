// The recorder: one camera, switched on and off, supervised across ffmpeg runs (each attempt: probe, the camera
// relay when a login is needed, ffmpeg, its segments finished in order), with crash recovery and retention.
// Over 400 lines because an attempt shares the supervisor's state (the run, the current file, the proven plan,
// the login budget); moving attempts into a run object of their own (MediaMTX's recorderInstance) is the next split.
import { EventEmitter } from 'node:events';
import { backoffDelay, sleep, type BackoffPolicy, type Logger } from '../lib/index.js';
import { cameraLogin, type CameraAddress } from '../contracts/index.js';
import type { Failure, FailureKind } from './failure.js';
import { FfmpegRun, type ClosedSegment } from './ffmpeg-run.js';
import { LoginBudget } from './login-budget.js';
import { planRecording, PlanRefusedError, type AudioMode, type ContainerFormat, type RecordingPlan } from './plan.js';
import { probeStream, ProbeError } from './probe.js';
import { startCameraRelay } from './camera-relay.js';
import { askRtsp } from './rtsp-check.js';
import { applyRetention, type ArchiveGuard, type Deletion, type RetentionPolicy, type VolumeReport } from './retention.js';
import { nextRecordingFile, recordingFileIndex, recordingFileName, segmentStem, type RecorderSignals, type RecorderState, type Segment } from '../contracts/index.js';
import { SegmentStore } from './segment-store.js';

export { RECORDER_STATES, type RecorderState } from '../contracts/index.js';

export interface RecorderSettings {
  readonly device: string;
  readonly camera: CameraAddress;
  readonly out: string;
  readonly segmentSeconds: number;
  readonly format: ContainerFormat;
  readonly audio: AudioMode;
  readonly transport: 'tcp' | 'udp';
  readonly alignToClock: boolean;
  readonly watchdogSeconds: number;
  readonly retention: RetentionPolicy;
  readonly ffmpeg: string;
  readonly ffprobe: string;
}

export interface RecorderCounters {
  segmentsFinished: number;
  segmentsRecovered: number;
  bytesWritten: number;
  ffmpegRestarts: number;
  reconnects: number;
  retentionDeletions: number;
  /** Deleted below the archive's hard floor before they were archived (`hard-floor`): footage lost. */
  segmentsLost: number;
}

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

/** Events a recorder emits: the events module and metrics listen. */
export interface RecorderEvents extends RecorderSignals {
  deletion: [Deletion];
}

const RETRY: BackoffPolicy = { baseMs: 1000, maxMs: 30_000 };

/**
 * What each kind of failure means, in one table: the state it shows, how fast to retry, and whether to poll
 * the camera with RTSP OPTIONS during the wait so that recording resumes as soon as it answers again.
 */
const ON_FAILURE: Readonly<Record<FailureKind, { state: RecorderState; retry: BackoffPolicy; pollCamera: boolean }>> = {
  unreachable: { state: 'reconnecting', retry: RETRY, pollCamera: true },
  stalled: { state: 'reconnecting', retry: RETRY, pollCamera: true },
  'not-found': { state: 'reconnecting', retry: RETRY, pollCamera: false },
  media: { state: 'reconnecting', retry: RETRY, pollCamera: false },
  // Retried soon, but only until the login budget is spent: cameras lock the account after a few (see supervise).
  unauthorized: { state: 'unauthorized', retry: { baseMs: 2000, maxMs: 10_000 }, pollCamera: false },
  disk: { state: 'error', retry: RETRY, pollCamera: false },
  'refused-plan': { state: 'error', retry: { baseMs: 60_000, maxMs: 600_000 }, pollCamera: false },
  // A web UI, TLS or garbage on the port: someone must fix the address; retried 30 s up to 10 min apart.
  'not-rtsp': { state: 'error', retry: { baseMs: 60_000, maxMs: 600_000 }, pollCamera: false },
};

/**
 * Failed logins (counted at the camera relay, see LoginBudget) after which the recorder sends no credentials and
 * stops trying until the next /record/on or restart: cameras lock the account (and, behind the forwarder's one
 * address, every viewer) after 3 to 5. Also how many refusals in a row stop it when it has no login to send.
 */
export const MAX_FAILED_LOGINS = 3;

/** `on` after `close` (SIGTERM): the process is going away and would leave a run nobody stops. */
export class RecorderClosingError extends Error {
  constructor() {
    super('the recorder is shutting down (SIGTERM); recording cannot be switched on now');
    this.name = 'RecorderClosingError';
  }
}

/**
 * The long-lived recorder of one camera. It owns the desired state (on/off) and restarts a short-lived
 * ffmpeg run after any failure, with backoff, until it is switched off.
 */
export class Recorder {
  readonly store: SegmentStore;
  /** `segment`, `state` and `deletion`: the events module and logs listen. */
  readonly events = new EventEmitter<RecorderEvents>();
  private desired: 'on' | 'off' = 'off';
  /** Bumped by every on and off: a supervisor runs only while its generation is the current one. */
  private generation = 0;
  private closing = false;
  private state: RecorderState = 'idle';
  private since = new Date();
  private run: FfmpegRun | null = null;
  private currentFile: { file: string; startedAt: string | null } | null = null;
  private lastError: (Failure & { at: string }) | null = null;
  private lastWriteAt: number | null = null;
  private loop: Promise<void> | null = null;
  private wake = new AbortController();
  private finishing: Promise<void> = Promise.resolve();
  private retentionTimer: NodeJS.Timeout | null = null;
  private volume: VolumeReport | null = null;
  private archiveGuard: ArchiveGuard | null = null;
  /** Wall-clock end of the last segment before an interruption; the next run's first segment reports the gap. */
  private interruptedAt: number | null = null;
  /** The plan of the last run, if it recorded: reused without a probe while runs keep recording. */
  private provenPlan: RecordingPlan | null = null;
  /** File-name stem of the ffmpeg run that is writing now; recovery leaves its files alone. */
  private activeStem: string | null = null;
  /** Shared by every probe and run of one start; renewed by an on() that starts recording. */
  private readonly logins = new LoginBudget(MAX_FAILED_LOGINS);
  readonly counters: RecorderCounters = {
    segmentsFinished: 0,
    segmentsRecovered: 0,
    bytesWritten: 0,
    ffmpegRestarts: 0,
    reconnects: 0,
    retentionDeletions: 0,
    segmentsLost: 0,
  };

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
  }

  /** From now on retention deletes only what `guard` says is archived (the archive calls it when it starts). */
  guardRetention(guard: ArchiveGuard): void {
    this.archiveGuard = guard;
  }

  /** Opens the store, finishes what a crash left behind, and starts retention sweeps. */
  async open(): Promise<Segment[]> {
    await this.store.open();
    const recovered = await this.recoverLeftovers();
    // A restart (a new pod, a crash) is an interruption too: the first segment reports the time since the
    // last journaled one ended, so a gap across pods is visible in the journal and the events.
    const last = this.store.lastSegment;
    if (last !== null) this.interruptedAt = Date.parse(last.endTime);
    this.retentionTimer = setInterval(() => void this.sweep(), 60_000);
    this.retentionTimer.unref();
    await this.sweep();
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
      volume: this.volume,
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
    const run = this.run;
    if (run) await run.stop();
    await loop;
    await this.finishing;
    // A loop that stopped trying left its state (unauthorized); off is idle, unless an on came meanwhile.
    if (this.desired === 'off') this.setState('idle');
    return this.status();
  }

  /** Stops recording and retention for good (SIGTERM); from now on, on() is refused. */
  async close(): Promise<RecorderStatus> {
    this.closing = true;
    if (this.retentionTimer) clearInterval(this.retentionTimer);
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
      await this.finishing;
      await this.recoverLeftovers();
      const outcome = await this.attempt(generation);
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
      if (failure.kind === 'disk') await this.sweep();
      const delay = backoffDelay(attempt++, handling.retry);
      this.log.warn({ reason: failure.kind, error: failure.message, retryInMs: delay }, 'camera run ended; retrying');
      this.counters.reconnects++;
      await this.waitForRetry(delay, handling.pollCamera);
    }
    if (this.generation === generation) this.setState('idle');
  }

  /** Waits out the backoff, but returns early when an unreachable camera starts answering RTSP again. */
  private async waitForRetry(delayMs: number, pollCamera: boolean): Promise<void> {
    const signal = this.wake.signal;
    if (!pollCamera) return sleep(delayMs, signal);
    const deadline = Date.now() + delayMs;
    const { host, port, displayUrl } = this.settings.camera;
    while (!signal.aborted && Date.now() < deadline) {
      await sleep(Math.min(1000, deadline - Date.now()), signal);
      if (signal.aborted || Date.now() >= deadline) return;
      // Back as RTSP: retry now. Something else answering: retry now too, and learn it is not-rtsp (no polling).
      if ((await askRtsp(host, port, displayUrl)).kind !== 'none') return;
    }
  }

  /** One probe + ffmpeg run. Resolves when the run is over, with why. */
  private async attempt(generation: number): Promise<{ recorded: boolean; failure: Failure }> {
    const s = this.settings;
    let plan: RecordingPlan;
    try {
      // The last run recorded with this plan: the camera still sends the same, so skip the probe's session
      // (and its wait for a keyframe). A run that records nothing drops it, and the next attempt probes.
      plan = this.provenPlan ?? planRecording(await probeStream({ ffprobe: s.ffprobe, camera: s.camera, transport: s.transport, onRefused: this.refused, logins: this.logins }), s.format, s.audio);
    } catch (err) {
      if (err instanceof ProbeError) return { recorded: false, failure: await this.explain(err.failure) };
      if (err instanceof PlanRefusedError) return { recorded: false, failure: { kind: 'refused-plan', message: err.message } };
      return { recorded: false, failure: { kind: 'media', message: (err as Error).message } };
    }
    if (!this.current(generation)) return { recorded: false, failure: { kind: 'media', message: 'switched off' } };
    const stem = segmentStem(s.device, new Date());
    const gapStart = this.interruptedAt;
    // A camera that needs a login is recorded through the relay, so ffmpeg's argv never holds the password; one
    // without goes direct (its media then does not pass through this process).
    const relay = cameraLogin(s.camera) !== undefined ? await startCameraRelay(s.camera, { onRefused: this.refused, logins: this.logins }) : null;
    let first = true;
    /** The wall-clock time of the run's last cut: the next segment's start. */
    let previousCutMs: number | null = null;
    const run = new FfmpegRun(
      {
        ffmpeg: s.ffmpeg,
        inputUrl: relay?.url ?? s.camera.displayUrl,
        ...(relay ? { relay } : {}),
        transport: s.transport,
        plan,
        segmentSeconds: s.segmentSeconds,
        alignToClock: s.alignToClock,
        workDir: this.store.workDir,
        stem,
        watchdogSeconds: s.watchdogSeconds,
      },
      (closed) => {
        const gap = first && gapStart !== null && run.origin !== null ? Math.max(0, (run.origin + closed.startSeconds * 1000 - gapStart) / 1000) : 0;
        first = false;
        this.enqueueFinish(closed, run, plan, gap, previousCutMs);
        previousCutMs = closed.closedAtMs;
      },
      () => {
        this.lastWriteAt = Date.now();
      },
    );
    relay?.admit(run.pid);
    this.run = run;
    this.activeStem = stem;
    this.currentFile = { file: this.store.relative(`${this.store.workDir}/${recordingFileName(stem, 0, plan.rule.extension)}`), startedAt: null };
    const recorded = await run.started;
    if (recorded) {
      this.interruptedAt = null;
      this.currentFile = { ...this.currentFile, startedAt: new Date(run.origin ?? Date.now()).toISOString() };
      this.setState('recording');
      this.log.info(
        { video: plan.video.codec, audio: plan.audio, format: plan.format, pid: run.pid },
        'recording',
      );
    }
    const exit = await run.exited;
    relay?.close();
    this.provenPlan = recorded ? plan : null;
    this.run = null;
    this.activeStem = null;
    if (recorded) this.counters.ffmpegRestarts += exit.failure ? 1 : 0;
    if (exit.failure && recorded) this.interruptedAt = Date.now();
    return { recorded, failure: exit.failure ?? { kind: 'media', message: 'ffmpeg stopped' } };
  }

  /** Someone else on this host tried to use the camera relay, which would have logged in to the camera for them. */
  private readonly refused = (peer: string): void => {
    this.log.warn({ peer }, 'refused a connection to the camera relay from a process that is not this recorder\'s ffmpeg or ffprobe');
  };

  /** A probe that found no stream: if something other than RTSP answers at the address, say what. */
  private async explain(failure: Failure): Promise<Failure> {
    if (failure.kind !== 'unreachable' && failure.kind !== 'media') return failure;
    const { host, port, displayUrl } = this.settings.camera;
    const answer = await askRtsp(host, port, displayUrl);
    if (answer.kind !== 'other') return failure;
    return { kind: 'not-rtsp', message: `${displayUrl} answers, but not as an RTSP camera: it answered ${answer.answer}` };
  }

  /**
   * Queues a closed segment for the store. Its times are re-anchored on the wall clock at each cut (start:
   * the previous cut, end: this one), so a camera clock that runs fast or slow cannot move names off the
   * hour; its media duration is reported apart (durationSeconds).
   */
  private enqueueFinish(closed: ClosedSegment, run: FfmpegRun, plan: RecordingPlan, gapBeforeSeconds: number, startMs: number | null): void {
    const endMs = closed.closedAtMs;
    this.finishing = this.finishing.then(async () => {
      try {
        // ffmpeg closes a segment in its trailer even after a write error, then exits; the error reaches us on
        // another pipe, so give the run a moment to finish before trusting the segment.
        await run.exitedWithin(500);
        // A segment closed after a write error may be torn: repair it first, or leave it for recovery.
        if (run.sawWriteError && !(await this.store.repair(closed.path))) return;
        const firstOfRun = recordingFileIndex(closed.path) === 0;
        const listedSeconds = firstOfRun ? null : closed.endSeconds - closed.startSeconds;
        const segment = await this.store.finish({ tempPath: closed.path, startMs, endMs, plan, recovered: false, gapBeforeSeconds, listedSeconds });
        this.counters.segmentsFinished++;
        this.counters.bytesWritten += segment.bytes;
        this.log.info(
          { file: segment.file, durationSeconds: segment.durationSeconds, bytes: segment.bytes, sequence: segment.sequence },
          'segment finished',
        );
        const next = nextRecordingFile(closed.path);
        if (this.run === run) this.currentFile = { file: this.store.relative(next), startedAt: segment.endTime };
        this.events.emit('segment', segment);
        await this.sweep();
      } catch (err) {
        // The file stays in .recording/ and is recovered before the next run: nothing is lost.
        this.log.error({ err, file: this.store.relative(closed.path) }, 'could not finish segment');
      }
    });
  }

  /** One recovery at a time: the supervisor, the sweep timer and segment finishes all ask for it. */
  private recovering: Promise<Segment[]> = Promise.resolve([]);

  private recoverLeftovers(): Promise<Segment[]> {
    this.recovering = this.recovering.then(() => this.recoverOnce());
    return this.recovering;
  }

  private async recoverOnce(): Promise<Segment[]> {
    const recovered = await this.store.recover(this.activeStem ?? undefined).catch((err: unknown) => {
      this.log.error({ err }, 'recovery failed');
      return [] as Segment[];
    });
    for (const segment of recovered) {
      this.counters.segmentsRecovered++;
      this.events.emit('segment', segment);
    }
    return recovered;
  }

  private async sweep(): Promise<void> {
    // Files whose repair was deferred (volume full) are retried here, while the next run records.
    if (this.activeStem !== null) await this.recoverLeftovers();
    try {
      const { deletions, volume } = await applyRetention(this.store, this.settings.retention, this.log, Date.now(), this.archiveGuard);
      // Logged when it starts and when it ends, not every minute in between.
      if (volume.warning !== null && this.volume?.warning == null) this.log.warn({ volume }, 'free-space floor not restored: other data fills the volume');
      if (volume.warning === null && this.volume?.warning != null) this.log.info({ volume }, 'free-space floor holds again');
      this.volume = volume;
      for (const deletion of deletions) {
        this.counters.retentionDeletions++;
        if (deletion.reason === 'hard-floor') this.counters.segmentsLost++;
        this.events.emit('deletion', deletion);
      }
    } catch (err) {
      this.log.error({ err }, 'retention sweep failed');
    }
  }
}
