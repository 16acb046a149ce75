// The page's live view, same-origin: /live/<device>/<file> is sent on to that device's forwarder live port
// (HLS playlists, init sections and segments; WHEP offers and deletes), with the live token in a header.
// WebRTC media does not come here: it goes straight between the browser and the forwarder's UDP ports.
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import { HttpError, http, readSmallBody, requestFor, type ProbeHandler, type StreamHandler } from '../lib/index.js';
import { checkDeviceName } from './library.js';
import type { LiveCamera, LiveDirectory } from './live-directory.js';
import { LIVE_FILE_PATTERN, LL_HLS_PARAMETERS } from '../contracts/index.js';

export const LIVE_PREFIX = '/live/';
/** What the forwarder's live port serves per camera path, and nothing else of it. */
const FILE = new RegExp(`^(${LIVE_FILE_PATTERN})$`);
/** The request's own parameters passed on (LL-HLS's blocking reload's too); the camera's query comes from the
 * directory, never from the page. */
const PASSED_PARAMETERS = ['viewer', 'height', ...LL_HLS_PARAMETERS];
const PASSED_REQUEST_HEADERS = ['content-type', 'accept', 'if-match'];
const PASSED_ANSWER_HEADERS = ['content-type', 'content-length', 'cache-control', 'retry-after', 'allow', 'etag'];
/** The forwarder's own limit on an offer; the proxy holds no more than that either. */
const MAX_OFFER_BYTES = 64 * 1024;
/** The forwarder waits up to 20 s for a camera's first segment: a little more for its answer. */
const ANSWER_TIMEOUT_MS = 30_000;

export interface LiveProxyOptions {
  /** None: the page shows no live grid (neither PLAYBACK_LIVE_URLS nor PLAYBACK_LIVE_NAMESPACE is set). */
  readonly directory: LiveDirectory | undefined;
  /** PLAYBACK_LIVE_TOKEN: the forwarders' LIVE_TOKEN, sent as a bearer token; never in a URL. */
  readonly token: string | undefined;
}

/** The forwarder URL for `/live/<device>/<file>?query`. */
export function upstreamUrl(camera: LiveCamera, file: string, query: URLSearchParams): URL {
  const url = new URL(camera.base.href);
  url.pathname = `${camera.base.pathname}/${file}`;
  for (const name of PASSED_PARAMETERS) {
    const value = query.get(name);
    if (value !== null && !url.searchParams.has(name)) url.searchParams.set(name, value);
  }
  return url;
}

function methodsOf(file: string): readonly string[] {
  if (file === 'whep') return ['POST'];
  if (file.startsWith('whep/')) return ['DELETE'];
  return ['GET', 'HEAD'];
}


/** The pass route's handler: `/live/<device>/<file>`. */
export function liveProxy(options: LiveProxyOptions): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> {
  // Playlists are asked for every second or two per viewer: connections to the forwarders are kept.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  return async (req, res, url) => {
    const rest = url.pathname.slice(LIVE_PREFIX.length);
    const slash = rest.indexOf('/');
    const device = checkDeviceName(slash < 0 ? rest : rest.slice(0, slash));
    const file = slash < 0 ? '' : rest.slice(slash + 1);
    if (!FILE.test(file)) throw new HttpError(404, `live: no live file ${JSON.stringify(file.slice(0, 100))}; the page plays /live/<device>/index.m3u8 and /live/<device>/whep`, 'not_found');
    const methods = methodsOf(file);
    if (!methods.includes(req.method ?? '')) {
      throw new HttpError(405, `method: ${req.method ?? ''} is not served at ${file}; it takes ${methods.join(', ')}`, 'method_not_allowed', { allow: methods.join(', ') });
    }
    if (options.directory === undefined) throw new HttpError(404, 'live: this server shows no live view (set PLAYBACK_LIVE_URLS or PLAYBACK_LIVE_NAMESPACE)', 'not_found');
    const camera = options.directory.camera(device);
    const body = req.method === 'POST' ? await readSmallBody(req, MAX_OFFER_BYTES, 'an offer') : undefined;
    const target = upstreamUrl(camera, file, url.searchParams);
    const headers: OutgoingHttpHeaders = {};
    for (const name of PASSED_REQUEST_HEADERS) if (req.headers[name] !== undefined) headers[name] = req.headers[name];
    if (body !== undefined) headers['content-length'] = String(body.length);
    // The page's own credentials (its cookie, its bearer token) stay here; the forwarder gets its own token.
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    const answer = await new Promise<IncomingMessage>((resolve, reject) => {
      const upstream = requestFor(target)(target, { method: req.method, headers, agent: target.protocol === 'http:' ? agent : undefined, timeout: ANSWER_TIMEOUT_MS }, resolve);
      upstream.on('timeout', () => upstream.destroy(new HttpError(504, `live: the live view of ${device} did not answer within ${ANSWER_TIMEOUT_MS / 1000} s`, 'gateway_timeout')));
      upstream.on('error', (err) => reject(err instanceof HttpError ? err : new HttpError(502, `live: cannot reach the live view of ${device} (${err.message})`, 'bad_gateway')));
      // A viewer that leaves ends its request to the forwarder too.
      res.on('close', () => {
        if (!res.writableFinished) upstream.destroy();
      });
      upstream.end(body);
    });
    if (answer.statusCode === 401) {
      answer.resume();
      throw new HttpError(502, `live: the forwarder of ${device} refused the live token (PLAYBACK_LIVE_TOKEN must be its LIVE_TOKEN)`, 'bad_gateway');
    }
    const passed: OutgoingHttpHeaders = {};
    for (const name of PASSED_ANSWER_HEADERS) if (answer.headers[name] !== undefined) passed[name] = answer.headers[name];
    const location = answer.headers.location;
    if (location !== undefined) {
      const session = /\/whep\/([0-9a-f]{24})(?:\?|$)/.exec(location)?.[1];
      if (session !== undefined) passed.location = `${LIVE_PREFIX}${device}/whep/${session}`;
    }
    res.writeHead(answer.statusCode ?? 502, passed);
    pipeline(answer, res, () => undefined);
  };
}

/** The playback server's live routes: the grid's device list, and the proxy (the grid's script is one of the page's modules). */
export function liveRoutes(options: LiveProxyOptions): { open: string[]; get: Record<string, ProbeHandler>; pass: Record<string, StreamHandler> } {
  return {
    open: [],
    get: {
      '/api/live': () => ({
        status: 200,
        body: { devices: (options.directory?.cameras() ?? []).map((c) => ({ device: c.device, live: `${LIVE_PREFIX}${c.device}/` })) },
        headers: { 'cache-control': 'no-store' },
      }),
    },
    pass: { [LIVE_PREFIX]: liveProxy(options) },
  };
}
