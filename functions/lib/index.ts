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
export { createLogger, type Logger } from './log.js';
export { redact, redactDeep, registerSecret } from './redact.js';
export { locateFfmpeg, locateFfprobe, ToolNotFoundError } from './ffmpeg.js';
export { onShutdown, type ShutdownHandler } from './shutdown.js';
export { defineCommand, type Command, type CommandContext } from './command.js';
export {
  boundPort,
  createMetricsRegistry,
  describeZodError,
  HttpError,
  startHttpServer,
  type FastifyInstance,
  type HttpServerOptions,
} from './http.js';
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
export { DNS_1123_LABEL, sha256OfFile } from './files.js';
export { http, requestFor } from './node-http.js';
export { parseJsonLines } from './json-lines.js';
