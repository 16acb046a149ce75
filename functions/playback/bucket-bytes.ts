// Segment bytes that are only in the bucket, for the readers that need places in them: the MP4 index (a few ranged
// GETs) and ffmpeg. ffmpeg never sees a credential or a presigned URL: it reads a loopback-only relay in this process
// at an unguessable path that lives as long as the request that leased it, named in the ffconcat script on its stdin;
// every Range it sends becomes one ranged GET by the SDK, which holds the keys.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';
import type { Logger } from '../lib/index.js';
import type { RangedObject } from '../archive/index.js';
import type { BucketLibrary } from './bucket-library.js';
import { VOLUME_READER, type FootageReader } from './clip.js';
import type { Footage } from './library.js';
import type { RandomAccess } from './mp4-index.js';

/** One byte range, the only form passed on to S3 (which serves a single range); anything else is read whole. */
export const SINGLE_RANGE = /^bytes=(\d+-\d*|-\d+)$/;

/** Bucket footage's `<device>/<name>`, split. */
function objectOf(f: Footage): { device: string; name: string } {
  const [device, name] = (f.object ?? '').split('/');
  if (!device || !name) throw new Error(`${f.name} is not in the bucket`);
  return { device, name };
}

/** An object in the bucket read at places: each read one ranged GET. */
export function bucketRandomAccess(library: BucketLibrary, f: Footage, signal: AbortSignal): RandomAccess {
  const { device, name } = objectOf(f);
  return {
    size: f.segment.bytes,
    read: async (position, length) => {
      if (length <= 0 || position >= f.segment.bytes) return Buffer.alloc(0);
      const got = await library.stream(device, name, `bytes=${position}-${position + length - 1}`, signal);
      if (got === 'unsatisfiable') return Buffer.alloc(0);
      const chunks: Buffer[] = [];
      for await (const chunk of got.body) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).subarray(0, length);
    },
    close: async () => undefined,
  };
}

interface Lease {
  readonly device: string;
  readonly name: string;
  readonly mimeType: string;
  /** The object's byte ranges [start, end) the URL reads, back to back: the whole object, or init + from a moof. */
  readonly pieces: ReadonlyArray<readonly [number, number]>;
}

/** The relay's leases for one request: their URLs, given back together when the request ends. */
export interface RelayLeases {
  url(f: Footage): string;
  /** The object's first `initBytes` then its bytes from `from` on, as one file (a cut from a keyframe's fragment). */
  joined(f: Footage, initBytes: number, from: number): string;
  release(): void;
}

const lengthOf = (pieces: Lease['pieces']): number => pieces.reduce((n, [a, b]) => n + b - a, 0);

export class ObjectRelay {
  private readonly leases = new Map<string, Lease>();

  private constructor(
    private readonly server: Server,
    private readonly port: number,
  ) {}

