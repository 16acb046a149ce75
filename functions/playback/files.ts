// Segment files as they are on the volume, with byte ranges and an ETag from the journal's sha256.
import { constants, existsSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import send from 'send';
import { HttpError } from '../lib/index.js';
import { deviceDirOf, isSegmentFileName } from '../contracts/index.js';
import { sendObject } from './bucket-bytes.js';
import type { BucketLibrary } from './bucket-library.js';
import type { Catalog } from './catalog.js';
import { checkDeviceName, type Footage, type Library } from './library.js';
import type { Volumes } from './volumes.js';

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

/** Linux's view of a process's open files: a path here reopens what an fd holds, wherever its name now points. */
const OPEN_FILES = existsSync('/proc/self/fd') ? '/proc/self/fd' : null;

/**
 * A segment opened without following a link at either step, its device folder or the file (O_NOFOLLOW), so a
 * link put in its place after the library read the journal is refused too: 404, as a link found by the library
 * is. The folder's fd stands in for openat(2), which Node lacks; O_NONBLOCK so a FIFO cannot hold the open.
 * Null where there is no /proc/self/fd (macOS): there the library's lstat check is all.
 */
async function openSegment(root: string, device: string, name: string): Promise<FileHandle | null> {
  if (OPEN_FILES === null) return null;
  const flags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
  const gone = (): HttpError => new HttpError(404, `file: ${device}/${name} is not a finished segment on this volume`, 'not_found');
  const folder = await open(deviceDirOf(root, device), flags | constants.O_DIRECTORY).catch(() => null);
  if (!folder) throw gone();
  try {
    const file = await open(`${OPEN_FILES}/${folder.fd}/${name}`, flags).catch(() => null);
    if (!file) throw gone();
    if (!(await file.stat()).isFile()) {
      await file.close();
      throw gone();
    }
    return file;
  } finally {
    await folder.close();
  }
}

/**
 * Answers with `send` (ranges, If-Range, conditional GET, HEAD) for a file the journal lists; with a catalog, a
 * file only in the bucket (or found gone from the volume) from the bucket, its Range one ranged GET.
 */
export async function serveFile(libraries: Library | Pick<Volumes, 'of'> | Catalog, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const { device, name } = parseFilePath(url.pathname);
  const bucket = 'bucket' in libraries ? libraries.bucket : null;
  const found = 'bucket' in libraries ? await libraries.file(device, name) : null;
  if (found?.object && bucket) return serveFromBucket(bucket, found, req, res);
  const library = 'bucket' in libraries ? (await libraries.localLibrary(device))! : 'of' in libraries ? await libraries.of(device) : libraries;
  const footage = found ?? (await library.file(device, name));
  const opened = await openSegment(library.root, device, footage.name).catch(async (err: unknown) => {
    // Gone from the volume (deleted without a journal record): it leaves the index too (stat on miss).
    if (err instanceof HttpError && err.statusCode === 404) {
      library.missing(device, name);
      if (bucket && (await bucket.knows(device))) return 'bucket' as const;
    }
    throw err;
  });
  if (opened === 'bucket') return serveFromBucket(bucket!, await bucket!.file(device, name), req, res);
  const source = opened ? `${OPEN_FILES}/${opened.fd}` : footage.path;
  // Set first: send keeps an ETag and Content-Type it finds, and compares If-None-Match / If-Range with it.
  res.setHeader('ETag', `"${footage.segment.sha256}"`);
  res.setHeader('Content-Type', footage.segment.mimeType);
  res.setHeader('Cache-Control', 'private, max-age=86400, immutable');
  try {
    await sendFile(req, res, source);
  } finally {
    await opened?.close();
  }
}

function sendFile(req: IncomingMessage, res: ServerResponse, source: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    // The name was checked and the journal listed it; 'allow' only because send would judge the whole
    // absolute path, and a root under a dot folder (~/.cache/...) would refuse every file.
    const stream = send(req, source, { etag: false, lastModified: true, dotfiles: 'allow', index: false, acceptRanges: true, cacheControl: false });
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

/** A segment only in the bucket: ETag (the sha256) and conditional GET here, the bytes (or the one range asked) by one GET. */
async function serveFromBucket(bucket: BucketLibrary, footage: Footage, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const etag = `"${footage.segment.sha256}"`;
  const headers = { etag, 'content-type': footage.segment.mimeType, 'cache-control': 'private, max-age=86400, immutable' };
  const match = req.headers['if-none-match'];
  if (match !== undefined && match.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) {
    res.writeHead(304, headers).end();
    return;
  }
  if (req.method === 'HEAD') {
    res.writeHead(200, { ...headers, 'accept-ranges': 'bytes', 'content-length': footage.segment.bytes }).end();
    return;
  }
  // If-Range with another validator: the whole file, as send does.
  const ifRange = req.headers['if-range'];
  const range = ifRange === undefined || ifRange === etag ? req.headers.range : undefined;
  await sendObject(bucket, footage.segment.device, footage.name, footage.segment.bytes, range, res, headers);
}
