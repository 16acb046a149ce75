import { readFileSync } from 'node:fs';
import { z } from 'zod';
import {
  ConfigError,
  DNS_1123_LABEL,
  createLogger,
  defineCommand,
  locateFfmpeg,
  locateFfprobe,
  onShutdown,
  registerSecret,
  zHostPort,
  zSeconds,
  type OptionSpecs,
} from '../lib/index.js';
import { attachEvents, eventOptions } from '../events/index.js';
import { parseCameraAddress, zCameraUrl } from './camera.js';
import { serveRecorderApi } from './http.js';
import { recorderMetrics } from './metrics.js';
import { AUDIO_MODES, CONTAINER_FORMATS, type AudioMode, type ContainerFormat } from './plan.js';
import { Recorder } from './recorder.js';

const UNITS: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, ki: 2 ** 10, mi: 2 ** 20, gi: 2 ** 30, ti: 2 ** 40 };

/** Sizes as people write them: `500000000`, `500M`, `10Gi`, `2T`. */
const zBytes = z
  .string()
  .trim()
  .transform((value, ctx) => {
    const m = /^(\d+(?:\.\d+)?)\s*([kmgt]i?)?b?$/i.exec(value);
    const factor = UNITS[(m?.[2] ?? '').toLowerCase()];
    if (!m || factor === undefined) {
      ctx.addIssue({ code: 'custom', message: 'expected a size such as 500M, 10G or 10Gi (0: no limit)' });
      return z.NEVER;
    }
    return Math.round(Number(m[1]) * factor);
  });

const zDnsLabel = z
  .string()
  .regex(DNS_1123_LABEL, 'expected a DNS-1123 label: lowercase letters, digits and -, at most 63');

export const recorderOptions = {
  url: {
    flag: 'url',
    env: ['RTSPServerAddress', 'RTSP_URL'],
    schema: zCameraUrl,
    description: 'camera stream: rtsp://host[:port]/path or host[:port][/path] (port 554 by default)',
  },
  username: { flag: 'username', env: ['UserName'], schema: z.string().optional(), description: 'camera user name' },
  passwordFile: {
    flag: 'password-file',
    env: ['PASSWORD_FILE'],
    schema: z.string().optional(),
    description: 'file holding the camera password (env PasswordSecret also works; never pass passwords as flags)',
  },
  out: { flag: 'out', env: ['FileSavePath'], schema: z.string().min(1), default: '/data', description: 'storage root for recordings' },
  device: {
    flag: 'device',
    env: ['DEVICE_NAME', 'EDGEDEVICE_NAME'],
    schema: zDnsLabel,
    default: 'camera',
    description: 'device name: folder and file-name prefix',
  },
  segmentSeconds: {
    flag: 'segment-seconds',
    env: ['SEGMENT_SECONDS'],
    schema: zSeconds(2, 86_400).transform(Math.round),
    default: '3600',
    description: 'segment length in seconds; cuts fall on the first keyframe at or after it',
  },
  format: {
    flag: 'format',
    env: ['RECORD_FORMAT'],
    schema: z.enum(CONTAINER_FORMATS as [ContainerFormat, ...ContainerFormat[]]),
    default: 'mp4',
    description: `container: ${CONTAINER_FORMATS.join(' | ')} (mp4 is fragmented)`,
  },
  audio: {
    flag: 'audio',
    env: ['RECORD_AUDIO'],
    schema: z.enum(AUDIO_MODES as [AudioMode, ...AudioMode[]]),
    default: 'auto',
    description: 'auto (copy, or AAC where the container cannot hold it) | copy | aac | none',
  },
  transport: {
    flag: 'transport',
    env: ['RTSP_TRANSPORT'],
    schema: z.enum(['tcp', 'udp']),
    default: 'tcp',
    description: 'RTSP transport to the camera: tcp | udp',
  },
  httpListen: {
    flag: 'http-listen',
    env: ['HTTP_LISTEN'],
    schema: zHostPort(),
    default: '0.0.0.0:8080',
    description: 'address of the HTTP API',
  },
  idle: {
    flag: 'idle',
    env: ['RECORD_IDLE'],
    kind: 'boolean',
    schema: z.boolean(),
    default: false,
    description: 'start with recording off (POST /record/on starts it)',
  },
  alignToClock: {
    flag: 'align-to-clock',
    env: ['ALIGN_TO_CLOCK'],
    kind: 'boolean',
    schema: z.boolean(),
    default: true,
    description: 'cut on wall-clock multiples of the segment length (hourly files run 10:00-11:00 UTC)',
  },
  watchdogSeconds: {
    flag: 'watchdog-seconds',
    env: ['WATCHDOG_SECONDS'],
    schema: zSeconds(2, 600),
    default: '10',
    description: 'restart ffmpeg when no media arrives for this long',
  },
  retainHours: {
    flag: 'retain-hours',
    env: ['RETAIN_HOURS'],
    schema: zSeconds(0, 100 * 365 * 24),
    default: '0',
    description: 'delete finished segments older than this (0: keep)',
  },
  retainBytes: {
    flag: 'retain-bytes',
    env: ['RETAIN_BYTES'],
    schema: zBytes,
    default: '0',
    description: 'keep at most this much footage per device, oldest deleted first (0: no limit)',
  },
  minFreePercent: {
    flag: 'min-free-percent',
    env: ['MIN_FREE_PERCENT'],
    schema: zSeconds(0, 99),
    default: '5',
    description: 'delete the oldest segments while the volume has less free space (percent, 0: off)',
  },
} satisfies OptionSpecs;

