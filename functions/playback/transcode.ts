// H.264 for browsers that cannot play what the camera recorded (H.265 in Chromium and Firefox): /api/clip's
// `video=h264` and `height`, the encoder it uses, and how fast the last transcode ran.
import { HttpError } from '../lib/index.js';

/** `copy`: the recorded video as it is (the default); `h264`: re-encoded, for a browser. */
export type ClipVideo = 'copy' | 'h264';

/** A transcode holds a decoder and an encoder for as long as it streams: it counts as this many ffmpeg slots. */
export const TRANSCODE_SLOTS = 2;

/** Seconds between keyframes of a transcode (where a seek in the played clip can land); MP4 fragments are 0.5 s. */
export const TRANSCODE_GOP_SECONDS = 1;

/**
 * A transcode's video options after the input, for /api/clip and the HLS pieces alike: the encoder's, at most
 * `height` lines, with a keyframe every TRANSCODE_GOP_SECONDS so a player can start or seek at any second.
 */
export function transcodeVideoArguments(encoder: VideoEncoder, height: number | null): string[] {
  return [...encoder.outputArgs(height), '-force_key_frames', `expr:gte(t,n_forced*${TRANSCODE_GOP_SECONDS})`];
}

/** Tallest `height` a request may ask for (8K); the clip is never scaled up past the recording. */
export const MAX_HEIGHT = 4320;

export function parseVideo(query: URLSearchParams): ClipVideo {
  const value = query.get('video') ?? 'copy';
  if (value !== 'copy' && value !== 'h264') throw new HttpError(400, 'video: expected copy or h264');
  return value;
}

/** `height` in lines (even, 16 to 4320), only with `video=h264`: a copy cannot be scaled. */
export function parseHeight(query: URLSearchParams, video: ClipVideo): number | null {
  const value = query.get('height');
  if (value === null || value === '') return null;
  const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 16 || n > MAX_HEIGHT || n % 2 !== 0) throw new HttpError(400, `height: expected an even number of lines from 16 to ${MAX_HEIGHT}`);
  if (video !== 'h264') throw new HttpError(400, 'height: only with video=h264 (a copied video keeps its size)');
  return n;
}

/** An H.264 encoder ffmpeg may use here, and the device node it needs. */
export interface VideoEncoder {
  readonly name: 'h264_nvenc' | 'h264_vaapi' | 'h264_qsv' | 'libx264';
  /** libx264's preset; hardware encoders have their own. */
  readonly preset: string | null;
  /** Options before the input (a hardware device to open). */
  readonly inputArgs: readonly string[];
  /** Video filter and encoder options after the input, for an output at most `height` lines tall. */
  outputArgs(height: number | null): string[];
}

/** Scales down to `height` lines, never up, keeping the aspect ratio (width even, as 4:2:0 needs). */
const scaleTo = (height: number): string => `scale=-2:'min(ih,${height})'`;

/** Hardware encoders in the order they are tried, each with the device node that must exist for it. */
const HARDWARE: ReadonlyArray<{ readonly name: VideoEncoder['name']; readonly device: string }> = [
  { name: 'h264_nvenc', device: '/dev/nvidia0' },
  { name: 'h264_vaapi', device: '/dev/dri/renderD128' },
  { name: 'h264_qsv', device: '/dev/dri/renderD128' },
];

function encoder(name: VideoEncoder['name'], preset: string | null, device: string | null): VideoEncoder {
  switch (name) {
    case 'h264_nvenc':
      return { name, preset, inputArgs: [], outputArgs: (h) => [...(h ? ['-vf', scaleTo(h)] : []), '-c:v', 'h264_nvenc', '-preset', 'p4', '-tune', 'll', '-pix_fmt', 'yuv420p'] };
    case 'h264_vaapi':
      return {
        name,
        preset,
        inputArgs: ['-vaapi_device', device ?? ''],
        outputArgs: (h) => ['-vf', `format=nv12,hwupload${h ? `,scale_vaapi=w=-2:h='min(ih,${h})'` : ''}`, '-c:v', 'h264_vaapi'],
      };
    case 'h264_qsv':
      return { name, preset, inputArgs: [], outputArgs: (h) => [...(h ? ['-vf', scaleTo(h)] : []), '-pix_fmt', 'nv12', '-c:v', 'h264_qsv', '-preset', 'veryfast'] };
    case 'libx264':
      // zerolatency: no lookahead and no B-frames, so the first fragment leaves after one GOP, not seconds later.
      return { name, preset, inputArgs: [], outputArgs: (h) => [...(h ? ['-vf', scaleTo(h)] : []), '-c:v', 'libx264', '-preset', preset ?? 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p'] };
  }
}

/** Encoder names from `ffmpeg -encoders` (lines like ` V....D libx264   libx264 H.264 ...`). */
export function listedEncoders(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^\s[VAS][.A-Z]{5}\s+(\w[\w-]*)\s/.exec(line);
    if (m) names.add(m[1]!);
  }
  return names;
}

/**
 * The encoder a transcode uses: a hardware one when ffmpeg lists it AND its device node exists (Debian's
 * ffmpeg lists nvenc, vaapi and qsv on machines with no GPU), else libx264: `veryfast`, or `ultrafast`
 * while the last transcode ran behind real time.
 */
export function chooseEncoder(listed: ReadonlySet<string>, deviceExists: (path: string) => boolean, behind: boolean): VideoEncoder {
  for (const hw of HARDWARE) if (listed.has(hw.name) && deviceExists(hw.device)) return encoder(hw.name, null, hw.device);
  return encoder('libx264', behind ? 'ultrafast' : 'veryfast', null);
}

/** Slower than this multiple of real time is behind: the viewer would wait for frames. */
const REAL_TIME = 1;

/**
 * How fast transcodes run, from ffmpeg's `-progress` reports (`speed=0.87x`). A transcode that falls behind
 * real time makes the next ones use a faster preset; one that runs at twice real time with the faster preset
 * lets the next go back. Seeking restarts a transcode, so the choice is made again at every click.
 */
export class TranscodePace {
  private lastSpeed: number | null = null;
  private lastPreset: string | null = null;

  get behind(): boolean {
    if (this.lastSpeed === null) return false;
    // At ultrafast, only a wide margin says veryfast would keep up too.
    return this.lastPreset === 'ultrafast' ? this.lastSpeed < 2 * REAL_TIME : this.lastSpeed < REAL_TIME;
  }

  /** Takes one `-progress` block's text; reports after ffmpeg's start-up (out_time under 2 s) are not yet a pace. */
  observe(preset: string | null, progress: string): void {
    const speed = /speed=\s*([\d.]+)x/.exec(progress);
    const outTime = /out_time_us=(\d+)/.exec(progress);
    if (!speed || !outTime || Number(outTime[1]) < 2_000_000) return;
    this.lastSpeed = Number(speed[1]);
    this.lastPreset = preset;
  }
}
