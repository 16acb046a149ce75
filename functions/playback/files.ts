// Segment files as they are on the volume, with byte ranges and an ETag from the journal's sha256.
import type { IncomingMessage, ServerResponse } from 'node:http';
import send from 'send';
import { HttpError } from '../lib/index.js';
import { isSegmentFileName } from '../recorder/index.js';
import { checkDeviceName, type Library } from './library.js';

/** `/files/<device>/<file>`: two path components, each a name and never a path (no `/`, `..` or NUL). */
export function parseFilePath(pathname: string): { device: string; name: string } {
  const rest = pathname.slice('/files/'.length).split('/');
  let parts: string[];
  try {
    parts = rest.map((p) => decodeURIComponent(p));
  } catch {
    throw new HttpError(400, 'file: not a valid URL path');
  }
  if (parts.length !== 2 || parts.some((p) => p === '' || p === '.' || p === '..' || /[/\\\0]/.test(p))) {
    throw new HttpError(400, 'file: expected /files/<device>/<segment file name>');
  }
  const device = checkDeviceName(parts[0]!);
  const name = parts[1]!;
  if (!isSegmentFileName(device, name)) throw new HttpError(400, `file: ${name} is not a segment file name of ${device}`);
  return { device, name };
}

/** Answers with `send` (ranges, If-Range, conditional GET, HEAD) for a file the journal lists. */
export async function serveFile(library: Library, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const { device, name } = parseFilePath(url.pathname);
  const footage = await library.file(device, name);
  // The name was checked above and the journal listed it; 'allow' only because send would judge the whole
  // absolute path, and a root under a dot folder (~/.cache/...) would refuse every file.
  // Set first: send keeps an ETag and Content-Type it finds, and compares If-None-Match / If-Range with it.
  res.setHeader('ETag', `"${footage.segment.sha256}"`);
  res.setHeader('Content-Type', footage.segment.mimeType);
  res.setHeader('Cache-Control', 'private, max-age=86400, immutable');
  await new Promise<void>((resolve, reject) => {
    const stream = send(req, footage.path, { etag: false, lastModified: true, dotfiles: 'allow', index: false, acceptRanges: true, cacheControl: false });
    stream.on('error', (err: Error & { status?: number }) => {
      if (res.headersSent) {
        res.destroy();
        resolve();
      } else reject(new HttpError(err.status ?? 500, `file: ${err.message}`, err.status === 404 ? 'not_found' : 'file_error'));
    });
    res.on('close', () => resolve());
    stream.pipe(res);
  });
}
