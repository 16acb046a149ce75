// One file cut from the segments a time range spans: ffmpeg's concat demuxer, -c copy, streamed to the client.
import type { ChildProcess } from 'node:child_process';
import { HttpError, parseDuration } from '../lib/index.js';
import { clipFileName, RECORDING_RULES, type ClipFormat } from '../contracts/index.js';
import type { FfmpegSlot } from './ffmpeg-slots.js';
import type { Footage } from './library.js';
import { mp4EntryAt, type Mp4Entry, type RandomAccess } from './mp4-index.js';
import { transcodeVideoArguments, type ClipVideo, type VideoEncoder } from './transcode.js';

/** Clip containers: the recorder's rules say what each holds; the options make them stream from a pipe. */
export const CLIP_FORMATS = {
  // Fragmented: an ordinary MP4 writes its index last, so it could not be sent while it is cut.
  mp4: ['-movflags', '+frag_keyframe+empty_moov+default_base_moof'],
  mkv: [],
  ts: [],
} as const satisfies Record<ClipFormat, readonly string[]>;
export type { ClipFormat };

export interface ClipRequest {
  readonly device: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly format: ClipFormat;
  /** `copy` (default) or `h264`: re-encoded for browsers that cannot play the recorded codec. */
  readonly video?: ClipVideo;
  /** With `h264`: at most this many lines tall (scaled down, aspect kept). */
  readonly height?: number | null;
}

/** How a cut reads its parts: ffmpeg's input URL, and the bytes the MP4 index reads. */
export interface FootageReader {
  /** `file:<path>` on a volume; a bucket object's loopback relay URL (bucket-bytes.ts), never a credential. */
  input(f: Footage): string;
  bytes(f: Footage): string | RandomAccess;
  /**
   * One URL of the file's init segment followed by its bytes from `moof` on, when the reader can give one (the
   * bucket relay joins the two ranges, one GET each, asked at once); null: ffmpeg joins them (concat, subfile).
   */
  fromFragment?(f: Footage, initBytes: number, moof: number): string | null;
}

/** Footage on a volume: read where it lies. */
export const VOLUME_READER: FootageReader = { input: (f) => `file:${f.path}`, bytes: (f) => f.path };

