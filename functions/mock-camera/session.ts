// An RTSP session: the tracks a client SETUP, how each travels (interleaved or UDP), and play/record state.
import { randomBytes } from 'node:crypto';
import type { DeliveryMode } from '../lib/index.js';
import type { PacketKind, Reader, Stream } from './stream.js';
import type { UdpPair } from '../lib/index.js';

export type SessionState = 'ready' | 'playing' | 'recording';

export type TrackTransport =
  | { readonly lower: 'tcp'; readonly channels: readonly [number, number] }
  | {
      readonly lower: 'udp';
      readonly pair: UdpPair;
      readonly clientAddress: string;
      readonly clientPorts: readonly [number, number];
    };

/** What a session needs from its RTSP connection. */
export interface SessionLink {
  /** Queues an interleaved frame; may drop it when the client reads too slowly. */
  sendInterleaved(channel: number, payload: Buffer): void;
  /** The stream this session plays has ended: the client must find out, so the connection closes. */
  streamEnded(session: Session): void;
}

/** Seconds a UDP session lives without an RTSP request or an RTCP packet from its client. */
export const SESSION_TIMEOUT_SECONDS = 60;

export class Session implements Reader {
  readonly id = randomBytes(8).toString('hex');
  state: SessionState = 'ready';
  lastActivity = Date.now();
  readonly transports = new Map<number, TrackTransport>();
  private closed = false;

  constructor(
    readonly mode: DeliveryMode,
    readonly stream: Stream,
    private readonly link: SessionLink,
  ) {}

  get usesUdp(): boolean {
    for (const t of this.transports.values()) if (t.lower === 'udp') return true;
    return false;
  }

  touch(): void {
    this.lastActivity = Date.now();
  }

  addTrack(track: number, transport: TrackTransport): void {
    this.transports.set(track, transport);
    if (transport.lower !== 'udp') return;
    // Packets from the client: RTCP receiver reports and NAT pinholes keep a player alive; a publisher sends media.
    const listen = (kind: PacketKind) => (payload: Buffer, from: { address: string }) => {
      if (from.address !== transport.clientAddress) return;
      this.touch();
      if (this.mode === 'record' && this.state === 'recording') this.stream.publish(track, kind, payload);
    };
    transport.pair.rtp.on('message', listen('rtp'));
    transport.pair.rtcp.on('message', listen('rtcp'));
  }

  play(): void {
    this.state = 'playing';
    for (const track of this.transports.keys()) {
      const report = this.stream.senderReport(track);
      if (report) this.deliver(track, 'rtcp', report);
    }
    this.stream.addReader(this);
  }

  pause(): void {
    this.stream.removeReader(this);
    this.state = 'ready';
  }

  deliver(track: number, kind: PacketKind, payload: Buffer): void {
    const t = this.transports.get(track);
    if (t === undefined) return;
    if (t.lower === 'tcp') this.link.sendInterleaved(t.channels[kind === 'rtp' ? 0 : 1], payload);
    else {
      const socket = kind === 'rtp' ? t.pair.rtp : t.pair.rtcp;
      try {
        socket.send(payload, t.clientPorts[kind === 'rtp' ? 0 : 1], t.clientAddress);
      } catch {
        // the socket closed under us: the session is ending anyway
      }
    }
  }

  streamEnded(): void {
    this.link.streamEnded(this);
  }

  /** Stops delivery and frees the UDP ports; the caller unpublishes a recording session's stream. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stream.removeReader(this);
    for (const t of this.transports.values()) if (t.lower === 'udp') t.pair.close();
  }
}
