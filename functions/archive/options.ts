// The archive's settings (issue 25): where finished segments go in S3, parsed once with zod with the recorder's.
import { z } from 'zod';
import { ConfigError, parseConfig, zDuration, type ConfigOf, type OptionSpecs } from '../lib/index.js';
import { bucketDevicePrefix } from '../contracts/index.js';

/** S3's bucket naming rules, the common part every server keeps (3-63 lowercase letters, digits, dots, hyphens). */
const zBucket = z
  .string()
  .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name: 3 to 63 lowercase letters, digits, dots and hyphens');

/** The settings every reader or writer of a bucket takes, for other commands' options (export's `--s3-*`). */
export const bucketSchemas = {
  endpoint: z.url({ protocol: /^https?$/, message: 'expected an http:// or https:// URL' }).optional(),
  bucket: zBucket,
  region: z.string().regex(/^[a-z0-9-]{1,64}$/, 'expected a region name such as us-east-1'),
  prefix: z
    .string()
    .max(512, 'expected at most 512 characters')
    .regex(/^(?!\/)[\x21-\x7e]*$/, 'expected printable characters without spaces, not starting with /')
    .optional(),
};

/** Above the kubelet's 10 % eviction threshold: the pod is not evicted for a full disk before footage is given up. */
export const DEFAULT_HARD_MIN_FREE_PERCENT = 11;

/**
 * The most one request carries. A segment up to this size is one PUT (checked whole by the server against its
 * journal sha256): 2 minutes of an 8 Mbit/s camera are 114 MiB, so every segment from 2 s to 2 min of a 4-8 Mbit/s
 * camera fits with room for its bitrate's peaks. Hour-long segments (1.7-3.4 GiB) go in parts of this size, 14-27
 * requests instead of 344-687 of 5 MiB, so a failed request re-sends at most this much and none nears S3's 5 GiB
 * limit for one PUT; no part is held in memory whatever its size (each is read twice from the file).
 */
export const DEFAULT_PART_MIB = 128;

/** The archive settings of the recorder command; merged into its options. Archiving is on when a bucket is set. */
export const archiveOptions = {
  archiveEndpoint: {
    flag: 'archive-s3-endpoint',
    env: ['ARCHIVE_S3_ENDPOINT'],
    schema: bucketSchemas.endpoint,
    description: "S3 endpoint for the archive (a self-hosted server's URL); unset: AWS's own for the region",
  },
  archiveBucket: {
    flag: 'archive-s3-bucket',
    env: ['ARCHIVE_S3_BUCKET'],
    schema: bucketSchemas.bucket.optional(),
    description: 'bucket every finished segment is uploaded to; unset: no archive',
  },
  archiveRegion: {
    flag: 'archive-s3-region',
    env: ['ARCHIVE_S3_REGION', 'AWS_REGION'],
    schema: bucketSchemas.region,
    default: 'us-east-1',
    description: 'S3 region (self-hosted servers mostly take any; signatures name it)',
  },
  archiveForcePathStyle: {
    flag: 'archive-s3-force-path-style',
    env: ['ARCHIVE_S3_FORCE_PATH_STYLE'],
    kind: 'boolean',
    schema: z.boolean(),
    default: false,
    description: 'path-style addressing (http://host/bucket/key), which most self-hosted servers need',
  },
  archivePrefix: {
    flag: 'archive-s3-prefix',
    env: ['ARCHIVE_S3_PREFIX'],
    schema: bucketSchemas.prefix,
    description: 'key prefix: objects are <prefix><device>/<file name> (default: <namespace>/ in a cluster, empty outside one)',
  },
  archiveMaxMbps: {
    flag: 'archive-max-mbps',
    env: ['ARCHIVE_MAX_MBPS'],
    schema: z.coerce
      .number({ message: 'expected megabits per second, e.g. 20' })
      .refine((n) => Number.isFinite(n) && n > 0 && n <= 100_000, 'expected megabits per second above 0')
      .optional(),
    description: 'upload at most this many megabits per second (unset: unlimited)',
  },
  archivePartMib: {
    flag: 'archive-part-mib',
    env: ['ARCHIVE_PART_MIB'],
    schema: z.coerce
      .number({ message: 'expected mebibytes, e.g. 128' })
      .refine((n) => Number.isInteger(n) && n >= 5 && n <= 5120, 'expected whole mebibytes from 5 (S3\'s smallest part) to 5120 (its largest PUT)'),
    default: String(DEFAULT_PART_MIB),
    description: 'a segment up to this many MiB is uploaded in one PUT, a larger one as a multipart upload of parts this size',
  },
  archiveKeepLocal: {
    flag: 'archive-keep-local',
    env: ['ARCHIVE_KEEP_LOCAL'],
    schema: zDuration.optional(),
    description: 'delete a segment from the volume once it is archived and older than this (e.g. 24h, 7d); unset: the recorder\'s other limits decide',
  },
  archiveHardMinFreePercent: {
    flag: 'archive-hard-min-free-percent',
    env: ['ARCHIVE_HARD_MIN_FREE_PERCENT'],
    schema: z.coerce
      .number({ message: 'expected a percentage, e.g. 11' })
      .refine((n) => Number.isFinite(n) && n >= 0 && n < 100, 'expected a percentage from 0 to below 100'),
    default: String(DEFAULT_HARD_MIN_FREE_PERCENT),
    description: 'while archiving, a segment not archived yet is deleted only when free space falls below this (counted as lost)',
  },
} satisfies OptionSpecs;

