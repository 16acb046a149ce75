import { execFile } from 'node:child_process';
import { redact, toolEnv } from '../lib/index.js';
import type { CameraAddress } from '../contracts/index.js';
import { startCameraRelay } from './camera-relay.js';
import { classifyFailure, summarizeStderr, type Failure } from './failure.js';
import type { LoginBudget } from './login-budget.js';
import type { StreamInfo } from './plan.js';

interface FfprobeStream {
  index: number;
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  sample_rate?: string;
  channels?: number;
}

interface FfprobeOutput {
  streams?: FfprobeStream[];
  format?: { duration?: string; size?: string; format_name?: string };
}

export class ProbeError extends Error {
  constructor(readonly failure: Failure) {
    super(failure.message);
    this.name = 'ProbeError';
  }
}

/** `beforeKill` runs when the probe is out of time, before ffprobe is killed (it ends the camera session). */
function runFfprobe(
  ffprobe: string,
  args: readonly string[],
  timeoutMs: number,
  beforeKill: () => Promise<void> = async () => undefined,
  onSpawn: (pid: number | undefined) => void = () => undefined,
): Promise<FfprobeOutput> {
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const child = execFile(ffprobe, args, { maxBuffer: 4 * 1024 * 1024, env: toolEnv() }, (err, stdout, stderr) => {
      clearTimeout(timer);
      if (err) {
        const text = redact(`${stderr}\n${timedOut ? 'probe timed out' : ''}`);
        const message = summarizeStderr(text.split('\n'));
        reject(new ProbeError({ kind: timedOut ? 'unreachable' : classifyFailure(text), message }));
        return;
      }
      try {
        resolve(JSON.parse(stdout) as FfprobeOutput);
      } catch {
        reject(new ProbeError({ kind: 'media', message: 'ffprobe printed no JSON' }));
      }
    });
    onSpawn(child.pid);
    const timer = setTimeout(() => {
      timedOut = true;
      void beforeKill().finally(() => child.kill('SIGKILL'));
    }, timeoutMs);
  });
}

function fps(rate: string | undefined): number | null {
  const [num, den] = (rate ?? '').split('/').map(Number);
  if (!num || !den) return null;
  return Math.round((num / den) * 100) / 100;
}

function toStreamInfo(out: FfprobeOutput): StreamInfo {
  const streams = out.streams ?? [];
  const v = streams.find((s) => s.codec_type === 'video');
  const a = streams.find((s) => s.codec_type === 'audio');
  return {
    video: v
      ? {
          index: v.index,
          codec: v.codec_name ?? 'unknown',
          width: v.width ?? 0,
          height: v.height ?? 0,
          fps: fps(v.avg_frame_rate) ?? fps(v.r_frame_rate),
        }
      : null,
    audio: a
      ? { index: a.index, codec: a.codec_name ?? 'unknown', sampleRate: Number(a.sample_rate ?? 0), channels: a.channels ?? 1 }
      : null,
  };
}

export interface StreamProbeOptions {
  readonly ffprobe: string;
  readonly camera: CameraAddress;
  readonly transport: 'tcp' | 'udp';
  readonly timeoutMs?: number;
  /** Told when something other than our ffprobe connected to the relay (and was closed). */
  readonly onRefused?: (peer: string) => void;
  /** The recorder's failed logins: the relay counts its refusals there and stops sending credentials once spent. */
  readonly logins?: LoginBudget;
}

/** Asks the camera what it sends (codecs, size, rate) before a recording plan is chosen. */
export async function probeStream(options: StreamProbeOptions): Promise<StreamInfo> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  // Through the camera relay: ffprobe never sees the password, and a probe that runs out of time gets its
  // session torn down before it is killed.
  const relay = await startCameraRelay(options.camera, {
    ...(options.onRefused ? { onRefused: options.onRefused } : {}),
    ...(options.logins ? { logins: options.logins } : {}),
  });
  try {
    return toStreamInfo(await runProbe(options, relay.url, timeoutMs, () => relay.teardown(), (pid) => relay.admit(pid)));
  } catch (err) {
    if (!(err instanceof ProbeError)) throw err;
    throw new ProbeError(relay.explain(err.failure));
  } finally {
    relay.close();
  }
}

function runProbe(
  options: StreamProbeOptions,
  url: string,
  timeoutMs: number,
  beforeKill: () => Promise<void>,
  onSpawn: (pid: number | undefined) => void,
): Promise<FfprobeOutput> {
  return runFfprobe(
    options.ffprobe,
    [
      '-v', 'error',
      '-rtsp_transport', options.transport,
      '-timeout', String(Math.round((timeoutMs / 2) * 1000)),
      // Frame rate from the SDP and SPS, not from a second of frames: the probe answers ~0.8 s sooner.
      '-fpsprobesize', '0',
      '-show_streams', '-of', 'json',
      url,
    ],
    timeoutMs,
    beforeKill,
    onSpawn,
  );
}

export interface FileProbe {
  readonly durationSeconds: number;
  readonly stream: StreamInfo;
}

/** Duration measured from the media itself (not the clock) and the streams a finished file holds. */
export async function probeFile(ffprobe: string, file: string, timeoutMs = 30_000): Promise<FileProbe> {
  const out = await runFfprobe(ffprobe, ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', file], timeoutMs);
  const duration = Number(out.format?.duration ?? NaN);
  return { durationSeconds: Number.isFinite(duration) ? duration : 0, stream: toStreamInfo(out) };
}
