// The live port: per camera path, HLS (playlists, init sections, segments) and a player page, on node:http;
// its token (LIVE_TOKEN), viewer limit (LIVE_MAX_VIEWERS) and CORS (LIVE_ALLOW_ORIGIN).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorAnswer, HttpError, listenOn, presentedToken, readSmallBody, requestUrl, sameSecret, tokenCookie, type HostPort, type Logger } from '../lib/index.js';
import { HlsStream } from './hls-stream.js';
import { RtpSource } from './rtp-source.js';
import { heightOf, liveEncoder } from './video-plan.js';
import { checkOffer, MAX_OFFER_BYTES, WhepSession, type WebRtcSettings } from './whep.js';
import type { WindowLimits } from './hls-window.js';
import { hlsScript, playerPage, playerScript, playersScript } from './page.js';
import { LIVE_FILE_PATTERN, LL_HLS_PARAMETERS } from '../contracts/index.js';

export interface LiveSettings {
  readonly listen: HostPort;
  /** LIVE_TOKEN: what every media and signalling request must present; none: open. */
  readonly token: string | undefined;
  /** LIVE_MAX_VIEWERS, per camera stream. */
  readonly maxViewers: number;
  /** LIVE_ALLOW_ORIGIN: origins whose pages may call this port (`*`: any); empty: same origin only. */
  readonly allowOrigins: readonly string[];
  readonly webrtc: WebRtcSettings;
}

