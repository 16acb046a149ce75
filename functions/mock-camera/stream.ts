// A published path: the publisher's tracks and SDP, and the readers its RTP and RTCP packets fan out to.
import { playerSdp, trackControl, type SessionDescription } from './sdp.js';
import { relativeTo, requestPath } from './uri.js';

export type PacketKind = 'rtp' | 'rtcp';

const RTCP_SENDER_REPORT = 200;

/** Whoever plays a stream: gets every packet as the publisher sent it, and hears when the stream ends. */
export interface Reader {
  deliver(track: number, kind: PacketKind, payload: Buffer): void;
  streamEnded(): void;
}

export interface StreamTrack {
  readonly index: number;
  readonly kind: string;
  /** The publisher's control for this track (`streamid=0` from ffmpeg, `stream=0` from GStreamer...). */
  readonly publisherControl: string | undefined;
}

export class Stream {
  readonly tracks: readonly StreamTrack[];
  /** The SDP players get: the publisher's, with our controls. */
  readonly sdp: string;
  /** Set by RECORD: only then can players DESCRIBE it. */
  live = false;
  ended = false;
  private readonly readers = new Set<Reader>();
  private readonly senderReports = new Map<number, Buffer>();

  constructor(
    readonly path: string,
    description: SessionDescription,
  ) {
    this.tracks = description.media.map((m, index) => ({ index, kind: m.kind, publisherControl: m.control }));
    this.sdp = playerSdp(description);
  }

  get readerCount(): number {
    return this.readers.size;
  }

  /** The track a SETUP names by its path below the stream (`trackID=1`, or the publisher's own control). */
  trackFor(rest: string, mode: 'play' | 'record'): number | undefined {
    const ours = this.tracks.findIndex((t) => trackControl(t.index) === rest);
    if (ours >= 0) return ours;
    if (rest === '' && this.tracks.length === 1) return 0;
    if (mode === 'play') return undefined;
    const theirs = this.tracks.findIndex((t) => {
      const c = t.publisherControl;
      if (c === undefined || c === '*') return rest === '' && this.tracks.length === 1;
      if (/^rtsps?:\/\//i.test(c)) {
        const p = requestPath(c);
        return p !== undefined && relativeTo(this.path, p) === rest;
      }
      return c.replace(/^\/+/, '') === rest;
    });
    return theirs >= 0 ? theirs : undefined;
  }

  addReader(reader: Reader): void {
    if (!this.ended) this.readers.add(reader);
  }

  removeReader(reader: Reader): void {
    this.readers.delete(reader);
  }

  /** Relays one packet unchanged (SSRC, sequence numbers and timestamps stay the publisher's). */
  publish(track: number, kind: PacketKind, payload: Buffer): void {
    if (kind === 'rtcp' && payload.length >= 8 && payload[1] === RTCP_SENDER_REPORT) this.senderReports.set(track, payload);
    for (const reader of this.readers) reader.deliver(track, kind, payload);
  }

  /**
   * The publisher's latest RTCP sender report of a track. A player that joins late gets it first: publishers send
   * one only every few seconds, and players (ffmpeg) that map timestamps before their first one jump when it comes.
   */
  senderReport(track: number): Buffer | undefined {
    return this.senderReports.get(track);
  }

  /** The publisher left: every reader is told, none stays attached. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.live = false;
    const readers = [...this.readers];
    this.readers.clear();
    for (const r of readers) r.streamEnded();
  }
}
