// The routes over recordings that are not one cut file: HLS playlists and their pieces (hls.ts), thumbnails
// (thumbnail.ts). Every ffmpeg and ffprobe they start takes a slot of the server's one limit.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import { HttpError, type Logger, type StreamHandler } from '../lib/index.js';
import { followOutput, type FfmpegSlot, type FfmpegSlots } from './ffmpeg-slots.js';
import { probeKeyframe } from './clip.js';
import { hlsPlaylist, Mp4Layouts, parseHlsRequest, parsePieceRequest, pieceArguments, pieceScript } from './hls.js';
import type { Footage, Library } from './library.js';
import { parseThumbnailRequest, renderThumbnail, ThumbnailCache, thumbnailKey, thumbnailKeyframe } from './thumbnail.js';
import { TRANSCODE_SLOTS, type VideoEncoder } from './transcode.js';

export interface RecordingRoutesOptions {
  /** Where a device's footage is: one root's library, or every root's (volumes.ts). */
  readonly library: Pick<Library, 'footageBetween' | 'file'>;
  readonly slots: FfmpegSlots;
  readonly ffmpeg: string;
  readonly ffprobe: string;
  /** PLAYBACK_CACHE_DIR: the pod's own folder for thumbnails; none: a bounded memory cache. */
  readonly cacheDir: string | undefined;
  readonly encoderFor: (slot: FfmpegSlot) => Promise<VideoEncoder>;
  readonly log: Logger;
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

export function recordingRoutes(o: RecordingRoutesOptions): Record<string, StreamHandler> {
  const layouts = new Mp4Layouts();
  const thumbnails = new ThumbnailCache(o.cacheDir);
  /** Thumbnails being made, by key: a second request for the same one waits for the first. */
  const making = new Map<string, Promise<Buffer>>();

  const playlist = async (res: ServerResponse, url: URL): Promise<void> => {
    const request = parseHlsRequest(url);
    const footage = await o.library.footageBetween(request.device, request.startMs, request.endMs);
    // A token given in the query goes on in the playlist's URIs (a player cannot add headers); the page's cookie needs none.
    const text = await hlsPlaylist(request, footage, (f) => layouts.of(f), url.searchParams.get('access_token'));
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
      const start = await probeKeyframe(slot, o.ffprobe, f.path, request.from);
      const end = request.to < duration - 0.001 ? await probeKeyframe(slot, o.ffprobe, f.path, request.to) : null;
      const bounds = { fileStart: start.fileStart, inpoint: request.from > 0 ? start.pts : null, outpoint: end?.keyframe ?? null };
      const encoder = request.video === 'h264' ? await o.encoderFor(slot) : null;
      const child = slot.spawn(o.ffmpeg, pieceArguments(f, request, bounds, encoder), { stdio: ['pipe', 'pipe', 'pipe'] });
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(pieceScript(f, bounds));
      const output = followOutput(child);
      // The head waits for the first bytes: a piece ffmpeg cannot make answers 500 with its reason.
      if (!(await output.started)) throw new Error(`ffmpeg could not make the piece (exit ${await output.exited}): ${output.stderr().trim().split('\n').slice(-2).join(' ')}`);
      res.writeHead(200, { 'content-type': 'video/mp2t', 'cache-control': 'private, max-age=3600' });
      pipeline(child.stdout!, res, () => undefined);
      if ((await output.exited) !== 0 && !res.destroyed) {
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
    const keyframe = (await thumbnailKeyframe(null, o.ffprobe, f, request.timeMs)) ?? (await inSlot(o.slots, res, 1, (slot) => thumbnailKeyframe(slot, o.ffprobe, f, request.timeMs))) ?? 0;
    const key = thumbnailKey(request.device, f.name, keyframe, request.width);
    const headers = {
      etag: `"${key}"`,
      'cache-control': 'private, max-age=86400',
      'x-thumbnail-time': new Date(f.startMs + Math.round(keyframe * 1000)).toISOString(),
    };
    if (req.headers['if-none-match']?.split(',').some((t) => t.trim().replace(/^W\//, '') === `"${key}"`)) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    let image = await thumbnails.get(key);
    if (image === null) {
      let made = making.get(key);
      if (made === undefined) {
        made = inSlot(o.slots, res, 1, (slot) => renderThumbnail(slot, o.ffmpeg, f.path, keyframe, request.width)).finally(() => making.delete(key));
        making.set(key, made);
      }
      image = await made;
      await thumbnails.put(key, image).catch((err: unknown) => o.log.warn({ err }, 'cannot keep a thumbnail in the cache'));
    }
    res.writeHead(200, { ...headers, 'content-type': 'image/jpeg', 'content-length': image.length });
    res.end(req.method === 'HEAD' ? undefined : image);
  };

  return {
    '/api/hls/': (req, res, url) => (url.pathname.endsWith('/piece.ts') ? piece(req, res, url) : playlist(res, url)),
    '/api/thumbnail': thumbnail,
  };
}
