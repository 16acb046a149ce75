// The bucket, through AWS's SDK (@aws-sdk/client-s3 and lib-storage's multipart Upload). Loaded only when archiving
// is on: a recorder without a bucket never loads the SDK.
import { AbortMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { BucketAddress } from './options.js';
import { uploadBody } from './upload-body.js';

/** S3's smallest part: a segment this size or smaller is one PUT, a larger one a multipart upload. */
export const PART_BYTES = 5 * 1024 * 1024;

export interface ObjectFacts {
  readonly etag: string;
  /** The `x-amz-meta-sha256` it was stored with, if any. */
  readonly sha256: string | null;
}

export interface UploadRequest {
  readonly key: string;
  readonly file: string;
  readonly sha256: string;
  readonly contentType: string;
}

export class Bucket {
  private readonly client: S3Client;
  private current: Upload | null = null;

  constructor(private readonly target: BucketAddress) {
    this.client = new S3Client({
      region: target.region,
      forcePathStyle: target.forcePathStyle,
      ...(target.endpoint ? { endpoint: target.endpoint } : {}),
      ...(target.credentials ? { credentials: target.credentials } : {}),
      // The archiver retries with its own backoff and reports each failure; the SDK's retries would hide them.
      maxAttempts: 1,
      requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000 },
      // Checksums where we ask for them (SHA-256 per part), not the SDK's default CRC32 trailers, which older
      // self-hosted servers refuse.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
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
   * Uploads the file with its whole sha256 as `x-amz-meta-sha256` (S3's multipart checksum covers the parts only)
   * and S3's SHA-256 checksum on every part; one part in flight at a time, so the memory it costs is one part.
   * Resolves the object's ETag. On failure the multipart upload is aborted.
   */
  async upload(request: UploadRequest, bytesPerSecond: number | null): Promise<string> {
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.target.bucket,
        Key: request.key,
        Body: uploadBody(request.file, request.sha256, bytesPerSecond),
        ContentType: request.contentType,
        Metadata: { sha256: request.sha256 },
        ChecksumAlgorithm: 'SHA256',
      },
      partSize: PART_BYTES,
      queueSize: 1,
      leavePartsOnError: false,
    });
    this.current = upload;
    try {
      const done = await upload.done();
      return done.ETag ?? '';
    } finally {
      this.current = null;
    }
  }

  /** Stops the upload in flight (its multipart upload is aborted) and closes the client. */
  async close(): Promise<void> {
    await this.current?.abort().catch(() => undefined);
    this.client.destroy();
  }
}
