// RTSP authentication as cameras do it: Basic and Digest (RFC 2617, MD5), challenged with 401.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseAuthParams } from '../lib/index.js';

export const AUTH_SCHEMES = ['both', 'digest', 'basic'] as const;
export type AuthScheme = (typeof AUTH_SCHEMES)[number];

export interface Account {
  readonly user: string;
  readonly password: string;
}

const md5 = (text: string): string => createHash('md5').update(text, 'utf8').digest('hex');
const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** Compares without leaking where the strings differ. */
function sameText(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

export class Authenticator {
  /** One nonce per server start: stale-nonce handling buys nothing for a test camera. */
  readonly nonce = randomBytes(16).toString('hex');

  constructor(
    readonly scheme: AuthScheme,
    readonly realm = 'shifu-rtsp mock camera',
  ) {}

  /** WWW-Authenticate values of a 401, Digest first (clients pick the strongest they know). */
  challenges(): string[] {
    const out: string[] = [];
    if (this.scheme !== 'basic') out.push(`Digest realm="${this.realm}", nonce="${this.nonce}", algorithm=MD5`);
    if (this.scheme !== 'digest') out.push(`Basic realm="${this.realm}"`);
    return out;
  }

  /** The account whose credentials `authorization` carries for this request, if any. */
  verify(method: string, authorization: string | undefined, accounts: readonly Account[]): Account | undefined {
    if (authorization === undefined) return undefined;
    const space = authorization.indexOf(' ');
    const kind = (space < 0 ? authorization : authorization.slice(0, space)).toLowerCase();
    const rest = space < 0 ? '' : authorization.slice(space + 1).trim();
    if (kind === 'basic' && this.scheme !== 'digest') return this.basic(rest, accounts);
    if (kind === 'digest' && this.scheme !== 'basic') return this.digest(method, rest, accounts);
    return undefined;
  }

  private basic(token: string, accounts: readonly Account[]): Account | undefined {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(token)) return undefined;
    const decoded = Buffer.from(token, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    return accounts.find((a) => sameText(a.user, user) && sameText(a.password, password));
  }

  private digest(method: string, text: string, accounts: readonly Account[]): Account | undefined {
    const p = parseAuthParams(text);
    const user = p.get('username');
    const uri = p.get('uri');
    const response = p.get('response')?.toLowerCase();
    if (user === undefined || uri === undefined || response === undefined) return undefined;
    if (p.get('realm') !== this.realm || p.get('nonce') !== this.nonce) return undefined;
    const algorithm = p.get('algorithm');
    if (algorithm !== undefined && algorithm.toUpperCase() !== 'MD5') return undefined;
    const qop = p.get('qop');
    if (qop !== undefined && qop !== 'auth') return undefined;
    const account = accounts.find((a) => a.user === user);
    if (!account) return undefined;
    const ha1 = md5(`${account.user}:${this.realm}:${account.password}`);
    const ha2 = md5(`${method}:${uri}`);
    const expected =
      qop === undefined
        ? md5(`${ha1}:${this.nonce}:${ha2}`) // RFC 2069 form, what most RTSP clients send
        : md5(`${ha1}:${this.nonce}:${p.get('nc') ?? ''}:${p.get('cnonce') ?? ''}:${qop}:${ha2}`);
    return sameText(expected, response) ? account : undefined;
  }
}
