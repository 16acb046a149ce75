// What live view does to a camera's video: copy it (H.264 as it comes), or encode H.264 once per camera stream
// and way of viewing (H.265, which Chromium and Firefox do not decode; or a smaller picture, ?height=).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { chooseEncoder, HttpError, listedEncoders, type Logger, type VideoEncoder } from '../lib/index.js';

export interface VideoPlan {
  /** Encode H.264 instead of copying. */
  readonly transcode: boolean;
  /** Scale down to this height (never up); only with `transcode`. */
  readonly height?: number;
  /** The encoder the forwarder found at start (liveEncoder); without it, libx264. */
  readonly encoder?: VideoEncoder;
}

/** libx264 at `veryfast`: what a machine without a usable hardware encoder uses. */
const SOFTWARE = chooseEncoder(new Set(), () => false, false);

/** `?height=` bounds: a phone's thumbnail to 4K. */
const MIN_HEIGHT = 144;
const MAX_HEIGHT = 2160;

/** The `height` query parameter, or 400 naming it. */
export function heightOf(value: string | null): number | undefined {
  if (value === null) return undefined;
  const height = Number(value);
  if (!Number.isInteger(height) || height < MIN_HEIGHT || height > MAX_HEIGHT) {
    throw new HttpError(400, `height: expected a whole number of pixels from ${MIN_HEIGHT} to ${MAX_HEIGHT}`);
  }
  return height;
}

/** ffmpeg's options before the input for a plan: a hardware encoder's device to open; no frame-rate probe when copying. */
export function videoInputArguments(plan: VideoPlan): string[] {
  // Copying needs no measured frame rate: without -fpsprobesize 0 ffmpeg holds its first write ~0.6 s (measured
  // here: first RTP packet after 2.6 s against 1.9 s from a 2 s GOP camera), as the recorder found. An encoder
  // takes its rate from the probe, so a transcode keeps it.
  return plan.transcode ? [...(plan.encoder ?? SOFTWARE).inputArgs] : ['-fpsprobesize', '0'];
}

/** ffmpeg's video arguments after the input for a plan. */
export function videoArguments(plan: VideoPlan): string[] {
  if (!plan.transcode) return ['-c:v', 'copy'];
  const encoder = plan.encoder ?? SOFTWARE;
  return [
    // libx264's zerolatency (and the hardware encoders' low-latency modes): no lookahead, no B-frames, so the
    // encoder adds no delay of its own. Constrained baseline: what every WebRTC receiver decodes.
    ...encoder.outputArgs(plan.height ?? null),
    ...encoder.baselineArgs,
    // A keyframe every second: HLS segments of one second, and WebRTC viewers join within one.
    '-force_key_frames', 'expr:gte(t,n_forced*1)',
  ];
}

/**
 * The encoder live view transcodes with, chosen once at start: a hardware one (h264_nvenc, h264_vaapi, h264_qsv)
 * when ffmpeg lists it and its device node is in the pod, else libx264. An ffmpeg that cannot list its encoders
 * is logged, and libx264 used: the viewer who needs a transcode finds out from its own ffmpeg run.
 */
export async function liveEncoder(ffmpeg: string, log: Logger, deviceExists: (path: string) => boolean = existsSync): Promise<VideoEncoder> {
  const listed = await promisify(execFile)(ffmpeg, ['-hide_banner', '-encoders'], { timeout: 10_000, maxBuffer: 4 << 20 }).then(
    ({ stdout }) => listedEncoders(stdout),
    (err: unknown) => {
      log.warn({ err }, 'ffmpeg did not list its encoders: live view transcodes with libx264');
      return new Set<string>();
    },
  );
  const encoder = chooseEncoder(listed, deviceExists, false);
  log.info({ encoder: encoder.name }, 'live view transcodes H.265 and ?height= with this H.264 encoder');
  return encoder;
}