  /** Listens on 127.0.0.1 only, on a free port: ffmpeg and ffprobe of this process are its only clients. */
  static async start(library: BucketLibrary, log: Logger): Promise<ObjectRelay> {
    let relay: ObjectRelay | null = null;
    const server = createServer((req, res) => {
      relay?.serve(library, req, res).catch((err: unknown) => {
        // ffmpeg closes a connection whenever it seeks: the GET that aborts is no failure (a GET that fails
        // mid-body goes unlogged too; ffmpeg's cut then fails, and that is logged).
        if (res.destroyed) return;
        log.warn({ status: (err as { statusCode?: number }).statusCode, err: (err as Error).message }, 'bucket relay: a read failed');
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    relay = new ObjectRelay(server, (server.address() as AddressInfo).port);
    return relay;
  }

  /** URLs for bucket footage, valid until `release()` (call it when the answer is done or the client left). */
  lease(): RelayLeases {
    const mine: string[] = [];
    const lease = (f: Footage, pieces: Lease['pieces']): string => {
      const token = randomBytes(16).toString('hex');
      const { device, name } = objectOf(f);
      this.leases.set(token, { device, name, mimeType: f.segment.mimeType, pieces });
      mine.push(token);
      return `http://127.0.0.1:${this.port}/${token}/${encodeURIComponent(name)}`;
    };
    return {
      url: (f) => lease(f, [[0, f.segment.bytes]]),
      joined: (f, initBytes, from) => lease(f, [[0, initBytes], [from, f.segment.bytes]]),
      release: () => {
        for (const token of mine.splice(0)) this.leases.delete(token);
      },
    };
  }

  async close(): Promise<void> {
    this.leases.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async serve(library: BucketLibrary, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const lease = this.leases.get((req.url ?? '').split('/')[1] ?? '');
    if (!lease || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404).end();
      return;
    }
    const size = lengthOf(lease.pieces);
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-length': size, 'accept-ranges': 'bytes', 'content-type': lease.mimeType }).end();
      return;
    }
    if (lease.pieces.length === 1) {
      await sendObject(library, lease.device, lease.name, size, req.headers.range, res, { 'content-type': lease.mimeType });
      return;
    }
    await sendJoined(library, lease, req.headers.range, res);
  }
}

/** [first, last] of a single `Range` over `size` bytes; null: the whole; 'unsatisfiable' past the end. */
function rangeOver(header: string | undefined, size: number): [number, number] | null | 'unsatisfiable' {
  const m = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  const [first, last] = m[1] === '' ? [Math.max(0, size - Number(m[2])), size - 1] : [Number(m[1]), m[2] === '' ? size - 1 : Math.min(size - 1, Number(m[2]))];
  return first > last || first >= size ? 'unsatisfiable' : [first, last];
}

/**
 * A joined lease's bytes (init segment, then the object from a moof on): each piece the range touches is one ranged
 * GET, all asked at once (the second's first byte is not waited for after the first), sent in order.
 */
async function sendJoined(library: BucketLibrary, lease: Lease, header: string | undefined, res: ServerResponse): Promise<void> {
  const size = lengthOf(lease.pieces);
  const range = rangeOver(header, size);
  if (range === 'unsatisfiable') {
    res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
    return;
  }
  const [first, last] = range ?? [0, size - 1];
  const left = new AbortController();
  res.once('close', () => left.abort());
  const gets: Array<Promise<RangedObject | 'unsatisfiable'>> = [];
  let at = 0;
  for (const [start, end] of lease.pieces) {
    const from = Math.max(first, at);
    const to = Math.min(last + 1, at + end - start);
    if (from < to) gets.push(library.stream(lease.device, lease.name, `bytes=${start + from - at}-${start + to - at - 1}`, left.signal));
    at += end - start;
  }
  // Each GET's failure is answered once, by the loop below; the others must not go unhandled meanwhile.
  for (const get of gets) get.catch(() => undefined);
  res.writeHead(range ? 206 : 200, {
    'content-type': lease.mimeType,
    'accept-ranges': 'bytes',
    'content-length': last - first + 1,
    ...(range ? { 'content-range': `bytes ${first}-${last}/${size}` } : {}),
  });
  for (const get of gets) {
    const got = await get;
    if (got === 'unsatisfiable') throw new Error(`${lease.name}: a piece past the object's end`);
    for await (const chunk of got.body) if (!res.write(chunk)) await new Promise<void>((resolve) => res.once('drain', resolve).once('close', resolve));
    if (res.destroyed) return;
  }
  res.end();
}

/**
 * Answers a GET with the object's bytes: a single `Range` becomes one ranged GET (206, S3's Content-Range), a
 * range past the end 416; no Range (or one S3 would not serve) the whole object. The GET stops when the client leaves.
 */
export async function sendObject(library: BucketLibrary, device: string, name: string, bytes: number, asked: string | undefined, res: ServerResponse, headers: Record<string, string>): Promise<void> {
  const range = asked !== undefined && SINGLE_RANGE.test(asked.trim()) ? asked.trim() : undefined;
  const left = new AbortController();
  res.once('close', () => left.abort());
  const got = await library.stream(device, name, range, left.signal);
  if (got === 'unsatisfiable') {
    res.writeHead(416, { ...headers, 'content-range': `bytes */${bytes}` }).end();
    return;
  }
  res.writeHead(got.status === 206 ? 206 : 200, {
    ...headers,
    'accept-ranges': 'bytes',
    ...(got.contentLength === null ? {} : { 'content-length': got.contentLength }),
    ...(got.status === 206 && got.contentRange ? { 'content-range': got.contentRange } : {}),
  });
  await new Promise<void>((resolve) => pipeline(got.body, res, () => resolve()));
}

/** A FootageReader for one request or render, and how to give back what it leased. */
export interface LeasedReader {
  readonly reader: FootageReader;
  /** Ends the leases and stops the GETs still running for it: when the answer is done or its client left. */
  release(): void;
}

/** Reads footage on a volume where it lies, and footage only in the bucket through the relay and ranged GETs. */
export function leasedReader(bucket: BucketLibrary | null, relay: ObjectRelay | null): LeasedReader {
  if (!bucket || !relay) return { reader: VOLUME_READER, release: () => undefined };
  const leases = relay.lease();
  const done = new AbortController();
  return {
    reader: {
      input: (f) => (f.object ? leases.url(f) : VOLUME_READER.input(f)),
      bytes: (f) => (f.object ? bucketRandomAccess(bucket, f, done.signal) : VOLUME_READER.bytes(f)),
      fromFragment: (f, initBytes, moof) => (f.object ? leases.joined(f, initBytes, moof) : null),
    },
    release: () => {
      leases.release();
      done.abort();
    },
  };
}
