// The bucket's readers as other modules open them: the AWS SDK loads on the first call, not on import.
import type { ObjectStream } from './bucket.js';
import type { BucketTimeline } from './bucket-timeline.js';
import type { BucketAddress } from './options.js';

/** A reader of the timeline in the bucket under `prefix` (the archive's `ARCHIVE_S3_PREFIX`). */
export async function openBucketTimeline(address: BucketAddress, prefix: string): Promise<BucketTimeline> {
  const { BucketTimeline } = await import('./bucket-timeline.js');
  return new BucketTimeline(address, prefix);
}

/** Segment objects read as streams, whole or from an offset (a ranged GET): export's and playback's reads. */
export interface BucketObjects {
  /** Null when there is no object at `key`; a failure throws (classifyArchiveFailure words it). */
  stream(key: string, offset?: number): Promise<ObjectStream | null>;
  close(): Promise<void>;
}

export async function openBucketObjects(address: BucketAddress): Promise<BucketObjects> {
  const { Bucket } = await import('./bucket.js');
  return new Bucket(address);
}
