// The recorder's settings: flags and environment variables, parsed once with zod at start-up.
import { z } from 'zod';
import { DNS_1123_LABEL, zHostPort, zSeconds, type OptionSpecs } from '../lib/index.js';
import { DEFAULT_LEASE_RENEW_SECONDS, MISSED_RENEWALS } from './lease.js';
import { AUDIO_MODES, CONTAINER_FORMATS, DEFAULT_MIN_FREE_PERCENT, RECORDER_ENV, zCameraUrl, zSize, type AudioMode, type ContainerFormat } from '../contracts/index.js';

export { zSize } from '../contracts/index.js';

const zDnsLabel = z
  .string()
  .regex(DNS_1123_LABEL, 'expected a DNS-1123 label: lowercase letters, digits and -, at most 63');

export { DEFAULT_MIN_FREE_PERCENT } from '../contracts/index.js';

export const recorderOptions = {
  url: {
    flag: 'url',
    env: RECORDER_ENV.url,
    schema: zCameraUrl,
    description: 'camera stream: rtsp://host[:port]/path or host[:port][/path] (port 554 by default)',
  },
  username: { flag: 'username', env: RECORDER_ENV.username, schema: z.string().optional(), description: 'camera user name' },
  passwordFile: {
    flag: 'password-file',
    env: RECORDER_ENV.passwordFile,
    schema: z.string().optional(),
    description: 'file holding the camera password (env CAMERA_PASSWORD, or the seed\'s PasswordSecret, also works; never pass passwords as flags)',
  },
  apiToken: {
    flag: 'api-token',
    env: RECORDER_ENV.apiToken,
    schema: z.string().min(16, 'expected at least 16 characters').optional(),
    secret: true,
    description: 'bearer token that POST /record/on|off and GET /record/status require (control sets one per Deployment; use the env variable: flags show in ps)',
  },
  out: { flag: 'out', env: RECORDER_ENV.out, schema: z.string().min(1), default: '/data', description: 'storage root for recordings' },
  device: {
    flag: 'device',
    env: RECORDER_ENV.device,
    schema: zDnsLabel,
    default: 'camera',
    description: 'device name: folder and file-name prefix',
  },
  segmentSeconds: {
    flag: 'segment-seconds',
    env: RECORDER_ENV.segmentSeconds,
    schema: zSeconds(2, 86_400).transform(Math.round),
    default: '3600',
    description: 'segment length in seconds; cuts fall on the first keyframe at or after it',
  },
  format: {
    flag: 'format',
    env: RECORDER_ENV.format,
    schema: z.enum(CONTAINER_FORMATS as [ContainerFormat, ...ContainerFormat[]]),
    default: 'mp4',
    description: `container: ${CONTAINER_FORMATS.join(' | ')} (mp4 is fragmented)`,
  },
  audio: {
    flag: 'audio',
    env: RECORDER_ENV.audio,
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
    env: RECORDER_ENV.httpListen,
    schema: zHostPort(),
    default: '0.0.0.0:8080',
    description: 'address of the HTTP API',
  },
  idle: {
    flag: 'idle',
    env: RECORDER_ENV.idle,
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
    env: RECORDER_ENV.retainHours,
    schema: zSeconds(0, 100 * 365 * 24),
    default: '0',
    description: 'delete finished segments older than this (0: keep)',
  },
  retainBytes: {
    flag: 'retain-bytes',
    env: RECORDER_ENV.retainBytes,
    schema: zSize,
    default: '0',
    description: 'keep at most this much footage per device, oldest deleted first (0: no limit)',
  },
  minFreePercent: {
    flag: 'min-free-percent',
    env: RECORDER_ENV.minFreePercent,
    schema: zSeconds(0, 99),
    // Above the kubelet's default eviction threshold (nodefs.available<10%): a node under DiskPressure
    // evicts the recorder, which its volume pins there, so it could not come back.
    default: String(DEFAULT_MIN_FREE_PERCENT),
    description: 'delete the oldest segments while the volume has less free space (percent, 0: off; above the kubelet eviction threshold of 10 %)',
  },
} satisfies OptionSpecs;

