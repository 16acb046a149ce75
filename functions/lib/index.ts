export {
  ConfigError,
  formatOptions,
  parseConfig,
  zBool,
  zHostPort,
  zPort,
  zSeconds,
  type ConfigOf,
  type HostPort,
  type OptionSpec,
  type OptionSpecs,
  type ParsedConfig,
} from './config.js';
export { createLogger, knativeLogFields, type Logger } from './log.js';
export { redact, redactDeep, registerSecret } from './redact.js';
export { locateFfmpeg, locateFfprobe, parseFfmpegVersion, requireFfmpeg5, toolEnv, ToolNotFoundError } from './ffmpeg.js';
export { onShutdown, type ShutdownHandler } from './shutdown.js';
export { defineCommand, type Command, type CommandContext } from './command.js';
export { createMetricsRegistry, describeZodError, HttpError, isJsonMediaType, readSmallBody } from './http.js';
export { startJsonServer, type JsonRequest, type JsonResponse, type JsonServer } from './json-server.js';
export { backoffDelay, sleep, type BackoffPolicy } from './backoff.js';
export { ScrapedMetrics } from './metrics.js';
export {
  startProbeServer,
  type ProbeAnswer,
  type ProbeHandler,
  type ProbeRequest,
  type ProbeRoutes,
  type ProbeServer,
  type StreamHandler,
} from './probe-server.js';
export { freeLoopbackPort } from './ports.js';
export { hlsScript, playersScript, readPageAsset } from './page-assets.js';
export { presentedToken, sameSecret, tokenCookie } from './bearer.js';
export { errorAnswer, listenOn, requestUrl, type ListeningServer } from './server-core.js';
export { DNS_1123_LABEL, moveNoReplace, sha256OfFile } from './files.js';
export { collectYoungGarbage } from './young-garbage.js';
// Durable writes are a module of their own (functions/durable), so a reader that needs only them (the sample
// subscriber) loads one file; the rest of the code takes them from here as before.
export { appendSynced, commitFile, diskFs, replaceFile, syncDir, TEMPORARY_SUFFIX, type DurableFs } from '../durable/index.js';
export { http, requestFor } from './node-http.js';
export {
  DEFAULT_LIMITS,
  RtspParser,
  type ParserLimits,
  type ParserRole,
  type RtspInput,
} from './rtsp-parser.js';
export {
  header,
  interleavedHeader,
  serializeMessage,
  serializeResponse,
  STATUS_TEXT,
  type HeaderList,
  type RtspIncomingResponse,
  type RtspRequest,
  type RtspResponse,
} from './rtsp-message.js';
export { parseAuthParams, pickChallenge, RequestSigner, type Challenge, type Login } from './rtsp-auth.js';
export { formatTransport, parseTransport, type DeliveryMode, type TransportRequest } from './rtsp-transport.js';
export { UdpPair, UdpPortPool, zPortRange, zPortRangeWhere, type PortRange } from './udp-ports.js';
export { ReadBuffers } from './read-buffers.js';
export { beginsKeyframeNal, KeyframeGate, rtpPayloadOffset, rtpTimestamp, type VideoCodec } from './rtp-keyframe.js';
export { readZipDirectory, ZipWriter, type ZipEntry, type ZipEntryWritten } from './zip.js';
export { parseDuration, zDuration } from './duration.js';
export { chooseEncoder, listedEncoders, type VideoEncoder } from './h264-encoders.js';
