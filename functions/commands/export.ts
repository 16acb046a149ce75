// `shifu-rtsp export`: footage out of the cluster, as a process.
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError, defineCommand, registerSecret } from '../lib/index.js';
import {
  ALL_CAMERAS_POD,
  checkExportPod,
  exportClips,
  exportClip,
  exportOptions,
  exportSegments,
  formatBytes,
  httpSource,
  podProxySource,
  type FootageSource,
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
    'Prints a JSON report on stdout. Exit codes: 0 all copied, 1 some files failed, 2 usage error.',
  ].join('\n'),
  options: exportOptions,
  check(config) {
    if (config.since && config.until && config.since.getTime() >= config.until.getTime()) {
      throw new ConfigError('invalid --since/--until: --since must be before --until');
    }
    if (config.clip && (config.since || config.until)) throw new ConfigError('invalid --clip: give --clip or --since/--until, not both');
    if (config.device.length > 1 && !config.clip) throw new ConfigError('invalid --device: several devices take --clip START..END (whole segments are copied one device at a time)');
  },
  async run(config) {
    if (config.token) registerSecret(config.token);
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
    if (config.clip && config.device.length > 1) {
      const report = await exportClips({ devices: config.device, ...config.clip, format: config.format, to, source });
      process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
      for (const c of report.clips) process.stderr.write(`clip ${c.file} (${formatBytes(c.bytes)}, ${c.durationSeconds} s from ${c.start}, sha256 checked)\n`);
      for (const m of report.missing) process.stderr.write(`no clip of ${m.device}: ${m.reason}\n`);
      return 0;
    }
    if (config.clip) {
      const report = await exportClip({ device, ...config.clip, format: config.format, to, source });
      process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
      process.stderr.write(`clip ${report.file} (${formatBytes(report.bytes)}, ${report.durationSeconds ?? '?'} s from ${report.start ?? '?'})\n`);
      return 0;
    }
    const report = await exportSegments({
      device,
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
