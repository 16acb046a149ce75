// One client's RTSP connection in RTSP mode: its DESCRIBE (and auth) goes to the camera, its PLAY opens or
// joins the stream's shared camera session, its media arrives interleaved or over UDP as it asked.
import type net from 'node:net';
import { randomBytes } from 'node:crypto';
import {
  header,
  parseTransport,
  RtspParser,
  serializeMessage,
  STATUS_TEXT,
  type HeaderList,
  type RtspIncomingResponse,
  type RtspRequest,
  type TransportRequest,
  type Logger,
  type UdpPair,
  type UdpPortPool,
} from '../lib/index.js';
import { formatAddress } from './address.js';
import { CameraLink, CameraLinkClosed, CameraUnreachable } from './rtsp-camera-link.js';
import { CameraSession, type CameraSessionOptions, type CameraTrack, type Outgoing, type TrackSink, type Viewer } from './rtsp-camera-session.js';
import { parseSdp, type VideoCodec } from './rtsp-media.js';
import { clientOrigin, loggableStream, resolveControl, samePlace, streamKey, toCamera, toClient } from './rtsp-urls.js';

/** The session timeout we announce to clients (seconds); UDP viewers silent for longer are dropped. */
export const CLIENT_SESSION_TIMEOUT_S = 60;
/** Bytes queued to a slow TCP viewer before its packets are dropped (it then rejoins at a keyframe). */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/**
 * Requests read but not yet answered, past which the client is no longer read: a client that pipelines
 * requests behind one a slow camera holds (or never reads our answers) must not fill the forwarder's memory.
 */
const MAX_QUEUED_REQUESTS = 16;
/** Bytes written but not yet taken by the client, past which the client is no longer read. */
const MAX_UNREAD_BYTES = 1024 * 1024;
/** Bytes parsed at a time, so that a full queue stops the parsing of a large read part way. */
const PARSE_SLICE_BYTES = 4096;
const SERVER = 'shifu-rtsp forwarder';
const PUBLIC = 'OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER';
/** How long a client waits for another client's camera session that is being opened before opening its own. */
const ESTABLISH_WAIT_MS = 10_000;
/** Headers we set ourselves toward the camera, or that describe one hop only. */
const HOP_HEADERS = new Set(['cseq', 'session', 'transport', 'content-length', 'connection']);

type ClientTransport =
  | { readonly lower: 'tcp'; readonly channels: readonly [number, number] }
  | { readonly lower: 'udp'; readonly pair: UdpPair; readonly clientPorts: readonly [number, number] };

interface ClientTrack {
  readonly url: string;
  readonly transport: ClientTransport;
  /** RTP channel of the track on the camera connection. */
  readonly cameraChannel: number;
  readonly codec: VideoCodec | undefined;
}

