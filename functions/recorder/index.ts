export { DEFAULT_MIN_FREE_PERCENT, recorderOptions, zSize } from './options.js';
export { serveRecorderApi } from './http.js';
export { recorderMetrics } from './metrics.js';
export { Recorder, RecorderClosingError, RECORDER_STATES, type RecorderSettings, type RecorderState, type RecorderStatus } from './recorder.js';
export { parseCameraAddress, type CameraAddress } from './camera.js';
export { startCameraRelay, type CameraRelay } from './camera-relay.js';
export {
  AUDIO_MODES,
  CONTAINER_FORMATS,
  planRecording,
  PlanRefusedError,
  RECORDING_RULES,
  type AudioMode,
  type ContainerFormat,
  type RecordingPlan,
  type StreamInfo,
} from './plan.js';
export { compactUtc, isSegmentFileName, type Segment } from './segment.js';
export { DeviceLease, DeviceLeaseHeldError, LEASE_FILE, MISSED_RENEWALS, pidStartTime, type LeaseHolder } from './lease.js';
export { classifyFailure, type Failure, type FailureKind } from './failure.js';
export {
  appendArchiveToJournal,
  appendDeletionToJournal,
  archiveRecordSchema,
  appendToJournal,
  deletionRecordSchema,
  JOURNAL_FILE,
  journalRecordOf,
  journalRecordSchema,
  journaledAfter,
  journaledDevices,
  journalFromEnd,
  journalPathOf,
  journalRelativePath,
  lastJournaled,
  parseJournal,
  parseJournalLines,
  parseJournalRecords,
  readJournal,
  readJournalAt,
  readJournalFrom,
  RECORDING_FOLDER,
  recordingDirOf,
  STATE_FOLDER,
  stateDirOf,
  type ArchiveRecord,
  type DeletionRecord,
  type JournalLine,
  type JournalPlace,
  type JournalRecord,
} from './journal.js';
