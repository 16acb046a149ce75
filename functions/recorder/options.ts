// The recorder's settings: flags and environment variables, parsed once with zod at start-up.
import { z } from 'zod';
import { DNS_1123_LABEL, zHostPort, zSeconds, type OptionSpecs } from '../lib/index.js';
import { zCameraUrl } from './camera.js';
import { DEFAULT_LEASE_RENEW_SECONDS, MISSED_RENEWALS } from './lease.js';
import { AUDIO_MODES, CONTAINER_FORMATS, type AudioMode, type ContainerFormat } from './plan.js';

const UNITS: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, ki: 2 ** 10, mi: 2 ** 20, gi: 2 ** 30, ti: 2 ** 40 };

/** Sizes as people write them: `500000000`, `500M`, `10Gi`, `2T`. */
export const zSize = z
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

/** Free-space floor by default, in percent of the volume. */
export const DEFAULT_MIN_FREE_PERCENT = 15;

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
  apiToken: {
    flag: 'api-token',
    env: ['RECORDER_API_TOKEN'],
    schema: z.string().min(16, 'expected at least 16 characters').optional(),
    secret: true,
    description: 'bearer token that POST /record/on|off and GET /record/status require (control sets one per Deployment; use the env variable: flags show in ps)',
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
  leaseRenewSeconds: {
    flag: 'lease-renew-seconds',
    env: ['LEASE_RENEW_SECONDS'],
    schema: zSeconds(1, 600),
    default: String(DEFAULT_LEASE_RENEW_SECONDS),
    description: `renew the device folder's lease this often; another recorder takes it over after ${MISSED_RENEWALS} missed renewals`,
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
    schema: zSize,
    default: '0',
    description: 'keep at most this much footage per device, oldest deleted first (0: no limit)',
  },
  minFreePercent: {
    flag: 'min-free-percent',
    env: ['MIN_FREE_PERCENT'],
    schema: zSeconds(0, 99),
    // Above the kubelet's default eviction threshold (nodefs.available<10%): a node under DiskPressure
    // evicts the recorder, which its volume pins there, so it could not come back.
    default: String(DEFAULT_MIN_FREE_PERCENT),
    description: 'delete the oldest segments while the volume has less free space (percent, 0: off; above the kubelet eviction threshold of 10 %)',
  },
} satisfies OptionSpecs;

