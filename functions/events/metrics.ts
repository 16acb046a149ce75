import type { Registry } from 'prom-client';
import { ScrapedMetrics } from '../lib/index.js';

/** What the event metrics read when scraped. */
export interface EventMetricsSource {
  readonly device: string;
  pending(): number;
  /** Epoch ms of the oldest pending event, or null. */
  oldestEnqueuedAt(): number | null;
  delivered(): number;
  retried(): number;
  refused(): number;
  deadLettered(): number;
  sinkGone(): boolean;
}

/** Registers the outbox metrics (label `device`) on the recorder's registry. */
export function registerEventMetrics(registry: Registry, source: EventMetricsSource): void {
  const metrics = new ScrapedMetrics(registry, { device: source.device });
  const gauge = metrics.gauge.bind(metrics);
  const counter = metrics.counter.bind(metrics);
  gauge('shifu_rtsp_events_pending', 'CloudEvents on disk waiting for the sink', source.pending);
  gauge('shifu_rtsp_events_oldest_pending_age_seconds', 'Age of the oldest pending CloudEvent (0 when none)', () => {
    const oldest = source.oldestEnqueuedAt();
    return oldest === null ? 0 : Math.max(0, (Date.now() - oldest) / 1000);
  });
  gauge('shifu_rtsp_events_sink_gone', '1 after the sink answered 410 Gone: delivery stopped until restart', () => (source.sinkGone() ? 1 : 0));
  counter('shifu_rtsp_events_delivered_total', 'CloudEvents the sink accepted (2xx)', source.delivered);
  counter('shifu_rtsp_events_retried_total', 'Failed deliveries that will be retried (5xx, 429, timeouts, refused connections)', source.retried);
  counter('shifu_rtsp_events_sink_refused_total', 'Deliveries the sink answered 401, 403 or 404 to: retried with backoff (check the Broker and its address)', source.refused);
  counter('shifu_rtsp_events_dead_lettered_total', 'CloudEvents the sink refused (4xx), moved to the dead-letter folder', source.deadLettered);
}
