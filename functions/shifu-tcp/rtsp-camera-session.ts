// One camera session per stream, shared by every client watching it: RTP fanned out, keyframe joins, linger.
import { interleavedHeader, type Logger } from '../lib/index.js';
import type { CameraLink } from './rtsp-camera-link.js';
import { KeyframeGate, type VideoCodec } from './rtsp-media.js';
import { loggableStream } from './rtsp-urls.js';

/** RTCP packet type of a sender report (RFC 3550 §6.4.1), the first packet of a compound RTCP packet. */
const RTCP_SR = 200;

/** One track the camera plays on the shared connection. */
export interface CameraTrack {
  /** The track's URL as the camera knows it (what SETUP was sent to). */
  readonly url: string;
  /** RTP channel on the camera connection; RTCP is the next one. */
  readonly channel: number;
  readonly codec: VideoCodec | undefined;
}

/**
 * One packet for every viewer: the raw datagram for UDP, and its interleaved frame, built once per channel
 * number and shared by every TCP viewer that uses that channel.
 */
export class Outgoing {
  private framed: Map<number, Buffer> | undefined;

  constructor(readonly packet: Buffer) {}

  framedOn(channel: number): Buffer {
    this.framed ??= new Map();
    let frame = this.framed.get(channel);
    if (frame === undefined) {
      frame = Buffer.concat([interleavedHeader(channel, this.packet.length), this.packet]);
      this.framed.set(channel, frame);
    }
    return frame;
  }
}

/** Where one client gets a track: the session calls it for RTP and RTCP. */
export interface TrackSink {
  /** False when the viewer is too slow to take the packet (it was dropped). */
  sendRtp(packet: Outgoing): boolean;
  sendRtcp(packet: Outgoing): void;
}

/** A client watching the session. `sinks` maps camera RTP channels to that client's delivery. */
export interface Viewer {
  readonly sinks: ReadonlyMap<number, TrackSink>;
  /** The camera session ended: the client's connection must close. */
  cameraGone(reason: string): void;
  /** Every packet of one read from the camera has been handed over: write them out together. */
  flush(): void;
}

interface ViewerState {
  /** False between SETUP and PLAY, and while paused: the viewer holds the session but gets nothing. */
  playing: boolean;
  /** False until the next keyframe (new viewers, and viewers that fell behind and lost packets). */
  live: boolean;
}

export interface CameraSessionOptions {
  readonly key: string;
  readonly link: CameraLink;
  /** The camera's Session id and its timeout in seconds. */
  readonly sessionId: string;
  readonly timeoutSeconds: number;
  /**
   * The URL the session's PLAY went to: its aggregate control. TEARDOWN goes there too; a camera refuses one sent to
   * a track URL (GStreamer: 460 Only aggregate operation allowed) and keeps the session until it times out.
   */
  readonly controlUrl: string;
  readonly tracks: readonly CameraTrack[];
  readonly lingerMs: number;
  readonly log: Logger;
  readonly onEnd: (session: CameraSession) => void;
}

export class CameraSession {
  readonly key: string;
  readonly tracks: readonly CameraTrack[];
  private readonly viewers = new Map<Viewer, ViewerState>();
  private readonly gate: KeyframeGate | undefined;
  private readonly videoChannel: number | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private readonly keepAlive: NodeJS.Timeout;
  private ended = false;
  readonly startedAt = Date.now();
  /** The last sender report per track (by RTCP channel), for viewers that start between two reports. */
  private readonly lastReports = new Map<number, Outgoing>();

