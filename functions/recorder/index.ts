export { recorderCommand, recorderOptions } from './command.js';
export { Recorder, RECORDER_STATES, type RecorderSettings, type RecorderState, type RecorderStatus } from './recorder.js';
export { parseCameraAddress, type CameraAddress } from './camera.js';
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
export {
  journaledDevices,
  journalPathOf,
  parseJournal,
  readJournal,
  RECORDING_FOLDER,
  recordingDirOf,
  STATE_FOLDER,
  stateDirOf,
} from './journal.js';
export { classifyFailure, type Failure, type FailureKind } from './failure.js';
