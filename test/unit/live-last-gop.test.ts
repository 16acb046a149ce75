// The GOP a WebRTC viewer starts from: kept from the last keyframe, bounded, and replayed so that the receiver
// decodes it at once and then plays the live packets after it.
import { describe, expect, it } from 'vitest';
import { LastGop } from '../../functions/live/last-gop.js';
import { rtpTimestamp } from '../../functions/lib/index.js';

/** An RTP packet of one frame (`ts`), `bytes` long, its payload marked `n`. */
function packet(ts: number, n: number, bytes = 20): Buffer {
  const b = Buffer.alloc(bytes);
  b[0] = 0x80;
  b.writeUInt16BE(n, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b[12] = n;
  return b;
}

describe('the last GOP', () => {
  it('keeps the packets from the last keyframe on, the newest frame unchanged and the older ones 1 ms apart before it', () => {
    const gop = new LastGop();
    gop.add(packet(1000, 1), false); // before any keyframe: nothing to start from
    expect(gop.replay()).toEqual([]);
    gop.add(packet(3600, 2), true);
    gop.add(packet(3600, 3), false);
    gop.add(packet(7200, 4), false);
    gop.add(packet(10800, 5), false);
    gop.add(packet(10800, 6), false);
    const replay = gop.replay();
    expect(replay.map((p) => p[12])).toEqual([2, 3, 4, 5, 6]);
    expect(replay.map(rtpTimestamp)).toEqual([10800 - 180, 10800 - 180, 10800 - 90, 10800, 10800]);
    // The kept packets themselves are untouched (another viewer replays them again).
    gop.add(packet(14400, 7), false);
    expect(gop.replay().map(rtpTimestamp)).toEqual([14400 - 270, 14400 - 270, 14400 - 180, 14400 - 90, 14400 - 90, 14400]);
    // A new keyframe starts again; timestamps wrap as RTP's do.
    gop.add(packet(0xffff_fff0, 8), true);
    gop.add(packet(0x10, 9), false);
    expect(gop.replay().map(rtpTimestamp)).toEqual([(0x10 - 90) >>> 0, 0x10]);
  });

  it('keeps nothing of a GOP larger than its bound, until the next keyframe', () => {
    const gop = new LastGop(100);
    gop.add(packet(0, 1, 60), true);
    gop.add(packet(3600, 2, 60), false);
    expect(gop.replay()).toEqual([]);
    gop.add(packet(7200, 3, 60), false);
    expect(gop.replay()).toEqual([]);
    gop.add(packet(10800, 4, 60), true);
    expect(gop.replay().map((p) => p[12])).toEqual([4]);
  });
});
