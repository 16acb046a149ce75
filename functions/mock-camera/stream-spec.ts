// `--stream` specs: the test-pattern paths the camera serves, e.g. `/Streaming/Channels/101:h264:1280x720:25:50:pcma`.
import { z } from 'zod';

export const VIDEO_CODECS = ['h264', 'h265'] as const;
export const AUDIO_CODECS = ['pcma', 'pcmu', 'aac', 'none'] as const;
export type VideoCodec = (typeof VIDEO_CODECS)[number];
export type AudioCodec = (typeof AUDIO_CODECS)[number];

/** One test-pattern path: what ffmpeg encodes and publishes there. */
export interface TestPattern {
  readonly path: string;
  readonly video: VideoCodec;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  /** Keyframe interval in frames. */
  readonly gop: number;
  readonly audio: AudioCodec;
}

export const STREAM_SPEC_GRAMMAR = 'PATH[:VIDEO[:WxH[:FPS[:GOP[:AUDIO]]]]]';
/** Two channels the way a Hikvision camera names them: main stream and sub stream. */
export const DEFAULT_STREAMS = '/Streaming/Channels/101:h264:640x360:25:50:pcma,/Streaming/Channels/102:h264:320x180:15:30:pcmu';
const DEFAULTS = { video: 'h264', width: 640, height: 360, fps: 25, audio: 'pcma' } as const;

function int(text: string, what: string, min: number, max: number): number {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) throw new Error(`${what} must be a whole number from ${min} to ${max} (got "${text}")`);
  return n;
}

/** Parses one spec; empty fields take the defaults (`/cam::320x240` is H.264, 320x240, 25 fps, GOP 50, PCMA). */
export function parseStreamSpec(spec: string): TestPattern {
  const [path = '', video = '', size = '', fps = '', gop = '', audio = '', ...extra] = spec.split(':');
  if (extra.length > 0) throw new Error(`"${spec}" has more than 6 fields (${STREAM_SPEC_GRAMMAR})`);
  if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(path) || /\/trackID=/i.test(path) || path.length > 200) {
    throw new Error(`path "${path}" must start with / and use letters, digits and . _ ~ - between slashes`);
  }
  const v = video === '' ? DEFAULTS.video : video.toLowerCase();
  if (!(VIDEO_CODECS as readonly string[]).includes(v)) throw new Error(`video "${video}" must be ${VIDEO_CODECS.join(' or ')}`);
  let width: number = DEFAULTS.width;
  let height: number = DEFAULTS.height;
  if (size !== '') {
    const m = /^(\d+)x(\d+)$/i.exec(size);
    if (!m) throw new Error(`size "${size}" must be WIDTHxHEIGHT, e.g. 640x360`);
    width = int(m[1] ?? '', 'width', 16, 3840);
    height = int(m[2] ?? '', 'height', 16, 2160);
    if (width % 2 !== 0 || height % 2 !== 0) throw new Error(`size "${size}" must have an even width and height`);
  }
  const f = fps === '' ? DEFAULTS.fps : int(fps, 'fps', 1, 60);
  const g = gop === '' ? f * 2 : int(gop, 'GOP', 1, 600);
  const a = audio === '' ? DEFAULTS.audio : audio.toLowerCase();
  if (!(AUDIO_CODECS as readonly string[]).includes(a)) throw new Error(`audio "${audio}" must be ${AUDIO_CODECS.join(', ')}`);
  return { path, video: v as VideoCodec, width, height, fps: f, gop: g, audio: a as AudioCodec };
}

/** A list of specs separated by commas or spaces; `none` for no test patterns (publish-only server). */
export function parseStreamSpecs(text: string): TestPattern[] {
  const specs = text.split(/[\s,]+/).filter((s) => s !== '');
  if (specs.length === 1 && specs[0]?.toLowerCase() === 'none') return [];
  const patterns = specs.map(parseStreamSpec);
  const seen = new Set<string>();
  for (const p of patterns) {
    if (seen.has(p.path)) throw new Error(`path ${p.path} is given twice`);
    seen.add(p.path);
  }
  if (patterns.length === 0) throw new Error('no stream given (use "none" for a publish-only server)');
  return patterns;
}

export const zStreamSpecs = z.string().transform((value, ctx) => {
  try {
    return parseStreamSpecs(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `${(err as Error).message}; expected ${STREAM_SPEC_GRAMMAR}` });
    return z.NEVER;
  }
});
