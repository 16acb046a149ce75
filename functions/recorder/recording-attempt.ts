// One attempt at recording, short-lived beside the Recorder that starts one after another (as MediaMTX's
// recorderInstance beside its Recorder): the recording plan (the last run's, or a probe), the camera relay when
// the camera needs a login, one ffmpeg run, and each segment it closes handed to the finisher.
import type { Logger } from '../lib/index.js';
import { cameraLogin, recordingFileName, segmentStem } from '../contracts/index.js';
import type { Failure } from './failure.js';
import { FfmpegRun } from './ffmpeg-run.js';
import type { LoginBudget } from './login-budget.js';
import { planRecording, PlanRefusedError, type RecordingPlan } from './plan.js';
import { probeStream, ProbeError } from './probe.js';
import { startCameraRelay } from './camera-relay.js';
import { askRtsp } from './rtsp-check.js';
import type { RecorderReports, RecorderSettings } from './recorder-types.js';
import type { SegmentFinisher } from './segment-finisher.js';
import type { SegmentStore } from './segment-store.js';

/** What the recorder lends each attempt. */
export interface AttemptContext {
  readonly settings: RecorderSettings;
  readonly store: SegmentStore;
  readonly finisher: SegmentFinisher;
  /** Shared by every probe and run of one start: cameras lock the account whatever came between refusals. */
  readonly logins: LoginBudget;
  readonly reports: RecorderReports;
  readonly log: Logger;
}

/** What the attempt tells the recorder while it runs. */
export interface AttemptHooks {
  /** Whether recording is still wanted (no off, no newer on, since the attempt began). */
  wanted(): boolean;
  /** Wall-clock end of the last segment before an interruption, if any: the run's first segment reports the gap. */
  interruptedAt(): number | null;
  /** The file ffmpeg writes now, and since when (null until it has written). */
  currentFile(file: { file: string; startedAt: string | null }): void;
  /** ffmpeg has written media: the camera is being recorded. */
  recording(): void;
  /** ffmpeg wrote media just now (the watchdog's and /health's clock). */
  wrote(): void;
}

export interface AttemptOutcome {
  /** ffmpeg wrote media in this attempt. */
  readonly recorded: boolean;
  /** Why it ended (a run stopped on request ends as 'media'; the recorder no longer looks then). */
  readonly failure: Failure;
  /** The plan ffmpeg ran with; absent when no ffmpeg ran (the probe failed, or recording was switched off). */
  readonly plan?: RecordingPlan;
  /** The run had recorded and then failed: the recording was interrupted. */
  readonly interrupted: boolean;
}

export class RecordingAttempt {
  private run: FfmpegRun | null = null;
  private runStem: string | null = null;

  constructor(
    private readonly ctx: AttemptContext,
    /** The plan of the last run, if it recorded: the camera still sends the same, so no probe is needed. */
    private readonly provenPlan: RecordingPlan | null,
    private readonly hooks: AttemptHooks,
  ) {}

  /** File-name stem of the ffmpeg run writing now (recovery leaves its files alone); null when none runs. */
  get stem(): string | null {
    return this.runStem;
  }

  /** Stops the ffmpeg run, if one is running, closing its open segment. */
  async stop(): Promise<void> {
    if (this.run) await this.run.stop();
  }

  /** One probe + ffmpeg run. Resolves when the run is over, with why. */
  async record(): Promise<AttemptOutcome> {
    const { settings: s, store, log } = this.ctx;
    let plan: RecordingPlan;
    try {
      // Skipping the probe saves the camera a session and the wait for a keyframe. A run that records nothing
      // drops the plan (see the outcome), and the next attempt probes.
      plan = this.provenPlan ?? planRecording(await probeStream({ ffprobe: s.ffprobe, camera: s.camera, transport: s.transport, onRefused: this.refused, logins: this.ctx.logins }), s.format, s.audio);
    } catch (err) {
      if (err instanceof ProbeError) return { recorded: false, interrupted: false, failure: await this.explain(err.failure) };
      if (err instanceof PlanRefusedError) return { recorded: false, interrupted: false, failure: { kind: 'refused-plan', message: err.message } };
      return { recorded: false, interrupted: false, failure: { kind: 'media', message: (err as Error).message } };
    }
    if (!this.hooks.wanted()) return { recorded: false, interrupted: false, failure: { kind: 'media', message: 'switched off' } };
    const stem = segmentStem(s.device, new Date());
    const gapStart = this.hooks.interruptedAt();
    // A camera that needs a login is recorded through the relay, so ffmpeg's argv never holds the password; one
    // without goes direct (its media then does not pass through this process).
    const relay = cameraLogin(s.camera) !== undefined ? await startCameraRelay(s.camera, { onRefused: this.refused, logins: this.ctx.logins }) : null;
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
        workDir: store.workDir,
        stem,
        watchdogSeconds: s.watchdogSeconds,
      },
      (closed) => {
        const gap = first && gapStart !== null && run.origin !== null ? Math.max(0, (run.origin + closed.startSeconds * 1000 - gapStart) / 1000) : 0;
        first = false;
        this.ctx.finisher.enqueue({ closed, run, plan, gapBeforeSeconds: gap, startMs: previousCutMs }, (segment, nextFile) => {
          if (this.run === run) this.hooks.currentFile({ file: store.relative(nextFile), startedAt: segment.endTime });
        });
        previousCutMs = closed.closedAtMs;
      },
      () => this.hooks.wrote(),
    );
    relay?.admit(run.pid);
    this.run = run;
    this.runStem = stem;
    const file = store.relative(`${store.workDir}/${recordingFileName(stem, 0, plan.rule.extension)}`);
    this.hooks.currentFile({ file, startedAt: null });
    const recorded = await run.started;
    if (recorded) {
      this.hooks.currentFile({ file, startedAt: new Date(run.origin ?? Date.now()).toISOString() });
      this.hooks.recording();
      log.info({ video: plan.video.codec, audio: plan.audio, format: plan.format, pid: run.pid }, 'recording');
    }
    const exit = await run.exited;
    relay?.close();
    this.run = null;
    this.runStem = null;
    if (recorded && exit.failure) this.ctx.reports.counters.ffmpegRestarts++;
    return { recorded, plan, interrupted: recorded && exit.failure !== null, failure: exit.failure ?? { kind: 'media', message: 'ffmpeg stopped' } };
  }

  /** Someone else on this host tried to use the camera relay, which would have logged in to the camera for them. */
  private readonly refused = (peer: string): void => {
    this.ctx.log.warn({ peer }, 'refused a connection to the camera relay from a process that is not this recorder\'s ffmpeg or ffprobe');
  };

  /** A probe that found no stream: if something other than RTSP answers at the address, say what. */
  private async explain(failure: Failure): Promise<Failure> {
    if (failure.kind !== 'unreachable' && failure.kind !== 'media') return failure;
    const { host, port, displayUrl } = this.ctx.settings.camera;
    const answer = await askRtsp(host, port, displayUrl);
    if (answer.kind !== 'other') return failure;
    return { kind: 'not-rtsp', message: `${displayUrl} answers, but not as an RTSP camera: it answered ${answer.answer}` };
  }
}
