// HLS of recordings: a VOD playlist over the finished segments of a range, so a player seeks anywhere in hours
// of footage without a file being cut. Fragmented MP4 recordings are served as they are, byte ranges of the
// segment files (`/files/`); anything else (MKV, MPEG-TS, MP4 without a fragment index, or H.265 a browser
// asks to see as H.264) as pieces ffmpeg makes on request, in MPEG-TS.
import { HttpError } from '../lib/index.js';
import { isSegmentFileName } from '../contracts/index.js';
import { audioFor, concatInput, concatQuoteUrl, timeParameter } from './clip.js';
import type { RandomAccess } from './mp4-index.js';
import { checkDeviceName, type Footage } from './library.js';
import { mp4Layout, type Mp4Layout } from './mp4-index.js';
import { parseHeight, parseVideo, transcodeVideoArguments, type ClipVideo, type VideoEncoder } from './transcode.js';

/** Longest range one playlist covers (a day): its lines come from the index, never from probing the files. */
export const HLS_MAX_RANGE_SECONDS = 24 * 3600;
/** About how long each media segment of a playlist is (a piece starts at a keyframe, so byte-range pieces vary). */
export const HLS_PIECE_SECONDS = 6;

export interface HlsRequest {
  readonly device: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly video: ClipVideo;
  readonly height: number | null;
}

/** The path after `/api/hls/`, decoded; a malformed escape is the client's error, not a 500. */
function hlsPath(url: URL): string {
  try {
    return decodeURIComponent(url.pathname.slice('/api/hls/'.length));
  } catch {
    throw new HttpError(400, 'device: not a valid URL path');
  }
}

/** `/api/hls/<device>.m3u8?start&end[&video=h264&height]`. */
export function parseHlsRequest(url: URL): HlsRequest {
  const name = hlsPath(url);
  if (!name.endsWith('.m3u8')) throw new HttpError(404, 'device: expected /api/hls/<device>.m3u8', 'not_found');
  const device = checkDeviceName(name.slice(0, -'.m3u8'.length));
  const q = url.searchParams;
  const startMs = timeParameter(q, 'start');
  const endMs = timeParameter(q, 'end');
  if (endMs <= startMs) throw new HttpError(400, 'end: must be after start');
  if (endMs - startMs > HLS_MAX_RANGE_SECONDS * 1000) throw new HttpError(400, `end: a playlist covers at most ${HLS_MAX_RANGE_SECONDS / 3600} hours after start`);
  const video = parseVideo(q);
  return { device, startMs, endMs, video, height: parseHeight(q, video) };
}

export interface PieceRequest {
  readonly device: string;
  readonly name: string;
  /** Seconds into the file. */
  readonly from: number;
  readonly to: number;
  readonly video: ClipVideo;
  readonly height: number | null;
}

const seconds = (q: URLSearchParams, name: string): number => {
  const value = q.get(name);
  const n = value !== null && /^\d{1,6}(\.\d{1,6})?$/.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n)) throw new HttpError(400, `${name}: expected seconds into the file (e.g. 12.5)`);
  return n;
};

/** `/api/hls/<device>/piece.ts?file&from&to[&video&height]`: one piece made on request. */
export function parsePieceRequest(url: URL): PieceRequest {
  const device = checkDeviceName(hlsPath(url).replace(/\/piece\.ts$/, ''));
  const q = url.searchParams;
  const name = q.get('file') ?? '';
  if (!isSegmentFileName(device, name)) throw new HttpError(400, `file: expected a segment file name of ${device}`);
  const from = seconds(q, 'from');
  const to = seconds(q, 'to');
  if (to <= from || to - from > 10 * HLS_PIECE_SECONDS) throw new HttpError(400, `to: must be after from, by at most ${10 * HLS_PIECE_SECONDS} s`);
  const video = parseVideo(q);
  return { device, name, from, to, video, height: parseHeight(q, video) };
}

