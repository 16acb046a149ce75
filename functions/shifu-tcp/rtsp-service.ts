// RTSP mode: the clients, their camera connections, and the one shared camera session per stream.
import { UdpPortPool, type HostPort, type Logger, type PortRange } from '../lib/index.js';
import { CameraLink } from './rtsp-camera-link.js';
import { CameraSession, type CameraSessionOptions } from './rtsp-camera-session.js';
import type { ClientHost, RtspClientEnd } from './client-host.js';
import { RtspClient } from './rtsp-client.js';
import { cameraOrigin, loggableStream } from './rtsp-urls.js';

export interface RtspServiceOptions {
  readonly upstream: HostPort;
  readonly dialTimeoutMs: number;
  /** A connection with no byte either way (and no UDP session) for this long is closed; 0: never. */
  readonly idleTimeoutMs: number;
  readonly keepAliveDelayMs: number;
  readonly lingerMs: number;
  readonly rtpPorts: PortRange;
  /** The address UDP ports are bound on (the listen host; the wildcard binds per client family). */
  readonly udpHost: string | undefined;
  readonly log: Logger;
}

export interface RtspTotals {
  readonly cameraSessions: number;
  readonly clients: { readonly tcp: number; readonly udp: number };
  readonly connections: number;
  readonly bytesToDevice: number;
  readonly bytesToClient: number;
}

/** How often UDP viewers are checked for silence past the session timeout. */
const EXPIRY_CHECK_MS = 5_000;

export class RtspService implements ClientHost<RtspClient> {
  readonly streams = new Map<string, CameraSession>();
  readonly cameraOrigin: string;
  readonly udpPorts: UdpPortPool;
  readonly log: Logger;
  private readonly beingOpened = new Map<string, Promise<void>>();
  /** Each client, and what to call when it has closed (the listener's per-address count). */
  private readonly clients = new Map<RtspClient, () => void>();
  private readonly links = new Set<CameraLink>();
  private closedToDevice = 0;
  private closedToClient = 0;
  private readonly expiry: NodeJS.Timeout;
  private readonly idle: Array<() => void> = [];

  constructor(
    private readonly options: RtspServiceOptions,
    private readonly onClientEnd: (end: RtspClientEnd) => void,
  ) {
    this.cameraOrigin = cameraOrigin(options.upstream);
    this.udpPorts = new UdpPortPool(options.rtpPorts, options.udpHost);
    this.log = options.log;
    this.expiry = setInterval(() => {
      const now = Date.now();
      for (const client of this.clients.keys()) if (client.expired(now)) client.close('session-timeout');
    }, EXPIRY_CHECK_MS);
    this.expiry.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  get idleTimeoutMs(): number {
    return this.options.idleTimeoutMs;
  }

  /** Serves one client connection; `head` holds the bytes already read while choosing the mode. */
  accept(socket: import('node:net').Socket, head: Buffer | undefined, onClosed: () => void = () => undefined): void {
    this.clients.set(new RtspClient(socket, this, head), onClosed);
  }

  openLink(): CameraLink {
    const link = new CameraLink(this.options.upstream, this.options.dialTimeoutMs, this.options.keepAliveDelayMs);
    this.links.add(link);
    link.onClose(() => {
      this.links.delete(link);
      this.closedToDevice += link.bytesToCamera;
    });
    return link;
  }

  /** Marks a stream's camera session as being opened by one client; others wait for it. Returns the release. */
  opening(key: string): () => void {
    let release = (): void => undefined;
    const done = new Promise<void>((resolve) => {
      release = () => {
        if (this.beingOpened.get(key) === done) this.beingOpened.delete(key);
        resolve();
      };
    });
    this.beingOpened.set(key, done);
    return release;
  }

  /** Waits (up to `timeoutMs`) while another client is opening the stream's camera session. */
  async opened(key: string, timeoutMs: number): Promise<void> {
    const pending = this.beingOpened.get(key);
    if (pending === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([pending, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** A client's PLAY succeeded on its own camera connection: that connection becomes the stream's shared session. */
  share(options: Pick<CameraSessionOptions, 'key' | 'link' | 'sessionId' | 'timeoutSeconds' | 'controlUrl' | 'tracks'>): CameraSession {
    const session = new CameraSession({
      ...options,
      lingerMs: this.options.lingerMs,
      log: this.log,
      onEnd: (s) => {
        if (this.streams.get(s.key) === s) this.streams.delete(s.key);
      },
    });
    this.streams.set(options.key, session);
    this.log.info({ stream: loggableStream(options.key), tracks: options.tracks.length }, 'camera session opened');
    return session;
  }

  clientClosed(client: RtspClient, end: RtspClientEnd): void {
    this.clients.get(client)?.();
    this.clients.delete(client);
    this.closedToClient += end.bytesToClient;
    this.onClientEnd(end);
    if (this.clients.size === 0) for (const wake of this.idle.splice(0)) wake();
  }

  totals(): RtspTotals {
    let toDevice = this.closedToDevice;
    for (const link of this.links) toDevice += link.bytesToCamera;
    let toClient = this.closedToClient;
    let tcp = 0;
    let udp = 0;
    for (const client of this.clients.keys()) {
      toClient += client.bytesToClient;
      for (const t of client.liveTransports) if (t === 'tcp') tcp += 1;
      else udp += 1;
    }
    return { cameraSessions: this.streams.size, clients: { tcp, udp }, connections: this.clients.size, bytesToDevice: toDevice, bytesToClient: toClient };
  }

  /** Resolves once no client is left, or false after `timeoutMs`. */
  idleWithin(timeoutMs: number): Promise<boolean> {
    if (this.clients.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idle.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Cuts every client and camera session (shutdown). */
  closeAll(): void {
    for (const client of this.clients.keys()) client.close('shutdown');
    for (const session of [...this.streams.values()]) session.close('shutdown');
    for (const link of this.links) link.close();
    clearInterval(this.expiry);
  }
}
