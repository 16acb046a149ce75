// RTSP authentication as cameras speak it (RFC 2617 Digest with MD5, and Basic): the parameter syntax both
// sides share, and the client side that answers a camera's challenge. The mock camera checks with the same
// parameter parser, so the two ends cannot drift apart.
import { createHash, randomBytes } from 'node:crypto';

const md5 = (text: string): string => createHash('md5').update(text, 'utf8').digest('hex');

/** `key=value, key="quoted, value"` as a map (names lower-cased). */
export function parseAuthParams(text: string): Map<string, string> {
  const params = new Map<string, string>();
  const re = /\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*(?:,|$)/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null && m[0] !== '') {
    params.set((m[1] ?? '').toLowerCase(), m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? ''));
  }
  return params;
}

/** One challenge of a 401 that we can answer. */
export type Challenge =
  | { readonly scheme: 'basic'; readonly realm: string }
  | {
      readonly scheme: 'digest';
      readonly realm: string;
      readonly nonce: string;
      readonly opaque?: string;
      /** MD5 or MD5-sess: what cameras (and ffmpeg) use. */
      readonly algorithm: 'MD5' | 'MD5-sess';
      /** `auth` when the camera offers it; RFC 2069 form (no qop) otherwise. */
      readonly qop?: 'auth';
      /** The camera only renewed its nonce: the password was right, so retrying is not another failed login. */
      readonly stale: boolean;
    };

/**
 * The strongest challenge we can answer among a 401's WWW-Authenticate values (one challenge per value,
 * as cameras send them): Digest before Basic; Digest with an algorithm or qop we do not know is skipped.
 */
export function pickChallenge(values: readonly string[]): Challenge | undefined {
  let basic: Challenge | undefined;
  for (const value of values) {
    const m = /^\s*([A-Za-z][A-Za-z0-9_-]*)(?:\s+(.*))?$/s.exec(value);
    if (!m) continue;
    const scheme = (m[1] ?? '').toLowerCase();
    const p = parseAuthParams(m[2] ?? '');
    if (scheme === 'basic') basic ??= { scheme: 'basic', realm: p.get('realm') ?? '' };
    if (scheme !== 'digest') continue;
    const nonce = p.get('nonce');
    const algorithm = (p.get('algorithm') ?? 'MD5').toUpperCase();
    const qops = (p.get('qop') ?? '').split(',').map((q) => q.trim().toLowerCase());
    if (nonce === undefined || (algorithm !== 'MD5' && algorithm !== 'MD5-SESS')) continue;
    if (p.has('qop') && !qops.includes('auth')) continue;
    const opaque = p.get('opaque');
    return {
      scheme: 'digest',
      realm: p.get('realm') ?? '',
      nonce,
      algorithm: algorithm === 'MD5' ? 'MD5' : 'MD5-sess',
      stale: p.get('stale')?.toLowerCase() === 'true',
      ...(opaque !== undefined ? { opaque } : {}),
      ...(p.has('qop') ? { qop: 'auth' as const } : {}),
    };
  }
  return basic;
}

export interface Login {
  readonly username: string;
  readonly password: string;
}

const quote = (value: string): string => `"${value.replace(/(["\\])/g, '\\$1')}"`;

/**
 * Signs requests for one connection's challenge. Digest with qop counts its requests (nc), so one signer
 * serves one challenge; a new challenge (a stale nonce) needs a new signer.
 */
export class RequestSigner {
  private nc = 0;

  constructor(
    readonly challenge: Challenge,
    private readonly login: Login,
    /** The client nonce of qop and MD5-sess; random, given only by tests that check known answers. */
    private readonly cnonce = randomBytes(8).toString('hex'),
  ) {}

  /** The Authorization value for `method` on `uri` (the request line's URI, as sent). */
  authorization(method: string, uri: string): string {
    const { challenge: c, login } = this;
    if (c.scheme === 'basic') return `Basic ${Buffer.from(`${login.username}:${login.password}`, 'utf8').toString('base64')}`;
    this.nc += 1;
    const nc = this.nc.toString(16).padStart(8, '0');
    let ha1 = md5(`${login.username}:${c.realm}:${login.password}`);
    if (c.algorithm === 'MD5-sess') ha1 = md5(`${ha1}:${c.nonce}:${this.cnonce}`);
    const ha2 = md5(`${method}:${uri}`);
    const response = c.qop === 'auth' ? md5(`${ha1}:${c.nonce}:${nc}:${this.cnonce}:auth:${ha2}`) : md5(`${ha1}:${c.nonce}:${ha2}`);
    const parts = [
      `username=${quote(login.username)}`,
      `realm=${quote(c.realm)}`,
      `nonce=${quote(c.nonce)}`,
      `uri=${quote(uri)}`,
      `response=${quote(response)}`,
    ];
    // Named only when the challenge named it: some cameras refuse an algorithm field they did not ask for.
    if (c.algorithm === 'MD5-sess') parts.push('algorithm=MD5-sess');
    if (c.opaque !== undefined) parts.push(`opaque=${quote(c.opaque)}`);
    if (c.qop === 'auth') parts.push('qop=auth', `nc=${nc}`, `cnonce=${quote(this.cnonce)}`);
    return `Digest ${parts.join(', ')}`;
  }
}
