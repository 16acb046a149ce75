// `shifu-rtsp export`'s settings and argument parsers (the command's wiring is in functions/commands/).
import { z } from 'zod';
import { DNS_1123_LABEL, zPort, type OptionSpecs } from '../lib/index.js';
import { bucketSchemas } from '../archive/index.js';
import { CLIP_CONTAINERS } from '../contracts/index.js';

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** An ISO 8601 time (`2026-11-24T10:00Z`, `2026-11-24`) or an age (`90m`, `12h`, `7d`: that long ago). */
export function parseTimeArgument(value: string, now = Date.now()): Date | undefined {
  const age = /^(\d+)\s*([smhd])$/.exec(value.trim());
  if (age?.[1] !== undefined && age[2] !== undefined) return new Date(now - Number(age[1]) * (UNIT_MS[age[2]] ?? 0));
  if (!/^\d{4}-\d{2}-\d{2}/.test(value.trim())) return undefined;
  const date = new Date(value.trim());
  return Number.isNaN(date.getTime()) ? undefined : date;
}

const zTime = z
  .string()
  .transform((value, ctx) => {
    const date = parseTimeArgument(value);
    if (!date) {
      ctx.addIssue({ code: 'custom', message: 'expected an ISO time such as 2026-11-24T10:00:00Z, or an age such as 90m, 12h, 7d' });
      return z.NEVER;
    }
    return date;
  })
  .optional();

/** `START..END`, each an ISO time or an age (`2026-11-24T10:15:00Z..2026-11-24T10:20:00Z`, `2h..1h`). */
export function parseClipRange(value: string, now = Date.now()): { start: Date; end: Date } | undefined {
  const parts = value.split('..');
  if (parts.length !== 2) return undefined;
  const start = parseTimeArgument(parts[0]!, now);
  const end = parseTimeArgument(parts[1]!, now);
  return start && end && start.getTime() < end.getTime() ? { start, end } : undefined;
}

const zClip = z
  .string()
  .transform((value, ctx) => {
    const range = parseClipRange(value);
    if (!range) {
      ctx.addIssue({ code: 'custom', message: 'expected START..END with START before END, e.g. 2026-11-24T10:15:00Z..2026-11-24T10:20:00Z (ages such as 2h..1h work too)' });
      return z.NEVER;
    }
    return range;
  })
  .optional();

/** Most devices one `--clip` takes: the playback server's bound for /api/export. */
export const MAX_DEVICES = 16;

/** `--device`: one device, or several separated by commas, none twice. */
const zDevices = z
  .string({ message: 'required: the device whose footage to copy' })
  .transform((value) => value.split(',').map((d) => d.trim()))
  .pipe(
    z
      .array(z.string().regex(DNS_1123_LABEL, 'expected a DNS-1123 label (or several, separated by commas)'))
      .min(1)
      .max(MAX_DEVICES, `at most ${MAX_DEVICES} devices`)
      .refine((names) => new Set(names).size === names.length, 'a device is named twice'),
  );

/** The pod `shifu-rtsp export` asks for several devices at once: storage/all-cameras/'s playback pod. */
export const ALL_CAMERAS_POD = 'shifu-rtsp-playback';

const zName = z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'expected a Kubernetes object name');

const zBaseUrl = z
  .url({ protocol: /^https?$/, message: 'expected an http:// or https:// URL, e.g. http://localhost:9996' })
  .transform((u) => new URL(u))
  .optional();

export const exportOptions = {
  device: { flag: 'device', env: ['EXPORT_DEVICE'], schema: zDevices, description: `device whose footage to copy; with --clip, up to ${MAX_DEVICES} separated by commas (a,b: one zip of clips from the all-cameras pod)` },
  to: { flag: 'to', env: ['EXPORT_TO'], schema: z.string({ message: 'required: the local folder to copy into' }).min(1), description: 'local folder; files land in <to>/<device>/' },
  since: { flag: 'since', env: ['EXPORT_SINCE'], schema: zTime, description: 'only segments that end after this time (ISO time or age: 12h, 7d)' },
  until: { flag: 'until', env: ['EXPORT_UNTIL'], schema: zTime, description: 'only segments that start before this time' },
  clip: { flag: 'clip', env: ['EXPORT_CLIP'], schema: zClip, description: 'instead of whole segments, one file cut from START..END (ISO times or ages)' },
  format: { flag: 'format', env: ['EXPORT_FORMAT'], schema: z.enum(CLIP_CONTAINERS), default: 'mp4', description: `container of a --clip: ${CLIP_CONTAINERS.join(' | ')}` },
  url: { flag: 'url', env: ['EXPORT_URL'], schema: zBaseUrl, description: 'playback server to read from directly (e.g. http://localhost:9996 after kubectl port-forward); without it, the pod proxy of the Kubernetes API' },
  namespace: { flag: 'namespace', env: ['EXPORT_NAMESPACE'], schema: zName.optional(), description: "namespace of the export pod (default: the kubeconfig context's, else deviceshifu)" },
  pod: { flag: 'pod', env: ['EXPORT_POD'], schema: zName.optional(), description: `export pod (default <device>-export, from storage/; for several devices ${ALL_CAMERAS_POD}, from storage/all-cameras/)` },
  port: { flag: 'port', env: ['EXPORT_PORT'], schema: zPort, default: '9996', description: "the export pod's playback port" },
  token: { flag: 'token', env: ['EXPORT_TOKEN', 'PLAYBACK_TOKEN'], schema: z.string().optional(), secret: true, description: "the playback server's bearer token, if it has one (prefer the variable)" },
  progress: { flag: 'progress', env: ['EXPORT_PROGRESS'], kind: 'boolean', schema: z.boolean(), default: true, description: 'progress on stderr' },
  // From the bucket the recorder archives to (functions/archive): the archive's settings under export's names.
  // The keys only from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the SDK's chain: never a flag.
  s3Bucket: { flag: 's3-bucket', env: ['EXPORT_S3_BUCKET'], schema: bucketSchemas.bucket.optional(), description: "read footage from this bucket (the recorders' ARCHIVE_S3_BUCKET) instead of a playback server; keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the SDK's chain" },
  s3Endpoint: { flag: 's3-endpoint', env: ['EXPORT_S3_ENDPOINT'], schema: bucketSchemas.endpoint, description: "the bucket's S3 endpoint (a self-hosted server's URL); unset: AWS's own for the region" },
  s3Region: { flag: 's3-region', env: ['EXPORT_S3_REGION', 'AWS_REGION'], schema: bucketSchemas.region, default: 'us-east-1', description: 'S3 region (self-hosted servers mostly take any)' },
  s3ForcePathStyle: { flag: 's3-force-path-style', env: ['EXPORT_S3_FORCE_PATH_STYLE'], kind: 'boolean', schema: z.boolean(), default: false, description: 'path-style addressing (http://host/bucket/key), which most self-hosted servers need' },
  s3Prefix: { flag: 's3-prefix', env: ['EXPORT_S3_PREFIX'], schema: bucketSchemas.prefix, description: "the recorders' ARCHIVE_S3_PREFIX: objects are <prefix><device>/<file name> (recorders control starts use <namespace>/, e.g. deviceshifu/); default empty" },
} satisfies OptionSpecs;

