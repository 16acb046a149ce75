import net from 'node:net';
import type { HostPort, Logger, PortRange } from '../lib/index.js';
import { formatAddress } from './address.js';
import { Relay, type RelayEnd, type RelayOptions } from './relay.js';
import { RtspService, type RtspTotals } from './rtsp-service.js';
import type { ForwarderMode } from './settings.js';
import { sniff } from './sniff.js';

export interface ListenerOptions extends RelayOptions {
  readonly listen: HostPort;
  readonly maxConnections: number;
  /** Connections open at once from one client address. */
  readonly maxConnectionsPerClient: number;
  readonly mode: ForwarderMode;
  readonly lingerMs: number;
  readonly rtpPorts: PortRange;
  readonly log: Logger;
}

/**
 * `--mode auto` waits this long for a client's first line; a client that says nothing (a protocol where
 * the server speaks first) then goes byte for byte.
 */
export const AUTO_SNIFF_MS = 1000;

/** Counters since start; bytes include the connections still open. */
export interface ForwardingTotals {
  readonly active: number;
  readonly accepted: number;
  readonly refused: number;
  readonly dialFailures: number;
  readonly bytesToDevice: number;
  readonly bytesToClient: number;
  readonly rtsp: RtspTotals;
}

/** How long cut connections get to report their close before we give up on them. */
const CUT_SETTLE_MS = 1000;
/** Excess connections can arrive by the thousand: one warning per second is enough. */
const REFUSAL_LOG_INTERVAL_MS = 1000;

/** Open connections per client address: one client cannot take every slot (or all our memory) alone. */
class ClientAddresses {
  private readonly open = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Counts one more connection from `address`, or undefined when it already has its maximum. Returns the release. */
  admit(address: string): (() => void) | undefined {
    const count = this.open.get(address) ?? 0;
    if (count >= this.max) return undefined;
    this.open.set(address, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(address) ?? 1) - 1;
      if (left > 0) this.open.set(address, left);
      else this.open.delete(address);
    };
  }
}

/** The forwarded port: accepts clients, dials the device for each, refuses beyond the limits, drains on shutdown. */
export class ForwardingListener {
  private readonly relays = new Set<Relay>();
  private readonly clientAddresses: ClientAddresses;
  private accepted = 0;
  private refused = 0;
  private dialFailures = 0;
  private closedBytesToDevice = 0;
  private closedBytesToClient = 0;
  private lastRefusalLog = 0;
  private readonly idle: Array<() => void> = [];
  /** Connections reading their first line (`--mode auto`). */
  private sniffing = 0;
  private readonly rtsp: RtspService;

  private constructor(
    private readonly server: net.Server,
    private readonly options: ListenerOptions,
  ) {
    const host = options.listen.host;
    this.clientAddresses = new ClientAddresses(options.maxConnectionsPerClient);
    this.rtsp = new RtspService(
      {
        upstream: options.upstream,
        dialTimeoutMs: options.dialTimeoutMs,
        idleTimeoutMs: options.idleTimeoutMs,
        keepAliveDelayMs: options.keepAliveDelayMs,
        lingerMs: options.lingerMs,
        rtpPorts: options.rtpPorts,
        udpHost: host === '0.0.0.0' || host === '::' ? undefined : host,
        log: options.log,
      },
      (end) => {
        options.log.info({ ...end, mode: 'rtsp', upstream: formatAddress(options.upstream) }, 'rtsp client closed');
        this.wakeIfIdle();
      },
    );
  }

  private get open(): number {
    return this.relays.size + this.rtsp.size + this.sniffing;
  }

  private wakeIfIdle(): void {
    if (this.open === 0) for (const wake of this.idle.splice(0)) wake();
  }

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
    const rtsp = this.rtsp.totals();
    return {
      active: this.open,
      accepted: this.accepted,
      refused: this.refused,
      dialFailures: this.dialFailures,
      bytesToDevice: this.closedBytesToDevice + liveToDevice + rtsp.bytesToDevice,
      bytesToClient: this.closedBytesToClient + liveToClient + rtsp.bytesToClient,
      rtsp,
    };
  }

  /** Stops accepting, waits up to `timeoutMs` for open connections to finish, then cuts the rest. */
  async drain(timeoutMs: number): Promise<{ readonly cut: number }> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    let cut = 0;
    if (this.open > 0) {
      this.options.log.info({ open: this.open, timeoutMs }, 'draining connections');
      const drained = await this.idleWithin(timeoutMs);
      if (!drained) {
        cut = this.open;
        for (const relay of this.relays) relay.close('shutdown');
        this.rtsp.closeAll();
        // Sockets report 'close' a tick later: wait, so every cut connection is logged and counted.
        await this.idleWithin(CUT_SETTLE_MS);
      }
    }
    this.rtsp.closeAll();
    await closed;
    return { cut };
  }

  private idleWithin(timeoutMs: number): Promise<boolean> {
    if (this.open === 0) return Promise.resolve(true);
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
    if (this.open >= this.options.maxConnections) {
      this.refuse(client, 'connection limit reached');
      return;
    }
    const release = this.clientAddresses.admit(client.remoteAddress ?? '');
    if (release === undefined) {
      this.refuse(client, 'connection limit per client address reached');
      return;
    }
    this.accepted += 1;
    if (this.options.mode === 'tcp') this.relay(client, release);
    else if (this.options.mode === 'rtsp') this.rtsp.accept(client, undefined, release);
    else void this.choose(client, release);
  };

  private relay(client: net.Socket, release: () => void, head?: { bytes: Buffer; ended: boolean }): void {
    const relay = new Relay(client, this.options, (end) => this.finished(relay, end, release), head);
    this.relays.add(relay);
  }

  /** `--mode auto`: RTSP mode for a first line that is an RTSP request line, bytes otherwise. */
  private async choose(client: net.Socket, release: () => void): Promise<void> {
    this.sniffing += 1;
    client.on('error', () => undefined);
    const sniffed = await sniff(client, AUTO_SNIFF_MS);
    this.sniffing -= 1;
    if (sniffed.kind === 'rtsp') this.rtsp.accept(client, sniffed.head, release);
    else if (sniffed.kind === 'bytes') this.relay(client, release, { bytes: sniffed.head, ended: sniffed.ended });
    else {
      release();
      client.destroy();
      this.wakeIfIdle();
    }
  }

  private finished(relay: Relay, end: RelayEnd, release: () => void): void {
    release();
    this.relays.delete(relay);
    this.closedBytesToDevice += end.bytesToDevice;
    this.closedBytesToClient += end.bytesToClient;
    if (end.reason === 'dial-failed' || end.reason === 'dial-timeout') this.dialFailures += 1;
    this.options.log.info({ ...end, upstream: formatAddress(this.options.upstream) }, 'connection closed');
    this.wakeIfIdle();
  }

  private refuse(client: net.Socket, why: string): void {
    this.refused += 1;
    const peer = formatAddress({ host: client.remoteAddress ?? '?', port: client.remotePort ?? 0 });
    client.on('error', () => {});
    client.resetAndDestroy();
    const now = Date.now();
    if (now - this.lastRefusalLog < REFUSAL_LOG_INTERVAL_MS) return;
    this.lastRefusalLog = now;
    this.options.log.warn(
      { peer, maxConnections: this.options.maxConnections, maxConnectionsPerClient: this.options.maxConnectionsPerClient, refused: this.refused },
      `connection refused: ${why}`,
    );
  }
}
