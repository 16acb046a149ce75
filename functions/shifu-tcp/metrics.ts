import { Counter, Gauge, type Registry } from 'prom-client';
import { ScrapedMetrics } from '../lib/index.js';
import type { ForwardingTotals } from './listener.js';

export interface MetricsSource {
  totals(): ForwardingTotals;
  upstreamUp(): boolean;
}

/** The forwarder's Prometheus metrics, read from its own counters at scrape time: nothing on the data path. */
export function registerForwarderMetrics(registry: Registry, source: MetricsSource): void {
  const scraped = new ScrapedMetrics(registry, {});
  scraped.gauge('forwarder_connections_active', 'Client connections open now', () => source.totals().active);
  scraped.counter('forwarder_connections_total', 'Client connections accepted', () => source.totals().accepted);
  scraped.counter(
    'forwarder_connections_refused_total',
    'Client connections refused at the connection limit',
    () => source.totals().refused,
  );
  scraped.counter(
    'forwarder_dial_failures_total',
    'Connections to the device that failed or timed out',
    () => source.totals().dialFailures,
  );
  scraped.gauge('forwarder_upstream_up', '1 when the last TCP probe of the device succeeded', () =>
    source.upstreamUp() ? 1 : 0,
  );
  scraped.gauge('forwarder_rtsp_camera_sessions', 'RTSP mode: camera sessions open now (one per stream, shared by its clients)', () =>
    source.totals().rtsp.cameraSessions,
  );
  new Gauge({
    name: 'forwarder_rtsp_clients',
    help: 'RTSP mode: client sessions playing now, by how they get RTP (tcp: interleaved, udp: unicast UDP)',
    labelNames: ['transport'] as const,
    registers: [registry],
    collect() {
      const { clients } = source.totals().rtsp;
      this.set({ transport: 'tcp' }, clients.tcp);
      this.set({ transport: 'udp' }, clients.udp);
    },
  });
  new Counter({
    name: 'forwarder_rtsp_bytes_total',
    help: 'RTSP mode: bytes sent, by direction (to_device: to the camera, to_client: to clients, RTP fanned out to each)',
    labelNames: ['direction'] as const,
    registers: [registry],
    collect() {
      const { rtsp } = source.totals();
      this.reset();
      this.inc({ direction: 'to_device' }, rtsp.bytesToDevice);
      this.inc({ direction: 'to_client' }, rtsp.bytesToClient);
    },
  });
  // One metric, two directions: ScrapedMetrics has fixed labels, so this one is built here.
  new Counter({
    name: 'forwarder_bytes_total',
    help: 'Bytes forwarded in every mode, by direction (to_device: client to device, to_client: device to client)',
    labelNames: ['direction'] as const,
    registers: [registry],
    collect() {
      const totals = source.totals();
      this.reset();
      this.inc({ direction: 'to_device' }, totals.bytesToDevice);
      this.inc({ direction: 'to_client' }, totals.bytesToClient);
    },
  });
}