/** A client's RTSP session: either on its own camera session until PLAY (`own`), or joining a shared one. */
interface ClientSession extends Viewer {
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

interface Described {
  readonly base: string;
  readonly media: ReadonlyArray<{ readonly url: string; readonly codec: VideoCodec | undefined }>;
}

export type ClientEndReason =
  | 'client-closed'
  | 'client-error'
  | 'malformed'
  | 'camera-gone'
  | 'camera-unreachable'
  | 'session-timeout'
  | 'idle-timeout'
  | 'shutdown';

/**
 * What a client needs of the service that accepted it (RtspService implements it): the shared camera sessions,
 * the camera connections, the UDP ports. A contract here, so that the client does not import the service that
 * creates it.
 */
export interface ClientHost {
  readonly streams: ReadonlyMap<string, CameraSession>;
  readonly cameraOrigin: string;
  readonly udpPorts: UdpPortPool;
  readonly log: Logger;
  readonly idleTimeoutMs: number;
  openLink(): CameraLink;
  /** Marks a stream's camera session as being opened by one client; others wait for it. Returns the release. */
  opening(key: string): () => void;
  /** Waits (up to `timeoutMs`) while another client is opening the stream's camera session. */
  opened(key: string, timeoutMs: number): Promise<void>;
  /** A client's PLAY succeeded on its own camera connection: that connection becomes the stream's shared session. */
  share(options: Pick<CameraSessionOptions, 'key' | 'link' | 'sessionId' | 'timeoutSeconds' | 'tracks'>): CameraSession;
  clientClosed(client: RtspClient, end: RtspClientEnd): void;
}

/** The account of one RTSP client connection, logged once when it closes. */
export interface RtspClientEnd {
  readonly peer: string;
  readonly reason: ClientEndReason;
  /** errno code when the client's socket failed. */
  readonly error?: string;
  readonly streams: readonly string[];
  readonly transport: string;
  /** True when the client joined a camera session another client had opened. */
  readonly shared: boolean;
  readonly bytesToClient: number;
  readonly bytesFromClient: number;
  readonly durationMs: number;
}

export class RtspClient {
  readonly peer: string;
  bytesToClient = 0;
  bytesFromClient = 0;
  private readonly parser = new RtspParser();
  private readonly startedAt = performance.now();
  private readonly remoteAddress: string;
  private readonly family: 'udp4' | 'udp6';
  private origin = '';
  private link: CameraLink | undefined;
  private readonly described = new Map<string, Described>();
  private readonly sessions = new Map<string, ClientSession>();
  /** Client interleaved channel -> the session and camera channel it belongs to. */
  private readonly channels = new Map<number, { session: ClientSession; cameraChannel: number; rtcp: boolean }>();
  private queue: Promise<void> = Promise.resolve();
  /** Steps in `queue` not yet done. */
  private queued = 0;
  /** Reading paused because the queue or the unread answers are full. */
  private held = false;
  /** Nothing more is read: the parser gave up on the connection. */
  private deaf = false;
  private reason: ClientEndReason | undefined;
  private everShared = false;
  private readonly transports = new Set<'tcp' | 'udp'>();
  /** Streams this client set up, for its log line. */
  private readonly streamKeys = new Set<string>();
  private closed = false;
  private corked = false;
  private tornDown = false;
  private error: string | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly service: ClientHost,
    head: Buffer | undefined,
  ) {
    this.remoteAddress = socket.remoteAddress ?? '';
    this.family = socket.remoteFamily === 'IPv6' ? 'udp6' : 'udp4';
    this.peer = formatAddress({ host: this.remoteAddress || '?', port: socket.remotePort ?? 0 });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    // Half-close from the client: answer what it sent, then close our side.
    socket.on('end', () => this.enqueue(async () => this.end('client-closed')));
    // A reset right after TEARDOWN (ffmpeg closes with unread data) is an ordinary end, not an error.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.error ??= err.code ?? err.message;
      this.fail(this.tornDown && this.sessions.size === 0 ? 'client-closed' : 'client-error');
    });
    socket.on('close', () => this.cleanup());
    socket.on('drain', () => this.throttle());
    if (service.idleTimeoutMs > 0) {
      socket.on('timeout', () => this.idle());
      socket.setTimeout(service.idleTimeoutMs);
    }
    if (head !== undefined && head.length > 0) this.receive(head);
    // The head alone may have filled the queue (the rest of it went back to the socket): then wait for room.
    if (!this.held) socket.resume();
  }

  /** The transports in use now, for the clients gauge. */
  get liveTransports(): ReadonlyArray<'tcp' | 'udp'> {
    const out: Array<'tcp' | 'udp'> = [];
    for (const s of this.sessions.values()) if (s.playing) out.push(...new Set(s.tracks.map((t) => t.transport.lower)));
    return out;
  }

  /** UDP viewers prove they are alive with RTCP or keep-alives; TCP ones with their connection. */
  expired(now: number): boolean {
    for (const s of this.sessions.values()) {
      if (s.tracks.some((t) => t.transport.lower === 'udp') && now - s.lastSeen > CLIENT_SESSION_TIMEOUT_S * 1000) return true;
    }
    return false;
  }

  close(reason: ClientEndReason): void {
    this.fail(reason);
  }

  /**
   * No byte either way for the idle timeout. A UDP session's media and RTCP bypass this connection, so it is
   * left to the session timeout (`expired`); a paused TCP viewer sends keep-alives within the 60 s we announce.
   */
  private idle(): void {
    const udp = [...this.sessions.values()].some((s) => s.tracks.some((t) => t.transport.lower === 'udp'));
    if (udp) this.socket.setTimeout(this.service.idleTimeoutMs);
    else this.fail('idle-timeout');
  }

  /** Reads from the client only while its queue of requests and of answers it has not taken are short. */
  private throttle(): void {
    if (this.closed || this.deaf) return;
    const full = this.queued >= MAX_QUEUED_REQUESTS || this.socket.writableLength >= MAX_UNREAD_BYTES;
    if (full && !this.held) {
      this.held = true;
      this.socket.pause();
    } else if (!full && this.held) {
      this.held = false;
      this.socket.resume();
    }
  }

  private receive(chunk: Buffer): void {
    for (let at = 0; at < chunk.length; at += PARSE_SLICE_BYTES) {
      if (this.deaf) return;
      if (this.held) {
        // Back to the socket, read again once the queue has room.
        this.socket.unshift(chunk.subarray(at));
        return;
      }
      const slice = chunk.subarray(at, at + PARSE_SLICE_BYTES);
      this.bytesFromClient += slice.length;
      this.parse(slice);
    }
  }

  private parse(slice: Buffer): void {
    for (const input of this.parser.push(slice)) {
      if (input.kind === 'interleaved') this.clientFrame(input.channel, input.payload);
      else if (input.kind === 'malformed') {
        // A request we cannot read is answered 400 and the connection closed: nothing after it can be trusted.
        this.service.log.debug({ peer: this.peer, reason: input.reason }, 'malformed RTSP request');
        this.enqueue(async () => {
          this.writeLocal(input.status, input.cseq, [['Connection', 'close']]);
          this.end('malformed');
        });
        this.parserDone();
        return;
      } else if (input.kind === 'request') {
        const request = input.request;
        this.enqueue(() => this.answer(request));
      }
    }
  }

  private parserDone(): void {
    this.deaf = true;
    this.socket.pause();
  }

  private enqueue(step: () => Promise<void>): void {
    this.queued += 1;
    this.throttle();
    this.queue = this.queue
      .then(() => (this.closed ? undefined : step()))
      .finally(() => {
        this.queued -= 1;
        this.throttle();
      })
      .catch((err: unknown) => {
        if (err instanceof CameraUnreachable) {
          this.service.log.warn({ peer: this.peer, error: err.message }, 'camera unreachable');
          this.fail('camera-unreachable');
          return;
        }
        if (err instanceof CameraLinkClosed) {
          // The camera ended the connection a request of this client was on: the client's connection ends too.
          this.service.log.info({ peer: this.peer, error: err.message }, 'camera connection ended during a request');
          this.fail('camera-gone');
          return;
        }
        this.service.log.error({ err, peer: this.peer }, 'internal error in RTSP mode; closing the client');
        this.fail('client-error');
      });
  }

  private async answer(req: RtspRequest): Promise<void> {
    this.origin ||= clientOrigin(req.uri) ?? this.origin;
    const session = this.sessionOf(req);
    if (session === 'unknown') return this.writeLocal(454, req.cseq);
    if (session) session.lastSeen = Date.now();
    switch (req.method) {
      case 'OPTIONS':
        return this.writeLocal(200, req.cseq, [['Public', PUBLIC], ...this.sessionField(session)]);
      case 'DESCRIBE':
        return this.describe(req);
      case 'SETUP':
        return this.setup(req, session);
      case 'PLAY':
        return session ? this.play(req, session) : this.writeLocal(454, req.cseq);
      case 'PAUSE':
        if (!session) return this.writeLocal(454, req.cseq);
        session.playing = false;
        session.shared?.hold(session);
        return this.writeLocal(200, req.cseq, this.sessionField(session));
      case 'TEARDOWN':
        this.tornDown = true;
        if (session) this.dropSession(session);
        return this.writeLocal(200, req.cseq);
      case 'GET_PARAMETER':
      case 'SET_PARAMETER':
        // Keep-alives of a session we serve are ours to answer; the camera's session has its own.
        if (session && req.body.length === 0) return this.writeLocal(200, req.cseq, this.sessionField(session));
        return this.forward(req, session);
      default:
        return this.forward(req, session);
    }
  }

  private sessionOf(req: RtspRequest): ClientSession | undefined | 'unknown' {
    const value = header(req, 'session');
    if (value === undefined) return undefined;
    return this.sessions.get(value.split(';')[0]?.trim() ?? '') ?? 'unknown';
  }

  private sessionField(session: ClientSession | undefined): HeaderList {
    return session ? [['Session', `${session.id};timeout=${CLIENT_SESSION_TIMEOUT_S}`]] : [];
  }

  /** The client's own connection to the camera, for its DESCRIBE and, until it shares, its session. */
  private ownLink(): CameraLink {
    if (this.link === undefined || this.link.closed) {
      const link = this.service.openLink();
      link.onClose(() => {
        // The camera ended a session this client was still setting up or using on its own: no half-dead client.
        if (this.link === link && [...this.sessions.values()].some((s) => s.kind === 'own' && s.cameraSessionId !== undefined)) this.fail('camera-gone');
        if (this.link === link) this.link = undefined;
      });
      this.link = link;
    }
    return this.link;
  }

  private async toCameraRequest(req: RtspRequest, extra: HeaderList, session?: ClientSession): Promise<RtspIncomingResponse> {
    const fields: Array<readonly [string, string]> = (req.fields ?? []).filter(([name]) => !HOP_HEADERS.has(name.toLowerCase()));
    if (session?.cameraSessionId !== undefined) fields.push(['Session', session.cameraSessionId]);
    fields.push(...extra);
    return this.ownLink().request(req.method, toCamera(req.uri, this.service.cameraOrigin), fields, req.body);
  }

  /** Any other request: to the camera on the client's own connection, the answer back unchanged but for URLs. */
  private async forward(req: RtspRequest, session: ClientSession | undefined): Promise<void> {
    const transport = header(req, 'transport');
    const response = await this.toCameraRequest(req, transport === undefined ? [] : [['Transport', transport]], session);
    this.writeCamera(response, req.cseq, session);
  }

  private async describe(req: RtspRequest): Promise<void> {
    const response = await this.toCameraRequest(req, []);
    if (response.status === 200) {
      const key = streamKey(req.uri);
      const base = header(response, 'content-base') ?? header(response, 'content-location') ?? toCamera(req.uri, this.service.cameraOrigin);
      const sdp = parseSdp(response.body.toString('utf8'));
      const sessionBase = sdp.control === undefined ? base : resolveControl(base, sdp.control);
      const media = sdp.media.map((m) => ({ url: m.control === undefined ? sessionBase : resolveControl(sessionBase, m.control), codec: m.codec }));
      // Only a client the camera answered 200 may join this stream's shared session.
      this.described.set(key, { base, media });
    }
    this.writeCamera(response, req.cseq, undefined);
  }

  /** The described stream a track URL belongs to. */
  private streamOfTrack(cameraUrl: string): { key: string; codec: VideoCodec | undefined } | undefined {
    for (const [key, d] of this.described) {
      const m = d.media.find((x) => samePlace(x.url, cameraUrl));
      if (m) return { key, codec: m.codec };
    }
    return undefined;
  }

  private async setup(req: RtspRequest, existing: ClientSession | undefined): Promise<void> {
    const asked = header(req, 'transport');
    const wanted = asked === undefined ? undefined : parseTransport(asked);
    // Multicast, or nothing we can serve: the client may retry with another transport.
    if (wanted === undefined) return this.writeLocal(461, req.cseq);
    if (wanted.mode === 'record') return this.forward(req, existing);
    if (existing?.playing) return this.writeLocal(455, req.cseq);
    const cameraUrl = toCamera(req.uri, this.service.cameraOrigin);
    const found = this.streamOfTrack(cameraUrl);
    const key = existing?.key ?? found?.key ?? streamKey(cameraUrl).replace(/\/[^/]*$/, '');
    const authorized = found !== undefined;

    // The client's ports first: the shared session is looked up and joined after the last await, so one
    // that lingers out meanwhile is never joined (that closed the client), and a new one is opened instead.
    const transport = await this.clientTransport(wanted);
    if (transport === undefined) return this.writeLocal(453, req.cseq);
    if (existing?.kind !== 'own' && authorized && !this.service.streams.has(key)) await this.service.opened(key, ESTABLISH_WAIT_MS);
    let shared = existing?.kind === 'own' ? undefined : this.service.streams.get(key);
    if (shared?.isEnded) shared = undefined;
    if (shared && authorized) {
      const track = shared.track((u) => samePlace(u, cameraUrl));
      if (track === undefined) {
        if (transport.lower === 'udp') transport.pair.close();
        return this.writeLocal(404, req.cseq, [], 'track not in the shared camera session');
      }
      const session = existing ?? this.newSession(key, 'join');
      this.addTrack(session, { url: track.url, transport, cameraChannel: track.channel, codec: track.codec });
      // Set up on the shared session: it must not linger out between this SETUP and the PLAY.
      session.shared = shared;
      shared.join(session);
      return this.writeLocal(200, req.cseq, [['Transport', this.transportField(transport)], ...this.sessionField(session)]);
    }

    // First client of this stream: its own camera session, RTP interleaved toward the camera.
    const session = existing ?? this.newSession(key, 'own');
    if (session.settle === undefined && !this.service.streams.has(key)) session.settle = this.service.opening(key);
    const cameraChannel = session.tracks.length * 2;
    const response = await this.toCameraRequest(req, [['Transport', `RTP/AVP/TCP;unicast;interleaved=${cameraChannel}-${cameraChannel + 1}`]], session);
    if (response.status !== 200) {
      if (transport.lower === 'udp') transport.pair.close();
      if (session.tracks.length === 0) this.forgetSession(session);
      return this.writeCamera(response, req.cseq, undefined);
    }
    const sessionValue = header(response, 'session') ?? '';
    const [id = '', ...params] = sessionValue.split(';').map((p) => p.trim());
    session.cameraSessionId = id;
    const timeout = params.find((p) => p.toLowerCase().startsWith('timeout='));
    if (timeout) session.cameraTimeout = Number(timeout.slice(8)) || 60;
    // The camera may answer with other channels than asked.
    const granted = /interleaved=(\d+)/.exec(header(response, 'transport') ?? '');
    const channel = granted ? Number(granted[1]) : cameraChannel;
    this.addTrack(session, { url: cameraUrl, transport, cameraChannel: channel, codec: found?.codec });
    this.writeCamera(response, req.cseq, session, [['Transport', this.transportField(transport)]]);
  }

  private async play(req: RtspRequest, session: ClientSession): Promise<void> {
    if (session.tracks.length === 0) return this.writeLocal(455, req.cseq);
    if (session.kind === 'own' && session.shared === undefined) {
      const live = this.service.streams.get(session.key);
      const all = live && session.tracks.every((t) => live.track((u) => samePlace(u, t.url)) !== undefined);
      if (live && all) {
        // Someone else opened the stream meanwhile: share theirs, and let the camera end ours.
        this.link?.close();
        this.link = undefined;
        session.kind = 'join';
        this.rebind(session, live);
      } else {
        const link = this.ownLink();
        const response = await this.toCameraRequest(req, [], session);
        if (response.status !== 200) return this.writeCamera(response, req.cseq, session);
        const shared = this.service.share({
          key: session.key,
          link,
          sessionId: session.cameraSessionId ?? '',
          timeoutSeconds: session.cameraTimeout,
          tracks: session.tracks.map((t): CameraTrack => ({ url: t.url, channel: t.cameraChannel, codec: t.codec })),
        });
        // The connection now belongs to the shared session; this client's next DESCRIBE opens a new one.
        this.link = undefined;
        this.releaseOpening(session);
        this.writeCamera(response, req.cseq, session);
        this.startViewing(session, shared, true);
        return;
      }
    }
    const shared = session.shared ?? this.service.streams.get(session.key);
    if (shared === undefined || shared.isEnded) {
      this.writeLocal(503, req.cseq, [], 'camera session ended');
      this.fail('camera-gone');
      return;
    }
    this.writeLocal(200, req.cseq, [['Range', 'npt=0.000-'], ...this.sessionField(session)]);
    this.startViewing(session, shared, false);
  }

  /** Points a session's tracks at a shared session's camera channels. */
  private rebind(session: ClientSession, shared: CameraSession): void {
    const tracks = session.tracks.splice(0).map((t) => ({ ...t, cameraChannel: shared.track((u) => samePlace(u, t.url))?.channel ?? t.cameraChannel }));
    session.sinks.clear();
    for (const [channel, use] of this.channels) if (use.session === session) this.channels.delete(channel);
    for (const t of tracks) this.addTrack(session, t);
    this.releaseOpening(session);
  }

  private startViewing(session: ClientSession, shared: CameraSession, first: boolean): void {
    session.shared = shared;
    session.playing = true;
    this.everShared ||= !first;
    shared.play(session, first);
  }

  private newSession(key: string, kind: 'own' | 'join'): ClientSession {
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
      flush: () => this.flush(),
      cameraGone: (reason) => {
        this.service.log.info({ peer: this.peer, stream: loggableStream(key), reason }, 'camera session gone; closing the client');
        this.fail('camera-gone');
      },
    };
    this.sessions.set(session.id, session);
    this.streamKeys.add(key);
    return session;
  }

  private addTrack(session: ClientSession, track: ClientTrack): void {
    session.tracks.push(track);
    this.transports.add(track.transport.lower);
    const t = track.transport;
    if (t.lower === 'tcp') {
      this.channels.set(t.channels[0], { session, cameraChannel: track.cameraChannel, rtcp: false });
      this.channels.set(t.channels[1], { session, cameraChannel: track.cameraChannel, rtcp: true });
      session.sinks.set(track.cameraChannel, {
        sendRtp: (out) => this.sendFramed(out.framedOn(t.channels[0])),
        sendRtcp: (out) => void this.sendFramed(out.framedOn(t.channels[1])),
      });
    } else {
      const { pair, clientPorts } = t;
      const address = this.remoteAddress;
      pair.rtcp.on('message', (msg: Buffer, from) => {
        if (from.address !== address) return;
        session.lastSeen = Date.now();
        session.shared?.relayRtcp(track.cameraChannel, msg);
      });
      session.sinks.set(track.cameraChannel, {
        sendRtp: (out: Outgoing) => {
          this.bytesToClient += out.packet.length;
          pair.rtp.send(out.packet, clientPorts[0], address);
          return true;
        },
        sendRtcp: (out: Outgoing) => {
          this.bytesToClient += out.packet.length;
          pair.rtcp.send(out.packet, clientPorts[1], address);
        },
      });
    }
  }

  private async clientTransport(wanted: TransportRequest): Promise<ClientTransport | undefined> {
    if (wanted.lower === 'tcp') {
      const used = (c: number): boolean => this.channels.has(c);
      const asked = wanted.interleaved;
      if (asked && asked[0] !== asked[1] && !used(asked[0]) && !used(asked[1])) return { lower: 'tcp', channels: asked };
      for (let c = 0; c < 254; c += 2) if (!used(c) && !used(c + 1)) return { lower: 'tcp', channels: [c, c + 1] };
      return undefined;
    }
    const pair = await this.service.udpPorts.allocate(this.family);
    return pair && { lower: 'udp', pair, clientPorts: wanted.clientPorts };
  }

  private transportField(t: ClientTransport): string {
    return t.lower === 'tcp'
      ? `RTP/AVP/TCP;unicast;interleaved=${t.channels[0]}-${t.channels[1]}`
      : `RTP/AVP;unicast;client_port=${t.clientPorts[0]}-${t.clientPorts[1]};server_port=${t.pair.ports[0]}-${t.pair.ports[1]}`;
  }

  private clientFrame(channel: number, payload: Buffer): void {
    const use = this.channels.get(channel);
    if (use === undefined) {
      // Frames on channels we did not set up (a publisher's RECORD): on to the camera unchanged.
      if (this.link && !this.link.closed) this.link.sendFrame(channel, payload);
      return;
    }
    use.session.lastSeen = Date.now();
    if (use.rtcp) use.session.shared?.relayRtcp(use.cameraChannel, payload);
  }

  /** Queues one interleaved frame; frames of one camera read leave together at `flush` (one writev). */
  private sendFramed(frame: Buffer): boolean {
    if (this.closed || !this.socket.writable) return true;
    if (this.socket.writableLength > MAX_BUFFERED_BYTES) return false;
    this.bytesToClient += frame.length;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
    }
    this.socket.write(frame);
    return true;
  }

  private flush(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
    // A viewer's media fills the same buffer: reading resumes once it has taken enough, even without a 'drain'.
    if (this.held) this.throttle();
  }

  /** A response of our own. */
  private writeLocal(status: number, cseq: string | undefined, fields: HeaderList = [], body?: string): void {
    const head = `RTSP/1.0 ${status} ${STATUS_TEXT[status] ?? 'Unknown'}`;
    const text = body === undefined ? Buffer.alloc(0) : Buffer.from(`${body}\n`, 'utf8');
    const all: HeaderList = [...(cseq === undefined ? [] : [['CSeq', cseq] as const]), ['Server', SERVER], ...fields, ...(body === undefined ? [] : [['Content-Type', 'text/plain'] as const])];
    this.write(serializeMessage(head, all, text));
  }

  /** The camera's answer, passed on: CSeq and Session are the client's, camera URLs become ours. */
  private writeCamera(response: RtspIncomingResponse, cseq: string, session: ClientSession | undefined, replace: HeaderList = []): void {
    const replaced = new Set(replace.map(([n]) => n.toLowerCase()));
    const ok = response.status >= 200 && response.status < 300;
    const fields: Array<readonly [string, string]> = [['CSeq', cseq]];
    for (const [name, value] of response.fields) {
      const lower = name.toLowerCase();
      if (lower === 'cseq' || lower === 'content-length' || replaced.has(lower)) continue;
      if (lower === 'session') {
        if (session) fields.push(...this.sessionField(session));
        continue;
      }
      const rewrite = ok && (lower === 'content-base' || lower === 'content-location' || lower === 'rtp-info');
      fields.push([name, rewrite ? toClient(value, this.origin) : value]);
    }
    fields.push(...replace);
    const sdp = ok && /application\/sdp/i.test(header(response, 'content-type') ?? '');
    const body = sdp ? Buffer.from(toClient(response.body.toString('utf8'), this.origin), 'utf8') : response.body;
    this.write(serializeMessage(`RTSP/1.0 ${response.status} ${response.reason}`, fields, body));
  }

  private write(bytes: Buffer): void {
    if (this.closed || !this.socket.writable) return;
    this.flush();
    this.bytesToClient += bytes.length;
    this.socket.write(bytes);
  }

  private releaseOpening(session: ClientSession): void {
    session.settle?.();
    session.settle = undefined;
  }

  private dropSession(session: ClientSession): void {
    this.forgetSession(session);
    session.shared?.leave(session);
    if (session.kind === 'own' && session.shared === undefined) {
      this.link?.close();
      this.link = undefined;
    }
    for (const t of session.tracks) if (t.transport.lower === 'udp') t.transport.pair.close();
    session.playing = false;
  }

  private forgetSession(session: ClientSession): void {
    this.sessions.delete(session.id);
    for (const [channel, use] of this.channels) if (use.session === session) this.channels.delete(channel);
    this.releaseOpening(session);
  }

  private end(reason: ClientEndReason): void {
    this.reason ??= reason;
    if (this.closed) return;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  private fail(reason: ClientEndReason): void {
    this.reason ??= reason;
    if (!this.socket.destroyed) this.socket.destroy();
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    const streams = [...this.streamKeys].map(loggableStream);
    for (const s of [...this.sessions.values()]) this.dropSession(s);
    this.link?.close();
    this.link = undefined;
    this.service.clientClosed(this, {
      peer: this.peer,
      reason: this.reason ?? 'client-closed',
      ...(this.error === undefined ? {} : { error: this.error }),
      streams,
      transport: [...this.transports].join('+') || 'none',
      shared: this.everShared,
      bytesToClient: this.bytesToClient,
      bytesFromClient: this.bytesFromClient,
      durationMs: Math.round(performance.now() - this.startedAt),
    });
  }
}
