import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import { ConfigError, defineCommand, DNS_1123_LABEL, type OptionSpecs } from '../lib/index.js';
import { KubernetesPodShell } from './pod-shell.js';
import { formatBytes } from './progress.js';
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

const zName = z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'expected a Kubernetes object name');

export const exportOptions = {
  device: { flag: 'device', env: ['EXPORT_DEVICE'], schema: z.string({ message: 'required: the device whose footage to copy' }).regex(DNS_1123_LABEL, 'expected a DNS-1123 label'), description: 'device whose segments to copy' },
  to: { flag: 'to', env: ['EXPORT_TO'], schema: z.string({ message: 'required: the local folder to copy into' }).min(1), description: 'local folder; files land in <to>/<device>/' },
  namespace: { flag: 'namespace', env: ['EXPORT_NAMESPACE'], schema: zName.optional(), description: "namespace of the export pod (default: the kubeconfig context's, else deviceshifu)" },
  since: { flag: 'since', env: ['EXPORT_SINCE'], schema: zTime, description: 'only segments that end after this time (ISO time or age: 12h, 7d)' },
  until: { flag: 'until', env: ['EXPORT_UNTIL'], schema: zTime, description: 'only segments that start before this time' },
  pod: { flag: 'pod', env: ['EXPORT_POD'], schema: zName.optional(), description: 'export pod (default <device>-export, from storage/)' },
  container: { flag: 'container', env: ['EXPORT_CONTAINER'], schema: zName, default: 'export', description: 'container of the export pod' },
  storagePath: {
    flag: 'storage-path',
    env: ['EXPORT_STORAGE_PATH'],
    schema: z.string().regex(/^[A-Za-z0-9._/-]*$/, 'expected a relative path').refine((p) => !p.split('/').includes('..'), 'must not contain ..'),
    default: '',
    description: 'the storagePath the recorder used (its FileSavePath is /data/<storage-path>)',
  },
  mount: { flag: 'mount', env: ['EXPORT_MOUNT'], schema: z.string().startsWith('/', 'expected an absolute path'), default: '/data', description: 'where the export pod mounts the volume' },
  progress: { flag: 'progress', env: ['EXPORT_PROGRESS'], kind: 'boolean', schema: z.boolean(), default: true, description: 'progress on stderr' },
} satisfies OptionSpecs;

export const exportCommand = defineCommand({
  name: 'export',
  summary: 'copy recorded segments out of the cluster through the export pod (exec + tar, like kubectl cp), checked and resumable',
  details: [
    'Needs the export pod from storage/ (it mounts the PVC read-only) and RBAC for pods get + pods/exec create.',
    'Each file is checked against the journal (<root>/.shifu-rtsp/<device>/segments.jsonl): size, and sha256 where recorded.',
    'Re-running continues: verified copies are skipped, interrupted ones (<name>.partial) continue from their last byte.',
    'Prints a JSON report on stdout. Exit codes: 0 all copied, 1 some files failed, 2 usage error.',
  ].join('\n'),
  options: exportOptions,
  check(config) {
    if (config.since && config.until && config.since.getTime() >= config.until.getTime()) {
      throw new ConfigError('invalid --since/--until: --since must be before --until');
    }
  },
  async run(config) {
    const kc = new KubeConfig();
    kc.loadFromDefault();
    const namespace = config.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'deviceshifu';
    const shell = new KubernetesPodShell(kc, { namespace, pod: config.pod ?? `${config.device}-export`, container: config.container });
    await shell.check();
    const report = await exportSegments({
      device: config.device,
      root: path.posix.join(config.mount, config.storagePath),
      to: path.resolve(config.to),
      window: { ...(config.since ? { since: config.since } : {}), ...(config.until ? { until: config.until } : {}) },
      shell,
      progress: config.progress ? process.stderr : null,
    });
    process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
    process.stderr.write(
      `${report.selected - report.failed}/${report.selected} segments in ${report.folder} (${formatBytes(report.bytesCopied)} copied)${report.failed > 0 ? `, ${report.failed} failed` : ''}\n`,
    );
    return report.failed > 0 ? 1 : 0;
  },
});
