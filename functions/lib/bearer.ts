// The token of a server that browsers use (playback, live view): one way to present it and one way to check it.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * Bearer token from `Authorization`, or `access_token` in the query (RFC 6750) for clients that cannot set a
 * header, or the page's cookie (`cookieName`), which its media and fetches carry without the page's scripts
 * ever reading it.
 */
export function presentedToken(headers: IncomingHttpHeaders, url: URL, cookieName: string): string | null {
  const header = headers.authorization;
  const m = header ? /^Bearer\s+(.+)$/i.exec(header) : null;
  return m?.[1]?.trim() ?? url.searchParams.get('access_token') ?? cookieValue(headers.cookie, cookieName);
}

function cookieValue(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** Constant-time comparison, so the answer's timing tells nothing about how much of a guess was right. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The page's cookie: HttpOnly (its scripts cannot read it), sent on same-site navigations and the page's own requests. */
export function tokenCookie(name: string, token: string): string {
  return `${name}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Lax`;
}