/** Layouts of fragmented MP4 files, by file and content (finished segments never change): a few reads each, once. */
export class Mp4Layouts {
  private readonly cache = new Map<string, Promise<Mp4Layout | null>>();

  constructor(
    private readonly capacity = 512,
    /** Told of each look-up, whether it was cached (metrics). */
    private readonly onLookup: (hit: boolean) => void = () => undefined,
  ) {}

  /** `bytes`: where the file is read (a path, or a bucket object by ranged GETs); a failed read is not kept. */
  of(f: Footage, bytes: string | RandomAccess = f.path): Promise<Mp4Layout | null> {
    const key = `${f.object ?? f.path}\n${f.segment.sha256}`;
    let layout = this.cache.get(key);
    this.onLookup(layout !== undefined);
    if (layout === undefined) {
      const made: Promise<Mp4Layout | null> = f.segment.format === 'mp4' ? mp4Layout(bytes, HLS_PIECE_SECONDS, (f.endMs - f.startMs) / 1000) : Promise.resolve(null);
      made.catch(() => this.cache.get(key) === made && this.cache.delete(key));
      layout = made;
      if (this.cache.size >= this.capacity) this.cache.delete(this.cache.keys().next().value!);
    } else this.cache.delete(key);
    // Most recently used last: the first key is the one to drop.
    this.cache.set(key, layout);
    return layout;
  }
}

