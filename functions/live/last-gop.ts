// The video RTP packets of a stream from its last keyframe on, so a WebRTC viewer whose connection comes up
// starts with a picture at once instead of waiting for the camera's next keyframe (up to a GOP: 2 s and more).
import { rtpTimestamp } from '../lib/index.js';

/** A GOP larger than this is not kept (a 2 s GOP of 16 Mbit/s fits); viewers then wait for the next keyframe. */
export const LAST_GOP_MAX_BYTES = 4 * 1024 * 1024;
/** The kept frames are replayed this far apart (1 ms at H.264's 90 kHz clock): decoded at once, not played back. */
const REPLAY_STEP = 90;

export class LastGop {
  private packets: Buffer[] = [];
  private bytes = 0;
  /** False until a keyframe began what is kept (and after a GOP too large to keep). */
  private holding = false;

  constructor(private readonly maxBytes = LAST_GOP_MAX_BYTES) {}

  /** Every video packet, in order; `keyframe` for the first packet of a keyframe (a join point). */
  add(packet: Buffer, keyframe: boolean): void {
    if (keyframe) {
      this.packets = [];
      this.bytes = 0;
      this.holding = true;
    }
    if (!this.holding) return;
    if (this.bytes + packet.length > this.maxBytes) return this.clear();
    this.packets.push(packet);
    this.bytes += packet.length;
  }

  /** Forgets what is kept (a new ffmpeg run: its packets continue none of these). */
  clear(): void {
    this.packets = [];
    this.bytes = 0;
    this.holding = false;
  }

  get size(): number {
    return this.packets.length;
  }

  /**
   * The kept packets for a viewer starting now, empty when none are kept. Each frame's timestamp is moved to just
   * before the newest one's (1 ms apart, the newest unchanged, so the packets still to come continue it): the
   * receiver decodes the GOP at once and plays on at the live edge, rather than a GOP behind it for good.
   */
  replay(): Buffer[] {
    const last = this.packets.at(-1);
    if (last === undefined) return [];
    const newest = rtpTimestamp(last);
    let framesAfter = 0;
    const out = new Array<Buffer>(this.packets.length);
    for (let i = this.packets.length - 1; i >= 0; i -= 1) {
      const packet = this.packets[i]!;
      if (i < this.packets.length - 1 && rtpTimestamp(packet) !== rtpTimestamp(this.packets[i + 1]!)) framesAfter += 1;
      if (framesAfter === 0) {
        out[i] = packet;
        continue;
      }
      const moved = Buffer.from(packet);
      moved.writeUInt32BE((newest - framesAfter * REPLAY_STEP) >>> 0, 4);
      out[i] = moved;
    }
    return out;
  }
}
