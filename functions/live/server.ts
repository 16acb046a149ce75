// The live port: per camera path, HLS (playlist, init sections, segments) and a player page, on node:http.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorAnswer, HttpError, listenOn, requestUrl, type HostPort, type Logger } from '../lib/index.js';
import { HlsStream } from './hls-stream.js';
import type { WindowLimits } from './hls-window.js';
import { hlsScript, playerPage, playerScript } from './page.js';

export interface LiveSettings {
  readonly listen: HostPort;
}

export interface LiveDeps {
  readonly log: Logger;
  readonly ffmpeg: string;
  /** The forwarder's own RTSP port as a loopback origin (`rtsp://127.0.0.1:8554`): where live view reads. */
  readonly rtspOrigin: string;
}

export interface LiveServer {
  readonly port: number;
  /** Camera streams open for live view now. */
  streams(): number;
  close(): Promise<void>;
}

/** Six segments: a player starts three back from the live edge and must find the ones it has not fetched. */
const WINDOW: WindowLimits = { segments: 6, bytes: 64 * 1024 * 1024 };
/** Distinct camera streams open at once: every one is an ffmpeg, and a path is the client's text. */
const MAX_STREAMS = 16;
const MAX_PATH_LENGTH = 1024;
/** Query parameters of ours, never passed to the camera. */
const OWN_PARAMETERS = ['access_token', 'height'];
const ASSETS = '/_live/';
const ROUTE = /^(\/.+?)\/(index\.m3u8|init-(\d{1,9})\.mp4|seg-(\d{1,12})\.m4s|)$/;
/** RFC 3986 path characters, percent escapes included. */
const PATH_SEGMENT = /^[A-Za-z0-9\-._~!$&'()*+,;=:@%]+$/;

/** The camera path of a live URL, or 400 naming the path. */
export function checkCameraPath(path: string): string {
  if (path.length > MAX_PATH_LENGTH) throw new HttpError(400, `path: longer than ${MAX_PATH_LENGTH} characters`);
  for (const segment of path.slice(1).split('/')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      throw new HttpError(400, 'path: a percent escape that is not UTF-8');
    }
    if (!PATH_SEGMENT.test(segment) || decoded === '.' || decoded === '..' || /[\u0000-\u001f\u007f]/.test(decoded)) {
      throw new HttpError(400, `path: ${JSON.stringify(segment.slice(0, 64))} is not a camera path segment`);
    }
  }
  return path;
}

/** The camera's own query (`?channel=1&subtype=0`), without our parameters; empty when none is left. */
function cameraQuery(url: URL): string {
  const query = new URLSearchParams(url.searchParams);
  for (const name of OWN_PARAMETERS) query.delete(name);
  const text = query.toString();
  return text === '' ? '' : `?${text}`;
}

export async function startLiveServer(settings: LiveSettings, deps: LiveDeps): Promise<LiveServer> {
  const { log } = deps;
  const streams = new Map<string, HlsStream>();

  const streamOf = (key: string): HlsStream => {
    const open = streams.get(key);
    if (open && !open.isEnded) return open;
    if (streams.size >= MAX_STREAMS) throw new HttpError(503, `stream: ${MAX_STREAMS} camera streams are open for live view already`, 'too_many_streams', { 'retry-after': '10' });
    const stream = new HlsStream({
      key,
      source: `${deps.rtspOrigin}${key}`,
      ffmpeg: deps.ffmpeg,
      limits: WINDOW,
      log,
      onEnd: (s) => {
        if (streams.get(s.key) === s) streams.delete(s.key);
      },
    });
    streams.set(key, stream);
    log.info({ stream: key }, 'live stream opened');
    return stream;
  };

  const openStream = (key: string, what: string): HlsStream => {
    const stream = streams.get(key);
    if (!stream || stream.isEnded) throw new HttpError(404, `${what}: no live stream ${key} is open; load its index.m3u8 first`, 'not_found');
    stream.touch();
    return stream;
  };

  const answer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const send = (status: number, type: string, body: string | Buffer, headers: Readonly<Record<string, string>> = {}): void => {
      res.writeHead(status, { 'content-type': type, 'content-length': String(Buffer.byteLength(body)), ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `method: ${req.method ?? ''} is not served here; the live URLs take GET`, 'method_not_allowed', { allow: 'GET, HEAD' });
    const url = requestUrl(req);
    const path = url.pathname;
    if (path === `${ASSETS}hls.min.js`) return send(200, 'text/javascript; charset=utf-8', await hlsScript(), { 'cache-control': 'max-age=3600' });
    if (path === `${ASSETS}player.js`) return send(200, 'text/javascript; charset=utf-8', await playerScript(), { 'cache-control': 'no-cache' });
    const route = ROUTE.exec(path);
    if (!route) throw new HttpError(404, `no route ${path.slice(0, 200)}: live view is at /<camera path>/ (page) and /<camera path>/index.m3u8 (HLS)`, 'not_found');
    const cameraPath = checkCameraPath(route[1]!);
    const query = cameraQuery(url);
    const key = `${cameraPath}${query}`;
    const file = route[2]!;
    if (file === '') {
      const depth = cameraPath.split('/').length - 1;
      return send(200, 'text/html; charset=utf-8', playerPage(cameraPath, '../'.repeat(depth)), { 'cache-control': 'no-cache' });
    }
    if (file === 'index.m3u8') {
      const stream = streamOf(key);
      stream.touch();
      await stream.ready();
      return send(200, 'application/vnd.apple.mpegurl', stream.window.playlist(query), { 'cache-control': 'no-cache' });
    }
    if (route[3] !== undefined) {
      const init = openStream(key, 'init').window.init(Number(route[3]));
      if (!init) throw new HttpError(404, `init: ${file} has left the live window`, 'not_found');
      return send(200, 'video/mp4', init, { 'cache-control': 'max-age=60' });
    }
    const segment = openStream(key, 'segment').window.segment(Number(route[4]));
    if (!segment) throw new HttpError(404, `segment: ${file} is not in the live window`, 'not_found');
    return send(200, 'video/iso.segment', segment.bytes, { 'cache-control': 'max-age=60' });
  };

  const server = await listenOn(
    settings.listen,
    (req, res) => {
      req.resume();
      answer(req, res).catch((err: unknown) => {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        // The path only: a query may carry a token.
        const failed = errorAnswer(err, log, { route: (req.url ?? '/').split('?')[0] });
        res.writeHead(failed.status, { 'content-type': 'application/json; charset=utf-8', ...failed.headers });
        res.end(JSON.stringify(failed.body));
      });
    },
    log,
  );
  return {
    port: server.port,
    streams: () => streams.size,
    close: async () => {
      for (const stream of [...streams.values()]) stream.close('shutdown');
      await server.close();
    },
  };
}
