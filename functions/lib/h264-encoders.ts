// The H.264 encoders ffmpeg may use here, for playback's transcodes and live view's alike: a hardware one when
// ffmpeg lists it AND its device node exists, else libx264. No GPU here: tests check the choice, not the encoder.

/** An H.264 encoder ffmpeg may use here, and the device node it needs. */
export interface VideoEncoder {
  readonly name: 'h264_nvenc' | 'h264_vaapi' | 'h264_qsv' | 'libx264';
  /** libx264's preset; hardware encoders have their own. */
  readonly preset: string | null;
  /** Options before the input (a hardware device to open). */
  readonly inputArgs: readonly string[];
  /** Video filter and encoder options after the input, for an output at most `height` lines tall. */
  outputArgs(height: number | null): string[];
  /**
   * Options that keep the stream to constrained baseline, the H.264 profile every WebRTC receiver takes
   * (profile-level-id 42e01f): no B-frames, no CABAC.
   */
  readonly baselineArgs: readonly string[];
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
      return {
        name,
        preset,
        inputArgs: [],
        outputArgs: (h) => [...(h ? ['-vf', scaleTo(h)] : []), '-c:v', 'h264_nvenc', '-preset', 'p4', '-tune', 'll', '-pix_fmt', 'yuv420p'],
        baselineArgs: ['-profile:v', 'baseline'],
      };
    case 'h264_vaapi':
      return {
        name,
        preset,
        inputArgs: ['-vaapi_device', device ?? ''],
        outputArgs: (h) => ['-vf', `format=nv12,hwupload${h ? `,scale_vaapi=w=-2:h='min(ih,${h})'` : ''}`, '-c:v', 'h264_vaapi'],
        baselineArgs: ['-profile:v', 'constrained_baseline'],
      };
    case 'h264_qsv':
      return {
        name,
        preset,
        inputArgs: [],
        outputArgs: (h) => [...(h ? ['-vf', scaleTo(h)] : []), '-pix_fmt', 'nv12', '-c:v', 'h264_qsv', '-preset', 'veryfast'],
        baselineArgs: ['-profile:v', 'baseline'],
      };
    case 'libx264':
      // zerolatency: no lookahead and no B-frames, so the first fragment leaves after one GOP, not seconds later.
      return {
        name,
        preset,
        inputArgs: [],
        outputArgs: (h) => [...(h ? ['-vf', scaleTo(h)] : []), '-c:v', 'libx264', '-preset', preset ?? 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p'],
        baselineArgs: ['-profile:v', 'baseline'],
      };
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
