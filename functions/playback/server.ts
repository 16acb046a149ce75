// The playback server: routes over the volume's journals, on the project's node:http server.
import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline, Readable } from 'node:stream';
import { HttpError, presentedToken, sameSecret, tokenCookie, startProbeServer, type HostPort, type Logger, type ProbeAnswer, type ProbeRequest, type ProbeServer } from '../lib/index.js';
import { parseFormat, parseRange, planClip, startCut, type ClipRequest } from './clip.js';
import { serveExport } from './export-zip.js';
import { defaultMaxCuts, FfmpegSlots, followOutput, type FfmpegSlot } from './ffmpeg-slots.js';
import { serveFile } from './files.js';
import { openBucketTimeline, type BucketAddress } from '../archive/index.js';
import { leasedReader, ObjectRelay } from './bucket-bytes.js';
import { BucketLibrary } from './bucket-library.js';
import { Catalog } from './catalog.js';
import type { FootageReader } from './clip.js';
import { checkDeviceName, type Footage } from './library.js';
import { parseRoots } from './options.js';
import { timelineWindow } from './local-day.js';
import type { LiveDirectory } from './live-directory.js';
import { liveRoutes } from './live-proxy.js';
import { FAVICON_SVG, HLS_SCRIPT_ROUTE, hlsScript, PAGE_HTML, PAGE_MODULES, pageScript, PLAYERS_SCRIPT_ROUTE, playersScript } from './page.js';
import { playbackMetrics } from './metrics.js';
import { recordingRoutes } from './recording-routes.js';
import { timelineOf } from './timeline.js';
import { Volumes } from './volumes.js';
import { chooseEncoder, listedEncoders, parseHeight, parseVideo, TRANSCODE_SLOTS, TranscodePace, type VideoEncoder } from './transcode.js';

export interface PlaybackSettings {
  /** One folder, or several separated by commas (PLAYBACK_ROOT): each laid out as a recorder's --out. None: the bucket alone. */
  readonly root: string | undefined;
  /** The archive's bucket (PLAYBACK_S3_*) and its key prefix: footage there too, the volume's copy first. */
  readonly bucket?: { readonly address: BucketAddress; readonly prefix: string } | undefined;
  readonly listen: HostPort;
  readonly token: string | undefined;
  /** The Secret the token comes from (PLAYBACK_TOKEN_SECRET), named by the page's token form. */
  readonly tokenSecret?: string | undefined;
  readonly maxClipSeconds: number;
  readonly ffmpeg: string;
  readonly ffprobe: string;
  /** ffmpeg work at once (PLAYBACK_MAX_CUTS); default 2 per usable CPU. */
  readonly maxCuts?: number;
  /** Where the footage index is kept between restarts (PLAYBACK_INDEX_DIR); none: memory only. */
  readonly indexDir?: string | undefined;
  /** The pod's own folder for thumbnails (PLAYBACK_CACHE_DIR); none: a bounded memory cache. */
  readonly cacheDir?: string | undefined;
  /** The page's live grid: where each device's live view is (none: no grid), and the forwarders' LIVE_TOKEN. */
  readonly live?: { readonly directory: LiveDirectory | undefined; readonly token: string | undefined };
}

/** The page's cookie: set once from `/?access_token=`, so the page's own URLs never carry the token. */
const TOKEN_COOKIE = 'shifu_rtsp_playback_token';

