// Request URIs: which stream path (and which track of it) a request names.

const PATH_CHARS = /^[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/;

/**
 * The path of `rtsp://host[:port]/a/b?q` (or of a bare `/a/b`) without query or trailing slash.
 * A control appended after a query (`/a?q=1/trackID=0`, as players build it) is kept as a last segment.
 * Undefined when the URI is not one we serve.
 */
export function requestPath(uri: string): string | undefined {
  let rest: string;
  const m = /^rtsps?:\/\/[^/?#]*(.*)$/i.exec(uri);
  if (m) rest = m[1] ?? '';
  else if (uri.startsWith('/')) rest = uri;
  else return undefined;
  const q = rest.indexOf('?');
  let path = q < 0 ? rest : rest.slice(0, q);
  if (q >= 0) {
    const query = rest.slice(q + 1);
    const slash = query.lastIndexOf('/');
    if (slash >= 0) path = `${path.replace(/\/+$/, '')}/${query.slice(slash + 1)}`;
  }
  path = `/${path.replace(/^\/+/, '').replace(/\/+$/, '')}`;
  if (!PATH_CHARS.test(path) || path.includes('//')) return undefined;
  try {
    return decodeURIComponent(path);
  } catch {
    return undefined;
  }
}

/** `/a/b` is `/a/b` itself or a parent of it; the rest is the track part (`trackID=0`), '' for the path itself. */
export function relativeTo(base: string, path: string): string | undefined {
  if (path === base) return '';
  if (base === '/') return path.slice(1);
  return path.startsWith(`${base}/`) ? path.slice(base.length + 1) : undefined;
}

/** The absolute base URL players resolve track controls against. */
export function contentBase(uri: string, path: string): string {
  const m = /^(rtsps?:\/\/[^/?#]*)/i.exec(uri);
  return `${m?.[1] ?? ''}${path === '/' ? '' : path}/`;
}
