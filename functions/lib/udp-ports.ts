// Server-side UDP port pairs (RTP even, RTCP odd) for sessions that take RTP over UDP.
import dgram from 'node:dgram';
import { once } from 'node:events';
import { z } from 'zod';

export interface PortRange {
  readonly min: number;
  readonly max: number;
}

/** `MIN-MAX` ports that pass `fits`, or the `expected` message (what a good range looks like). */
export function zPortRangeWhere(fits: (range: PortRange) => boolean, expected: string) {
  return z
    .string()
    .trim()
    .transform((value, ctx): PortRange => {
      const m = /^(\d{1,5})-(\d{1,5})$/.exec(value);
      const range = { min: Number(m?.[1]), max: Number(m?.[2]) };
      if (!m || !fits(range)) {
        ctx.addIssue({ code: 'custom', message: expected });
        return z.NEVER;
      }
      return range;
    });
}

/** `30000-30999`: an even first port and at least one pair. */
export const zPortRange = zPortRangeWhere(
  ({ min, max }) => min >= 1024 && max <= 65535 && min % 2 === 0 && max >= min + 1,
  'expected MIN-MAX with an even MIN >= 1024, MAX <= 65535 and room for one pair, e.g. 30000-30999',
);

/** Two bound sockets: RTP on the even port, RTCP on the next. */
export class UdpPair {
  constructor(
    readonly rtp: dgram.Socket,
    readonly rtcp: dgram.Socket,
    readonly ports: readonly [number, number],
    private readonly release: () => void,
  ) {}

  close(): void {
    for (const s of [this.rtp, this.rtcp]) {
      s.removeAllListeners('message');
      try {
        s.close();
      } catch {
        // already closed
      }
    }
    this.release();
  }
}

async function bind(type: 'udp4' | 'udp6', port: number, host: string): Promise<dgram.Socket | undefined> {
  const socket = dgram.createSocket({ type, reuseAddr: false });
  // Sends to a vanished client raise ICMP errors; they must never reach the process.
  socket.on('error', () => undefined);
  try {
    socket.bind(port, host);
    await Promise.race([once(socket, 'listening'), once(socket, 'error').then(([err]) => Promise.reject(err as Error))]);
    return socket;
  } catch {
    socket.close();
    return undefined;
  }
}

export class UdpPortPool {
  private readonly inUse = new Set<number>();
  private cursor: number;

  constructor(
    private readonly range: PortRange,
    /** A specific address to bind, or undefined for the wildcard of the client's family. */
    private readonly host: string | undefined,
  ) {
    this.cursor = range.min;
  }

  /** A free pair, or undefined when the range is exhausted (ports other programs hold are skipped). */
  async allocate(type: 'udp4' | 'udp6'): Promise<UdpPair | undefined> {
    const pairs = Math.floor((this.range.max - this.range.min + 1) / 2);
    for (let i = 0; i < pairs; i += 1) {
      const port = this.cursor;
      this.cursor = port + 2 + 1 > this.range.max ? this.range.min : port + 2;
      if (this.inUse.has(port)) continue;
      this.inUse.add(port);
      const host = this.host ?? (type === 'udp4' ? '0.0.0.0' : '::');
      const rtp = await bind(type, port, host);
      const rtcp = rtp && (await bind(type, port + 1, host));
      if (rtp && rtcp) return new UdpPair(rtp, rtcp, [port, port + 1], () => this.inUse.delete(port));
      rtp?.close();
      this.inUse.delete(port);
    }
    return undefined;
  }
}
