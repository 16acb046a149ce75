import { backoffDelay, sleep, type BackoffPolicy, type Logger } from '../lib/index.js';
import type { CloudEvent } from 'cloudevents';
import type { Outbox, OutboxEntry } from './outbox.js';
import type { DeliveryOutcome, Sink } from './sink.js';

export interface DeliveryCounters {
  delivered: number;
  retried: number;
  /** Retries after a 401, 403 or 404 (a sink that refuses for now). */
  refused: number;
  deadLettered: number;
}

export interface DispatcherOptions {
  readonly outbox: Outbox;
  readonly sink: Sink;
  readonly log: Logger;
  readonly backoff?: BackoffPolicy;
  /** How often the outbox folder is read again for events moved back by hand (0: never). */
  readonly rescanMs?: number;
}

export const DELIVERY_BACKOFF: BackoffPolicy = { baseMs: 1000, maxMs: 30_000 };

/**
 * Drains one device's outbox into its sink: oldest event first and one at a time, so subscribers see a
 * device's events in order. A failing event is retried until the sink takes it or refuses it for good.
 */
export class Dispatcher {
  readonly counters: DeliveryCounters = { delivered: 0, retried: 0, refused: 0, deadLettered: 0 };
  private rescanTimer: NodeJS.Timeout | null = null;
  private gone = false;
  private flushing = false;
  private loop: Promise<void> | null = null;
  private idle: (() => void) | null = null;
  /** Cuts a backoff wait short when shutdown starts. */
  private readonly waking = new AbortController();
  /** Aborts the request in flight when the shutdown deadline passes. */
  private readonly stopping = new AbortController();

  constructor(private readonly o: DispatcherOptions) {}

  /** True after a 410: nothing more is sent until the next start; events still queue on disk. */
  get sinkGone(): boolean {
    return this.gone;
  }

  start(): void {
    this.loop ??= this.run().catch((err: unknown) => this.o.log.error({ err }, 'event delivery stopped'));
    const rescanMs = this.o.rescanMs ?? 0;
    if (rescanMs > 0 && this.rescanTimer === null) {
      this.rescanTimer = setInterval(() => {
        this.o.outbox.rescan().then(
          (found) => {
            if (found === 0) return;
            this.o.log.info({ found }, 'events moved back into the outbox; delivering them');
            this.wake();
          },
          (err: unknown) => this.o.log.error({ err }, 'outbox rescan failed'),
        );
      }, rescanMs);
      this.rescanTimer.unref();
    }
  }

  /** A new event is on disk. */
  wake(): void {
    this.idle?.();
  }

  /**
   * One more try for every pending event, skipping backoff waits, then stop: at most `deadlineMs`.
   * What is not delivered by then stays in the outbox for the next start.
   */
  async close(deadlineMs: number): Promise<void> {
    this.flushing = true;
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    this.waking.abort();
    this.idle?.();
    const timer = setTimeout(() => this.stopping.abort(), deadlineMs);
    await this.loop;
    clearTimeout(timer);
    this.stopping.abort();
  }

  private async run(): Promise<void> {
    const { outbox, log } = this.o;
    let attempt = 0;
    while (!this.stopping.signal.aborted) {
      const entry = outbox.head();
      if (entry === undefined || this.gone) {
        if (this.flushing) return;
        await new Promise<void>((resolve) => (this.idle = resolve));
        this.idle = null;
        continue;
      }
      let outcome: DeliveryOutcome;
      try {
        outcome = await this.deliver(entry);
      } catch (err) {
        // The outbox itself failed (disk): back off like a failing sink, the event stays first in line.
        log.error({ err, event: entry.name }, 'outbox error');
        outcome = { kind: 'retry', status: null, retryAfterMs: null, detail: (err as Error).message };
      }
      if (this.stopping.signal.aborted) return;
      if (outcome.kind !== 'retry') {
        attempt = 0;
        continue;
      }
      this.counters.retried++;
      if (outcome.refused) this.counters.refused++;
      // At shutdown one try per event is enough: a sink that fails now will not recover within the deadline.
      if (this.flushing) return;
      const delay = outcome.retryAfterMs ?? backoffDelay(attempt, this.o.backoff ?? DELIVERY_BACKOFF);
      attempt++;
      log.warn(
        { event: entry.name, status: outcome.status, error: outcome.detail, attempt, retryInMs: delay, honoursRetryAfter: outcome.retryAfterMs !== null },
        outcome.refused
          ? 'sink refused the event (a Broker being re-created answers so); retrying, not dead-lettering'
          : 'event not delivered; retrying',
      );
      await sleep(delay, this.waking.signal);
    }
  }

  /** Sends the head event and settles it: removed, dead-lettered, or kept (retry, gone). */
  private async deliver(entry: OutboxEntry): Promise<DeliveryOutcome> {
    const { outbox, sink, log } = this.o;
    let event: CloudEvent<unknown>;
    try {
      event = await outbox.read(entry);
    } catch (err) {
      // An unreadable file can never be sent; moving it aside keeps it from blocking every event behind it.
      const detail = `unreadable event file: ${(err as Error).message}`;
      await outbox.deadLetter(entry, { status: null, detail, sink: sink.url });
      this.counters.deadLettered++;
      log.error({ event: entry.name, error: detail }, 'event dead-lettered');
      return { kind: 'rejected', status: 0, detail };
    }
    const outcome = await sink.send(event, this.stopping.signal);
    switch (outcome.kind) {
      case 'delivered':
        await outbox.remove(entry);
        this.counters.delivered++;
        log.debug({ id: event.id, type: event.type, status: outcome.status, latencyMs: Date.now() - entry.enqueuedAt }, 'event delivered');
        break;
      case 'rejected':
        await outbox.deadLetter(entry, { status: outcome.status, detail: outcome.detail, sink: sink.url });
        this.counters.deadLettered++;
        log.error(
          { id: event.id, type: event.type, status: outcome.status, error: outcome.detail, file: `${outbox.deadLetterDir}/${entry.name}` },
          'sink refused the event; dead-lettered, delivering the next ones',
        );
        break;
      case 'gone':
        this.gone = true;
        log.error(
          { sink: sink.url, status: outcome.status, error: outcome.detail, pending: outbox.size },
          'sink answered 410 Gone: event delivery stopped until restart; events stay in the outbox',
        );
        break;
      case 'retry':
        break;
    }
    return outcome;
  }
}