interface Entry {
  readonly wallMs: number;
  readonly seconds: number;
  readonly uri: string;
  readonly byteRange?: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * The playlist: per file a discontinuity (its timestamps start again), its init segment (`#EXT-X-MAP`, byte
 * ranges), and per piece its wall time (`#EXT-X-PROGRAM-DATE-TIME`, so a player maps its time to the clock).
 * Byte ranges only when every file has a fragment index and the video is copied: a playlist cannot go back
 * from fMP4 to MPEG-TS.
 */
export async function hlsPlaylist(request: HlsRequest, footage: readonly Footage[], layoutOf: (f: Footage) => Promise<Mp4Layout | null>, token: string | null): Promise<string> {
  const inRange = footage.filter((f) => f.endMs > request.startMs && f.startMs < request.endMs);
  if (inRange.length === 0) {
    throw new HttpError(404, `start: no footage of ${request.device} between ${iso(request.startMs)} and ${iso(request.endMs)}`, 'not_found');
  }
  const tokenQuery = token === null ? '' : `access_token=${encodeURIComponent(token)}`;
  const withToken = (uri: string): string => (tokenQuery === '' ? uri : `${uri}${uri.includes('?') ? '&' : '?'}${tokenQuery}`);
  const mp4 = request.video === 'copy' ? await Promise.all(inRange.map(layoutOf)) : [];
  const byteRanges = request.video === 'copy' && mp4.every((l) => l !== null);
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${byteRanges ? 7 : 4}`, '#EXT-X-PLAYLIST-TYPE:VOD', '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-INDEPENDENT-SEGMENTS'];
  const body: string[] = [];
  let longest = 1;
  inRange.forEach((f, i) => {
    const fileUri = `/files/${request.device}/${encodeURIComponent(f.name)}`;
    const layout = mp4[i] ?? null;
    const entries: Entry[] = [];
    if (byteRanges && layout) {
      for (const p of layout.pieces) {
        const wallMs = f.startMs + p.offset * 1000;
        if (wallMs + p.seconds * 1000 <= request.startMs || wallMs >= request.endMs) continue;
        entries.push({ wallMs, seconds: p.seconds, uri: withToken(fileUri), byteRange: `${p.to - p.from}@${p.from}` });
      }
    } else {
      const total = (f.endMs - f.startMs) / 1000;
      for (let from = 0; from < total; from += HLS_PIECE_SECONDS) {
        const to = Math.min(total, from + HLS_PIECE_SECONDS);
        const wallMs = f.startMs + from * 1000;
        if (wallMs + (to - from) * 1000 <= request.startMs || wallMs >= request.endMs || to - from < 0.01) continue;
        const q = new URLSearchParams({ file: f.name, from: from.toFixed(3), to: to.toFixed(3) });
        if (request.video === 'h264') q.set('video', 'h264');
        if (request.height !== null) q.set('height', String(request.height));
        entries.push({ wallMs, seconds: to - from, uri: withToken(`/api/hls/${request.device}/piece.ts?${q.toString()}`) });
      }
    }
    if (entries.length === 0) return;
    if (body.length > 0) body.push('#EXT-X-DISCONTINUITY');
    if (byteRanges && layout) body.push(`#EXT-X-MAP:URI="${withToken(fileUri)}",BYTERANGE="${layout.initBytes}@0"`);
    for (const e of entries) {
      longest = Math.max(longest, Math.ceil(e.seconds));
      body.push(`#EXT-X-PROGRAM-DATE-TIME:${iso(Math.round(e.wallMs))}`, `#EXTINF:${e.seconds.toFixed(3)},`);
      if (e.byteRange) body.push(`#EXT-X-BYTERANGE:${e.byteRange}`);
      body.push(e.uri);
    }
  });
  lines.push(`#EXT-X-TARGETDURATION:${longest}`, ...body, '#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}

/**
 * Where a piece starts and ends in its file (s, the file's timestamps). It starts at a keyframe, sought by its
 * presentation time (MKV's cues and MP4's index both land on it), and ends before the keyframe that starts the next
 * piece, by that keyframe's decode time (ffconcat's outpoint is one): the pieces tile the file, no frame twice.
 */
export interface PieceBounds {
  readonly fileStart: number;
  /** Presentation time of the first keyframe; null: the file's start. */
  readonly inpoint: number | null;
  /** Decode time of the next piece's keyframe; null: the file's end. */
  readonly outpoint: number | null;
}

/** Added to every piece's timestamps, so the B-frames before a file's first keyframe are never negative. */
const PIECE_TS_OFFSET = 10;

/** The piece's ffconcat script. */
export function pieceScript(f: Footage, bounds: PieceBounds, input = `file:${f.path}`): string {
  const lines = ['ffconcat version 1.0', `file ${concatQuoteUrl(input)}`];
  if (bounds.inpoint !== null) lines.push(`inpoint ${bounds.inpoint.toFixed(6)}`);
  if (bounds.outpoint !== null) lines.push(`outpoint ${bounds.outpoint.toFixed(6)}`);
  return `${lines.join('\n')}\n`;
}

/**
 * ffmpeg's arguments for a piece (its script on stdin): copied, or re-encoded by `encoder`, in MPEG-TS with the
 * file's own timeline (shifted by PIECE_TS_OFFSET), so the pieces of one file follow each other in a player
 * without a discontinuity. Audio as a clip in MPEG-TS carries it (G.711 re-encoded to AAC).
 */
export function pieceArguments(f: Footage, piece: PieceRequest, bounds: PieceBounds, encoder: VideoEncoder | null, input = `file:${f.path}`): string[] {
  const audio = audioFor(f.segment.format, f.segment.audio?.codec ?? null, 'ts');
  const video = encoder ? transcodeVideoArguments(encoder, piece.height) : [];
  return [
    '-hide_banner', '-v', 'error',
    ...(encoder?.inputArgs ?? []),
    // The concat demuxer's timestamps as they are (the keyframe at 0, B-frames before it): not shifted to start at 0.
    '-copyts',
    ...concatInput([input]),
    '-map', '0:v:0?', '-map', '0:a:0?',
    '-c', 'copy', ...video,
    ...(audio.mode === 'aac' ? ['-c:a', 'aac', '-b:a', '96k'] : []),
    '-output_ts_offset', (PIECE_TS_OFFSET + (bounds.inpoint ?? bounds.fileStart) - bounds.fileStart).toFixed(6),
    '-f', 'mpegts', '-mpegts_copyts', '1', 'pipe:1',
  ];
}
