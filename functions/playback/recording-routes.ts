// The routes over recordings that are not one cut file: HLS playlists and their pieces (hls.ts), thumbnails
// (thumbnail.ts). Every ffmpeg and ffprobe they start takes a slot of the server's one limit.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import { HttpError, type Logger, type StreamHandler } from '../lib/index.js';
import { followOutput, type FfmpegSlot, type FfmpegSlots } from './ffmpeg-slots.js';
import type { RecordingMetrics } from './metrics.js';
import { probeKeyframe } from './clip.js';
import { hlsPlaylist, Mp4Layouts, parseHlsRequest, parsePieceRequest, pieceArguments, pieceScript } from './hls.js';
import type { Footage, Library } from './library.js';
import { leasedReader, type LeasedReader } from './bucket-bytes.js';
import { parseThumbnailRequest, renderThumbnail, ThumbnailCache, thumbnailKey, thumbnailKeyframe } from './thumbnail.js';
import { TRANSCODE_SLOTS, type VideoEncoder } from './transcode.js';

export interface RecordingRoutesOptions {
  /** Where a device's footage is: one root's library, or every root's (volumes.ts). */
  readonly library: Pick<Library, 'footageBetween' | 'file'>;
  /** How a request or a render reads footage (the bucket's through the relay); default: where it lies on the volume. */
  readonly readerFor?: () => LeasedReader;
  readonly slots: FfmpegSlots;
  readonly ffmpeg: string;
  readonly ffprobe: string;
  /** PLAYBACK_CACHE_DIR: the pod's own folder for thumbnails; none: a bounded memory cache. */
  readonly cacheDir: string | undefined;
  readonly encoderFor: (slot: FfmpegSlot) => Promise<VideoEncoder>;
  readonly log: Logger;
  readonly metrics: RecordingMetrics;
}

/**
 * A thumbnail being made, shared by every request that asked for it meanwhile: it runs in a slot of its own, not
 * the first client's, so that client leaving does not end it for the others; it is stopped only when all have left.
 */
interface ThumbnailRender {
  readonly image: Promise<Buffer>;
  readonly slot: FfmpegSlot;
  waiters: number;
}

/** Runs `work` in a slot of the limit, freed when it is done or the client leaves (what runs then is killed). */
async function inSlot<T>(slots: FfmpegSlots, res: ServerResponse, weight: number, work: (slot: FfmpegSlot) => Promise<T>): Promise<T> {
  const slot = slots.take(res, weight);
  try {
    return await work(slot);
  } finally {
    slot.release();
  }
}

/** Counts a route's requests by the status it answered (an error's, 500 for one that is not an HttpError, `aborted`: the client left first). */
function counted(metrics: RecordingMetrics, route: string, handler: StreamHandler): StreamHandler {
  return async (req, res, url) => {
    try {
      await handler(req, res, url);
      metrics.requests.inc({ route, status: res.headersSent ? String(res.statusCode) : 'aborted' });
    } catch (err) {
      metrics.requests.inc({ route, status: String(err instanceof HttpError ? err.statusCode : 500) });
      throw err;
    }
  };
}

