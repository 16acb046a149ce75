import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { redact, toolEnv } from '../lib/index.js';
import type { CameraRelay } from './camera-relay.js';
import { classifyFailure, summarizeStderr, type Failure } from './failure.js';
import type { RecordingPlan } from './plan.js';
import { recordingFilePattern } from '../contracts/index.js';

export interface RunOptions {
  readonly ffmpeg: string;
  /** The URL ffmpeg opens: the camera relay's (no credentials), or the camera's when it needs no login. */
  readonly inputUrl: string;
  /** The relay ffmpeg goes through, if any: its view of the camera, and the camera's name for messages. */
  readonly relay?: Pick<CameraRelay, 'explain' | 'toCameraText'>;
  readonly transport: 'tcp' | 'udp';
  readonly plan: RecordingPlan;
  readonly segmentSeconds: number;
  readonly alignToClock: boolean;
  /** Folder the segments are written into while they are open. */
  readonly workDir: string;
  /** File name stem; ffmpeg names the run's files after it (recordingFilePattern, contracts/volume.ts). */
  readonly stem: string;
  /** Seconds without new media before the run is killed as stalled. */
  readonly watchdogSeconds: number;
}

/** A segment ffmpeg has closed, as its segment list reports it (stream times in seconds). */
export interface ClosedSegment {
  readonly path: string;
  readonly startSeconds: number;
  readonly endSeconds: number;
  /**
   * Wall-clock ms when ffmpeg reported the segment closed: the moment of the cut (ffmpeg writes the list
   * line as it starts the next segment, and flushes it). Segment times are anchored here, not on stream time,
   * which runs as fast as the camera's clock.
   */
  readonly closedAtMs: number;
}

export interface RunExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when the run ended for a reason other than a requested stop. */
  readonly failure: Failure | null;
}

/** The ffmpeg arguments of one run: copy video, plan the audio, cut segments on keyframes, report on fd 3 and 4. */
export function ffmpegArguments(o: RunOptions): string[] {
  const { plan } = o;
  const args = ['-hide_banner', '-nostats', '-loglevel', 'warning'];
  // Socket timeout (µs): ffmpeg gives up by itself when a camera vanishes instead of hanging.
  args.push('-rtsp_transport', o.transport, '-timeout', String(Math.max(5, o.watchdogSeconds) * 1_000_000));
  // Stream copy needs no measured frame rate; without this ffmpeg holds the first write ~0.6 s to count frames.
  args.push('-fpsprobesize', '0');
  args.push('-i', o.inputUrl);
  args.push('-map', `0:${plan.video.index}`, '-c:v', 'copy');
  if (plan.video.tag) args.push('-tag:v', plan.video.tag);
  const audio = plan.audio;
  if (audio.kind === 'copy' && audio.index !== undefined) args.push('-map', `0:${audio.index}`, '-c:a', 'copy');
  else if (audio.kind === 'transcode' && audio.index !== undefined) {
    args.push('-map', `0:${audio.index}`, '-c:a', 'aac', '-b:a', String(audio.bitrate));
  } else args.push('-an');
  args.push(
    '-f', 'segment',
    '-segment_time', String(o.segmentSeconds),
    ...(o.alignToClock ? ['-segment_atclocktime', '1'] : []),
    '-reset_timestamps', '1',
    '-segment_format', plan.rule.muxer,
    '-segment_format_options', plan.rule.muxerOptions.join(':'),
    '-segment_list', 'pipe:3',
    '-segment_list_type', 'csv',
    '-progress', 'pipe:4',
    '-stats_period', '1',
    path.join(o.workDir, recordingFilePattern(o.stem, plan.rule.extension)),
  );
  return args;
}

/**
 * One short-lived ffmpeg process. The recorder outlives it and starts a new one after any failure,
 * the way MediaMTX's recorder restarts its recorderInstance.
 */
export class FfmpegRun {
  readonly exited: Promise<RunExit>;
  /** Resolves when the first media has been written; never rejects. */
  readonly started: Promise<boolean>;
  private readonly child: ChildProcess;
  private readonly stderrTail: string[] = [];
  private stopRequested = false;
  private killedFor: Failure | null = null;
  private lastProgressAt = Date.now();
  private lastOutTimeUs = -1;
  private markStarted: (ok: boolean) => void = () => undefined;
  private watchdog: NodeJS.Timeout;
  /** Wall-clock ms at which the run's stream time was 0 (first progress report minus its out_time). */
  origin: number | null = null;