  constructor(private readonly options: CameraSessionOptions) {
    this.key = options.key;
    this.tracks = options.tracks;
    const video = options.tracks.find((t) => t.codec !== undefined);
    this.gate = video?.codec ? new KeyframeGate(video.codec) : undefined;
    this.videoChannel = video?.channel;
    // RTCP from clients keeps most cameras' sessions alive; OPTIONS with the session covers the rest.
    const everyMs = Math.max(5, Math.min(options.timeoutSeconds / 2, 30)) * 1000;
    this.keepAlive = setInterval(() => {
      options.link.request('OPTIONS', '*', [['Session', options.sessionId]]).catch(() => undefined);
    }, everyMs);
    this.keepAlive.unref();
    options.link.onClose((err) => this.end(`camera connection ended: ${err.message}`));
    options.link.onFrame(this.frame, this.flush);
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** The camera track a client's SETUP URL names, compared by path and query. */
  track(matches: (url: string) => boolean): CameraTrack | undefined {
    return this.tracks.find((t) => matches(t.url));
  }

  /** Adds a viewer that set up tracks: it keeps the session open (no linger) but gets nothing before `play`. */
  join(viewer: Viewer): void {
    if (this.ended) {
      viewer.cameraGone('camera session ended');
      return;
    }
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    if (!this.viewers.has(viewer)) this.viewers.set(viewer, { playing: false, live: false });
  }

  /** Starts delivery. The first viewer (whose PLAY opened the session) gets everything; others wait for a keyframe. */
  play(viewer: Viewer, first: boolean): void {
    this.join(viewer);
    const state = this.viewers.get(viewer);
    if (!state) return;
    state.playing = true;
    state.live = first || this.gate === undefined;
    if (state.live && !first) this.sendReports(viewer);
  }

  /** Pauses a viewer without leaving: it rejoins at a keyframe. */
  hold(viewer: Viewer): void {
    const state = this.viewers.get(viewer);
    if (state) {
      state.playing = false;
      state.live = false;
    }
  }

  leave(viewer: Viewer): void {
    if (!this.viewers.delete(viewer) || this.viewers.size > 0 || this.ended) return;
    this.lingerTimer = setTimeout(() => this.close('no viewer left'), this.options.lingerMs);
    this.lingerTimer.unref();
  }

  /** A client's RTCP (receiver reports) for a track, passed on to the camera. */
  relayRtcp(cameraRtpChannel: number, packet: Buffer): void {
    this.options.link.sendFrame(cameraRtpChannel + 1, packet);
  }

  /** Ends the session: TEARDOWN to the camera, every viewer's connection closed. */
  close(reason: string): void {
    if (this.ended) return;
    const { link, sessionId, controlUrl } = this.options;
    const stream = loggableStream(this.options.key);
    link
      .request('TEARDOWN', controlUrl, [['Session', sessionId]])
      .then((answer) => {
        // A camera that refuses it may hold the session (and one of its few slots) until the session times out.
        if (answer.status === 200) this.options.log.debug({ stream, status: answer.status }, 'camera session torn down');
        else this.options.log.warn({ stream, status: answer.status }, 'camera refused the TEARDOWN');
      })
      .catch(() => undefined)
      .finally(() => link.close());
    setTimeout(() => link.close(), 2000).unref();
    this.end(reason);
  }

  private end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.lingerTimer);
    clearInterval(this.keepAlive);
    this.options.log.info({ stream: loggableStream(this.options.key), reason, viewers: this.viewers.size, durationMs: Date.now() - this.startedAt }, 'camera session closed');
    const viewers = [...this.viewers.keys()];
    this.viewers.clear();
    this.options.onEnd(this);
    for (const viewer of viewers) viewer.cameraGone(reason);
  }

  /**
   * A viewer starting mid-stream gets the last sender report of every track before its first packet: it
   * maps RTP time to wall time from the start, as a client of the camera itself does, instead of shifting
   * its timestamps when the next report comes (seconds later), which a recording would keep as a jump.
   */
  private sendReports(viewer: Viewer): void {
    for (const [channel, report] of this.lastReports) viewer.sinks.get(channel - 1)?.sendRtcp(report);
  }

  private readonly flush = (): void => {
    for (const viewer of this.viewers.keys()) viewer.flush();
  };

  private readonly frame = (channel: number, payload: Buffer): void => {
    const out = new Outgoing(payload);
    if (channel % 2 === 1) {
      // Sender reports: every viewer of the track gets them, so audio and video stay in sync.
      if (payload.length >= 8 && payload[1] === RTCP_SR) this.lastReports.set(channel, new Outgoing(Buffer.from(payload)));
      for (const [viewer, state] of this.viewers) if (state.playing) viewer.sinks.get(channel - 1)?.sendRtcp(out);
      return;
    }
    const joinPoint = channel === this.videoChannel && this.gate !== undefined && this.gate.isJoinPoint(payload);
    for (const [viewer, state] of this.viewers) {
      if (!state.playing) continue;
      if (!state.live) {
        if (!joinPoint) continue;
        state.live = true;
        this.sendReports(viewer);
      }
      const sink = viewer.sinks.get(channel);
      // A viewer too slow to take a packet missed part of a picture: it starts over at the next keyframe.
      if (sink && !sink.sendRtp(out) && this.gate !== undefined) state.live = false;
    }
  };
}
