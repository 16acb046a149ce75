// One camera stream as HLS: an ffmpeg that reads the forwarder's own RTSP port on loopback (so it is one more
// client of the shared camera session) and writes fragmented MP4, cut into a window of segments in memory.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { HttpError, toolEnv, type Logger } from '../lib/index.js';
import { CameraInput, cameraFailure, inputFailure, type CameraLogin } from './camera-input.js';
import { Fmp4Error, Fmp4Reader } from './fmp4.js';
import { HlsWindow, PART_MICROSECONDS, type WindowLimits } from './hls-window.js';
import { videoArguments, videoInputArguments, type VideoPlan } from './video-plan.js';
import { firstMedia } from './first-media.js';

export interface HlsStreamOptions {
  /** Path and query of the camera stream, for logs. */
  readonly key: string;
  /** The stream on the forwarder's RTSP port, on loopback: no credentials, nothing to hide in argv. */
  readonly source: string;
  readonly ffmpeg: string;
  /**
   * The camera login (UserName, PasswordSecret). ffmpeg never gets it: it reads through the recorder's camera
   * relay, which answers the camera's 401 itself and admits only the ffmpeg we started.
   */
  readonly login?: CameraLogin;
  /** Copy or encode H.264 (`?height=`); an H.265 camera is encoded whatever was asked. */
  readonly video: VideoPlan;
  /** Viewers at once (LIVE_MAX_VIEWERS). */
  readonly maxViewers: number;
  readonly limits: WindowLimits;
  readonly log: Logger;
  readonly onEnd: (stream: HlsStream) => void;
}

/** How long the first request waits for the first segment (camera login, then up to one GOP). */
const FIRST_SEGMENT_TIMEOUT_MS = 20_000;
/** A viewer that has asked for nothing this long has left (HLS players reload every target duration). */
const MIN_IDLE_MS = 10_000;
/** A single fragment (one GOP) larger than this is refused: memory stays bounded. */
const MAX_BOX_BYTES = 32 * 1024 * 1024;
/** ffmpeg that ran and ended (a camera restart) is started again after this, while viewers remain. */
const RESTART_DELAY_MS = 1_000;
const IDLE_CHECK_MS = 1_000;

/** ffmpeg's arguments: video copied or encoded to H.264, audio to AAC, a fragment per keyframe and per 200 ms. */
export function hlsArguments(source: string, video: VideoPlan): string[] {
  return [
    '-hide_banner', '-nostdin', '-loglevel', 'error',
    // RTSP over TCP on loopback: nothing lost; -timeout (microseconds) ends a run whose camera went silent.
    '-rtsp_transport', 'tcp', '-timeout', '10000000',
    ...videoInputArguments(video),
    '-i', source,
    '-map', '0:v:0', '-map', '0:a:0?',
    ...videoArguments(video),
    // fMP4 takes no G.711, nor does MSE; AAC is what every HLS player decodes.
    '-c:a', 'aac', '-b:a', '64k',
    // A fragment at every keyframe and every 200 ms: each is an LL-HLS part, written the moment it is cut.
    '-f', 'mp4', '-movflags', 'empty_moov+default_base_moof+frag_keyframe', '-frag_duration', String(PART_MICROSECONDS), '-flush_packets', '1',
    'pipe:1',
  ];
}

export class HlsStream {
  readonly window: HlsWindow;
  readonly openedAt = Date.now();
  private child: ChildProcess | undefined;
  private lastRequestMs = Date.now();
  private readonly idleCheck: NodeJS.Timeout;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly waiters = new Set<() => void>();
  private failure: HttpError | undefined;
  private ended = false;
  private video: VideoPlan;
  /** The run was stopped on purpose to start again encoding (its camera turned out to send H.265). */
  private restartToEncode = false;
  private readonly input: CameraInput;
  /** Each HLS viewer (its own media playlist URL) and when it last asked for it. */
  private readonly viewers = new Map<string, number>();

  constructor(private readonly options: HlsStreamOptions) {
    this.window = new HlsWindow(options.limits);
    this.video = options.video;
    this.input = new CameraInput(options.source, options.login, options.key, options.log);
    this.idleCheck = setInterval(() => {
      const now = Date.now();
      for (const [id, seen] of this.viewers) if (now - seen > this.idleMs) this.viewers.delete(id);
      if (now - this.lastRequestMs > this.idleMs) this.close('no viewer left');
    }, IDLE_CHECK_MS);
    this.idleCheck.unref();
    void this.run();
  }

