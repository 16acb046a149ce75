// The mock camera: an RTSP server with ffmpeg test patterns, for demos and users without hardware.
export { mockCameraOptions } from './options.js';
export { withRepeatedFlag } from './repeated-flag.js';
export { DEFAULT_RTP_PORT_RANGE, startMockCamera, type MockCamera, type MockCameraOptions } from './mock-camera.js';
export {
  AUDIO_CODECS,
  DEFAULT_STREAMS,
  parseStreamSpec,
  parseStreamSpecs,
  STREAM_SPEC_GRAMMAR,
  VIDEO_CODECS,
  type AudioCodec,
  type TestPattern,
  type VideoCodec,
} from './stream-spec.js';
export { AUTH_SCHEMES, type AuthScheme } from './auth.js';