export async function startPlaybackServer(settings: PlaybackSettings, log: Logger): Promise<ProbeServer> {
  const metrics = playbackMetrics();
  const volumes = new Volumes({
    roots: settings.root === undefined ? [] : parseRoots(settings.root),
    indexDir: settings.indexDir,
    log,
    onReadError: (device) => metrics.journalErrors.inc({ device }),
    onBytesRead: (device, bytes) => metrics.journalBytes.inc({ device }, bytes),
  });
  // Read while the server already listens: until a journal's first read is done, its answers are 503 with Retry-After.
  volumes.start();
  // The SDK loads only with a bucket; ffmpeg reads its objects through the loopback relay, never with a credential.
  const bucket = settings.bucket
    ? new BucketLibrary({
        timeline: await openBucketTimeline(settings.bucket.address, settings.bucket.prefix),
        onRequest: (kind, outcome) => metrics.bucketRequests.inc({ kind, outcome }),
        onLookup: (hit) => metrics.recordings.cache.inc({ cache: 'bucket_day_file', result: hit ? 'hit' : 'miss' }),
      })
    : null;
  const relay = bucket ? await ObjectRelay.start(bucket, log) : null;
  const catalog = new Catalog(volumes, bucket);
  // Every ffmpeg and ffprobe this server starts takes a slot here first.
  const slots = new FfmpegSlots(settings.maxCuts ?? defaultMaxCuts(), (busy, refused) => {
    metrics.ffmpegBusy.set(busy);
    if (refused) metrics.ffmpegRefused.inc();
  });

  const pace = new TranscodePace();
  // What ffmpeg can encode, asked once (in the first transcode's slot): the choice of encoder is made per request.
  let encoderNames: Promise<Set<string>> | undefined;
  const encoderFor = async (slot: FfmpegSlot): Promise<VideoEncoder> => {
    encoderNames ??= slot.execFile(settings.ffmpeg, ['-hide_banner', '-encoders'], { timeoutMs: 30_000, maxBuffer: 4 << 20 }).then(listedEncoders, (err: unknown) => {
      encoderNames = undefined;
      throw err;
    });
    return chooseEncoder(await encoderNames, existsSync, pace.behind);
  };

  const serveClip = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const query = url.searchParams;
    const device = checkDeviceName(query.get('device'));
    const range = parseRange(query, settings.maxClipSeconds);
    const format = parseFormat(query);
    const video = parseVideo(query);
    const height = parseHeight(query, video);
    // Each file is looked at: one deleted without a journal record leaves the index here (stat on miss).
    const footage = await catalog.footageToCut(device, range.startMs, range.endMs);
    // Taken before the keyframe lookup: its ffprobe reads the segment's index too. Freed when the answer is done
    // or the client leaves, whichever comes first (then what still runs is killed).
    const slot = slots.take(res, video === 'h264' ? TRANSCODE_SLOTS : 1);
    const { reader, release } = leasedReader(bucket, relay);
    res.once('close', release);
    try {
      await cutClip(slot, req, res, { device, format, video, height, ...range }, footage, reader);
    } catch (err) {
      // The client left and its slot killed what ran for it: nobody to answer, nothing to log.
      if (res.destroyed) return;
      throw err;
    } finally {
      slot.release();
      release();
    }
  };

  const cutClip = async (slot: FfmpegSlot, req: IncomingMessage, res: ServerResponse, request: ClipRequest, footage: readonly Footage[], reader: FootageReader): Promise<void> => {
    const { device, format } = request;
    const plan = await planClip(slot, settings.ffprobe, footage, request, reader);
    const encoder = request.video === 'h264' && req.method !== 'HEAD' ? await encoderFor(slot) : null;
    const recorded = footage.find((f) => f.startMs <= plan.startMs && plan.startMs < f.endMs)?.segment.video?.codec ?? 'unknown';
    const headers = {
      'content-type': plan.mimeType,
      'content-disposition': `attachment; filename="${plan.fileName}"`,
      'cache-control': 'no-store',
      'x-clip-start': new Date(plan.startMs).toISOString(),
      'x-clip-end': new Date(plan.endMs).toISOString(),
      'x-clip-duration': plan.mediaSeconds.toFixed(3),
      'x-clip-gap-seconds': plan.gapSeconds.toFixed(3),
      'x-clip-segments': String(plan.parts.length),
      'x-clip-audio': plan.audio.mode === 'aac' ? `aac (re-encoded from ${plan.audio.recorded} for ${format})` : plan.audio.mode,
      'x-clip-video': request.video === 'h264' ? `h264 (re-encoded from ${recorded}${encoder ? ` by ${encoder.name}${encoder.preset ? ` ${encoder.preset}` : ''}` : ''})` : 'copy',
    };
    if (req.method === 'HEAD') {
      res.writeHead(200, headers);
      res.end();
      return;
    }
    const child = startCut(slot, settings.ffmpeg, plan, encoder);
    if (encoder) followPace(child.stdio[3], encoder);
    // A client that leaves stops the cut (its slot kills it): nothing runs for nobody.
    const output = followOutput(child);
    const { exited } = output;
    const stdout = child.stdout!;
    if (!(await output.started) || res.destroyed) {
      const code = await exited;
      if (res.destroyed) return;
      metrics.clips.inc({ format, outcome: 'failed' });
      throw new Error(`ffmpeg could not cut the clip (exit ${code}): ${output.stderr().trim().split('\n').slice(-3).join(' ')}`);
    }
    res.writeHead(200, headers);
    pipeline(stdout, res, () => undefined);
    const code = await exited;
    if (code !== 0) {
      metrics.clips.inc({ format, outcome: res.destroyed && !res.writableFinished ? 'aborted' : 'failed' });
      if (!res.destroyed) {
        log.error({ device, code, stderr: output.stderr().slice(-1000) }, 'clip cut failed mid-stream');
        res.destroy();
      }
      return;
    }
    metrics.clips.inc({ format, outcome: 'complete' });
  };

  /** Feeds a transcode's `-progress` blocks (each ends with a `progress=` line) to the pace. */
  const followPace = (stream: unknown, encoder: VideoEncoder): void => {
    if (!(stream instanceof Readable)) return;
    let text = '';
    stream.on('data', (b: Buffer) => {
      text += b.toString();
      let end: number;
      while ((end = text.search(/progress=\w+\n/)) >= 0) {
        const close = text.indexOf('\n', end) + 1;
        pace.observe(encoder.preset, text.slice(0, close));
        text = text.slice(close);
      }
      if (text.length > 64 * 1024) text = '';
    });
    stream.on('error', () => undefined);
  };

  const live = liveRoutes({ directory: settings.live?.directory, token: settings.live?.token });
  const server = await startProbeServer(
    { listen: settings.listen, log, metrics: metrics.registry },
    {
      open: ['/', '/app.js', ...Object.keys(PAGE_MODULES), PLAYERS_SCRIPT_ROUTE, HLS_SCRIPT_ROUTE, '/favicon.svg', '/api/session', '/health', ...live.open],
      pass: live.pass,
      // The page's URLs carry no token, and no link it follows learns where it came from.
      headers: { 'referrer-policy': 'no-referrer' },
      authorize: (request) => {
        if (settings.token === undefined) return;
        const token = presentedToken(request.headers, request.url, TOKEN_COOKIE);
        if (token === null || !sameSecret(token, settings.token)) throw new HttpError(401, 'authorization: a valid bearer token is required (PLAYBACK_TOKEN)', 'unauthorized');
      },
      get: {
        ...live.get,
        '/health': () => ({ status: 200, body: { ok: true } }),
        '/': ({ url }): ProbeAnswer => {
          // `/?access_token=` once: the token goes into an HttpOnly cookie and out of the address bar and history.
          const given = url.searchParams.get('access_token');
          if (given !== null && settings.token !== undefined) {
            if (!sameSecret(given, settings.token)) throw new HttpError(401, 'access_token: not the token of this server (PLAYBACK_TOKEN)', 'unauthorized');
            const cookie = tokenCookie(TOKEN_COOKIE, given);
            return { status: 303, body: '', contentType: 'text/plain; charset=utf-8', headers: { location: '/', 'set-cookie': cookie, 'cache-control': 'no-store' } };
          }
          return { status: 200, body: PAGE_HTML, contentType: 'text/html; charset=utf-8', headers: { 'cache-control': 'no-cache' } };
        },
        '/app.js': async () => ({ status: 200, body: await pageScript(), contentType: 'text/javascript; charset=utf-8', headers: { 'cache-control': 'no-cache' } }),
        // The page's own modules (hls-player.js, thumbnail.js) and hls.js from its npm package.
        ...Object.fromEntries(
          Object.entries(PAGE_MODULES).map(([route, file]) => [route, async (): Promise<ProbeAnswer> => ({ status: 200, body: await pageScript(file), contentType: 'text/javascript; charset=utf-8', headers: { 'cache-control': 'no-cache' } })]),
        ),
        [PLAYERS_SCRIPT_ROUTE]: async () => ({ status: 200, body: await playersScript(), contentType: 'text/javascript; charset=utf-8', headers: { 'cache-control': 'no-cache' } }),
        [HLS_SCRIPT_ROUTE]: async () => ({ status: 200, body: await hlsScript(), contentType: 'text/javascript; charset=utf-8', headers: { 'cache-control': 'max-age=3600' } }),
        '/favicon.svg': () => ({ status: 200, body: FAVICON_SVG, contentType: 'image/svg+xml', headers: { 'cache-control': 'max-age=86400' } }),
        // Open, and always 200: the page learns whether to ask for the token without a 401 in the browser's console.
        '/api/session': (request) => {
          if (settings.token === undefined) return { status: 200, body: { tokenRequired: false, authorized: true } };
          const token = presentedToken(request.headers, request.url, TOKEN_COOKIE);
          const where = settings.tokenSecret === undefined ? {} : { tokenSecret: settings.tokenSecret };
          return { status: 200, body: { tokenRequired: true, authorized: token !== null && sameSecret(token, settings.token), ...where }, headers: { 'cache-control': 'no-store' } };
        },
        '/api/devices': async () => ({ status: 200, body: { devices: await catalog.devices() } }),
        '/api/timeline': async ({ url }) => {
          const device = checkDeviceName(url.searchParams.get('device'));
          // Without a window: the viewer's day (tz, else UTC) of the last footage, which is what a first look wants.
          const window = timelineWindow(url.searchParams, await catalog.lastFootageEnd(device), Date.now());
          const footage = await catalog.footageBetween(device, window.startMs, window.endMs);
          return { status: 200, body: { ...timelineOf(device, footage, window.startMs, window.endMs), timeZone: window.timeZone, day: window.day } };
        },
      },
      stream: {
        '/api/clip': serveClip,
        '/api/export': (req, res, url) =>
          serveExport({ footage: (device, startMs, endMs) => catalog.footageToCut(device, startMs, endMs), readerFor: () => leasedReader(bucket, relay), slots, ffmpeg: settings.ffmpeg, ffprobe: settings.ffprobe, maxClipSeconds: settings.maxClipSeconds, log, onOutcome: (outcome) => metrics.exports.inc({ outcome }) }, req, res, url),
        ...recordingRoutes({ library: catalog, readerFor: () => leasedReader(bucket, relay), slots, ffmpeg: settings.ffmpeg, ffprobe: settings.ffprobe, cacheDir: settings.cacheDir, encoderFor, log, metrics: metrics.recordings }),
        '/files/': async (req, res, url) => {
          try {
            await serveFile(catalog, req, res, url);
            metrics.files.inc({ status: String(res.statusCode) });
          } catch (err) {
            metrics.files.inc({ status: String(err instanceof HttpError ? err.statusCode : 500) });
            throw err;
          }
        },
      },
    },
  ).catch(async (err: unknown) => {
    await volumes.close();
    await relay?.close();
    bucket?.close();
    await settings.live?.directory?.close();
    throw err;
  });
  return {
    port: server.port,
    close: async () => {
      await server.close();
      // Stops following the journals and writes the on-disk index one last time.
      await volumes.close();
      await relay?.close();
      bucket?.close();
      await settings.live?.directory?.close();
    },
  };
}