export const recorderCommand = defineCommand({
  name: 'recorder',
  summary: 'record one camera into segment files, with an HTTP API to switch recording on and off',
  details: [
    'Files: <out>/<device>/<device>_<UTC start>.<ext>; open segments live in <out>/<device>/.recording/.',
    'HTTP: POST /record/on, POST /record/off, GET /record/status, /health, /ready, /metrics.',
    'SIGTERM stops like /record/off, then exits 0.',
    'Events: with --sink (K_SINK), one CloudEvent per finished segment, queued in <out>/.shifu-rtsp/<device>/outbox/.',
  ].join('\n'),
  options: { ...recorderOptions, ...eventOptions },
  async run(config, ctx) {
    let password = ctx.env.PasswordSecret || undefined;
    if (config.passwordFile) {
      try {
        password = readFileSync(config.passwordFile, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        throw new ConfigError(`invalid --password-file: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
    const camera = parseCameraAddress(config.url, config.username, password);
    registerSecret(camera.password);
    const log = createLogger('recorder').child({ device: config.device });
    const recorder = new Recorder(
      {
        device: config.device,
        camera,
        out: config.out,
        segmentSeconds: config.segmentSeconds,
        format: config.format,
        audio: config.audio,
        transport: config.transport,
        alignToClock: config.alignToClock,
        watchdogSeconds: config.watchdogSeconds,
        retention: { retainHours: config.retainHours, retainBytes: config.retainBytes, minFreePercent: config.minFreePercent },
        ffmpeg: locateFfmpeg(ctx.env),
        ffprobe: locateFfprobe(ctx.env),
      },
      log,
    );
    log.info({ camera: camera.displayUrl, out: config.out, format: config.format, segmentSeconds: config.segmentSeconds }, 'starting');
    // Before open(): segments crash recovery finishes there are announced too (recovered: true).
    const announcer = await attachEvents(recorder, config, log);
    await recorder.open();
    const metrics = recorderMetrics(recorder);
    announcer.metrics(metrics);
    const app = await serveRecorderApi(recorder, config.httpListen, log, metrics);
    log.info({ listen: { address: config.httpListen.host, port: app.port } }, 'http api listening');
    if (!config.idle) recorder.on();
    await new Promise<void>((resolve) => {
      onShutdown(async () => {
        const status = await recorder.close();
        // After the recorder: its last segment's event is queued before the flush.
        await announcer.close();
        await app.close();
        log.info({ lastSegment: status.lastSegment?.file ?? null }, 'stopped');
        resolve();
      }, log);
    });
    return 0;
  },
});
