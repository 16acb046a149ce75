// One client's RTSP connection in RTSP mode: its DESCRIBE (and auth) goes to the camera, its PLAY opens or
// joins the stream's shared camera session, its media arrives interleaved or over UDP as it asked.
import type net from 'node:net';
import {
  header,
  parseTransport,
  type HeaderList,
  type RtspIncomingResponse,
  type RtspRequest,
} from '../lib/index.js';
import { formatAddress } from './address.js';
import { ClientSessions, transportField, type ClientSession } from './client-sessions.js';
import { ClientWire } from './client-wire.js';
import type { ClientEndReason, ClientHost } from './client-host.js';
import { CameraLink, CameraLinkClosed, CameraUnreachable } from './rtsp-camera-link.js';
import type { CameraSession, CameraTrack } from './rtsp-camera-session.js';
import { parseSdp, type VideoCodec } from './rtsp-media.js';
import { answerFromCamera, clientOrigin, loggableStream, resolveControl, samePlace, streamKey, toCamera } from './rtsp-urls.js';

const PUBLIC = 'OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER';
/** How long a client waits for another client's camera session that is being opened before opening its own. */
const ESTABLISH_WAIT_MS = 10_000;
/** Headers we set ourselves toward the camera, or that describe one hop only. */
const HOP_HEADERS = new Set(['cseq', 'session', 'transport', 'content-length', 'connection']);

interface Described {
  readonly base: string;
  readonly media: ReadonlyArray<{ readonly url: string; readonly codec: VideoCodec | undefined }>;
}

