// Archive (issue 25): finished segments uploaded to S3-compatible object storage. The SDK loads only when on.
export { archiveOptions, bucketPrefix, bucketSchemas, checkAwsKeys, DEFAULT_HARD_MIN_FREE_PERCENT, DEFAULT_PART_MIB, archiveSettingsToPass, archiveTarget, type ArchiveConfig, type ArchiveTarget, type BucketAddress } from './options.js';
export { attachArchive, holdRetentionForArchive, type Archive } from './attach.js';
export type { ArchiveCounters, ArchiveReporting, ArchiveState, ArchiveStatus } from './archiver.js';
export { BucketReadError, BucketTimelineError, classifyArchiveFailure, type ArchiveFailure, type ArchiveFailureKind } from './failure.js';
export type { BucketSegment, BucketTimeline, DayFile } from './bucket-timeline.js';
export { openBucketObjects, openBucketTimeline, type BucketObjects } from './open-timeline.js';
export type { ObjectStream, RangedObject } from './bucket.js';
