// One RTSP-mode client's sessions: their tracks, the transports each track asked for (interleaved channels on
// the client's connection, or a UDP port pair), and where each track's media and RTCP go. rtsp-client.ts decides
// when sessions are made and joined; this file keeps them.
import { randomBytes } from 'node:crypto';
import { header, type HeaderList, type RtspRequest, type TransportRequest, type UdpPair, type UdpPortPool } from '../lib/index.js';
import type { ClientWire } from './client-wire.js';
import type { CameraSession, Outgoing, TrackSink, Viewer } from './rtsp-camera-session.js';
import type { VideoCodec } from './rtsp-media.js';

/** The session timeout we announce to clients (seconds); UDP viewers silent for longer are dropped. */
export const CLIENT_SESSION_TIMEOUT_S = 60;

export type ClientTransport =
  | { readonly lower: 'tcp'; readonly channels: readonly [number, number] }
  | { readonly lower: 'udp'; readonly pair: UdpPair; readonly clientPorts: readonly [number, number] };

export interface ClientTrack {
  readonly url: string;
  readonly transport: ClientTransport;
  /** RTP channel of the track on the camera connection. */
  readonly cameraChannel: number;
  readonly codec: VideoCodec | undefined;
}

/** A client's RTSP session: either on its own camera session until PLAY (`own`), or joining a shared one. */
export interface ClientSession extends Viewer {
  readonly id: string;
  readonly key: string;
  kind: 'own' | 'join';
  readonly tracks: ClientTrack[];
  readonly sinks: Map<number, TrackSink>;
  cameraSessionId: string | undefined;
  cameraTimeout: number;
  shared: CameraSession | undefined;
  playing: boolean;
  lastSeen: number;
  /** Resolves the "being opened" mark this session put on its stream. */
  settle: (() => void) | undefined;
}

/** The Transport header answering a SETUP on this transport. */
export function transportField(t: ClientTransport): string {
  return t.lower === 'tcp'
    ? `RTP/AVP/TCP;unicast;interleaved=${t.channels[0]}-${t.channels[1]}`
    : `RTP/AVP;unicast;client_port=${t.clientPorts[0]}-${t.clientPorts[1]};server_port=${t.pair.ports[0]}-${t.pair.ports[1]}`;
}

export interface ClientSessionsOptions {
  readonly wire: ClientWire;
  /** The client's address: UDP media goes there, and only its RTCP is taken. */
  readonly remoteAddress: string;
  readonly family: 'udp4' | 'udp6';
  readonly udpPorts: UdpPortPool;
  /** The shared camera session a session watched ended. */
  cameraGone(key: string, reason: string): void;
  /** A session on the client's own camera connection was dropped before it shared it: that connection goes. */
  ownDropped(): void;
}

export class ClientSessions {
  private readonly byId = new Map<string, ClientSession>();
  /** Client interleaved channel -> the session and camera channel it belongs to. */
  private readonly channels = new Map<number, { session: ClientSession; cameraChannel: number; rtcp: boolean }>();
  /** Every transport the client used, for its log line. */
  readonly transports = new Set<'tcp' | 'udp'>();
  /** Streams this client set up, for its log line. */
  readonly streamKeys = new Set<string>();

  constructor(private readonly o: ClientSessionsOptions) {}

  get size(): number {
    return this.byId.size;
  }

  all(): ClientSession[] {
    return [...this.byId.values()];
  }

  /** The request's session: none asked, ours, or one we do not know (`unknown`: 454). */
  of(req: RtspRequest): ClientSession | undefined | 'unknown' {
    const value = header(req, 'session');
    if (value === undefined) return undefined;
    return this.byId.get(value.split(';')[0]?.trim() ?? '') ?? 'unknown';
  }

  /** The Session header of our answers. */
  field(session: ClientSession | undefined): HeaderList {
    return session ? [['Session', `${session.id};timeout=${CLIENT_SESSION_TIMEOUT_S}`]] : [];
  }

  create(key: string, kind: 'own' | 'join'): ClientSession {
    const session: ClientSession = {
      id: randomBytes(8).toString('hex'),
      key,
      kind,
      tracks: [],
      sinks: new Map(),
      cameraSessionId: undefined,
      cameraTimeout: 60,
      shared: undefined,
      playing: false,
      lastSeen: Date.now(),
      settle: undefined,
      flush: () => this.o.wire.flush(),
      cameraGone: (reason) => this.o.cameraGone(key, reason),
    };
    this.byId.set(session.id, session);
    this.streamKeys.add(key);
    return session;
  }

