// The playback server: routes over the volume's journals, on the project's node:http server.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import { Counter, Gauge, type Registry } from 'prom-client';
import { createMetricsRegistry, HttpError, presentedToken, sameSecret, tokenCookie, startProbeServer, type HostPort, type Logger, type ProbeAnswer, type ProbeRequest, type ProbeServer } from '../lib/index.js';
import { parseFormat, parseRange, planClip, startCut, type ClipRequest } from './clip.js';
import { defaultMaxCuts, FfmpegSlots, type FfmpegSlot } from './ffmpeg-slots.js';
import { serveFile } from './files.js';
import { checkDeviceName, Library, type Footage } from './library.js';
import { PAGE_HTML, pageScript } from './page.js';
import { timelineOf } from './timeline.js';

export interface PlaybackSettings {
  readonly root: string;
  readonly listen: HostPort;
  readonly token: string | undefined;
  readonly maxClipSeconds: number;
  readonly ffmpeg: string;
  readonly ffprobe: string;
  /** ffmpeg work at once (PLAYBACK_MAX_CUTS); default 2 per usable CPU. */
  readonly maxCuts?: number;
}

const DAY_MS = 24 * 3600 * 1000;

/** The page's cookie: set once from `/?access_token=`, so the page's own URLs never carry the token. */
const TOKEN_COOKIE = 'shifu_rtsp_playback_token';

function playbackMetrics(): { registry: Registry; clips: Counter<'format' | 'outcome'>; files: Counter<'status'>; ffmpegBusy: Gauge; ffmpegRefused: Counter } {
  const registry = createMetricsRegistry('shifu_rtsp_playback_process_');
  return {
    registry,
    clips: new Counter({ name: 'shifu_rtsp_playback_clips_total', help: 'Clips cut, by format and outcome (complete, aborted, failed)', labelNames: ['format', 'outcome'], registers: [registry] }),
    files: new Counter({ name: 'shifu_rtsp_playback_file_requests_total', help: 'Segment file requests, by status code', labelNames: ['status'], registers: [registry] }),
    ffmpegBusy: new Gauge({ name: 'shifu_rtsp_playback_ffmpeg_slots_busy', help: 'Requests whose ffmpeg work runs now (at most PLAYBACK_MAX_CUTS)', registers: [registry] }),
    ffmpegRefused: new Counter({ name: 'shifu_rtsp_playback_ffmpeg_refused_total', help: 'Requests answered 503 because every ffmpeg slot was busy', registers: [registry] }),
  };
}

export async function startPlaybackServer(settings: PlaybackSettings, log: Logger): Promise<ProbeServer> {
  const library = new Library(settings.root);
  const metrics = playbackMetrics();
  // Every ffmpeg and ffprobe this server starts takes a slot here first.
  const slots = new FfmpegSlots(settings.maxCuts ?? defaultMaxCuts(), (busy, refused) => {
    metrics.ffmpegBusy.set(busy);
    if (refused) metrics.ffmpegRefused.inc();
  });

  const serveClip = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const query = url.searchParams;
    const device = checkDeviceName(query.get('device'));
    const range = parseRange(query, settings.maxClipSeconds);
    const format = parseFormat(query);
    const footage = await library.footage(device);
    // Taken before the keyframe lookup: its ffprobe reads the segment's index too. Freed when the answer is done
    // or the client leaves, whichever comes first (then what still runs is killed).
    const slot = slots.take(res);
    try {
      await cutClip(slot, req, res, { device, format, ...range }, footage);
    } catch (err) {
      // The client left and its slot killed what ran for it: nobody to answer, nothing to log.
      if (res.destroyed) return;
      throw err;
    } finally {
      slot.release();
    }
  };

  const cutClip = async (slot: FfmpegSlot, req: IncomingMessage, res: ServerResponse, request: ClipRequest, footage: readonly Footage[]): Promise<void> => {
    const { device, format } = request;
    const plan = await planClip(slot, settings.ffprobe, footage, request);
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
    };
    if (req.method === 'HEAD') {
      res.writeHead(200, headers);
      res.end();
      return;
    }
    const child = startCut(slot, settings.ffmpeg, plan);
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => {
      stderr = (stderr + b.toString()).slice(-4000);
    });
    // A client that leaves stops the cut (its slot kills it): nothing runs for nobody.
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    const stdout = child.stdout!;
    // The head waits for the first bytes, so that a cut that fails at once answers 500 with ffmpeg's reason.
    const started = await new Promise<boolean>((resolve) => {
      stdout.once('readable', () => resolve(true));
      void exited.then(() => resolve(false));
    });
    if (!started || res.destroyed) {
      const code = await exited;
      if (res.destroyed) return;
      metrics.clips.inc({ format, outcome: 'failed' });
      throw new Error(`ffmpeg could not cut the clip (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' ')}`);
    }
    res.writeHead(200, headers);
    pipeline(stdout, res, () => undefined);
    const code = await exited;
    if (code !== 0) {
      metrics.clips.inc({ format, outcome: res.destroyed && !res.writableFinished ? 'aborted' : 'failed' });
      if (!res.destroyed) {
        log.error({ device, code, stderr: stderr.slice(-1000) }, 'clip cut failed mid-stream');
        res.destroy();
      }
      return;
    }
    metrics.clips.inc({ format, outcome: 'complete' });
  };

  return startProbeServer(
    { listen: settings.listen, log, metrics: metrics.registry },
    {
      open: ['/', '/app.js', '/health'],
      // The page's URLs carry no token, and no link it follows learns where it came from.
      headers: { 'referrer-policy': 'no-referrer' },
      authorize: (request) => {
        if (settings.token === undefined) return;
        const token = presentedToken(request.headers, request.url, TOKEN_COOKIE);
        if (token === null || !sameSecret(token, settings.token)) throw new HttpError(401, 'authorization: a valid bearer token is required (PLAYBACK_TOKEN)', 'unauthorized');
      },
      get: {
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
        '/api/devices': async () => ({ status: 200, body: { devices: await library.devices() } }),
        '/api/timeline': async ({ url }) => {
          const query = url.searchParams;
          const device = checkDeviceName(query.get('device'));
          const time = (name: string, fallback: number): number => {
            const v = query.get(name);
            if (v === null || v === '') return fallback;
            const ms = Date.parse(v);
            if (!Number.isFinite(ms)) throw new HttpError(400, `${name}: expected an ISO 8601 time, e.g. 2026-11-24T00:00:00Z`);
            return ms;
          };
          const footage = await library.footage(device);
          // Without a window: the day of the last footage (UTC), which is what a first look wants.
          const lastEnd = footage.at(-1)?.endMs ?? Date.now();
          const startMs = time('start', Math.floor(lastEnd / DAY_MS) * DAY_MS);
          const endMs = time('end', startMs + DAY_MS);
          if (endMs <= startMs) throw new HttpError(400, 'end: must be after start');
          return { status: 200, body: timelineOf(device, footage, startMs, endMs) };
        },
      },
      stream: {
        '/api/clip': serveClip,
        '/files/': async (req, res, url) => {
          try {
            await serveFile(library, req, res, url);
            metrics.files.inc({ status: String(res.statusCode) });
          } catch (err) {
            metrics.files.inc({ status: String(err instanceof HttpError ? err.statusCode : 500) });
            throw err;
          }
        },
      },
    },
  );
}
