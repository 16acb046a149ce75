// The archive's Prometheus metrics, read from the archiver when scraped.
import type { Registry } from 'prom-client';
import { ScrapedMetrics } from '../lib/index.js';
import type { Archiver } from './archiver.js';

export function registerArchiveMetrics(registry: Registry, device: string, archiver: Archiver): void {
  const metrics = new ScrapedMetrics(registry, { device });
  const c = archiver.counters;
  metrics.counter('shifu_rtsp_archive_segments_total', 'Segments whose object is complete in the bucket', () => c.archived);
  metrics.counter('shifu_rtsp_archive_bytes_uploaded_total', 'Bytes of segments uploaded to the bucket', () => c.bytesUploaded);
  metrics.counter('shifu_rtsp_archive_already_there_total', 'Segments found in the bucket with the same sha256, not uploaded again', () => c.alreadyThere);
  metrics.counter('shifu_rtsp_archive_missing_total', 'Segments whose file was gone before it could be archived', () => c.missing);
  metrics.counter('shifu_rtsp_archive_failures_total', 'Failed archive attempts (each retried with backoff)', () => c.failures);
  metrics.counter('shifu_rtsp_archive_orphans_aborted_total', 'Multipart uploads left open by a killed recorder, aborted at start', () => c.orphansAborted);
  metrics.gauge('shifu_rtsp_archive_pending', 'Journaled segments not yet archived (read so far, at most 256 at a time)', () => archiver.status().pending);
  metrics.gauge('shifu_rtsp_archive_error', '1 while the archive is in archive-error', () => (archiver.status().state === 'archive-error' ? 1 : 0));
}
