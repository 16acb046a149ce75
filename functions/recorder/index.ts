export { DEFAULT_MIN_FREE_PERCENT, recorderOptions, zSize } from './options.js';
export { serveRecorderApi } from './http.js';
export { recorderMetrics } from './metrics.js';
export { Recorder, RecorderClosingError, RECORDER_STATES, type RecorderSettings, type RecorderState, type RecorderStatus } from './recorder.js';
export { cameraLogin, parseCameraAddress, zCameraUrl, type CameraAddress } from '../contracts/index.js';
export { startCameraRelay, type CameraRelay } from './camera-relay.js';
export { type ArchiveGuard } from './retention.js';
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
export { DeviceLease, DeviceLeaseHeldError, LEASE_FILE, MISSED_RENEWALS, pidStartTime, type LeaseHolder } from './lease.js';
export { classifyFailure, type Failure, type FailureKind } from './failure.js';
export { appendArchiveToJournal, appendDeletionToJournal, appendToJournal } from './journal-writer.js';
// The volume's layout and the journal are contracts (functions/contracts): the recorder writes them, and its
// callers (the command, tests) find them here too.
export {
  archiveRecordSchema,
  compactUtc,
  deletionRecordSchema,
  isSegmentFileName,
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
  type Segment,
} from '../contracts/index.js';
