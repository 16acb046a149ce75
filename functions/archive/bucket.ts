// The bucket, through AWS's SDK (@aws-sdk/client-s3). Loaded only when archiving is on: a recorder without a bucket
// never loads the SDK.
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import type { BucketAddress } from './options.js';
import { CHUNK_BYTES, hashRange, rangeBody, SegmentChangedError } from './upload-body.js';

/** S3's smallest part (the last excepted). */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** S3's most parts in one multipart upload. */
const MAX_PARTS = 10_000;

export interface ObjectFacts {
  readonly etag: string;
  /** The `x-amz-meta-sha256` it was stored with, if any. */
  readonly sha256: string | null;
}

/** An object's bytes (or the range asked) as S3 answered: 200 or 206, with its length and Content-Range. */
export interface RangedObject {
  readonly body: Readable;
  readonly status: number;
  readonly contentLength: number | null;
  readonly contentRange: string | null;
}

/** An object's bytes from some offset on, as they arrive (see Bucket.stream). */
export interface ObjectStream {
  readonly body: Readable;
  /** Where the body starts in the object, and how many bytes it brings (Content-Length). */
  readonly from: number;
  readonly bytes: number;
  /** The `x-amz-meta-sha256` it was stored with, if any. */
  readonly sha256: string | null;
  readonly lastModified: Date | null;
}

export interface UploadRequest {
  readonly key: string;
  readonly file: string;
  /** The journal's: the file's sha256 (hex) and size when it was journaled. */
  readonly sha256: string;
  readonly bytes: number;
  readonly contentType: string;
}

/** How an upload goes (ArchiveTarget's settings). */
export interface UploadLimits {
  /** Bytes per second, or null: unlimited. */
  readonly bytesPerSecond: number | null;
  /** A segment up to this size is one PUT; a larger one a multipart upload in parts this size. */
  readonly partBytes: number;
}