  constructor(
    private readonly options: RunOptions,
    private readonly onSegment: (segment: ClosedSegment) => void,
    private readonly onProgress: (outTimeSeconds: number) => void = () => undefined,
  ) {
    this.started = new Promise((resolve) => (this.markStarted = resolve));
    this.child = spawn(options.ffmpeg, ffmpegArguments(options), {
      stdio: ['pipe', 'ignore', 'pipe', 'pipe', 'pipe'],
      // The segment muxer aligns cuts to the local clock; UTC keeps hourly files on UTC hours.
      env: toolEnv({ TZ: 'UTC' }),
    });
    this.child.stdin?.on('error', () => undefined);
    const [, , stderr, list, progress] = this.child.stdio as [Writable, null, Readable, Readable, Readable];
    createInterface({ input: stderr }).on('line', (line) => this.keepStderr(line));
    createInterface({ input: list }).on('line', (line) => this.readSegmentLine(line));
    createInterface({ input: progress }).on('line', (line) => this.readProgressLine(line));
    // A camera can stop sending without closing: no new media for N seconds means a dead run.
    const graceMs = (options.watchdogSeconds + 10) * 1000;
    this.watchdog = setInterval(() => {
      const limit = this.lastOutTimeUs < 0 ? graceMs : options.watchdogSeconds * 1000;
      if (Date.now() - this.lastProgressAt > limit) {
        this.kill({ kind: 'stalled', message: `no media from the camera for ${Math.round(limit / 1000)} s` });
      }
    }, 1000);
    // If the recorder dies (an uncaught error), its ffmpeg must not go on writing as a second, unseen writer.
    const orphanGuard = (): void => {
      this.child.kill('SIGKILL');
    };
    process.on('exit', orphanGuard);
    this.exited = new Promise((resolve) => {
      this.child.on('error', (err) => {
        this.keepStderr(err.message);
      });
      this.child.on('close', (code, signal) => {
        this.closed = true;
        process.off('exit', orphanGuard);
        clearInterval(this.watchdog);
        this.markStarted(false);
        resolve({ code, signal, failure: this.failureOf(code, signal) });
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Resolves when ffmpeg has exited or after `ms`, whichever is first. Not Promise.race with `exited`: each
   * race leaves a reaction on that promise until the run ends, a leak of ~1 KiB per segment for a run that
   * lasts months. The 'close' listener is removed again on the timeout.
   */
  exitedWithin(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.child.off('close', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.child.once('close', done);
    });
  }

  private failureOf(code: number | null, signal: NodeJS.Signals | null): Failure | null {
    if (this.killedFor) return this.killedFor;
    if (this.stopRequested && (code === 0 || signal !== null)) return null;
    const message = summarizeStderr(this.stderrTail) + (signal ? ` (ffmpeg killed by ${signal})` : '');
    if (code === 0 && !this.stopRequested) {
      return { kind: 'unreachable', message: `the camera ended the stream: ${message}` };
    }
    const failure: Failure = { kind: classifyFailure(this.stderrTail.join('\n')), message };
    return this.options.relay?.explain(failure) ?? failure;
  }

  /** ffmpeg failed to write (full or broken volume): the segment it was writing may be torn. */
  sawWriteError = false;
  /** ffmpeg exited and its pipes are drained (every stderr line has been seen). */
  private closed = false;

  private keepStderr(line: string): void {
    if (/No space left|Disk quota|Read-only file system|Input\/output error/i.test(line)) this.sawWriteError = true;
    this.stderrTail.push(redact(this.options.relay ? this.options.relay.toCameraText(line) : line));
    if (this.stderrTail.length > 40) this.stderrTail.shift();
  }

  private readSegmentLine(line: string): void {
    // csv: file,start,end — the file name is the last component that is not a number
    const parts = line.split(',');
    if (parts.length < 3) return;
    const end = Number(parts.pop());
    const start = Number(parts.pop());
    const name = parts.join(',');
    const file = path.isAbsolute(name) ? name : path.join(this.options.workDir, path.basename(name));
    if (Number.isFinite(start) && Number.isFinite(end)) this.onSegment({ path: file, startSeconds: start, endSeconds: end, closedAtMs: Date.now() });
  }

  private readProgressLine(line: string): void {
    const eq = line.indexOf('=');
    if (eq < 0) return;
    const key = line.slice(0, eq);
    if (key !== 'out_time_us') return;
    const us = Number(line.slice(eq + 1));
    if (!Number.isFinite(us) || us <= this.lastOutTimeUs) return;
    if (this.origin === null && us > 0) this.origin = Date.now() - us / 1000;
    this.lastOutTimeUs = us;
    this.lastProgressAt = Date.now();
    if (us > 0) this.markStarted(true);
    this.onProgress(us / 1e6);
  }

  /** Graceful stop: `q` makes ffmpeg close the open segment and write its trailer; SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 10_000): Promise<RunExit> {
    this.stopRequested = true;
    // Not SIGINT: ffmpeg's interrupt callback would abort the final segment's writes too.
    this.child.stdin?.end('q\n');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  /** Ends a run that cannot go on (stalled, or the recorder is going away). */
  kill(reason: Failure): void {
    if (this.killedFor || this.child.exitCode !== null) return;
    this.killedFor = reason;
    this.child.stdin?.end('q\n');
    setTimeout(() => this.child.kill('SIGKILL'), 2000).unref();
  }
}
