// The bucket timeline's reader as other modules open it: the AWS SDK loads on the first call, not on import.
import type { BucketTimeline } from './bucket-timeline.js';
import type { BucketAddress } from './options.js';

/** A reader of the timeline in the bucket under `prefix` (the archive's `ARCHIVE_S3_PREFIX`). */
export async function openBucketTimeline(address: BucketAddress, prefix: string): Promise<BucketTimeline> {
  const { BucketTimeline } = await import('./bucket-timeline.js');
  return new BucketTimeline(address, prefix);
}
