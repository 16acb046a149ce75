// Segment bytes that are only in the bucket, for the readers that need places in them: the MP4 index (a few ranged
// GETs) and ffmpeg. ffmpeg never sees a credential or a presigned URL: it reads a loopback-only relay in this process
// at an unguessable path that lives as long as the request that leased it, named in the ffconcat script on its stdin;
// every Range it sends becomes one ranged GET by the SDK, which holds the keys.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';
import type { Logger } from '../lib/index.js';
import type { BucketLibrary } from './bucket-library.js';
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
  readonly bytes: number;
  readonly mimeType: string;
}

/** The relay's leases for one request: their URLs, given back together when the request ends. */
export interface RelayLeases {
  url(f: Footage): string;
  release(): void;
}

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
    return {
      url: (f) => {
        const token = randomBytes(16).toString('hex');
        const { device, name } = objectOf(f);
        this.leases.set(token, { device, name, bytes: f.segment.bytes, mimeType: f.segment.mimeType });
        mine.push(token);
        return `http://127.0.0.1:${this.port}/${token}/${encodeURIComponent(name)}`;
      },
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
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-length': lease.bytes, 'accept-ranges': 'bytes', 'content-type': lease.mimeType }).end();
      return;
    }
    await sendObject(library, lease.device, lease.name, lease.bytes, req.headers.range, res, { 'content-type': lease.mimeType });
  }
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
