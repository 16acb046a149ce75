import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import { ConfigError, defineCommand, DNS_1123_LABEL, registerSecret, zPort, type OptionSpecs } from '../lib/index.js';
import { exportClip } from './clip.js';
import { checkExportPod } from './pod.js';
import { formatBytes } from './progress.js';
import { httpSource, podProxySource, type FootageSource } from './source.js';
import { exportSegments } from './transfer.js';

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

const zName = z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'expected a Kubernetes object name');

const zBaseUrl = z
  .url({ protocol: /^https?$/, message: 'expected an http:// or https:// URL, e.g. http://localhost:9996' })
  .transform((u) => new URL(u))
  .optional();

export const exportOptions = {
  device: { flag: 'device', env: ['EXPORT_DEVICE'], schema: z.string({ message: 'required: the device whose footage to copy' }).regex(DNS_1123_LABEL, 'expected a DNS-1123 label'), description: 'device whose footage to copy' },
  to: { flag: 'to', env: ['EXPORT_TO'], schema: z.string({ message: 'required: the local folder to copy into' }).min(1), description: 'local folder; files land in <to>/<device>/' },
  since: { flag: 'since', env: ['EXPORT_SINCE'], schema: zTime, description: 'only segments that end after this time (ISO time or age: 12h, 7d)' },
  until: { flag: 'until', env: ['EXPORT_UNTIL'], schema: zTime, description: 'only segments that start before this time' },
  clip: { flag: 'clip', env: ['EXPORT_CLIP'], schema: zClip, description: 'instead of whole segments, one file cut from START..END (ISO times or ages)' },
  format: { flag: 'format', env: ['EXPORT_FORMAT'], schema: z.enum(['mp4', 'mkv', 'ts']), default: 'mp4', description: 'container of a --clip: mp4 | mkv | ts' },
  url: { flag: 'url', env: ['EXPORT_URL'], schema: zBaseUrl, description: 'playback server to read from directly (e.g. http://localhost:9996 after kubectl port-forward); without it, the pod proxy of the Kubernetes API' },
  namespace: { flag: 'namespace', env: ['EXPORT_NAMESPACE'], schema: zName.optional(), description: "namespace of the export pod (default: the kubeconfig context's, else deviceshifu)" },
  pod: { flag: 'pod', env: ['EXPORT_POD'], schema: zName.optional(), description: 'export pod (default <device>-export, from storage/)' },
  port: { flag: 'port', env: ['EXPORT_PORT'], schema: zPort, default: '9996', description: "the export pod's playback port" },
  token: { flag: 'token', env: ['EXPORT_TOKEN', 'PLAYBACK_TOKEN'], schema: z.string().optional(), secret: true, description: "the playback server's bearer token, if it has one (prefer the variable)" },
  progress: { flag: 'progress', env: ['EXPORT_PROGRESS'], kind: 'boolean', schema: z.boolean(), default: true, description: 'progress on stderr' },
} satisfies OptionSpecs;

export const exportCommand = defineCommand({
  name: 'export',
  summary: 'copy recorded footage out of the cluster from the export pod\'s playback server (whole segments, checked and resumable, or one clip by time)',
  details: [
    'Reads the playback server in the export pod from storage/: through the Kubernetes API pod proxy (RBAC: pods get, pods/proxy get),',
    'or directly with --url (a kubectl port-forward). Segments are checked against the journal: size and sha256.',
    'Re-running continues: verified copies are skipped, interrupted ones (<name>.partial) continue from their last byte (HTTP Range).',
    'With --clip START..END: one file cut from the segments by the server (keyframe at or before START), in --format.',
    'Prints a JSON report on stdout. Exit codes: 0 all copied, 1 some files failed, 2 usage error.',
  ].join('\n'),
  options: exportOptions,
  check(config) {
    if (config.since && config.until && config.since.getTime() >= config.until.getTime()) {
      throw new ConfigError('invalid --since/--until: --since must be before --until');
    }
    if (config.clip && (config.since || config.until)) throw new ConfigError('invalid --clip: give --clip or --since/--until, not both');
  },
  async run(config) {
    if (config.token) registerSecret(config.token);
    let source: FootageSource;
    if (config.url) source = httpSource(config.url, config.token);
    else {
      const kc = new KubeConfig();
      kc.loadFromDefault();
      const namespace = config.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'deviceshifu';
      const pod = config.pod ?? `${config.device}-export`;
      await checkExportPod(kc, { namespace, pod });
      source = await podProxySource(kc, { namespace, pod, port: config.port }, config.token);
    }
    const to = path.resolve(config.to);
    if (config.clip) {
      const report = await exportClip({ device: config.device, ...config.clip, format: config.format, to, source });
      process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
      process.stderr.write(`clip ${report.file} (${formatBytes(report.bytes)}, ${report.durationSeconds ?? '?'} s from ${report.start ?? '?'})\n`);
      return 0;
    }
    const report = await exportSegments({
      device: config.device,
      to,
      window: { ...(config.since ? { since: config.since } : {}), ...(config.until ? { until: config.until } : {}) },
      source,
      progress: config.progress ? process.stderr : null,
    });
    process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
    process.stderr.write(
      `${report.selected - report.failed}/${report.selected} segments in ${report.folder} (${formatBytes(report.bytesCopied)} copied)${report.failed > 0 ? `, ${report.failed} failed` : ''}\n`,
    );
    return report.failed > 0 ? 1 : 0;
  },
});
