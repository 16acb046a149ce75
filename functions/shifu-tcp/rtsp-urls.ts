// Clients talk to the forwarder, the camera to itself: URLs are moved between the two origins on the way.
import { header, serializeMessage, type HeaderList, type HostPort, type RtspIncomingResponse } from '../lib/index.js';
import { formatAddress } from './address.js';

/** `rtsp://user:pass@host:port` at the start of a URL: scheme and authority, credentials included. */
const ORIGIN = /^(rtsps?|rtspu):\/\/[^/?#\s]*/i;
const ANY_ORIGIN = /rtsps?:\/\/[^/?#\s;,"]*/gi;

/** The origin (`rtsp://host:port`) a client used in its request URI, without credentials; undefined for `*` etc. */
export function clientOrigin(uri: string): string | undefined {
  const m = ORIGIN.exec(uri);
  if (!m) return undefined;
  const authority = m[0].slice(m[0].indexOf('//') + 2);
  const at = authority.lastIndexOf('@');
  return `rtsp://${at < 0 ? authority : authority.slice(at + 1)}`;
}

export function cameraOrigin(upstream: HostPort): string {
  return `rtsp://${formatAddress(upstream)}`;
}

/** The request URI as the camera should see it: same path and query, the camera's own address. */
export function toCamera(uri: string, camera: string): string {
  return ORIGIN.test(uri) ? uri.replace(ORIGIN, camera) : uri;
}

/** Every absolute RTSP URL in `text` moved to `origin` (headers and SDP lines of camera answers). */
export function toClient(text: string, origin: string): string {
  return text.replace(ANY_ORIGIN, origin);
}

/** Path and query: the key of one camera stream (main and sub streams differ here). */
export function streamKey(uri: string): string {
  const rest = uri.replace(ORIGIN, '');
  const key = rest.replace(/#.*$/, '');
  return key === '' ? '/' : key;
}

/** `uri` resolved against `base` the way RTSP clients resolve SDP a=control lines. */
export function resolveControl(base: string, control: string): string {
  if (control === '*' ) return base;
  if (/^rtsps?:\/\//i.test(control)) return control;
  return base.endsWith('/') ? base + control : `${base}/${control}`;
}

/** Path and query of a URL with any trailing slash dropped, for comparing track URLs. */
export function samePlace(a: string, b: string): boolean {
  const norm = (u: string): string => streamKey(u).replace(/\/+$/, '');
  return norm(a) === norm(b);
}

/** Query parameters cameras take credentials in (Dahua `?user=&password=`, tokens): masked in logs. */
const SECRET_PARAM = /^(pass|passwd|password|pwd|user|username|token|auth|key|secret)$/i;

/** A stream key fit for logs: credentials in the query become `***`. */
export function loggableStream(key: string): string {
  const q = key.indexOf('?');
  if (q < 0) return key;
  const query = key
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq > 0 && SECRET_PARAM.test(pair.slice(0, eq)) ? `${pair.slice(0, eq)}=***` : pair;
    })
    .join('&');
  return `${key.slice(0, q)}?${query}`;
}

/**
 * The camera's answer as the client gets it: the client's CSeq and Session (`session`), the camera's URLs moved
 * to the client's origin in Content-Base, Content-Location, RTP-Info and an SDP body, `replace` over the rest.
 */
export function answerFromCamera(response: RtspIncomingResponse, cseq: string, session: HeaderList, origin: string, replace: HeaderList = []): Buffer {
  const replaced = new Set(replace.map(([n]) => n.toLowerCase()));
  const ok = response.status >= 200 && response.status < 300;
  const fields: Array<readonly [string, string]> = [['CSeq', cseq]];
  for (const [name, value] of response.fields) {
    const lower = name.toLowerCase();
    if (lower === 'cseq' || lower === 'content-length' || replaced.has(lower)) continue;
    if (lower === 'session') {
      fields.push(...session);
      continue;
    }
    const rewrite = ok && (lower === 'content-base' || lower === 'content-location' || lower === 'rtp-info');
    fields.push([name, rewrite ? toClient(value, origin) : value]);
  }
  fields.push(...replace);
  const sdp = ok && /application\/sdp/i.test(header(response, 'content-type') ?? '');
  const body = sdp ? Buffer.from(toClient(response.body.toString('utf8'), origin), 'utf8') : response.body;
  return serializeMessage(`RTSP/1.0 ${response.status} ${response.reason}`, fields, body);
}
