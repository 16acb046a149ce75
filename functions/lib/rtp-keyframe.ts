// RTP as the forwarder and live view both read it: headers, and where a keyframe begins (H.264 SPS/IDR, H.265
// parameter sets/IRAP), so that a viewer joining a running stream starts on a picture it can decode.

export type VideoCodec = 'h264' | 'h265';

/** Offset of the RTP payload, or undefined for a packet too short to be RTP. */
export function rtpPayloadOffset(packet: Uint8Array): number | undefined {
  if (packet.length < 12 || (packet[0]! >> 6) !== 2) return undefined;
  let offset = 12 + 4 * (packet[0]! & 0x0f);
  if (packet[0]! & 0x10) {
    if (packet.length < offset + 4) return undefined;
    offset += 4 + 4 * ((packet[offset + 2]! << 8) | packet[offset + 3]!);
  }
  return offset < packet.length ? offset : undefined;
}

export function rtpTimestamp(packet: Uint8Array): number {
  return packet.length < 8 ? 0 : ((packet[4]! << 24) | (packet[5]! << 16) | (packet[6]! << 8) | packet[7]!) >>> 0;
}

/**
 * Whether this RTP packet begins a NAL unit that starts a keyframe: a parameter set or an IDR/IRAP picture
 * (single NAL, the first NAL of an aggregation packet, or the first fragment of one).
 */
export function beginsKeyframeNal(codec: VideoCodec, packet: Uint8Array): boolean {
  const at = rtpPayloadOffset(packet);
  if (at === undefined) return false;
  const p = packet.subarray(at);
  if (codec === 'h264') {
    const type = p[0]! & 0x1f;
    const isKey = (t: number): boolean => t === 5 || t === 7;
    if (type >= 1 && type <= 23) return isKey(type);
    if (type === 24) return p.length > 3 && isKey(p[3]! & 0x1f); // STAP-A: size(2) then the NAL header
    if (type === 28) return p.length > 1 && (p[1]! & 0x80) !== 0 && isKey(p[1]! & 0x1f); // FU-A start
    return false;
  }
  if (p.length < 2) return false;
  const type = (p[0]! >> 1) & 0x3f;
  const isKey = (t: number): boolean => t === 32 || t === 33 || (t >= 16 && t <= 21);
  if (type < 48) return isKey(type);
  if (type === 48) return p.length > 4 && isKey((p[4]! >> 1) & 0x3f); // AP: header(2), size(2), NAL header
  if (type === 49) return p.length > 2 && (p[2]! & 0x80) !== 0 && isKey(p[2]! & 0x3f); // FU start
  return false;
}

/** Finds the first packet of each keyframe access unit (the SPS, or the IDR when the camera sends no SPS in-band). */
export class KeyframeGate {
  private lastStart: number | undefined;

  constructor(private readonly codec: VideoCodec) {}

  /** True for the packet a joining client may start with. */
  isJoinPoint(packet: Uint8Array): boolean {
    if (!beginsKeyframeNal(this.codec, packet)) return false;
    const ts = rtpTimestamp(packet);
    if (ts === this.lastStart) return false;
    this.lastStart = ts;
    return true;
  }
}
