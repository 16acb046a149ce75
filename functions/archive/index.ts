// Archive (issue 25): finished segments uploaded to S3-compatible object storage. The SDK loads only when on.
export { archiveOptions, archiveTarget, type ArchiveConfig, type ArchiveTarget } from './options.js';
export { attachArchive, type Archive } from './attach.js';
export type { ArchiveCounters, ArchiveState, ArchiveStatus } from './archiver.js';
export { classifyArchiveFailure, type ArchiveFailure, type ArchiveFailureKind } from './failure.js';
