import net, { type Socket } from 'node:net';
import type { HostPort } from '../lib/index.js';
import { formatAddress } from './address.js';
import { adoptWithOnread } from './adopt.js';
import { Pump } from './pump.js';

/** Why a forwarded connection ended; the first cause wins. */
export type CloseReason =
  | 'client-closed'
  | 'device-closed'
  | 'client-error'
  | 'device-error'
  | 'dial-failed'
  | 'dial-timeout'
  | 'idle-timeout'
  | 'shutdown';

/** The account of one forwarded connection, logged once when both sockets are closed. */
export interface RelayEnd {
  readonly peer: string;
  readonly reason: CloseReason;
  /** errno code (ECONNRESET, ECONNREFUSED ...) when a socket failed. */
  readonly error?: string;
  readonly bytesToDevice: number;
  readonly bytesToClient: number;
  readonly durationMs: number;
}

export interface RelayOptions {
  readonly upstream: HostPort;
  readonly dialTimeoutMs: number;
  /** 0 turns the idle timeout off. */
  readonly idleTimeoutMs: number;
  /** Bytes per read, and both sockets' write high-water mark. */
  readonly bufferSize: number;
  readonly keepAliveDelayMs: number;
}

/**
 * One client connection forwarded to the device: every byte both ways, in order, with backpressure,
 * half-closes passed on. The accepted socket must arrive paused (`pauseOnConnect`): nothing is read
 * from the client before the device has accepted.
 */
export class Relay {
  readonly peer: string;
  private readonly client: Socket;
  private readonly device: Socket;
  private readonly toDevice: Pump;
  private readonly toClient: Pump;
  private readonly startedAt = performance.now();
  private readonly dialTimer: NodeJS.Timeout;
  private connected = false;
  private failure: { reason: CloseReason; error?: string } | undefined;
  private firstEnd: 'client' | 'device' | undefined;
  private openSockets = 2;

  /**
   * `head` is what `--mode auto` already read from the client to choose the mode (`ended` when the client
   * half-closed meanwhile): it goes to the device first.
   */
  constructor(
    accepted: Socket,
    private readonly options: RelayOptions,
    private readonly onEnd: (end: RelayEnd) => void,
    private readonly head?: { readonly bytes: Buffer; readonly ended: boolean },
  ) {
    this.peer = formatAddress({ host: accepted.remoteAddress ?? '?', port: accepted.remotePort ?? 0 });
    this.toDevice = new Pump(options.bufferSize);
    this.toClient = new Pump(options.bufferSize);

    // After `--mode auto` read the first bytes, whatever else the socket already buffered joins them,
    // so that the handle can still move to the fast path: nothing is left behind in the old socket.
    const early: Buffer[] = [];
    if (head !== undefined) {
      for (let chunk: unknown = accepted.read(); chunk !== null; chunk = accepted.read()) if (Buffer.isBuffer(chunk)) early.push(chunk);
    }
    const adopted = adoptWithOnread(accepted, { onread: this.toDevice.onread, writableHighWaterMark: options.bufferSize });
    this.client = adopted ?? accepted;
    if (adopted === undefined) this.client.on('data', this.toDevice.chunk);
    this.client.on('error', (err: NodeJS.ErrnoException) => this.fail('client-error', err.code ?? err.message));
    this.client.on('close', this.socketClosed);

    const connect: net.NetConnectOpts & { writableHighWaterMark: number } = {
      host: options.upstream.host,
      port: options.upstream.port,
      allowHalfOpen: true,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: options.keepAliveDelayMs,
      // Passed on to stream.Duplex (absent from the typings): a 64 KiB mark would pause the client after every read.
      writableHighWaterMark: options.bufferSize,
      onread: this.toClient.onread,
    };
    this.device = net.connect(connect);
    this.device.on('error', (err: NodeJS.ErrnoException) =>
      this.fail(this.connected ? 'device-error' : 'dial-failed', err.code ?? err.message),
    );
    this.device.on('close', this.socketClosed);
    this.device.once('connect', this.deviceConnected);
    this.dialTimer = setTimeout(() => this.fail('dial-timeout'), options.dialTimeoutMs);

    this.toDevice.connect(this.client, this.device);
    this.toClient.connect(this.device, this.client);
    const first = head === undefined ? Buffer.alloc(0) : Buffer.concat([head.bytes, ...early]);
    if (first.length > 0) {
      // Queued until the device accepts, ahead of anything read later.
      this.toDevice.bytes += first.length;
      this.device.write(first);
    }
  }

  get bytesToDevice(): number {
    return this.toDevice.bytes;
  }

  get bytesToClient(): number {
    return this.toClient.bytes;
  }

  /** Ends the connection now (shutdown after the drain timeout). */
  close(reason: CloseReason): void {
    this.fail(reason);
  }

  private readonly deviceConnected = (): void => {
    clearTimeout(this.dialTimer);
    if (this.failure) return;
    this.connected = true;
    const { client, device } = this;
    client.on('end', () => {
      this.firstEnd ??= 'client';
      device.end();
    });
    if (this.head?.ended === true) {
      this.firstEnd ??= 'client';
      device.end();
    }
    device.on('end', () => {
      this.firstEnd ??= 'device';
      client.end();
    });
    if (this.options.idleTimeoutMs > 0) {
      // Every byte passes the client socket, so its timer sees all traffic in both directions.
      client.setTimeout(this.options.idleTimeoutMs, () => this.fail('idle-timeout'));
    }
    this.toClient.start();
    this.toDevice.start();
  };

  private fail(reason: CloseReason, error?: string): void {
    if (this.failure || this.openSockets === 0) return;
    this.failure = error === undefined ? { reason } : { reason, error };
    clearTimeout(this.dialTimer);
    // A reset, not a clean FIN, tells the other side that its stream was cut short (or, for a
    // failed dial, that the device refused: an empty clean stream would look like a working one).
    const reset = reason !== 'idle-timeout' && reason !== 'shutdown';
    discard(this.client, reset);
    discard(this.device, reset && this.connected);
  }

  private readonly socketClosed = (): void => {
    this.openSockets -= 1;
    if (this.openSockets > 0) return;
    clearTimeout(this.dialTimer);
    const reason = this.failure?.reason ?? (this.firstEnd === 'device' ? 'device-closed' : 'client-closed');
    const error = this.failure?.error;
    this.onEnd({
      peer: this.peer,
      reason,
      ...(error === undefined ? {} : { error }),
      bytesToDevice: this.toDevice.bytes,
      bytesToClient: this.toClient.bytes,
      durationMs: Math.round(performance.now() - this.startedAt),
    });
  };
}

function discard(socket: Socket, reset: boolean): void {
  if (socket.destroyed) return;
  if (reset && !socket.connecting) socket.resetAndDestroy();
  else socket.destroy();
}