  addTrack(session: ClientSession, track: ClientTrack): void {
    session.tracks.push(track);
    this.transports.add(track.transport.lower);
    const t = track.transport;
    const wire = this.o.wire;
    if (t.lower === 'tcp') {
      this.channels.set(t.channels[0], { session, cameraChannel: track.cameraChannel, rtcp: false });
      this.channels.set(t.channels[1], { session, cameraChannel: track.cameraChannel, rtcp: true });
      session.sinks.set(track.cameraChannel, {
        sendRtp: (out) => wire.sendFramed(out.framedOn(t.channels[0])),
        sendRtcp: (out) => void wire.sendFramed(out.framedOn(t.channels[1])),
      });
    } else {
      const { pair, clientPorts } = t;
      const address = this.o.remoteAddress;
      pair.rtcp.on('message', (msg: Buffer, from) => {
        if (from.address !== address) return;
        session.lastSeen = Date.now();
        session.shared?.relayRtcp(track.cameraChannel, msg);
      });
      session.sinks.set(track.cameraChannel, {
        sendRtp: (out: Outgoing) => {
          wire.bytesToClient += out.packet.length;
          pair.rtp.send(out.packet, clientPorts[0], address);
          return true;
        },
        sendRtcp: (out: Outgoing) => {
          wire.bytesToClient += out.packet.length;
          pair.rtcp.send(out.packet, clientPorts[1], address);
        },
      });
    }
  }

  /** Channels or a UDP port pair for a SETUP; undefined when none is free (453). */
  async transportFor(wanted: TransportRequest): Promise<ClientTransport | undefined> {
    if (wanted.lower === 'tcp') {
      const used = (c: number): boolean => this.channels.has(c);
      const asked = wanted.interleaved;
      if (asked && asked[0] !== asked[1] && !used(asked[0]) && !used(asked[1])) return { lower: 'tcp', channels: asked };
      for (let c = 0; c < 254; c += 2) if (!used(c) && !used(c + 1)) return { lower: 'tcp', channels: [c, c + 1] };
      return undefined;
    }
    const pair = await this.o.udpPorts.allocate(this.o.family);
    return pair && { lower: 'udp', pair, clientPorts: wanted.clientPorts };
  }

  /** Points a session's tracks at a shared session's camera channels. */
  rebind(session: ClientSession, shared: CameraSession, samePlace: (a: string, b: string) => boolean): void {
    const tracks = session.tracks.splice(0).map((t) => ({ ...t, cameraChannel: shared.track((u) => samePlace(u, t.url))?.channel ?? t.cameraChannel }));
    session.sinks.clear();
    for (const [channel, use] of this.channels) if (use.session === session) this.channels.delete(channel);
    for (const t of tracks) this.addTrack(session, t);
    this.releaseOpening(session);
  }

  /** An interleaved frame of the client on a session's channel (its RTCP); false for a channel of no session. */
  frame(channel: number, payload: Buffer): boolean {
    const use = this.channels.get(channel);
    if (use === undefined) return false;
    use.session.lastSeen = Date.now();
    if (use.rtcp) use.session.shared?.relayRtcp(use.cameraChannel, payload);
    return true;
  }

  releaseOpening(session: ClientSession): void {
    session.settle?.();
    session.settle = undefined;
  }

  drop(session: ClientSession): void {
    this.forget(session);
    session.shared?.leave(session);
    if (session.kind === 'own' && session.shared === undefined) this.o.ownDropped();
    for (const t of session.tracks) if (t.transport.lower === 'udp') t.transport.pair.close();
    session.playing = false;
  }

  forget(session: ClientSession): void {
    this.byId.delete(session.id);
    for (const [channel, use] of this.channels) if (use.session === session) this.channels.delete(channel);
    this.releaseOpening(session);
  }

  /** The transports in use now, for the clients gauge. */
  liveTransports(): Array<'tcp' | 'udp'> {
    const out: Array<'tcp' | 'udp'> = [];
    for (const s of this.byId.values()) if (s.playing) out.push(...new Set(s.tracks.map((t) => t.transport.lower)));
    return out;
  }

  /** A session with a UDP track: its media and RTCP bypass the client's connection. */
  anyUdp(): boolean {
    return this.all().some((s) => s.tracks.some((t) => t.transport.lower === 'udp'));
  }

  /** UDP viewers prove they are alive with RTCP or keep-alives; TCP ones with their connection. */
  expired(now: number): boolean {
    return this.all().some((s) => s.tracks.some((t) => t.transport.lower === 'udp') && now - s.lastSeen > CLIENT_SESSION_TIMEOUT_S * 1000);
  }
}
