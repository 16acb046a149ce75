// `shifu-rtsp export`: footage out of the cluster, as a process.
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError, defineCommand, registerSecret, type ConfigOf } from '../lib/index.js';
import { checkAwsKeys } from '../archive/index.js';
import {
  ALL_CAMERAS_POD,
  bucketSegments,
  exportBucketClip,
  exportBucketClips,
  checkExportPod,
  exportClips,
  exportClip,
  exportOptions,
  exportSegments,
  formatBytes,
  httpSource,
  podProxySource,
  serverSegments,
  type ClipReport,
  type ClipsReport,
  type ExportReport,
  type FootageSource,
  type SegmentSource,
  type TimeWindow,
} from '../export/index.js';

export const exportCommand = defineCommand({
  name: 'export',
  summary: 'copy recorded footage out of the cluster from the export pod\'s playback server (whole segments, checked and resumable, or one clip by time)',
  details: [
    'Reads the playback server in the export pod from storage/: through the Kubernetes API pod proxy (RBAC: pods get, pods/proxy get),',
    'or directly with --url (a kubectl port-forward). Segments are checked against the journal: size and sha256.',
    'Re-running continues: verified copies are skipped, interrupted ones (<name>.partial) continue from their last byte (HTTP Range).',
    'With --clip START..END: one file cut from the segments by the server (keyframe at or before START), in --format.',
    'With --device a,b and --clip: one clip per device of the same range, from the all-cameras pod (storage/all-cameras/) as one zip, checked and unpacked.',
    'With --s3-bucket (and --s3-endpoint, --s3-prefix...): from the bucket the recorders archive to instead, the same checks; a clip is cut here',
    'from the segments it touches (copied and checked first). Keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the SDK\'s chain, never a flag.',
    'Prints a JSON report on stdout. Exit codes: 0 all copied, 1 some files failed, 2 usage error.',
  ].join('\n'),
  options: exportOptions,
  check(config) {
    if (config.since && config.until && config.since.getTime() >= config.until.getTime()) {
      throw new ConfigError('invalid --since/--until: --since must be before --until');
    }
    if (config.clip && (config.since || config.until)) throw new ConfigError('invalid --clip: give --clip or --since/--until, not both');
    if (config.device.length > 1 && !config.clip) throw new ConfigError('invalid --device: several devices take --clip START..END (whole segments are copied one device at a time)');
    if (config.s3Bucket && config.url) throw new ConfigError('invalid --url: give --s3-bucket (read the bucket) or --url (a playback server), not both');
    if (!config.s3Bucket && (config.s3Endpoint || config.s3Prefix !== undefined)) throw new ConfigError('invalid --s3-bucket: --s3-endpoint or --s3-prefix is set, but no bucket to read');
  },
  async run(config, ctx) {
    if (config.token) registerSecret(config.token);
    if (config.s3Bucket) {
      checkAwsKeys(ctx.env);
      // Never shown: the archive's messages are built without it, and redaction catches what else might carry it.
      if (ctx.env.AWS_SECRET_ACCESS_KEY) registerSecret(ctx.env.AWS_SECRET_ACCESS_KEY);
      const address = { endpoint: config.s3Endpoint, bucket: config.s3Bucket, region: config.s3Region, forcePathStyle: config.s3ForcePathStyle };
      const bucket = await bucketSegments(address, config.s3Prefix ?? '');
      try {
        return await fromBucket(config, bucket);
      } finally {
        await bucket.close?.();
      }
    }
    let source: FootageSource;
    if (config.url) source = httpSource(config.url, config.token);
    else {
      const kc = new KubeConfig();
      kc.loadFromDefault();
      const namespace = config.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'deviceshifu';
      // One device: its own export pod. Several: the all-cameras pod, the one that mounts every device's volume.
      const pod = config.pod ?? (config.device.length > 1 ? ALL_CAMERAS_POD : `${config.device[0]}-export`);
      await checkExportPod(kc, { namespace, pod });
      source = await podProxySource(kc, { namespace, pod, port: config.port }, config.token);
    }
    const to = path.resolve(config.to);
    const device = config.device[0]!;
    if (config.clip && config.device.length > 1) return clipsDone(await exportClips({ devices: config.device, ...config.clip, format: config.format, to, source }));
    if (config.clip) return clipDone(await exportClip({ device, ...config.clip, format: config.format, to, source }));
    return segmentsDone(await exportSegments({ device, to, window: windowOf(config), source: serverSegments(source), progress: config.progress ? process.stderr : null }));
  },
});

type ExportConfig = ConfigOf<typeof exportOptions>;

/** The same three exports, from the bucket: its segments, and clips cut here from them. */
async function fromBucket(config: ExportConfig, source: SegmentSource): Promise<number> {
  const to = path.resolve(config.to);
  const progress = config.progress ? process.stderr : null;
  if (config.clip && config.device.length > 1) return clipsDone(await exportBucketClips({ devices: config.device, ...config.clip, format: config.format, to, source, progress }));
  if (config.clip) return clipDone(await exportBucketClip({ device: config.device[0]!, ...config.clip, format: config.format, to, source, progress }));
  return segmentsDone(await exportSegments({ device: config.device[0]!, to, window: windowOf(config), source, progress }));
}

function windowOf(config: ExportConfig): TimeWindow {
  return { ...(config.since ? { since: config.since } : {}), ...(config.until ? { until: config.until } : {}) };
}

function clipsDone(report: ClipsReport): number {
  process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
  for (const c of report.clips) process.stderr.write(`clip ${c.file} (${formatBytes(c.bytes)}, ${c.durationSeconds} s from ${c.start}, sha256 checked)\n`);
  for (const m of report.missing) process.stderr.write(`no clip of ${m.device}: ${m.reason}\n`);
  return 0;
}

function clipDone(report: ClipReport): number {
  process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
  process.stderr.write(`clip ${report.file} (${formatBytes(report.bytes)}, ${report.durationSeconds ?? '?'} s from ${report.start ?? '?'})\n`);
  return 0;
}

function segmentsDone(report: ExportReport): number {
  process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
  // Each failure by name, with or without --progress: a file that was not copied is never silent.
  for (const f of report.files) if (f.outcome === 'failed') process.stderr.write(`failed: ${f.name}: ${f.detail ?? 'not copied'}\n`);
  process.stderr.write(
    `${report.selected - report.failed}/${report.selected} segments in ${report.folder} (${formatBytes(report.bytesCopied)} copied)${report.failed > 0 ? `, ${report.failed} failed` : ''}\n`,
  );
  return report.failed > 0 ? 1 : 0;
}
