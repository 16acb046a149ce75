import net from 'node:net';
import type { HostPort, Logger } from '../lib/index.js';
import { formatAddress } from './address.js';
import { Relay, type RelayEnd, type RelayOptions } from './relay.js';

export interface ListenerOptions extends RelayOptions {
  readonly listen: HostPort;
  readonly maxConnections: number;
  readonly log: Logger;
}

/** Counters since start; bytes include the connections still open. */
export interface ForwardingTotals {
  readonly active: number;
  readonly accepted: number;
  readonly refused: number;
  readonly dialFailures: number;
  readonly bytesToDevice: number;
  readonly bytesToClient: number;
}

/** How long cut connections get to report their close before we give up on them. */
const CUT_SETTLE_MS = 1000;
/** Excess connections can arrive by the thousand: one warning per second is enough. */
const REFUSAL_LOG_INTERVAL_MS = 1000;

/** The forwarded port: accepts clients, dials the device for each, refuses beyond the limit, drains on shutdown. */
export class ForwardingListener {
  private readonly relays = new Set<Relay>();
  private accepted = 0;
  private refused = 0;
  private dialFailures = 0;
  private closedBytesToDevice = 0;
  private closedBytesToClient = 0;
  private lastRefusalLog = 0;
  private readonly idle: Array<() => void> = [];

  private constructor(
    private readonly server: net.Server,
    private readonly options: ListenerOptions,
  ) {}

  static async open(options: ListenerOptions): Promise<ForwardingListener> {
    const server = net.createServer({
      allowHalfOpen: true,
      // Nothing is read from a client before its device connection is up.
      pauseOnConnect: true,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: options.keepAliveDelayMs,
      highWaterMark: options.bufferSize,
    });
    const listener = new ForwardingListener(server, options);
    server.on('connection', listener.accept);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: options.listen.host, port: options.listen.port, backlog: 1024 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => options.log.error({ err }, 'listener error'));
    return listener;
  }

  get address(): HostPort {
    const bound = this.server.address();
    if (bound === null || typeof bound === 'string') return this.options.listen;
    return { host: bound.address, port: bound.port };
  }

  totals(): ForwardingTotals {
    let liveToDevice = 0;
    let liveToClient = 0;
    for (const relay of this.relays) {
      liveToDevice += relay.bytesToDevice;
      liveToClient += relay.bytesToClient;
    }
    return {
      active: this.relays.size,
      accepted: this.accepted,
      refused: this.refused,
      dialFailures: this.dialFailures,
      bytesToDevice: this.closedBytesToDevice + liveToDevice,
      bytesToClient: this.closedBytesToClient + liveToClient,
    };
  }

  /** Stops accepting, waits up to `timeoutMs` for open connections to finish, then cuts the rest. */
  async drain(timeoutMs: number): Promise<{ readonly cut: number }> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    let cut = 0;
    if (this.relays.size > 0) {
      this.options.log.info({ open: this.relays.size, timeoutMs }, 'draining connections');
      const drained = await this.idleWithin(timeoutMs);
      if (!drained) {
        cut = this.relays.size;
        for (const relay of this.relays) relay.close('shutdown');
        // Sockets report 'close' a tick later: wait, so every cut connection is logged and counted.
        await this.idleWithin(CUT_SETTLE_MS);
      }
    }
    await closed;
    return { cut };
  }

  private idleWithin(timeoutMs: number): Promise<boolean> {
    if (this.relays.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idle.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  private readonly accept = (client: net.Socket): void => {
    // Counted here, not with server.maxConnections: adopted sockets leave the server's own count.
    if (this.relays.size >= this.options.maxConnections) {
      this.refuse(client);
      return;
    }
    this.accepted += 1;
    const relay = new Relay(client, this.options, (end) => this.finished(relay, end));
    this.relays.add(relay);
  };

  private finished(relay: Relay, end: RelayEnd): void {
    this.relays.delete(relay);
    this.closedBytesToDevice += end.bytesToDevice;
    this.closedBytesToClient += end.bytesToClient;
    if (end.reason === 'dial-failed' || end.reason === 'dial-timeout') this.dialFailures += 1;
    this.options.log.info({ ...end, upstream: formatAddress(this.options.upstream) }, 'connection closed');
    if (this.relays.size === 0) for (const wake of this.idle.splice(0)) wake();
  }

  private refuse(client: net.Socket): void {
    this.refused += 1;
    const peer = formatAddress({ host: client.remoteAddress ?? '?', port: client.remotePort ?? 0 });
    client.on('error', () => {});
    client.resetAndDestroy();
    const now = Date.now();
    if (now - this.lastRefusalLog < REFUSAL_LOG_INTERVAL_MS) return;
    this.lastRefusalLog = now;
    this.options.log.warn(
      { peer, maxConnections: this.options.maxConnections, refused: this.refused },
      'connection refused: connection limit reached',
    );
  }
}