export type ArchiveConfig = ConfigOf<typeof archiveOptions>;

/**
 * The archive settings in `env` (ARCHIVE_S3_*, ARCHIVE_MAX_MBPS) as given, checked by the recorder's own rules, so
 * control passes on to every recorder only what it would accept; a bad one stops control's start naming it. Empty
 * when no bucket is set.
 */
export function archiveSettingsToPass(env: NodeJS.ProcessEnv): Readonly<Record<string, string>> {
  const names = Object.values(archiveOptions).flatMap((spec) => [...spec.env].filter((name) => name.startsWith('ARCHIVE_')));
  const given = Object.fromEntries(names.flatMap((name) => (env[name] ? [[name, env[name]]] : [])));
  return archiveIsOn(parseConfig(archiveOptions, [], given).config) ? given : {};
}

/** Whether a bucket is set; an endpoint without one is a configuration error naming ARCHIVE_S3_BUCKET. */
function archiveIsOn(config: ArchiveConfig): boolean {
  if (config.archiveBucket !== undefined) return true;
  if (config.archiveEndpoint !== undefined) throw new ConfigError('invalid ARCHIVE_S3_BUCKET: ARCHIVE_S3_ENDPOINT is set, but no bucket to archive to');
  return false;
}

/** A bucket and how to reach it. Without `credentials`, the SDK's chain (AWS_* variables, a web identity). */
export interface BucketAddress {
  readonly endpoint: string | undefined;
  readonly bucket: string;
  readonly region: string;
  readonly forcePathStyle: boolean;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/**
 * The key prefix: as given, else `<namespace>/` in a cluster (POD_NAMESPACE, set by control's Deployments and the
 * playback Deployment), so one bucket can serve every namespace; empty outside one. The archive and playback agree by it.
 */
export function bucketPrefix(given: string | undefined, env: NodeJS.ProcessEnv): string {
  return given ?? (env.POD_NAMESPACE ? `${env.POD_NAMESPACE}/` : '');
}

/**
 * The keys come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (the SDK reads them) or the SDK's chain (a web
 * identity), never a flag; one without the other is a ConfigError naming the missing one, without either's value.
 */
export function checkAwsKeys(env: NodeJS.ProcessEnv): void {
  const id = Boolean(env.AWS_ACCESS_KEY_ID);
  const secret = Boolean(env.AWS_SECRET_ACCESS_KEY);
  if (id !== secret) throw new ConfigError(`invalid ${id ? 'AWS_SECRET_ACCESS_KEY' : 'AWS_ACCESS_KEY_ID'}: set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither (a web identity)`);
}

/** Where and how one device's segments are archived: the settings resolved against the environment. */
export interface ArchiveTarget extends BucketAddress {
  /** `<prefix><device>/`: every key of this device starts so. */
  readonly devicePrefix: string;
  /** Bytes per second, or null: unlimited. */
  readonly maxBytesPerSecond: number | null;
  /** A segment up to this size is one PUT; a larger one a multipart upload in parts this size (ARCHIVE_PART_MIB). */
  readonly partBytes: number;
  /** ARCHIVE_KEEP_LOCAL in milliseconds; 0: archived segments stay until another limit. */
  readonly keepLocalMs: number;
  readonly hardMinFreePercent: number;
}

/**
 * The archive target, or null when archiving is off. A half-given configuration stops start-up naming the
 * variable: an endpoint without a bucket, or one AWS key without the other.
 */
export function archiveTarget(config: ArchiveConfig, device: string, env: NodeJS.ProcessEnv): ArchiveTarget | null {
  if (!archiveIsOn(config) || config.archiveBucket === undefined) return null;
  checkAwsKeys(env);
  const prefix = bucketPrefix(config.archivePrefix, env);
  return {
    endpoint: config.archiveEndpoint,
    bucket: config.archiveBucket,
    region: config.archiveRegion,
    forcePathStyle: config.archiveForcePathStyle,
    devicePrefix: bucketDevicePrefix(prefix, device),
    maxBytesPerSecond: config.archiveMaxMbps === undefined ? null : (config.archiveMaxMbps * 1e6) / 8,
    partBytes: config.archivePartMib * 1024 * 1024,
    keepLocalMs: (config.archiveKeepLocal ?? 0) * 1000,
    hardMinFreePercent: config.archiveHardMinFreePercent,
  };
}
