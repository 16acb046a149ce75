// G.711 audio for WebRTC viewers in fewer packets. Cameras send G.711 (PCMU/PCMA) in 20 ms RTP packets: 50 a
// second, more than the video of a still scene, and werift's cost is per packet and per viewer (SRTP, its
// JavaScript, one sendmsg), not per byte. G.711 is one byte a sample, so consecutive packets join into one by
// concatenating their payloads under the first one's header: no transcoding, once per camera stream before the
// fan-out. The price is the wait for the packets joined (20 ms for two); measured in functions/live/README.md.
import { rtpPayloadOffset, rtpTimestamp } from '../lib/index.js';

/** 20 ms packets joined into one: 2 halves the audio packets a viewer costs, for 20 ms more audio delay. */
export const G711_JOINED_PACKETS = 2;

const sequenceOf = (packet: Buffer): number => packet.readUInt16BE(2);

export class G711Joiner {
  /** The packets of the joined packet being built, in order, each following the one before. */
  private pending: Buffer[] = [];
  /** The joined packets' own sequence numbers: consecutive, as werift's sender needs them (it only adds an offset). */
  private sequence: number | undefined;

  constructor(
    private readonly send: (packet: Buffer) => void,
    private readonly count = G711_JOINED_PACKETS,
  ) {}

  /**
   * Each audio packet as it comes. One that does not follow the pending ones (a loss, a new ffmpeg run, another
   * payload type) sends those first; one with CSRCs, a header extension or padding goes alone.
   */
  push(packet: Buffer): void {
    const plain = packet.length > 12 && rtpPayloadOffset(packet) === 12 && (packet[0]! & 0x20) === 0;
    const last = this.pending.at(-1);
    if (last && !(plain && this.follows(last, packet))) this.flush();
    if (!plain) return this.emit([packet]);
    this.pending.push(packet);
    if (this.pending.length >= this.count) this.flush();
  }

  /** Sends what is pending (at most count - 1 packets), e.g. before the stream stops. */
  flush(): void {
    if (this.pending.length === 0) return;
    const packets = this.pending;
    this.pending = [];
    this.emit(packets);
  }

  /** `next` is the packet after `last`, its samples right after `last`'s (one byte a sample), same payload type. */
  private follows(last: Buffer, next: Buffer): boolean {
    return (
      sequenceOf(next) === ((sequenceOf(last) + 1) & 0xffff) &&
      rtpTimestamp(next) === ((rtpTimestamp(last) + last.length - 12) >>> 0) &&
      (next[1]! & 0x7f) === (last[1]! & 0x7f)
    );
  }

  /** One packet: the first's header (timestamp, marker) with our sequence number, then every payload. */
  private emit(packets: Buffer[]): void {
    const first = packets[0]!;
    const out = packets.length === 1 ? Buffer.from(first) : Buffer.concat([first, ...packets.slice(1).map((p) => p.subarray(12))]);
    this.sequence = this.sequence === undefined ? sequenceOf(first) : (this.sequence + 1) & 0xffff;
    out.writeUInt16BE(this.sequence, 2);
    this.send(out);
  }
}
