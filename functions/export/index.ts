// Export: copy a device's footage out of the cluster from the playback server in its export pod (through
// the Kubernetes API's pod proxy or a port-forward), checked against the recorder's journal and resumable;
// or one clip cut by time.
export { ALL_CAMERAS_POD, exportOptions, MAX_DEVICES, parseClipRange, parseTimeArgument } from './options.js';
export { exportClips, type ClipsExportOptions, type ClipsReport } from './clips.js';
export { exportSegments, type ExportOptions, type ExportReport, type FileOutcome } from './transfer.js';
export { ExportError, type OpenedSegment, type SegmentSource, type TimeWindow } from './segments.js';
export { serverSegments } from './server-segments.js';
export { exportClip, type ClipExportOptions, type ClipFormat, type ClipReport } from './clip.js';
export { httpSource, podProxySource, SourceError, type FootageSource, type PodProxyRef } from './source.js';
export { checkExportPod, ExportPodError, type PodRef } from './pod.js';
export { planFile, localState, VerifiedManifest, PARTIAL_SUFFIX, MANIFEST_NAME, type ExportItem, type FileAction, type LocalFileState, type VerifiedCopy } from './resume.js';
export { Progress, formatBytes, type ProgressOutput } from './progress.js';
export { bucketSegments } from './bucket-segments.js';
export { CLIP_WORK_FOLDER, exportBucketClip, exportBucketClips, type BucketClipOptions } from './bucket-clip.js';