export function recordingRoutes(o: RecordingRoutesOptions): Record<string, StreamHandler> {
  const readerFor = o.readerFor ?? (() => leasedReader(null, null));
  /** A reader for this answer, given back when it is done or its client leaves. */
  const readerOf = (res: ServerResponse): LeasedReader['reader'] => {
    const { reader, release } = readerFor();
    res.once('close', release);
    return reader;
  };
  const layouts = new Mp4Layouts(undefined, (hit) => o.metrics.cache.inc({ cache: 'hls_layout', result: hit ? 'hit' : 'miss' }));
  const thumbnails = new ThumbnailCache(o.cacheDir);
  /** Thumbnails being made, by key: a second request for the same one waits for the first. */
  const making = new Map<string, ThumbnailRender>();

  /** Starts making thumbnail `key`; the image goes into the cache once, whoever waits for it. */
  const startRender = (key: string, f: Footage, keyframe: number, width: number): ThumbnailRender => {
    const slot = o.slots.take(null, 1);
    const timer = o.metrics.render.startTimer({ kind: 'thumbnail' });
    // Leased for the render, not a request: whoever waits, it reads until it is made or stopped.
    const leased = readerFor();
    const render: ThumbnailRender = { image: renderThumbnail(slot, o.ffmpeg, leased.reader.input(f), keyframe, width), slot, waiters: 0 };
    const done = (): void => {
      leased.release();
      slot.release();
      if (making.get(key) === render) making.delete(key);
    };
    render.image.then((image) => {
      timer();
      done();
      thumbnails.put(key, image).catch((err: unknown) => o.log.warn({ err }, 'cannot keep a thumbnail in the cache'));
    }, done);
    making.set(key, render);
    return render;
  };

  /** Waits for thumbnail `key` with the others who asked for it; the last of them to leave stops its ffmpeg. Null: this client left. */
  const awaitRender = async (res: ServerResponse, key: string, render: ThumbnailRender): Promise<Buffer | null> => {
    render.waiters += 1;
    res.once('close', () => {
      render.waiters -= 1;
      if (render.waiters > 0 || !render.slot.open) return;
      // Nobody waits any more: ffmpeg stops (as a clip's does), and the next request starts it again.
      if (making.get(key) === render) making.delete(key);
      render.slot.release();
    });
    try {
      const image = await render.image;
      return res.destroyed ? null : image;
    } catch (err) {
      // Gone, and its render stopped because nobody else waited: nobody to answer, nothing to log.
      if (res.destroyed) return null;
      throw err;
    }
  };

  const playlist = async (res: ServerResponse, url: URL): Promise<void> => {
    const request = parseHlsRequest(url);
    const footage = await o.library.footageBetween(request.device, request.startMs, request.endMs);
    // A token given in the query goes on in the playlist's URIs (a player cannot add headers); the page's cookie needs none.
    const timer = o.metrics.render.startTimer({ kind: 'hls_playlist' });
    const reader = readerOf(res);
    const text = await hlsPlaylist(request, footage, (f) => layouts.of(f, reader.bytes(f)), url.searchParams.get('access_token'));
    timer();
    res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const piece = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const request = parsePieceRequest(url);
    const f = await o.library.file(request.device, request.name);
    if (request.to > (f.endMs - f.startMs) / 1000 + 1) throw new HttpError(400, `to: past the end of ${request.name}`);
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-type': 'video/mp2t', 'cache-control': 'no-store' });
      res.end();
      return;
    }
    await inSlot(o.slots, res, request.video === 'h264' ? TRANSCODE_SLOTS : 1, async (slot) => {
      const duration = (f.endMs - f.startMs) / 1000;
      // Decode and presentation times of both keyframes: ffprobe (MP4's index gives decode times only).
      const reader = readerOf(res);
      const input = reader.input(f);
      // ffprobe reads a path, or the relay's loopback URL (no credential) of a bucket object.
      const probed = f.object ? input : f.path;
      const start = await probeKeyframe(slot, o.ffprobe, probed, request.from);
      const end = request.to < duration - 0.001 ? await probeKeyframe(slot, o.ffprobe, probed, request.to) : null;
      const bounds = { fileStart: start.fileStart, inpoint: request.from > 0 ? start.pts : null, outpoint: end?.keyframe ?? null };
      const encoder = request.video === 'h264' ? await o.encoderFor(slot) : null;
      const timer = o.metrics.render.startTimer({ kind: 'hls_piece' });
      const child = slot.spawn(o.ffmpeg, pieceArguments(f, request, bounds, encoder, input), { stdio: ['pipe', 'pipe', 'pipe'] });
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(pieceScript(f, bounds, input));
      const output = followOutput(child);
      // The head waits for the first bytes: a piece ffmpeg cannot make answers 500 with its reason.
      if (!(await output.started)) throw new Error(`ffmpeg could not make the piece (exit ${await output.exited}): ${output.stderr().trim().split('\n').slice(-2).join(' ')}`);
      res.writeHead(200, { 'content-type': 'video/mp2t', 'cache-control': 'private, max-age=3600' });
      pipeline(child.stdout!, res, () => undefined);
      const code = await output.exited;
      if (code === 0) timer();
      else if (!res.destroyed) {
        o.log.error({ device: request.device, file: request.name, stderr: output.stderr().slice(-500) }, 'HLS piece failed mid-stream');
        res.destroy();
      }
    });
  };

  const thumbnail = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const request = parseThumbnailRequest(url.searchParams);
    const around = await o.library.footageBetween(request.device, request.timeMs, request.timeMs + 1);
    const f: Footage | undefined = around.find((x) => x.startMs <= request.timeMs && request.timeMs < x.endMs);
    if (!f) throw new HttpError(404, `time: no footage of ${request.device} at ${new Date(request.timeMs).toISOString()}`, 'not_found');
    // MP4's own index answers without a process; other containers need an ffprobe, in a slot.
    const reader = readerOf(res);
    const keyframe = (await thumbnailKeyframe(null, o.ffprobe, f, request.timeMs, reader)) ?? (await inSlot(o.slots, res, 1, (slot) => thumbnailKeyframe(slot, o.ffprobe, f, request.timeMs, reader))) ?? 0;
    const key = thumbnailKey(request.device, f.name, keyframe, request.width);
    const headers = {
      etag: `"${key}"`,
      'cache-control': 'private, max-age=86400',
      'x-thumbnail-time': new Date(f.startMs + Math.round(keyframe * 1000)).toISOString(),
    };
    if (req.headers['if-none-match']?.split(',').some((t) => t.trim().replace(/^W\//, '') === `"${key}"`)) {
      o.metrics.cache.inc({ cache: 'thumbnail', result: 'not_modified' });
      res.writeHead(304, headers);
      res.end();
      return;
    }
    let image = await thumbnails.get(key);
    if (image !== null) o.metrics.cache.inc({ cache: 'thumbnail', result: 'hit' });
    else {
      const running = making.get(key);
      o.metrics.cache.inc({ cache: 'thumbnail', result: running ? 'joined' : 'miss' });
      image = await awaitRender(res, key, running ?? startRender(key, f, keyframe, request.width));
      if (image === null) return;
    }
    res.writeHead(200, { ...headers, 'content-type': 'image/jpeg', 'content-length': image.length });
    res.end(req.method === 'HEAD' ? undefined : image);
  };

  const countedPiece = counted(o.metrics, 'piece', piece);
  const countedPlaylist = counted(o.metrics, 'playlist', (_req, res, url) => playlist(res, url));
  return {
    '/api/hls/': (req, res, url) => (url.pathname.endsWith('/piece.ts') ? countedPiece(req, res, url) : countedPlaylist(req, res, url)),
    '/api/thumbnail': counted(o.metrics, 'thumbnail', thumbnail),
  };
}