export interface LiveDeps {
  readonly log: Logger;
  readonly ffmpeg: string;
  /** The forwarder's own RTSP port as a loopback origin (`rtsp://127.0.0.1:8554`): where live view reads. */
  readonly rtspOrigin: string;
  /** The camera login (UserName, PasswordSecret), when the camera needs one. */
  readonly login?: { readonly username: string; readonly password: string };
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
/** The live port's own query parameters (the rest is the camera's): LL-HLS's blocking reload's among them. */
const OWN_PARAMETERS = ['access_token', 'height', 'viewer', 'via', ...LL_HLS_PARAMETERS];
const ASSETS = '/_live/';
const ROUTE = new RegExp(String.raw`^(\/.+?)\/(${LIVE_FILE_PATTERN}|)$`);
/** RFC 3986 path characters, percent escapes included. */
const PATH_SEGMENT = /^[A-Za-z0-9\-._~!$&'()*+,;=:@%]+$/;
/** The page's cookie, set once from `?access_token=` so that its own URLs never carry the token. */
const TOKEN_COOKIE = 'shifu_rtsp_live_token';
/**
 * How long an answer may take to be read: a segment is at most a GOP or two, and a viewer that cannot take it
 * in this long is not watching live; its connection is cut, the others never wait for it.
 */
const SEND_TIMEOUT_MS = 10_000;
/** A rough figure for the multivariant playlist's required BANDWIDTH before any segment is measured. */
const DEFAULT_BANDWIDTH = 2_000_000;

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

/** The camera's own query (`channel=1&subtype=0`), without our parameters. */
function cameraQuery(url: URL): URLSearchParams {
  const query = new URLSearchParams(url.searchParams);
  for (const name of OWN_PARAMETERS) query.delete(name);
  return query;
}

const withQuery = (query: URLSearchParams): string => (query.size === 0 ? '' : `?${query.toString()}`);

/** A blocking playlist reload waits at most three target durations (RFC 8216bis 6.2.5.2), then gets 503. */
const blockMs = (stream: HlsStream): number => 3_000 * stream.window.targetSeconds;

/**
 * LL-HLS's blocking playlist reload: `_HLS_msn` (and `_HLS_part`) ask for a playlist holding that segment (part).
 * Undefined without them; 400 naming the parameter when they are not numbers, when `_HLS_part` comes alone, or
 * when the segment is more than two past the live edge (RFC 8216bis 6.2.5.2).
 */
export function blockingReload(url: URL, edgeSequence: number): { msn: number; part: number | undefined } | undefined {
  const msnText = url.searchParams.get('_HLS_msn');
  const partText = url.searchParams.get('_HLS_part');
  if (msnText === null) {
    if (partText !== null) throw new HttpError(400, '_HLS_part: given without _HLS_msn');
    return undefined;
  }
  const number = (name: string, text: string): number => {
    if (!/^\d{1,12}$/.test(text)) throw new HttpError(400, `${name}: ${JSON.stringify(text.slice(0, 20))} is not a whole number`);
    return Number(text);
  };
  const msn = number('_HLS_msn', msnText);
  const part = partText === null ? undefined : number('_HLS_part', partText);
  if (msn > edgeSequence + 2) throw new HttpError(400, `_HLS_msn: ${msn} is more than two segments past the live edge (${edgeSequence})`);
  return { msn, part };
}

/** CORS headers for a request from `origin`: none unless LIVE_ALLOW_ORIGIN lets it in. */
function corsHeaders(origin: string | undefined, allowed: readonly string[]): Record<string, string> {
  if (origin === undefined) return {};
  if (allowed.includes(origin)) return { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', 'access-control-expose-headers': 'location, etag, link', vary: 'Origin' };
  if (allowed.includes('*')) return { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'location, etag, link' };
  return {};
}

export async function startLiveServer(settings: LiveSettings, deps: LiveDeps): Promise<LiveServer> {
  const { log } = deps;
  const encoder = await liveEncoder(deps.ffmpeg, log);
  const streams = new Map<string, HlsStream>();
  const sources = new Map<string, Promise<RtpSource>>();
  const sessions = new Map<string, WhepSession>();
  const viewersOf = (key: string): number => (streams.get(key)?.viewerCount ?? 0) + [...sessions.values()].filter((s) => s.key === key).length;
  const checkRoom = (key: string): void => {
    if (viewersOf(key) >= settings.maxViewers) {
      throw new HttpError(503, `viewers: ${settings.maxViewers} watch ${key} already (LIVE_MAX_VIEWERS)`, 'too_many_viewers', { 'retry-after': '10' });
    }
  };

  /** The camera stream's RTP source for WebRTC viewers, opened by the first of them. */
  const sourceOf = async (key: string, camera: string, height: number | undefined): Promise<RtpSource> => {
    const open = await sources.get(key);
    if (open && !open.isEnded) return open;
    if (sources.size >= MAX_STREAMS) throw new HttpError(503, `stream: ${MAX_STREAMS} camera streams are open for live view already`, 'too_many_streams', { 'retry-after': '10' });
    const opening = RtpSource.open({
      key,
      source: `${deps.rtspOrigin}${camera}`,
      video: { transcode: height !== undefined, encoder, ...(height === undefined ? {} : { height }) },
      ffmpeg: deps.ffmpeg,
      ...(deps.login ? { login: deps.login } : {}),
      log,
      onEnd: (s) => {
        void sources.get(s.key)?.then((current) => {
          if (current === s) sources.delete(s.key);
        });
      },
    });
    sources.set(key, opening);
    opening.catch(() => sources.delete(key));
    log.info({ stream: key }, 'live rtp source opened');
    return opening;
  };

  /** The offer, at most MAX_OFFER_BYTES of application/sdp. */
  const readOffer = async (req: IncomingMessage): Promise<string> => {
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/sdp') throw new HttpError(415, `content-type: a WHEP offer is application/sdp, not ${JSON.stringify(type ?? '')}`, 'unsupported_media_type');
    return (await readSmallBody(req, MAX_OFFER_BYTES, 'an offer')).toString('utf8');
  };

  const streamOf = (key: string, camera: string, height: number | undefined): HlsStream => {
    const open = streams.get(key);
    if (open && !open.isEnded) return open;
    if (streams.size >= MAX_STREAMS) throw new HttpError(503, `stream: ${MAX_STREAMS} camera streams are open for live view already`, 'too_many_streams', { 'retry-after': '10' });
    const stream = new HlsStream({
      key,
      source: `${deps.rtspOrigin}${camera}`,
      video: { transcode: height !== undefined, encoder, ...(height === undefined ? {} : { height }) },
      ffmpeg: deps.ffmpeg,
      ...(deps.login ? { login: deps.login } : {}),
      maxViewers: settings.maxViewers,
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

  const authorize = (req: IncomingMessage, url: URL): void => {
    if (settings.token === undefined) return;
    const given = presentedToken(req.headers, url, TOKEN_COOKIE);
    if (given === null || !sameSecret(given, settings.token)) {
      throw new HttpError(401, 'authorization: a valid bearer token is required (LIVE_TOKEN): Authorization: Bearer, or ?access_token= once on the page', 'unauthorized', { 'www-authenticate': 'Bearer realm="live"' });
    }
  };

  const answer = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const send = (status: number, type: string, body: string | Buffer, headers: Readonly<Record<string, string>> = {}): void => {
      res.writeHead(status, { 'content-type': type, 'content-length': String(Buffer.byteLength(body)), ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
      if (res.writableFinished) return;
      // A viewer that stops reading is dropped, so that its connection does not hold segments that left the window.
      const stalled = setTimeout(() => {
        if (res.writableFinished) return;
        log.info({ route: url.pathname, bytes: Buffer.byteLength(body), reason: `not read within ${SEND_TIMEOUT_MS / 1000} s` }, 'live viewer dropped');
        res.destroy();
      }, SEND_TIMEOUT_MS);
      stalled.unref();
      res.once('close', () => clearTimeout(stalled));
    };
    if (req.method === 'OPTIONS') {
      // A CORS preflight: answered for the origins LIVE_ALLOW_ORIGIN names, refused for the rest.
      if (Object.keys(corsHeaders(req.headers.origin, settings.allowOrigins)).length === 0) {
        throw new HttpError(403, `origin: ${String(req.headers.origin ?? 'none').slice(0, 200)} may not call this port (LIVE_ALLOW_ORIGIN)`, 'forbidden_origin');
      }
      res.writeHead(204, {
        'access-control-allow-methods': 'GET, HEAD, POST, PATCH, DELETE, OPTIONS',
        'access-control-allow-headers': 'authorization, content-type, if-match',
        'access-control-max-age': '600',
      });
      res.end();
      return;
    }
    const path = url.pathname;
    const whep = /\/whep(\/[0-9a-f]{24})?$/.test(path);
    const allowed = whep ? (path.endsWith('/whep') ? ['POST', 'OPTIONS'] : ['DELETE', 'OPTIONS']) : ['GET', 'HEAD', 'OPTIONS'];
    if (!allowed.includes(req.method ?? '')) {
      throw new HttpError(405, `method: ${req.method ?? ''} is not served at ${whep ? 'a WHEP URL' : 'this URL'}; it takes ${allowed.join(', ')}`, 'method_not_allowed', { allow: allowed.join(', ') });
    }
    if (path === `${ASSETS}hls.min.js`) return send(200, 'text/javascript; charset=utf-8', await hlsScript(), { 'cache-control': 'max-age=3600' });
    if (path === `${ASSETS}player.js`) return send(200, 'text/javascript; charset=utf-8', await playerScript(), { 'cache-control': 'no-cache' });
    if (path === `${ASSETS}players.js`) return send(200, 'text/javascript; charset=utf-8', await playersScript(), { 'cache-control': 'no-cache' });
    const route = ROUTE.exec(path);
    if (!route) throw new HttpError(404, `no route ${path.slice(0, 200)}: live view is at /<camera path>/ (page) and /<camera path>/index.m3u8 (HLS)`, 'not_found');
    const cameraPath = checkCameraPath(route[1]!);
    const query = cameraQuery(url);
    const camera = `${cameraPath}${withQuery(query)}`;
    const height = heightOf(url.searchParams.get('height'));
    // Each picture height is a stream of its own (its own encoder, shared by its viewers).
    const key = height === undefined ? camera : `${camera} (height ${height})`;
    const file = route[2]!;
    if (file === '') {
      const given = url.searchParams.get('access_token');
      if (given !== null && settings.token !== undefined) {
        // The token once in the page's URL: kept in an HttpOnly cookie, and the page loaded again without it.
        if (!sameSecret(given, settings.token)) throw new HttpError(401, 'access_token: not the token of this port (LIVE_TOKEN)', 'unauthorized');
        const rest = new URLSearchParams(url.searchParams);
        rest.delete('access_token');
        return send(303, 'text/plain; charset=utf-8', 'see other\n', { location: `${cameraPath}/${withQuery(rest)}`, 'set-cookie': tokenCookie(TOKEN_COOKIE, given), 'cache-control': 'no-store' });
      }
      const depth = cameraPath.split('/').length - 1;
      return send(200, 'text/html; charset=utf-8', playerPage(cameraPath, '../'.repeat(depth)), { 'cache-control': 'no-cache' });
    }
    authorize(req, url);
    // A client that put the token in its URL (it cannot set a header) gets it on the URLs it is sent on to.
    const passOn = new URLSearchParams(query);
    if (height !== undefined) passOn.set('height', String(height));
    const urlToken = url.searchParams.get('access_token');
    if (urlToken !== null) passOn.set('access_token', urlToken);
    if (file === 'whep') {
      const offer = await readOffer(req);
      checkOffer(offer);
      checkRoom(key);
      const source = await sourceOf(key, camera, height);
      const { session, answer } = await WhepSession.answer(offer, key, source, settings.webrtc, log, (s) => sessions.delete(s.id));
      sessions.set(session.id, session);
      log.info({ stream: key, session: session.id }, 'whep session opened');
      return send(201, 'application/sdp', answer, { location: `${cameraPath}/whep/${session.id}${withQuery(passOn)}`, 'cache-control': 'no-store' });
    }
    if (route[7] !== undefined) {
      const session = sessions.get(route[7]);
      if (!session || session.key !== key) throw new HttpError(404, 'session: no such WHEP session (closed, or never made)', 'not_found');
      session.close('deleted by the viewer');
      return send(200, 'text/plain; charset=utf-8', 'closed\n');
    }
    if (file === 'index.m3u8') {
      // The multivariant playlist gives each viewer a media playlist of its own, so viewers can be counted.
      // It waits for the first segment, so that a camera's refusal (404, a failed login) is this request's answer.
      const stream = streamOf(key, camera, height);
      stream.touch();
      await stream.ready();
      checkRoom(key);
      const viewer = stream.viewer(undefined);
      const media = new URLSearchParams(passOn);
      media.set('viewer', viewer);
      const bandwidth = Math.round(stream.window.bitsPerSecond() ?? DEFAULT_BANDWIDTH);
      return send(200, 'application/vnd.apple.mpegurl', `#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-STREAM-INF:BANDWIDTH=${bandwidth}\nlive.m3u8?${media.toString()}\n`, { 'cache-control': 'no-store' });
    }
    if (file === 'live.m3u8') {
      const stream = streamOf(key, camera, height);
      stream.viewer(url.searchParams.get('viewer') ?? undefined);
      await stream.ready();
      const reload = blockingReload(url, stream.window.edgeSequence);
      if (reload && !(await stream.waitFor(() => stream.window.holds(reload.msn, reload.part), blockMs(stream)))) {
        throw new HttpError(503, `_HLS_msn: segment ${reload.msn}${reload.part === undefined ? '' : ` part ${reload.part}`} of ${key} did not come within ${blockMs(stream) / 1000} s`, 'not_yet', { 'retry-after': '1' });
      }
      return send(200, 'application/vnd.apple.mpegurl', stream.window.playlist(withQuery(passOn)), { 'cache-control': 'no-cache' });
    }
    if (route[3] !== undefined) {
      const init = openStream(key, 'init').window.init(Number(route[3]));
      if (!init) throw new HttpError(404, `init: ${file} has left the live window`, 'not_found');
      return send(200, 'video/mp4', init, { 'cache-control': 'max-age=60' });
    }
    if (route[5] !== undefined) {
      // A part, perhaps the one the playlist hinted: it is answered the moment ffmpeg has cut it.
      const stream = openStream(key, 'part');
      const [sequence, index] = [Number(route[5]), Number(route[6])];
      if (stream.window.part(sequence, index).state === 'coming') await stream.waitFor(() => stream.window.part(sequence, index).state !== 'coming', blockMs(stream));
      const found = stream.window.part(sequence, index);
      if (found.state !== 'ready') throw new HttpError(404, `part: ${file} is not in the live window`, 'not_found');
      return send(200, 'video/iso.segment', found.part.bytes, { 'cache-control': 'max-age=60' });
    }
    const segment = openStream(key, 'segment').window.segment(Number(route[4]));
    if (!segment) throw new HttpError(404, `segment: ${file} is not in the live window`, 'not_found');
    return send(200, 'video/iso.segment', segment.bytes, { 'cache-control': 'max-age=60' });
  };

  const server = await listenOn(
    settings.listen,
    (req, res) => {
      // Only a WHEP offer has a body we read; others are drained, so keep-alive works.
      if (req.method !== 'POST') req.resume();
      else res.on('finish', () => req.resume());
      for (const [name, value] of Object.entries(corsHeaders(req.headers.origin, settings.allowOrigins))) res.setHeader(name, value);
      res.setHeader('referrer-policy', 'no-referrer');
      let url: URL;
      const fail = (err: unknown): void => {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        // The path only: a query may carry a token.
        const failed = errorAnswer(err, log, { route: (req.url ?? '/').split('?')[0] });
        res.writeHead(failed.status, { 'content-type': 'application/json; charset=utf-8', ...failed.headers });
        res.end(JSON.stringify(failed.body));
      };
      try {
        url = requestUrl(req);
      } catch (err) {
        fail(err);
        return;
      }
      answer(req, res, url).catch(fail);
    },
    log,
  );
  return {
    port: server.port,
    streams: () => streams.size,
    close: async () => {
      for (const session of [...sessions.values()]) session.close('shutdown');
      for (const stream of [...streams.values()]) stream.close('shutdown');
      for (const source of [...sources.values()]) void source.then((s) => s.close('shutdown'), () => undefined);
      await server.close();
    },
  };
}