export interface ClipPlan {
  readonly request: ClipRequest;
  readonly parts: readonly Footage[];
  /** ffmpeg's input URL of each part (FootageReader.input); absent: `file:` and its path. */
  readonly inputs?: readonly string[];
  /** The first part from its keyframe's fragment on as one URL (FootageReader.fromFragment), when the reader gives one. */
  readonly fragmentInput?: string | null;
  /** Decode time of the keyframe at or before the requested start, in the first file's timestamps (s); null: from its start. */
  readonly inpoint: number | null;
  /** The first file's fragment index around that keyframe, when it has one: ffmpeg then reads it from there (concatScript). */
  readonly entry?: Mp4Entry | null;
  /** Wall-clock start of the clip's first frame (that keyframe) and end. */
  readonly startMs: number;
  readonly endMs: number;
  /** Media seconds in the clip: the range's footage, without the gaps between segments. */
  readonly mediaSeconds: number;
  /** Seconds of the range that had no footage (the recorder was down), left out of the file. */
  readonly gapSeconds: number;
  readonly fileName: string;
  readonly mimeType: string;
  /**
   * `copy`, or `aac` (re-encoded) when the clip's container cannot take the recorded audio as it is: G.711 into
   * MP4 or MPEG-TS, or MPEG-TS's ADTS AAC into MKV (whose header needs the AAC config the concat demuxer lacks).
   * `adtsToAsc`: MPEG-TS's AAC copied into MP4 through ffmpeg's aac_adtstoasc filter.
   */
  readonly audio: { readonly mode: 'copy' | 'aac' | 'none'; readonly recorded: string | null; readonly adtsToAsc: boolean };
  readonly videoTag: string | null;
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/;

/** A required ISO 8601 time with a zone (400 naming the parameter otherwise). */
export function timeParameter(query: URLSearchParams, name: string): number {
  const value = query.get(name);
  if (value === null || value === '') throw new HttpError(400, `${name}: required (ISO 8601, e.g. 2026-11-24T10:15:00Z)`);
  const ms = Date.parse(value);
  if (!ISO_UTC.test(value) || !Number.isFinite(ms)) throw new HttpError(400, `${name}: expected an ISO 8601 time with a zone, e.g. 2026-11-24T10:15:00Z`);
  return ms;
}

/** `start` + `duration` or `end`, checked: end after start, not longer than `maxSeconds`. */
export function parseRange(query: URLSearchParams, maxSeconds: number): { startMs: number; endMs: number } {
  const startMs = timeParameter(query, 'start');
  const duration = query.get('duration');
  let endMs: number;
  if (duration !== null && query.get('end') !== null) throw new HttpError(400, 'duration: give duration or end, not both');
  if (duration !== null) {
    const seconds = parseDuration(duration);
    if (seconds === null || seconds <= 0) throw new HttpError(400, 'duration: expected a positive duration such as 300, 300s, 5m or 1h');
    if (seconds > maxSeconds) throw new HttpError(400, `duration: at most ${maxSeconds} s (PLAYBACK_MAX_CLIP)`);
    endMs = startMs + seconds * 1000;
  } else {
    if (query.get('end') === null) throw new HttpError(400, 'duration: required (or end)');
    endMs = timeParameter(query, 'end');
    if (endMs <= startMs) throw new HttpError(400, 'end: must be after start');
    if (endMs - startMs > maxSeconds * 1000) throw new HttpError(400, `end: the range is at most ${maxSeconds} s (PLAYBACK_MAX_CLIP)`);
  }
  return { startMs, endMs };
}

export function parseFormat(query: URLSearchParams): ClipFormat {
  const value = query.get('format') ?? 'mp4';
  // Own keys only: `in` also finds Object.prototype's names (format=constructor got through, then a 500).
  if (!Object.hasOwn(CLIP_FORMATS, value)) throw new HttpError(400, `format: expected one of ${Object.keys(CLIP_FORMATS).join(', ')}`);
  return value as ClipFormat;
}

interface ProbedPacket {
  readonly pts_time?: string;
  readonly dts_time?: string;
  readonly flags?: string;
}

async function ffprobeJson(slot: FfmpegSlot, ffprobe: string, args: readonly string[]): Promise<{ packets?: ProbedPacket[]; format?: { start_time?: string } }> {
  const stdout = await slot.execFile(ffprobe, ['-v', 'error', '-of', 'json', ...args], { maxBuffer: 16 << 20, timeoutMs: 60_000 }).catch((err: Error) => {
    throw new Error(`ffprobe: ${err.message}`);
  });
  return JSON.parse(stdout) as { packets?: ProbedPacket[]; format?: { start_time?: string } };
}

/**
 * The last video keyframe at or before `offset` seconds into a file: its decode time in the file's timestamps,
 * and the file's first timestamp (MPEG-TS files start at ~1.4 s, MP4 at 0). One ffprobe that lists packets
 * without decoding; intervals are relative to the file's start (`+`), and since a seek lands only near a time
 * (MPEG-TS has no index), a window before it is read and filtered.
 */
export async function keyframeAtOrBefore(slot: FfmpegSlot, ffprobe: string, file: string, offset: number): Promise<{ keyframe: number; fileStart: number }> {
  const { keyframe, fileStart } = await probeKeyframe(slot, ffprobe, file, offset);
  return { keyframe, fileStart };
}

/** keyframeAtOrBefore with the keyframe's presentation time too (`pts`: where a seek by presentation time lands on it). */
export async function probeKeyframe(slot: FfmpegSlot, ffprobe: string, file: string, offset: number): Promise<{ keyframe: number; pts: number; fileStart: number }> {
  let fileStart = 0;
  for (const lookBack of [12, 120, Infinity]) {
    const from = offset - lookBack;
    const interval = from > 0 ? `+${from.toFixed(3)}%+${(lookBack + 0.05).toFixed(3)}` : `%+${(offset + 0.05).toFixed(3)}`;
    const probed = await ffprobeJson(slot, ffprobe, ['-select_streams', 'v:0', '-read_intervals', interval, '-show_entries', 'packet=pts_time,dts_time,flags:format=start_time', file]);
    const start = Number(probed.format?.start_time ?? 0);
    fileStart = Number.isFinite(start) ? start : 0;
    const target = fileStart + offset;
    let best: { keyframe: number; pts: number } | null = null;
    for (const p of probed.packets ?? []) {
      if (!p.flags?.startsWith('K')) continue;
      const pts = Number(p.pts_time);
      const dts = Number(p.dts_time ?? p.pts_time);
      if (Number.isFinite(pts) && Number.isFinite(dts) && pts <= target + 0.001 && (best === null || dts > best.keyframe)) best = { keyframe: dts, pts };
    }
    if (best !== null) return { ...best, fileStart };
    if (from <= 0) break;
  }
  return { keyframe: fileStart, pts: fileStart, fileStart };
}

/**
 * The keyframe at or before `offset` seconds into a segment: from an MP4 segment's own fragment index in a few
 * reads, else by ffprobe (a process that walks the file) in `slot`.
 */
export async function keyframeIn(slot: FfmpegSlot, ffprobe: string, f: Footage, offset: number, withEnd = false, reader = VOLUME_READER): Promise<{ keyframe: number; fileStart: number; entry?: Mp4Entry }> {
  const entry = f.segment.format === 'mp4' ? await mp4EntryAt(reader.bytes(f), offset, withEnd) : null;
  return entry ? { keyframe: entry.keyframe, fileStart: entry.fileStart, entry } : await keyframeAtOrBefore(slot, ffprobe, f.object ? reader.input(f) : f.path, offset);
}

/**
 * Which segments a clip takes and where it starts. 404 when no finished segment overlaps the range.
 * A range over a gap gives one file with the gap left out (its timestamps run on), like the recorder's segments.
 */
export async function planClip(slot: FfmpegSlot, ffprobe: string, footage: readonly Footage[], request: ClipRequest, reader = VOLUME_READER): Promise<ClipPlan> {
  const parts = footage.filter((f) => f.endMs > request.startMs && f.startMs < request.endMs);
  const first = parts[0];
  const last = parts.at(-1);
  if (!first || !last) {
    throw new HttpError(
      404,
      `start: no footage of ${request.device} between ${new Date(request.startMs).toISOString()} and ${new Date(request.endMs).toISOString()}`,
      'not_found',
    );
  }
  const offset = Math.max(0, request.startMs - first.startMs) / 1000;
  // From a segment's start there is nothing to look up: every segment starts with a keyframe. An MP4 segment's
  // own fragment index answers in a few reads; ffprobe (a process that walks the file) only where it cannot.
  // The file's end only matters to a clip that goes on into the next file (concatScript's duration).
  const found = offset > 0 ? await keyframeIn(slot, ffprobe, first, offset, parts.length > 1, reader) : null;
  const startMs = found ? Math.round(first.startMs + (found.keyframe - found.fileStart) * 1000) : first.startMs;
  const endMs = Math.min(request.endMs, last.endMs);
  const rule = RECORDING_RULES[request.format];
  const recordedAudio = first.segment.audio?.codec ?? null;
  const transcoded = request.video === 'h264';
  const videoCodec = transcoded ? 'h264' : (first.segment.video?.codec ?? null);
  // Concat joins the files back to back, so a gap takes no time in the clip: -t counts footage only.
  const mediaMs = parts.reduce((sum, f) => sum + Math.max(0, Math.min(f.endMs, endMs) - Math.max(f.startMs, startMs)), 0);
  const seconds = Math.max(1, Math.round(mediaMs / 1000));
  return {
    request,
    parts,
    inputs: parts.map((f) => reader.input(f)),
    inpoint: found?.keyframe ?? null,
    entry: found?.entry ?? null,
    fragmentInput: found?.entry && reader.fromFragment ? reader.fromFragment(first, found.entry.initBytes, found.entry.moof) : null,
    startMs,
    endMs,
    mediaSeconds: mediaMs / 1000,
    gapSeconds: Math.max(0, (endMs - startMs - mediaMs) / 1000),
    fileName: clipFileName(request.device, new Date(startMs), seconds, request.format),
    mimeType: rule.mimeType,
    audio: audioFor(first.segment.format, recordedAudio, request.format),
    videoTag: videoCodec === null ? null : (rule.video[videoCodec]?.tag ?? null),
  };
}

/** How a clip carries the recorded audio (see ClipPlan.audio). */
export function audioFor(recordedFormat: string, codec: string | null, format: ClipFormat): ClipPlan['audio'] {
  if (codec === null) return { mode: 'none', recorded: null, adtsToAsc: false };
  const adts = recordedFormat === 'ts' && codec === 'aac';
  if (!RECORDING_RULES[format].audio.includes(codec) || (adts && format === 'mkv')) return { mode: 'aac', recorded: codec, adtsToAsc: false };
  return { mode: 'copy', recorded: codec, adtsToAsc: adts && format === 'mp4' };
}

/** A URL as an ffconcat `file` argument, quoted, so a root with odd characters stays one path. */
export const concatQuoteUrl = (url: string): string => `'${url.replace(/'/g, "'\\''")}'`;

/** A path as an ffconcat `file` argument: a file URL, quoted, so a root with odd characters stays one path. */
export const concatQuote = (p: string): string => concatQuoteUrl(`file:${p}`);

/**
 * The first file's in point as the script gives it: a tenth of a millisecond before the keyframe (more than a tick
 * of any time base we record), so the keyframe is at or after it whatever the rounding, and -ss 0 drops the audio
 * before it: the video starts at 0.
 */
const scriptInpoint = (keyframe: number): number => Math.max(0, keyframe - 0.0001);

/**
 * ffconcat lines for the first file when its fragment index gave where the keyframe's fragment is: its init
 * segment then its bytes from that moof on (ffmpeg's concat and subfile protocols), read without ffmpeg's index
 * (`fflags +ignidx`: at open its MP4 reader would otherwise read every moof of the file, half a second an hour).
 * `duration` tells the concat demuxer where the next file follows on, which it could no longer learn from the file.
 * Null where the path cannot be one (`|` separates the concat protocol's parts): ffmpeg seeks as before.
 */
function fromKeyframeFragment(plan: ClipPlan, input: string): string[] | null {
  const entry = plan.entry;
  if (!entry || plan.inpoint === null || (!plan.fragmentInput && input.includes('|'))) return null;
  const url = plan.fragmentInput ?? `concat:subfile,,start,0,end,${entry.initBytes},,:${input}|subfile,,start,${entry.moof},end,0,,:${input}`;
  const lines = [`file ${concatQuoteUrl(url)}`, 'option fflags +ignidx'];
  if (plan.parts.length > 1) {
    if (entry.end === null) return null;
    lines.push(`duration ${Math.max(0, entry.end - scriptInpoint(plan.inpoint)).toFixed(6)}`);
  }
  return lines;
}

/** ffconcat script: file URLs (so a root with odd characters stays one path) and the first file's in point. */
export function concatScript(plan: ClipPlan): string {
  const lines = ['ffconcat version 1.0'];
  plan.parts.forEach((part, i) => {
    const input = plan.inputs?.[i] ?? `file:${part.path}`;
    const fromFragment = i === 0 ? fromKeyframeFragment(plan, input) : null;
    lines.push(...(fromFragment ?? [`file ${concatQuoteUrl(input)}`]));
    // The last file is read from its start up to the clip's end: ffmpeg's walk over all its moofs at open buys
    // nothing there (no seek, no file after it), and a file that is not fragmented reads the same either way.
    const last = i === plan.parts.length - 1 && (i > 0 || plan.inpoint === null);
    if (!fromFragment && last && part.segment.format === 'mp4') lines.push('option fflags +ignidx');
    if (i === 0 && plan.inpoint !== null) lines.push(`inpoint ${scriptInpoint(plan.inpoint).toFixed(6)}`);
  });
  return `${lines.join('\n')}\n`;
}

/** ffmpeg reading an ffconcat script from stdin, its files by absolute path. */
export const CONCAT_INPUT = ['-protocol_whitelist', 'file,pipe,concat,subfile', '-f', 'concat', '-safe', '0', '-i', 'pipe:0'] as const;

/** The concat input for these ffmpeg inputs: the relayed one when any is the bucket relay's URL. */
export const concatInput = (inputs: readonly string[]): readonly string[] => (inputs.some((u) => u.startsWith('http:')) ? CONCAT_INPUT_RELAYED : CONCAT_INPUT);

/** CONCAT_INPUT that may also read the bucket relay's loopback URLs (http over tcp). */
export const CONCAT_INPUT_RELAYED = ['-protocol_whitelist', 'file,pipe,concat,subfile,http,tcp', '-f', 'concat', '-safe', '0', '-i', 'pipe:0'] as const;

/**
 * ffmpeg's arguments for a plan: `-c copy`, or with `encoder` (video=h264) the video re-encoded, from the same
 * keyframe, the audio as a copy would carry it, and `-progress` reports on fd 3 for the transcode's pace.
 */
export function clipArguments(plan: ClipPlan, encoder: VideoEncoder | null = null): string[] {
  const rule = RECORDING_RULES[plan.request.format];
  const audio = plan.audio.mode === 'aac' ? ['-c:a', 'aac', '-b:a', '96k'] : plan.audio.adtsToAsc ? ['-bsf:a', 'aac_adtstoasc'] : [];
  const video = encoder
    ? [
        ...transcodeVideoArguments(encoder, plan.request.height ?? null), '-progress', 'pipe:3', '-stats_period', '1',
        ...(plan.request.format === 'mp4' ? ['-frag_duration', '500000'] : []),
      ]
    : [];
  return [
    '-hide_banner', '-v', 'error',
    ...(encoder?.inputArgs ?? []),
    // Without it ffmpeg shifts the input by its earliest packet (audio from before the in point), so -ss 0
    // keeps that audio and the video starts a fraction of a frame late, which trips frame counting players.
    '-copyts',
    ...concatInput(plan.inputs ?? []),
    '-map', '0:v?', '-map', '0:a?',
    '-c', 'copy', ...video, ...audio,
    ...(plan.videoTag ? ['-tag:v', plan.videoTag] : []),
    // Drops what the in point's seek brought along before the keyframe (audio, and MPEG-TS's inexact seek).
    '-ss', '0',
    '-t', plan.mediaSeconds.toFixed(3),
    '-avoid_negative_ts', 'make_zero',
    ...CLIP_FORMATS[plan.request.format],
    '-f', rule.muxer, 'pipe:1',
  ];
}

/** Starts cutting in the request's slot; the clip comes out of stdout as ffmpeg writes it (a transcode's pace on fd 3). */
export function startCut(slot: FfmpegSlot, ffmpeg: string, plan: ClipPlan, encoder: VideoEncoder | null = null): ChildProcess {
  const child = slot.spawn(ffmpeg, clipArguments(plan, encoder), { stdio: encoder ? ['pipe', 'pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe'] });
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(concatScript(plan));
  return child;
}
