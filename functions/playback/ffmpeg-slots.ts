// The one limit on the playback server's ffmpeg work. Every ffmpeg and ffprobe it starts (clip cuts, and any
// later transcode, export, thumbnail or HLS fragment) runs in a slot taken for its request: an hour-long cut
// holds tens of MiB for as long as it streams, so 40 of them at once would not fit a pod's memory limit.
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import type { ServerResponse } from 'node:http';
import { HttpError, toolEnv } from '../lib/index.js';
import { usableCpus } from './cpus.js';

/** Slots per CPU the process may use: ffmpeg -c copy is mostly I/O, so two keep a CPU busy. */
export const CUTS_PER_CPU = 2;
/** What a refused client is told to wait: a short cut is done in a few seconds. */
export const RETRY_AFTER_SECONDS = 5;

/** PLAYBACK_MAX_CUTS's default: 2 per CPU of the cgroup's quota, else of os.availableParallelism(). */
export function defaultMaxCuts(cpus = usableCpus()): number {
  return Math.max(1, Math.floor(CUTS_PER_CPU * cpus));
}

export class FfmpegSlots {
  private busyCount = 0;

  constructor(
    readonly size: number,
    /** Told when the count of busy slots changes, and when a request is refused (metrics). */
    private readonly onChange: (busy: number, refused: boolean) => void = () => undefined,
  ) {}

  get busy(): number {
    return this.busyCount;
  }

  /**
   * A slot for the ffmpeg work of one request, or an HttpError 503 with Retry-After when all are busy. The
   * slot is freed when `res` closes (the client left, or the answer is done), at once: what still runs in it
   * is killed, so nothing works for a client that is gone. `weight`: how many of the limit's slots the work
   * counts as (a transcode 2); never more than the whole limit, so a small limit still runs one at a time.
   * `res` null: work shared by several requests (a thumbnail others wait for), released by its owner alone.
   */
  take(res: ServerResponse | null, weight = 1): FfmpegSlot {
    const needs = Math.min(Math.max(1, weight), this.size);
    if (this.busyCount + needs > this.size) {
      this.onChange(this.busyCount, true);
      throw new HttpError(
        503,
        `clip: the server's ffmpeg work is at its limit (${this.size} slots, PLAYBACK_MAX_CUTS; this needs ${needs}); try again in a few seconds`,
        'busy',
        { 'retry-after': String(RETRY_AFTER_SECONDS) },
      );
    }
    this.busyCount += needs;
    this.onChange(this.busyCount, false);
    const slot = new FfmpegSlot(() => {
      this.busyCount -= needs;
      this.onChange(this.busyCount, false);
    });
    if (res === null) return slot;
    res.once('close', () => slot.release());
    // Gone before the slot was taken: 'close' has already fired.
    if (res.destroyed || res.socket === null || res.socket.destroyed) slot.release();
    return slot;
  }
}

/** One request's share of the limit: the processes it starts, killed when it is released. */
export class FfmpegSlot {
  private readonly children = new Set<ChildProcess>();
  private released = false;

  constructor(private readonly free: () => void) {}

  get open(): boolean {
    return !this.released;
  }

  /** Starts a tool in this slot, with the tools' minimal environment. Throws once the slot is released. */
  spawn(command: string, args: readonly string[], options: Omit<SpawnOptions, 'env'> = {}): ChildProcess {
    this.check();
    const child = spawn(command, args, { ...options, env: toolEnv() });
    this.track(child);
    return child;
  }

  /** Runs a tool to its end in this slot and resolves with its stdout; rejects with its last stderr lines. */
  execFile(command: string, args: readonly string[], options: { readonly timeoutMs: number; readonly maxBuffer: number }): Promise<string> {
    this.check();
    return new Promise((resolve, reject) => {
      const child = execFile(command, args, { maxBuffer: options.maxBuffer, timeout: options.timeoutMs, env: toolEnv() }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${stderr.trim().split('\n').slice(-3).join(' ') || err.message}`));
        else resolve(stdout);
      });
      this.track(child);
    });
  }

  /** Kills what still runs in the slot and frees it; idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const child of this.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    this.free();
  }

  private check(): void {
    if (this.released) throw new Error('the client left: its ffmpeg slot is released');
  }

  private track(child: ChildProcess): void {
    this.children.add(child);
    child.once('close', () => this.children.delete(child));
  }
}

/** An ffmpeg whose output is streamed: whether it wrote anything before it ended, its end, and its last words. */
export interface StreamingChild {
  /** True at its first output bytes, false when it ended without any. */
  readonly started: Promise<boolean>;
  readonly exited: Promise<number | null>;
  /** The end of its stderr (the reason it failed). */
  stderr(): string;
}

/**
 * Follows a child whose stdout is an answer: the head waits for `started`, so that ffmpeg failing at once answers
 * 500 with its reason instead of a 200 with nothing.
 */
export function followOutput(child: ChildProcess): StreamingChild {
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const started = new Promise<boolean>((resolve) => {
    child.stdout?.once('readable', () => resolve(true));
    void exited.then(() => resolve(false));
  });
  return { started, exited, stderr: () => stderr };
}