  /** How long a viewer may ask for nothing before it counts as gone: players reload every target duration. */
  private get idleMs(): number {
    return Math.max(MIN_IDLE_MS, 3_000 * this.window.targetSeconds);
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  /**
   * A viewer's media playlist request: a new viewer (no id yet, or one that had left) takes a place, or 503 once
   * LIVE_MAX_VIEWERS watch. Returns the viewer's id.
   */
  viewer(id: string | undefined): string {
    const now = Date.now();
    this.touch();
    if (id !== undefined && this.viewers.has(id)) {
      this.viewers.set(id, now);
      return id;
    }
    for (const [other, seen] of this.viewers) if (now - seen > this.idleMs) this.viewers.delete(other);
    if (this.viewers.size >= this.options.maxViewers) {
      throw new HttpError(503, `viewers: ${this.options.maxViewers} watch ${this.options.key} already (LIVE_MAX_VIEWERS)`, 'too_many_viewers', { 'retry-after': '10' });
    }
    const fresh = id !== undefined && /^[0-9a-f]{16}$/.test(id) ? id : randomBytes(8).toString('hex');
    this.viewers.set(fresh, now);
    return fresh;
  }

  get key(): string {
    return this.options.key;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** A viewer asked for something: the stream stays open. */
  touch(): void {
    this.lastRequestMs = Date.now();
  }

  /** Resolves once the window holds a segment; rejects with the camera's failure or after the first-segment timeout. */
  async ready(): Promise<void> {
    await firstMedia(this.options.key, this.waiters, FIRST_SEGMENT_TIMEOUT_MS, () => ({ media: this.window.length > 0 ? true : undefined, failure: this.failure, ended: this.ended }));
  }

  /**
   * Resolves true once `until()` holds (checked whenever a part arrives), false after `timeoutMs`; rejects once
   * the stream closed. A blocking playlist reload and a preload-hinted part wait here.
   */
  async waitFor(until: () => boolean, timeoutMs: number): Promise<boolean> {
    return firstMedia(this.options.key, this.waiters, timeoutMs, () => ({ media: until() ? true : undefined, failure: this.failure, ended: this.ended }), () => false);
  }

  close(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.idleCheck);
    clearTimeout(this.restartTimer);
    this.stopChild();
    this.input.close();
    this.options.log.info({ stream: this.options.key, reason, segments: this.window.length, durationMs: Date.now() - this.openedAt }, 'live stream closed');
    this.options.onEnd(this);
    this.wakeAll();
  }

  private wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }

  private stopChild(): void {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 2_000).unref();
  }

  private async run(): Promise<void> {
    let input: string;
    try {
      input = await this.input.url();
    } catch (err) {
      this.failure = inputFailure(err);
      this.close('camera failed');
      return;
    }
    if (this.ended) return;
    const child = spawn(this.options.ffmpeg, hlsArguments(input, this.video), { stdio: ['ignore', 'pipe', 'pipe'], env: toolEnv() });
    this.child = child;
    this.input.admit(child.pid);
    let stderr = '';
    let segments = 0;
    child.stderr?.on('data', (b: Buffer) => {
      stderr = (stderr + b.toString()).slice(-4000);
    });
    const reader = new Fmp4Reader(
      {
        init: (bytes, videoEntry) => {
          if (!this.video.transcode && (videoEntry === 'hvc1' || videoEntry === 'hev1')) {
            // H.265: no browser but Safari plays it. Start again, encoding H.264 (once per stream, for every viewer).
            this.video = { ...this.video, transcode: true };
            this.restartToEncode = true;
            child.kill('SIGKILL');
            return;
          }
          this.window.addInit(bytes);
        },
        fragment: (fragment) => {
          if (this.window.add(fragment, Date.now())) segments += 1;
          this.wakeAll();
        },
      },
      MAX_BOX_BYTES,
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (err) {
        if (!(err instanceof Fmp4Error)) throw err;
        stderr += `\n${err.message}`;
        child.kill('SIGKILL');
      }
    });
    child.on('error', (err) => {
      stderr += `\n${err.message}`;
    });
    child.on('close', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.ended) return;
      if (this.restartToEncode) {
        this.restartToEncode = false;
        this.options.log.info({ stream: this.options.key }, 'live stream: the camera sends H.265; encoding H.264');
        void this.run();
        return;
      }
      if (segments === 0) {
        // Nothing came of this run (no such path, a refused login, an unreachable camera): the waiting viewers get
        // the reason, and the next request tries afresh.
        this.failure = cameraFailure(stderr, this.options.key);
        this.options.log.warn({ stream: this.options.key, code, signal, error: this.failure.message }, 'live stream failed');
        this.close('camera failed');
        return;
      }
      this.options.log.warn({ stream: this.options.key, code, signal, stderr: stderr.trim().split('\n').slice(-2).join(' ') }, 'live stream input ended; restarting');
      this.restartTimer = setTimeout(() => void this.run(), RESTART_DELAY_MS);
      this.restartTimer.unref();
    });
  }
}
