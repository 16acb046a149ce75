// Why an upload failed, in words an operator can act on. Built from the error's name and status only, never its
// message or the request: those may carry a key id, a signature or a presigned URL.
import { SegmentChangedError } from './upload-body.js';
import { DayFileDamagedError } from './day-files.js';

export type ArchiveFailureKind = 'credentials' | 'no-bucket' | 'unreachable' | 'segment-changed' | 'file' | 'timeline' | 'server';

export interface ArchiveFailure {
  readonly kind: ArchiveFailureKind;
  readonly message: string;
}

interface ErrorShape {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
  readonly errors?: unknown;
}

const REFUSED_CREDENTIALS = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'InvalidToken', 'ExpiredToken', 'Forbidden', 'InvalidClientTokenId']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED']);

/** The first network error code in `err` (Node wraps a refused dual-stack connect in an AggregateError). */
function networkCode(err: ErrorShape): string | null {
  if (typeof err.code === 'string' && NETWORK_CODES.has(err.code)) return err.code;
  if (Array.isArray(err.errors)) for (const inner of err.errors as ErrorShape[]) if (typeof inner?.code === 'string' && NETWORK_CODES.has(inner.code)) return inner.code;
  return null;
}

export function classifyArchiveFailure(err: unknown, where: { readonly endpoint: string; readonly bucket: string }): ArchiveFailure {
  if (err instanceof SegmentChangedError) return { kind: 'segment-changed', message: err.message };
  if (err instanceof DayFileDamagedError) return { kind: 'timeline', message: err.message };
  const e = (err ?? {}) as ErrorShape;
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : null;
  if (name === 'NoSuchBucket') return { kind: 'no-bucket', message: `the bucket ${where.bucket} does not exist at ${where.endpoint} (NoSuchBucket)` };
  if (name === 'CredentialsProviderError') {
    return { kind: 'credentials', message: 'no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (the Secret shifu-rtsp-archive) or a web identity' };
  }
  if (REFUSED_CREDENTIALS.has(name) || status === 401 || status === 403) {
    return { kind: 'credentials', message: `${where.endpoint} refused the credentials for bucket ${where.bucket} (${name}${status ? `, ${status}` : ''}): check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket's policy` };
  }
  const code = networkCode(e);
  if (code !== null || name === 'TimeoutError' || name === 'RequestTimeout') {
    return { kind: 'unreachable', message: `cannot reach the S3 server ${where.endpoint} (${code ?? name})` };
  }
  if (status === null && typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) return { kind: 'file', message: `cannot read the segment file (${e.code})` };
  return { kind: 'server', message: `the S3 server ${where.endpoint} answered ${name}${status ? ` (${status})` : ''} for bucket ${where.bucket}` };
}

/** A day file could not be read: the answer would be incomplete, so there is none. Names no secret. */
export class BucketTimelineError extends Error {
  constructor(
    readonly day: string,
    readonly kind: ArchiveFailureKind,
    reason: string,
  ) {
    super(`cannot read the timeline of ${day} from the bucket: ${reason}`);
    this.name = 'BucketTimelineError';
  }
}

/** Something else in the bucket could not be read (its devices, a segment's bytes): an error, never an empty answer. */
export class BucketReadError extends Error {
  constructor(
    readonly what: string,
    readonly kind: ArchiveFailureKind,
    reason: string,
  ) {
    super(`cannot read ${what} from the bucket: ${reason}`);
    this.name = 'BucketReadError';
  }
}
