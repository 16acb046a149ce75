// The playback server's Prometheus metrics, in one registry: clips, files, the ffmpeg limit, the journals, exports,
// the archive's bucket, and the recordings' HLS and thumbnails (their requests, caches and how long a render takes).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { createMetricsRegistry } from '../lib/index.js';

/** What the HLS and thumbnail routes count (recording-routes.ts). */
export interface RecordingMetrics {
  /** Requests by route (`playlist`, `piece`, `thumbnail`) and the status answered. */
  readonly requests: Counter<'route' | 'status'>;
  /** Cache look-ups by cache (`thumbnail`, `hls_layout`) and result (`hit`, `miss`, `joined`, `not_modified`). */
  readonly cache: Counter<'cache' | 'result'>;
  /** Seconds to make what was not cached, by kind (`thumbnail`, `hls_piece`, `hls_playlist`). */
  readonly render: Histogram<'kind'>;
}

export function playbackMetrics(): {
  registry: Registry;
  clips: Counter<'format' | 'outcome'>;
  files: Counter<'status'>;
  ffmpegBusy: Gauge;
  ffmpegRefused: Counter;
  journalErrors: Counter<'device'>;
  journalBytes: Counter<'device'>;
  exports: Counter<'outcome'>;
  bucketRequests: Counter<'kind' | 'outcome'>;
  recordings: RecordingMetrics;
} {
  const registry = createMetricsRegistry('shifu_rtsp_playback_process_');
  return {
    registry,
    clips: new Counter({ name: 'shifu_rtsp_playback_clips_total', help: 'Clips cut, by format and outcome (complete, aborted, failed)', labelNames: ['format', 'outcome'], registers: [registry] }),
    files: new Counter({ name: 'shifu_rtsp_playback_file_requests_total', help: 'Segment file requests, by status code', labelNames: ['status'], registers: [registry] }),
    ffmpegBusy: new Gauge({ name: 'shifu_rtsp_playback_ffmpeg_slots_busy', help: 'ffmpeg slots in use now (a cut 1, a transcode 2; at most PLAYBACK_MAX_CUTS)', registers: [registry] }),
    ffmpegRefused: new Counter({ name: 'shifu_rtsp_playback_ffmpeg_refused_total', help: 'Requests answered 503 because every ffmpeg slot was busy', registers: [registry] }),
    journalErrors: new Counter({ name: 'shifu_rtsp_playback_journal_read_errors_total', help: "Failed reads of a device's journal (device empty: the journals' folder could not be listed)", labelNames: ['device'], registers: [registry] }),
    exports: new Counter({ name: 'shifu_rtsp_playback_exports_total', help: 'Zips of several cameras (/api/export) by outcome (complete, aborted, failed)', labelNames: ['outcome'], registers: [registry] }),
    journalBytes: new Counter({ name: 'shifu_rtsp_playback_journal_bytes_read_total', help: 'Journal bytes read into the footage index (after a restart from PLAYBACK_INDEX_DIR, only what was appended)', labelNames: ['device'], registers: [registry] }),
    bucketRequests: new Counter({
      name: 'shifu_rtsp_playback_bucket_requests_total',
      help: "Requests to the archive's bucket (PLAYBACK_S3_*), by kind (devices, days: listings; day_file; object: a segment's bytes or a range of them) and outcome (ok, not_modified, or the failure's kind: credentials, no-bucket, unreachable, timeline, server)",
      labelNames: ['kind', 'outcome'],
      registers: [registry],
    }),
    recordings: {
      requests: new Counter({ name: 'shifu_rtsp_playback_recording_requests_total', help: 'HLS playlists and pieces of recordings and thumbnails, by route (playlist, piece, thumbnail) and status code', labelNames: ['route', 'status'], registers: [registry] }),
      cache: new Counter({
        name: 'shifu_rtsp_playback_cache_lookups_total',
        help: 'Look-ups in the thumbnail cache, the HLS fragment-index cache (hls_layout) and the bucket day-file cache (bucket_day_file), by result: hit, miss, joined (waited for a render another request started), not_modified (304)',
        labelNames: ['cache', 'result'],
        registers: [registry],
      }),
      render: new Histogram({
        name: 'shifu_rtsp_playback_render_seconds',
        help: 'Seconds to make what was not cached: a thumbnail, an HLS piece (to its end), an HLS playlist',
        labelNames: ['kind'],
        buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
        registers: [registry],
      }),
    },
  };
}
