// The fan-out of one camera stream's RTP packets to its WebRTC viewers: each starts at a keyframe (the kept GOP
// once its connection is up, else the next one), audio once its video started. A packet is parsed once for all of
// them: with a parse per viewer, werift's track would copy it twice more and pass it through two events and their
// promises for each (measured: test/bench/live-load.ts, functions/live/README.md "Measured").
import { RtpPacket } from 'werift';
import { KeyframeGate, type VideoCodec } from '../lib/index.js';
import { LastGop } from './last-gop.js';

/**
 * A WebRTC viewer: it gets video from a keyframe on, and audio once its video started. Every viewer gets the same
 * parsed packet (werift's sender copies the header it rewrites, never the payload): a viewer must not change it.
 */
export interface RtpSubscriber {
  video(packet: RtpPacket): void;
  audio(packet: RtpPacket): void;
}

export class RtpFanout {
  private readonly subscribers = new Map<RtpSubscriber, { live: boolean }>();
  /** What a viewer whose connection comes up starts with, rather than waiting for the camera's next keyframe. */
  private readonly lastGop = new LastGop();
  private gate: KeyframeGate | undefined;

  get size(): number {
    return this.subscribers.size;
  }

  /** True once `start` said the video codec: before it no packet goes out (none can be known to start a picture). */
  get started(): boolean {
    return this.gate !== undefined;
  }

  /** The stream's video codec, from ffmpeg's SDP; undefined for one without keyframes we can find (nothing goes out). */
  start(codec: VideoCodec | undefined): void {
    this.gate = codec ? new KeyframeGate(codec) : undefined;
  }

  /** A new ffmpeg run: its packets continue none kept, so every viewer starts again at its next keyframe. */
  restart(): void {
    for (const state of this.subscribers.values()) state.live = false;
    this.lastGop.clear();
  }

  /** Adds a viewer; it gets video from the next keyframe on, or from the last one when it `rejoin`s. */
  add(subscriber: RtpSubscriber): void {
    this.subscribers.set(subscriber, { live: false });
  }

  /** False when it was not a viewer. */
  delete(subscriber: RtpSubscriber): boolean {
    return this.subscribers.delete(subscriber);
  }

  /**
   * The viewer's connection is up now: its first packets must start a picture. It gets the GOP kept since the
   * last keyframe at once, and the live packets after it; with none kept, it waits for the next keyframe.
   */
  rejoin(subscriber: RtpSubscriber): void {
    const state = this.subscribers.get(subscriber);
    if (!state) return;
    const kept = this.lastGop.replay();
    state.live = kept.length > 0;
    for (const packet of kept) subscriber.video(RtpPacket.deSerialize(packet));
  }

  video(packet: Buffer): void {
    if (!this.gate) return;
    const join = this.gate.isJoinPoint(packet);
    this.lastGop.add(packet, join);
    let parsed: RtpPacket | undefined;
    for (const [subscriber, state] of this.subscribers) {
      if (!state.live) {
        if (!join) continue;
        state.live = true;
      }
      subscriber.video((parsed ??= RtpPacket.deSerialize(packet)));
    }
  }

  audio(packet: Buffer): void {
    let parsed: RtpPacket | undefined;
    for (const [subscriber, state] of this.subscribers) if (state.live) subscriber.audio((parsed ??= RtpPacket.deSerialize(packet)));
  }
}