export class RtspClient {
  readonly peer: string;
  private readonly wire: ClientWire;
  private readonly startedAt = performance.now();
  private origin = '';
  private link: CameraLink | undefined;
  private readonly described = new Map<string, Described>();
  private readonly sessions: ClientSessions;
  private reason: ClientEndReason | undefined;
  private everShared = false;
  private closed = false;
  private tornDown = false;
  private error: string | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly service: ClientHost<RtspClient>,
    head: Buffer | undefined,
  ) {
    const remoteAddress = socket.remoteAddress ?? '';
    this.peer = formatAddress({ host: remoteAddress || '?', port: socket.remotePort ?? 0 });
    this.wire = new ClientWire(socket, {
      request: (req) => this.answer(req),
      frame: (channel, payload) => this.clientFrame(channel, payload),
      malformed: (reason) => this.malformed(reason),
      failed: (err) => this.failed(err),
    });
    this.sessions = new ClientSessions({
      wire: this.wire,
      remoteAddress,
      family: socket.remoteFamily === 'IPv6' ? 'udp6' : 'udp4',
      udpPorts: service.udpPorts,
      cameraGone: (key, reason) => {
        this.service.log.info({ peer: this.peer, stream: loggableStream(key), reason }, 'camera session gone; closing the client');
        this.fail('camera-gone');
      },
      ownDropped: () => {
        this.link?.close();
        this.link = undefined;
      },
    });
    // Half-close from the client: answer what it sent, then close our side.
    socket.on('end', () => this.wire.enqueue(async () => this.end('client-closed')));
    // A reset right after TEARDOWN (ffmpeg closes with unread data) is an ordinary end, not an error.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.error ??= err.code ?? err.message;
      this.fail(this.tornDown && this.sessions.size === 0 ? 'client-closed' : 'client-error');
    });
    socket.on('close', () => this.cleanup());
    if (service.idleTimeoutMs > 0) {
      socket.on('timeout', () => this.idle());
      socket.setTimeout(service.idleTimeoutMs);
    }
    this.wire.start(head);
  }

  get bytesToClient(): number {
    return this.wire.bytesToClient;
  }

  get bytesFromClient(): number {
    return this.wire.bytesFromClient;
  }

  /** The transports in use now, for the clients gauge. */
  get liveTransports(): ReadonlyArray<'tcp' | 'udp'> {
    return this.sessions.liveTransports();
  }

  /** UDP viewers prove they are alive with RTCP or keep-alives; TCP ones with their connection. */
  expired(now: number): boolean {
    return this.sessions.expired(now);
  }

  close(reason: ClientEndReason): void {
    this.fail(reason);
  }

  /**
   * No byte either way for the idle timeout. A UDP session's media and RTCP bypass this connection, so it is
   * left to the session timeout (`expired`); a paused TCP viewer sends keep-alives within the 60 s we announce.
   */
  private idle(): void {
    if (this.sessions.anyUdp()) this.socket.setTimeout(this.service.idleTimeoutMs);
    else this.fail('idle-timeout');
  }

  private malformed(reason: string): void {
    this.reason ??= 'malformed';
    this.service.log.debug({ peer: this.peer, reason }, 'malformed RTSP request');
  }

  /** A request's answer threw: the camera's trouble ends the client; anything else is a bug of ours. */
  private failed(err: unknown): void {
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
  }

  private async answer(req: RtspRequest): Promise<void> {
    this.origin ||= clientOrigin(req.uri) ?? this.origin;
    const session = this.sessions.of(req);
    if (session === 'unknown') return this.wire.answer(454, req.cseq);
    if (session) session.lastSeen = Date.now();
    switch (req.method) {
      case 'OPTIONS':
        return this.wire.answer(200, req.cseq, [['Public', PUBLIC], ...this.sessions.field(session)]);
      case 'DESCRIBE':
        return this.describe(req);
      case 'SETUP':
        return this.setup(req, session);
      case 'PLAY':
        return session ? this.play(req, session) : this.wire.answer(454, req.cseq);
      case 'PAUSE':
        if (!session) return this.wire.answer(454, req.cseq);
        session.playing = false;
        session.shared?.hold(session);
        return this.wire.answer(200, req.cseq, this.sessions.field(session));
      case 'TEARDOWN':
        this.tornDown = true;
        if (session) this.sessions.drop(session);
        return this.wire.answer(200, req.cseq);
      case 'GET_PARAMETER':
      case 'SET_PARAMETER':
        // Keep-alives of a session we serve are ours to answer; the camera's session has its own.
        if (session && req.body.length === 0) return this.wire.answer(200, req.cseq, this.sessions.field(session));
        return this.forward(req, session);
      default:
        return this.forward(req, session);
    }
  }

  /** The client's own connection to the camera, for its DESCRIBE and, until it shares, its session. */
  private ownLink(): CameraLink {
    if (this.link === undefined || this.link.closed) {
      const link = this.service.openLink();
      link.onClose(() => {
        // The camera ended a session this client was still setting up or using on its own: no half-dead client.
        if (this.link === link && this.sessions.all().some((s) => s.kind === 'own' && s.cameraSessionId !== undefined)) this.fail('camera-gone');
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
    if (wanted === undefined) return this.wire.answer(461, req.cseq);
    if (wanted.mode === 'record') return this.forward(req, existing);
    if (existing?.playing) return this.wire.answer(455, req.cseq);
    const cameraUrl = toCamera(req.uri, this.service.cameraOrigin);
    const found = this.streamOfTrack(cameraUrl);
    const key = existing?.key ?? found?.key ?? streamKey(cameraUrl).replace(/\/[^/]*$/, '');
    const authorized = found !== undefined;

    // The client's ports first: the shared session is looked up and joined after the last await, so one
    // that lingers out meanwhile is never joined (that closed the client), and a new one is opened instead.
    const transport = await this.sessions.transportFor(wanted);
    if (transport === undefined) return this.wire.answer(453, req.cseq);
    if (existing?.kind !== 'own' && authorized && !this.service.streams.has(key)) await this.service.opened(key, ESTABLISH_WAIT_MS);
    let shared = existing?.kind === 'own' ? undefined : this.service.streams.get(key);
    if (shared?.isEnded) shared = undefined;
    if (shared && authorized) {
      const track = shared.track((u) => samePlace(u, cameraUrl));
      if (track === undefined) {
        if (transport.lower === 'udp') transport.pair.close();
        return this.wire.answer(404, req.cseq, [], 'track not in the shared camera session');
      }
      const session = existing ?? this.sessions.create(key, 'join');
      this.sessions.addTrack(session, { url: track.url, transport, cameraChannel: track.channel, codec: track.codec });
      // Set up on the shared session: it must not linger out between this SETUP and the PLAY.
      session.shared = shared;
      shared.join(session);
      return this.wire.answer(200, req.cseq, [['Transport', transportField(transport)], ...this.sessions.field(session)]);
    }

    // First client of this stream: its own camera session, RTP interleaved toward the camera.
    const session = existing ?? this.sessions.create(key, 'own');
    if (session.settle === undefined && !this.service.streams.has(key)) session.settle = this.service.opening(key);
    const cameraChannel = session.tracks.length * 2;
    const response = await this.toCameraRequest(req, [['Transport', `RTP/AVP/TCP;unicast;interleaved=${cameraChannel}-${cameraChannel + 1}`]], session);
    if (response.status !== 200) {
      if (transport.lower === 'udp') transport.pair.close();
      if (session.tracks.length === 0) this.sessions.forget(session);
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
    this.sessions.addTrack(session, { url: cameraUrl, transport, cameraChannel: channel, codec: found?.codec });
    this.writeCamera(response, req.cseq, session, [['Transport', transportField(transport)]]);
  }

  private async play(req: RtspRequest, session: ClientSession): Promise<void> {
    if (session.tracks.length === 0) return this.wire.answer(455, req.cseq);
    if (session.kind === 'own' && session.shared === undefined) {
      const live = this.service.streams.get(session.key);
      const all = live && session.tracks.every((t) => live.track((u) => samePlace(u, t.url)) !== undefined);
      if (live && all) {
        // Someone else opened the stream meanwhile: share theirs, and let the camera end ours.
        this.link?.close();
        this.link = undefined;
        session.kind = 'join';
        this.sessions.rebind(session, live, samePlace);
      } else {
        const link = this.ownLink();
        const response = await this.toCameraRequest(req, [], session);
        if (response.status !== 200) return this.writeCamera(response, req.cseq, session);
        const shared = this.service.share({
          key: session.key,
          link,
          sessionId: session.cameraSessionId ?? '',
          timeoutSeconds: session.cameraTimeout,
          controlUrl: toCamera(req.uri, this.service.cameraOrigin),
          tracks: session.tracks.map((t): CameraTrack => ({ url: t.url, channel: t.cameraChannel, codec: t.codec })),
        });
        // The connection now belongs to the shared session; this client's next DESCRIBE opens a new one.
        this.link = undefined;
        this.sessions.releaseOpening(session);
        this.writeCamera(response, req.cseq, session);
        this.startViewing(session, shared, true);
        return;
      }
    }
    const shared = session.shared ?? this.service.streams.get(session.key);
    if (shared === undefined || shared.isEnded) {
      this.wire.answer(503, req.cseq, [], 'camera session ended');
      this.fail('camera-gone');
      return;
    }
    this.wire.answer(200, req.cseq, [['Range', 'npt=0.000-'], ...this.sessions.field(session)]);
    this.startViewing(session, shared, false);
  }

  private startViewing(session: ClientSession, shared: CameraSession, first: boolean): void {
    session.shared = shared;
    session.playing = true;
    this.everShared ||= !first;
    shared.play(session, first);
  }

  private clientFrame(channel: number, payload: Buffer): void {
    if (this.sessions.frame(channel, payload)) return;
    // Frames on channels we did not set up (a publisher's RECORD): on to the camera unchanged.
    if (this.link && !this.link.closed) this.link.sendFrame(channel, payload);
  }

  /** The camera's answer, passed on: CSeq and Session are the client's, camera URLs become ours. */
  private writeCamera(response: RtspIncomingResponse, cseq: string, session: ClientSession | undefined, replace: HeaderList = []): void {
    this.wire.write(answerFromCamera(response, cseq, this.sessions.field(session), this.origin, replace));
  }

  private end(reason: ClientEndReason): void {
    this.reason ??= reason;
    this.wire.end();
  }

  private fail(reason: ClientEndReason): void {
    this.reason ??= reason;
    this.wire.destroy();
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    this.wire.closed = true;
    const streams = [...this.sessions.streamKeys].map(loggableStream);
    for (const s of this.sessions.all()) this.sessions.drop(s);
    this.link?.close();
    this.link = undefined;
    this.service.clientClosed(this, {
      peer: this.peer,
      reason: this.reason ?? 'client-closed',
      ...(this.error === undefined ? {} : { error: this.error }),
      streams,
      transport: [...this.sessions.transports].join('+') || 'none',
      shared: this.everShared,
      bytesToClient: this.bytesToClient,
      bytesFromClient: this.bytesFromClient,
      durationMs: Math.round(performance.now() - this.startedAt),
    });
  }
}
