import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * Metrics read from a workload's own counters when Prometheus scrapes, so the hot path only increments
 * plain numbers and never touches prom-client.
 */
export class ScrapedMetrics {
  constructor(
    private readonly registry: Registry,
    private readonly labels: Readonly<Record<string, string>>,
  ) {}

  counter(name: string, help: string, read: () => number): void {
    const labels = this.labels;
    new Counter({
      name,
      help,
      labelNames: Object.keys(labels),
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(labels, read());
      },
    });
  }

  gauge(name: string, help: string, read: () => number): void {
    const labels = this.labels;
    new Gauge({
      name,
      help,
      labelNames: Object.keys(labels),
      registers: [this.registry],
      collect() {
        this.set(labels, read());
      },
    });
  }
}
