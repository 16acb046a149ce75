// The RTSP server: accepts connections, and times out UDP sessions whose clients went quiet.
import net from 'node:net';
import { once } from 'node:events';
import type { HostPort, Logger } from '../lib/index.js';
import type { AccessPolicy } from './access.js';
import { RtspConnection } from './connection.js';
import type { ServerContext } from './context.js';
import { PathTable } from './paths.js';
import { SESSION_TIMEOUT_SECONDS } from './session.js';
import { UdpPortPool, type PortRange } from '../lib/index.js';

export interface RtspServerOptions {
  readonly listen: HostPort;
  readonly rtpPorts: PortRange;
  readonly access: AccessPolicy;
  /** Paths only the built-in publishers may ANNOUNCE. */
  readonly reservedPaths: readonly string[];
  readonly log: Logger;
  readonly describeWaitMs?: number;
}

/** A connection that has sent nothing and holds no session for this long is dropped. */
const IDLE_CONNECTION_MS = 60_000;
const MAX_CONNECTIONS = 512;

export class RtspServer {
  readonly paths: PathTable;
  private readonly ctx: ServerContext;
  private readonly connections = new Set<RtspConnection>();
  private readonly sweeper: NodeJS.Timeout;

  private constructor(
    private readonly server: net.Server,
    options: RtspServerOptions,
  ) {
    this.paths = new PathTable(options.reservedPaths);
    const wildcard = options.listen.host === '0.0.0.0' || options.listen.host === '::' || options.listen.host === '';
    this.ctx = {
      paths: this.paths,
      ports: new UdpPortPool(options.rtpPorts, wildcard ? undefined : options.listen.host),
      access: options.access,
      log: options.log,
      describeWaitMs: options.describeWaitMs ?? 5000,
    };
    server.on('connection', (socket) => this.accept(socket));
    this.sweeper = setInterval(() => this.sweep(), 5000);
    this.sweeper.unref();
  }

  static async start(options: RtspServerOptions): Promise<RtspServer> {
    const server = net.createServer({ allowHalfOpen: true });
    server.maxConnections = MAX_CONNECTIONS;
    const rtsp = new RtspServer(server, options);
    server.listen(options.listen.port, options.listen.host);
    try {
      await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err as Error))]);
    } catch (err) {
      clearInterval(rtsp.sweeper);
      throw err;
    }
    return rtsp;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  private accept(socket: net.Socket): void {
    const conn = new RtspConnection(socket, this.ctx, (c) => this.connections.delete(c));
    this.connections.add(conn);
    socket.setTimeout(IDLE_CONNECTION_MS, () => {
      if (conn.sessions.size === 0) conn.destroy();
    });
  }

  /** RFC 2326 §12.37: a UDP session without a request or RTCP within its timeout is over. */
  private sweep(): void {
    const deadline = Date.now() - SESSION_TIMEOUT_SECONDS * 1000;
    for (const conn of this.connections) {
      for (const session of [...conn.sessions.values()]) {
        if (session.usesUdp && session.lastActivity < deadline) {
          this.ctx.log.info({ session: session.id, path: session.stream.path }, 'session timed out');
          conn.closeSession(session);
        }
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const conn of this.connections) conn.destroy();
    await closed;
  }
}