const SILENT = { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** An S3 error answer of this name (the SDK's S3ServiceException). */
function isS3Error(err: unknown, name: string): boolean {
  return err instanceof S3ServiceException && err.name === name;
}

export class Bucket {
  private readonly client: S3Client;
  /** Cancels the request in flight at close. */
  private readonly closing = new AbortController();
  /** The upload in flight, settled (its multipart upload aborted on failure) before the client is destroyed. */
  private current: Promise<unknown> | null = null;

  constructor(private readonly target: BucketAddress) {
    this.client = new S3Client({
      region: target.region,
      forcePathStyle: target.forcePathStyle,
      ...(target.endpoint ? { endpoint: target.endpoint } : {}),
      ...(target.credentials ? { credentials: target.credentials } : {}),
      // The archiver retries with its own backoff and reports each failure; the SDK's retries would hide them.
      maxAttempts: 1,
      // The archive reports each failure itself, classified (failure.ts); the SDK would also print a line to stderr
      // for every failed request with a streamed body, each retry of an upload during an outage.
      logger: SILENT,
      requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000 },
      // Checksums where we ask for them (SHA-256 per part), not the SDK's default CRC32 trailers, which older
      // self-hosted servers refuse.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // No `Expect: 100-continue` on parts: the SDK sends such requests through a fresh agent that keeps no
      // connection, so every part paid a new connection (with HTTPS a TLS handshake). What the header would spare
      // (sending a part a server refuses) cannot happen first here: a HEAD and the multipart's create, small
      // requests, meet a wrong key or a missing bucket before any part is sent.
      expectContinueHeader: false,
    });
  }

  get name(): string {
    return this.target.bucket;
  }

  /** The object at `key`, or null when there is none. */
  async head(key: string): Promise<ObjectFacts | null> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.target.bucket, Key: key }));
      return { etag: head.ETag ?? '', sha256: head.Metadata?.sha256 ?? null };
    } catch (err) {
      if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404 && err.name !== 'NoSuchBucket') return null;
      throw err;
    }
  }

  /** The bytes of the object at `key`, or null when there is none; any other failure throws. */
  async read(key: string): Promise<Uint8Array | null> {
    try {
      const got = await this.client.send(new GetObjectCommand({ Bucket: this.target.bucket, Key: key }));
      if (!got.Body) return new Uint8Array(0);
      return await got.Body.transformToByteArray();
    } catch (err) {
      if (err instanceof S3ServiceException && err.name === 'NoSuchKey') return null;
      throw err;
    }
  }

  /**
   * The object at `key`, or null when it did not change since `etag` (a conditional GET: 304, no body). Null
   * `etag`: unconditional. Throws for a missing key too (the caller knows the key should be there).
   */
  async readIfChanged(key: string, etag: string | null): Promise<{ body: Uint8Array; etag: string } | 'unchanged' | 'missing'> {
    try {
      const got = await this.client.send(new GetObjectCommand({ Bucket: this.target.bucket, Key: key, ...(etag ? { IfNoneMatch: etag } : {}) }));
      return { body: got.Body ? await got.Body.transformToByteArray() : new Uint8Array(0), etag: got.ETag ?? '' };
    } catch (err) {
      if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 304) return 'unchanged';
      if (err instanceof S3ServiceException && err.name === 'NoSuchKey') return 'missing';
      throw err;
    }
  }

  /**
   * The object's bytes from `offset` on (a ranged GET when above 0), streamed: nothing is held beyond the stream's
   * buffer. Null when there is no object; any other failure throws (classifyArchiveFailure words it).
   */
  async stream(key: string, offset = 0): Promise<ObjectStream | null> {
    try {
      const got = await this.client.send(new GetObjectCommand({ Bucket: this.target.bucket, Key: key, ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}) }));
      // In Node the SDK's body is the response itself (an IncomingMessage).
      if (!(got.Body instanceof Readable)) throw new Error(`the S3 client gave no stream for ${key}`);
      return { body: got.Body, from: offset, bytes: got.ContentLength ?? 0, sha256: got.Metadata?.sha256 ?? null, lastModified: got.LastModified ?? null };
    } catch (err) {
      if (err instanceof S3ServiceException && err.name === 'NoSuchKey') return null;
      throw err;
    }
  }

  /**
   * The object's bytes as a stream, from one GET carrying `range` (an HTTP `Range` value such as `bytes=0-65535`)
   * when given: never the whole object for a ranged read. `signal` aborts the GET (the client left). A range the
   * object cannot satisfy throws S3's InvalidRange (416).
   */
  async streamRange(key: string, range: string | undefined, signal: AbortSignal): Promise<RangedObject> {
    const got = await this.client.send(new GetObjectCommand({ Bucket: this.target.bucket, Key: key, ...(range ? { Range: range } : {}) }), { abortSignal: signal });
    if (!(got.Body instanceof Readable)) throw new Error(`GET ${key}: no body stream`);
    return { body: got.Body, status: got.$metadata.httpStatusCode ?? 200, contentLength: got.ContentLength ?? null, contentRange: got.ContentRange ?? null };
  }

  /**
   * The names of the folders right under `prefix` (`<prefix><name>/`), by S3's delimiter: one request per 1000
   * folders, whatever the objects under them. At most `maxPages` pages.
   */
  async folders(prefix: string, maxPages: number): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < maxPages; page++) {
      const listed = await this.client.send(new ListObjectsV2Command({ Bucket: this.target.bucket, Prefix: prefix, Delimiter: '/', ContinuationToken: token }));
      for (const p of listed.CommonPrefixes ?? []) if (p.Prefix) out.push(p.Prefix.slice(prefix.length, -1));
      if (!listed.IsTruncated || !listed.NextContinuationToken) return out;
      token = listed.NextContinuationToken;
    }
    return out;
  }

  /** Keys under `prefix` after `startAfter`, in S3's (UTF-8 binary) order, a page of up to 1,000 at a time. */
  async *keys(prefix: string, startAfter?: string): AsyncGenerator<string[]> {
    let token: string | undefined;
    for (;;) {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.target.bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : startAfter ? { StartAfter: startAfter } : {}) }),
      );
      yield (page.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : []));
      if (!page.IsTruncated || !page.NextContinuationToken) return;
      token = page.NextContinuationToken;
    }
  }

  /** Writes a small object whole (one PUT: readers see the old version or this one). */
  async write(key: string, body: Uint8Array, contentType: string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.target.bucket, Key: key, Body: body, ContentType: contentType }));
  }

  /**
   * Aborts every multipart upload under `prefix` that is still open. Only the recorder holding the device folder's
   * lease archives its device, so at its start any such upload is an orphan of a killed predecessor.
   */
  async abortOrphans(prefix: string): Promise<string[]> {
    const aborted: string[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await this.client.send(
        new ListMultipartUploadsCommand({ Bucket: this.target.bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
      );
      for (const upload of page.Uploads ?? []) {
        if (!upload.Key || !upload.UploadId) continue;
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.target.bucket, Key: upload.Key, UploadId: upload.UploadId }));
        aborted.push(upload.Key);
      }
      if (!page.IsTruncated) return aborted;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
  }

  /**
   * Uploads the file with its whole sha256 as `x-amz-meta-sha256`. A file up to `limits.partBytes` is one PUT
   * carrying the journal's sha256 as S3's checksum, so the server hashes the bytes it receives and stores nothing
   * that differs: the file is read once, and not hashed here. A larger one is a multipart upload of parts that size
   * (larger when the file would need more than S3's 10,000; its multipart checksum covers the parts only) with S3's SHA-256 checksum on every part: each part is read twice, to hash it
   * (the checksum goes before the bytes) and to send it, so no part is held in memory, and the file's sha256 is
   * checked against `request.sha256` before the last part is sent. A file that no longer matches its journal line
   * is a SegmentChangedError, refused by us or by the server (BadDigest), and nothing is stored.
   * Resolves the object's ETag; on failure a multipart upload is aborted.
   */
  upload(request: UploadRequest, limits: UploadLimits): Promise<string> {
    const upload = this.uploadFile(request, limits);
    this.current = upload.catch(() => undefined);
    return upload.finally(() => (this.current = null));
  }

  private async uploadFile(request: UploadRequest, limits: UploadLimits): Promise<string> {
    const { size } = await stat(request.file);
    if (size !== request.bytes) throw new SegmentChangedError(request.file);
    try {
      if (size <= limits.partBytes) return await this.putWhole(request, limits.bytesPerSecond);
      return await this.putParts(request, size, Math.max(limits.partBytes, MIN_PART_BYTES, Math.ceil(size / MAX_PARTS)), limits.bytesPerSecond);
    } catch (err) {
      // The server hashed what it received and it is not what the checksum says: the file changed.
      if (isS3Error(err, 'BadDigest')) throw new SegmentChangedError(request.file);
      throw err;
    }
  }

  private described(request: UploadRequest): { Bucket: string; Key: string; ContentType: string; Metadata: Record<string, string> } {
    return { Bucket: this.target.bucket, Key: request.key, ContentType: request.contentType, Metadata: { sha256: request.sha256 } };
  }

  private async putWhole(request: UploadRequest, bytesPerSecond: number | null): Promise<string> {
    const { file, bytes } = request;
    const checksum = Buffer.from(request.sha256, 'hex').toString('base64');
    const body = rangeBody(file, 0, bytes, bytesPerSecond);
    try {
      const put = await this.sendBody(body, (abortSignal) =>
        this.client.send(new PutObjectCommand({ ...this.described(request), Body: body, ContentLength: bytes, ChecksumSHA256: checksum }), { abortSignal }),
      );
      return put.ETag ?? '';
    } catch (err) {
      throw await this.answerBehind(request.key, err);
    }
  }

  private async putParts(request: UploadRequest, size: number, partBytes: number, bytesPerSecond: number | null): Promise<string> {
    const { bucket } = this.target;
    const { key, file } = request;
    const whole = createHash('sha256');
    const scratch = Buffer.allocUnsafe(CHUNK_BYTES);
    const created = await this.client.send(new CreateMultipartUploadCommand({ ...this.described(request), ChecksumAlgorithm: 'SHA256' }), { abortSignal: this.closing.signal });
    const uploadId = created.UploadId ?? '';
    try {
      const parts: CompletedPart[] = [];
      for (let start = 0, number = 1; start < size; start += partBytes, number++) {
        const end = Math.min(size, start + partBytes);
        const checksum = await hashRange(file, start, end, whole, scratch);
        if (end === size && whole.digest('hex') !== request.sha256) throw new SegmentChangedError(file);
        const body = rangeBody(file, start, end, bytesPerSecond);
        const part = await this.sendBody(body, (abortSignal) =>
          this.client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: number, Body: body, ContentLength: end - start, ChecksumSHA256: checksum }), { abortSignal }),
        );
        parts.push({ PartNumber: number, ETag: part.ETag, ChecksumSHA256: checksum });
      }
      const done = await this.client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }), { abortSignal: this.closing.signal });
      return done.ETag ?? '';
    } catch (err) {
      // Not with the closing signal: a graceful stop aborts the upload on the server too (or the next start does).
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Sends a request whose body is a file's bytes. A body that fails (a read error, the file shorter than it was)
   * aborts the request, which would otherwise wait for the missing bytes; its error is the one thrown.
   */
  private async sendBody<T>(body: Readable, send: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    // One controller a request, aborted by a stop or by the body; not AbortSignal.any, which cost 28 ms of CPU in
    // 70 s of a recorder archiving 5 segments (its profile; the signals it joins to the client's live as long).
    const request = new AbortController();
    const stop = (): void => request.abort();
    let failure: unknown = null;
    body.once('error', (err) => {
      failure = err;
      request.abort();
    });
    if (this.closing.signal.aborted) request.abort();
    this.closing.signal.addEventListener('abort', stop, { once: true });
    try {
      return await send(request.signal);
    } catch (err) {
      throw failure ?? err;
    } finally {
      this.closing.signal.removeEventListener('abort', stop);
    }
  }

  /**
   * The cause of a failed PUT in S3's words. A server may refuse a request with a body (a missing bucket, wrong
   * keys) before reading the body and reset the connection, so the client sees only the reset: a listing of the key,
   * a request without a body, gets the same refusal as an answer it can read (a HEAD would not: its error has no
   * body, so a missing bucket is only a 404). The PUT's own error when the listing succeeds.
   */
  private async answerBehind(key: string, err: unknown): Promise<unknown> {
    if (err instanceof S3ServiceException || err instanceof SegmentChangedError || this.closing.signal.aborted) return err;
    return this.client.send(new ListObjectsV2Command({ Bucket: this.target.bucket, Prefix: key, MaxKeys: 1 })).then(
      () => err,
      (refusal: unknown) => refusal,
    );
  }

  /** Stops the upload in flight (its multipart upload is aborted); small reads and writes still work. */
  async stopUploads(): Promise<void> {
    this.closing.abort();
    await this.current;
  }

  /** Stops the upload in flight and closes the client. */
  async close(): Promise<void> {
    await this.stopUploads();
    this.client.destroy();
  }
}
