// What live view does to a camera's video: copy it (H.264 as it comes), or encode H.264 once per camera stream
// and way of viewing (H.265, which Chromium and Firefox do not decode; or a smaller picture, ?height=).
import { HttpError } from '../lib/index.js';

export interface VideoPlan {
  /** Encode H.264 (libx264) instead of copying. */
  readonly transcode: boolean;
  /** Scale down to this height (never up); only with `transcode`. */
  readonly height?: number;
}

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

/** ffmpeg's video arguments for a plan. */
export function videoArguments(plan: VideoPlan): string[] {
  if (!plan.transcode) return ['-c:v', 'copy'];
  return [
    // zerolatency: no frame lookahead and no B-frames, so the encoder adds no delay of its own.
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p',
    // A keyframe every second: HLS segments of one second, and WebRTC viewers join within one.
    '-force_key_frames', 'expr:gte(t,n_forced*1)',
    ...(plan.height === undefined ? [] : ['-vf', `scale=-2:'min(ih,${plan.height})'`]),
  ];
}
