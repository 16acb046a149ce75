// `shifu-rtsp playback`'s settings: parsed once at start-up (the command's wiring is in functions/commands/).
import { z } from 'zod';
import { bucketSchemas } from '../archive/index.js';
import { RECORDER_ENV } from '../contracts/index.js';
import { zDuration, zHostPort, type OptionSpecs } from '../lib/index.js';
import { zLiveUrls } from './live-directory.js';

/** `PLAYBACK_ROOT`'s folders: one, or several separated by commas (blank parts are refused at start-up). */
export function parseRoots(value: string): string[] {
  return value.split(',').map((r) => r.trim());
}

export const playbackOptions = {
  root: {
    flag: 'root',
    env: ['PLAYBACK_ROOT', ...RECORDER_ENV.out],
    schema: z
      .string()
      .min(1)
      .refine((v) => parseRoots(v).every((r) => r !== ''), 'expected a folder, or folders separated by commas with none empty')
      .refine((v) => new Set(parseRoots(v)).size === parseRoots(v).length, 'a folder is named twice')
      .optional(),
    description: "storage root to serve (the recorders' --out), or several separated by commas (one per device volume: /data/cam1,/data/cam2); only read, never written. Default /data, or none with PLAYBACK_S3_BUCKET (the bucket alone)",
  },
  s3Endpoint: {
    flag: 's3-endpoint',
    env: ['PLAYBACK_S3_ENDPOINT'],
    schema: bucketSchemas.endpoint,
    description: "S3 endpoint of the archive's bucket (a self-hosted server's URL); unset: AWS's own for the region",
  },
  s3Bucket: {
    flag: 's3-bucket',
    env: ['PLAYBACK_S3_BUCKET'],
    schema: bucketSchemas.bucket.optional(),
    description: "the archive's bucket (ARCHIVE_S3_BUCKET) to serve footage from, beside or instead of the volume; keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or a web identity",
  },
  s3Region: {
    flag: 's3-region',
    env: ['PLAYBACK_S3_REGION', 'AWS_REGION'],
    schema: bucketSchemas.region,
    default: 'us-east-1',
    description: 'S3 region (self-hosted servers mostly take any; signatures name it)',
  },
  s3ForcePathStyle: {
    flag: 's3-force-path-style',
    env: ['PLAYBACK_S3_FORCE_PATH_STYLE'],
    kind: 'boolean',
    schema: z.boolean(),
    default: false,
    description: 'path-style addressing (http://host/bucket/key), which most self-hosted servers need',
  },
  s3Prefix: {
    flag: 's3-prefix',
    env: ['PLAYBACK_S3_PREFIX'],
    schema: bucketSchemas.prefix,
    description: "the archive's key prefix (ARCHIVE_S3_PREFIX): devices are the folders under it. Default as the archive's: <POD_NAMESPACE>/ in a cluster, empty outside one",
  },
  listen: {
    flag: 'listen',
    env: ['PLAYBACK_LISTEN'],
    schema: zHostPort(),
    default: '0.0.0.0:9996',
    description: 'address for the API, the files and the page',
  },
  token: {
    flag: 'token',
    env: ['PLAYBACK_TOKEN'],
    schema: z.string().min(16, 'expected at least 16 characters').optional(),
    secret: true,
    description: 'bearer token every route but /, /app.js, /favicon.svg, /api/session and /health requires (prefer the variable: flags show in ps)',
  },
  tokenSecret: {
    flag: 'token-secret',
    env: ['PLAYBACK_TOKEN_SECRET'],
    schema: z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'expected a Secret name (lower-case letters, digits, - and .)').optional(),
    description: "the Kubernetes Secret PLAYBACK_TOKEN comes from (key token), which the page's token form names so that a user knows where to find it; the manifests set it",
  },
  maxClip: {
    flag: 'max-clip',
    env: ['PLAYBACK_MAX_CLIP'],
    schema: zDuration,
    default: '6h',
    description: 'longest clip /api/clip cuts (e.g. 6h, 90m, 3600)',
  },
  indexDir: {
    flag: 'index-dir',
    env: ['PLAYBACK_INDEX_DIR'],
    schema: z.string().min(1).optional(),
    description: "folder for the footage index between restarts (the pod's own emptyDir, never the volume); without it the index lives in memory and each start reads every journal once",
  },
  cacheDir: {
    flag: 'cache-dir',
    env: ['PLAYBACK_CACHE_DIR'],
    schema: z.string().min(1).optional(),
    description: "folder for thumbnails (the pod's own emptyDir, never the volume; at most 256 MiB, oldest dropped first); without it a 32 MiB memory cache",
  },
  maxCuts: {
    flag: 'max-cuts',
    env: ['PLAYBACK_MAX_CUTS'],
    schema: z.coerce.number({ message: 'expected a whole number' }).int('expected a whole number').min(1).max(1000).optional(),
    description: 'ffmpeg work at once (clip cuts; each holds tens of MiB while it streams); past it 503 with Retry-After. Default: 2 per CPU the process may use (its cgroup CPU quota, else the CPUs it may run on)',
  },
  liveUrls: {
    flag: 'live-urls',
    env: ['PLAYBACK_LIVE_URLS'],
    schema: zLiveUrls.optional(),
    description: "the page's live grid without Kubernetes: DEVICE=URL pairs, comma-separated, each URL a forwarder's live view of the camera path (cam1=http://127.0.0.1:8889/Streaming/Channels/101)",
  },
  liveNamespace: {
    flag: 'live-namespace',
    env: ['PLAYBACK_LIVE_NAMESPACE'],
    schema: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'expected a namespace name').optional(),
    description: "the page's live grid from the EdgeDevices of this namespace (each forwarder's Service deviceshifu-<device>, port 8889); needs get/list/watch on edgedevices",
  },
  liveToken: {
    flag: 'live-token',
    env: ['PLAYBACK_LIVE_TOKEN'],
    schema: z.string().min(16, 'expected at least 16 characters').optional(),
    secret: true,
    description: "the forwarders' LIVE_TOKEN, sent on with every live request the page makes (prefer the variable: flags show in ps)",
  },
} satisfies OptionSpecs;

