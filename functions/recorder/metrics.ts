import { Gauge, type Registry } from 'prom-client';
import { createMetricsRegistry, ScrapedMetrics } from '../lib/index.js';
import { RECORDER_STATES, type Recorder } from './recorder.js';

/** Prometheus metrics of one recorder, read from its counters when scraped. */
export function recorderMetrics(recorder: Recorder): Registry {
  const registry = createMetricsRegistry('shifu_rtsp_recorder_process_');
  const labels = { device: recorder.settings.device };
  const c = recorder.counters;
  const metrics = new ScrapedMetrics(registry, labels);
  const counter = metrics.counter.bind(metrics);
  counter('shifu_rtsp_segments_finished_total', 'Segments closed, journaled and announced', () => c.segmentsFinished);
  counter('shifu_rtsp_segments_recovered_total', 'Segments finished by crash recovery', () => c.segmentsRecovered);
  counter('shifu_rtsp_bytes_written_total', 'Bytes of finished segments', () => c.bytesWritten);
  counter('shifu_rtsp_ffmpeg_restarts_total', 'ffmpeg runs that ended in a failure after recording', () => c.ffmpegRestarts);
  counter('shifu_rtsp_reconnects_total', 'Retries after a failed or ended camera run', () => c.reconnects);
  counter('shifu_rtsp_retention_deletions_total', 'Segments deleted by retention', () => c.retentionDeletions);
  counter('shifu_rtsp_segments_lost_total', 'Segments deleted before they were archived: free space fell below the archive hard floor', () => c.segmentsLost);
  metrics.gauge(
    'shifu_rtsp_seconds_since_last_write',
    'Seconds since media was last written (-1 before the first write)',
    () => recorder.secondsSinceLastWrite() ?? -1,
  );
  new Gauge({
    name: 'shifu_rtsp_recorder_state',
    help: 'Recorder state: 1 for the current one',
    labelNames: ['device', 'state'],
    registers: [registry],
    collect() {
      const current = recorder.status().state;
      for (const state of RECORDER_STATES) this.set({ ...labels, state }, state === current ? 1 : 0);
    },
  });
  return registry;
}
