// G.711 audio for WebRTC viewers in joined packets (functions/live/g711-joiner.ts): two 20 ms packets become one
// 40 ms packet, its samples in order under the first one's timestamp, numbered without gaps.
import { describe, expect, it } from 'vitest';
import { G711Joiner } from '../../functions/live/g711-joiner.js';

/** A PCMA packet (payload type 8) of `samples` bytes, each the low byte of its sample's timestamp. */
function pcma(sequence: number, timestamp: number, samples = 160, marker = false): Buffer {
  const packet = Buffer.alloc(12 + samples);
  packet[0] = 0x80;
  packet[1] = (marker ? 0x80 : 0) | 8;
  packet.writeUInt16BE(sequence & 0xffff, 2);
  packet.writeUInt32BE(timestamp >>> 0, 4);
  packet.writeUInt32BE(0x1234, 8);
  for (let i = 0; i < samples; i += 1) packet[12 + i] = (timestamp + i) & 0xff;
  return packet;
}

const header = (p: Buffer) => ({ sequence: p.readUInt16BE(2), timestamp: p.readUInt32BE(4), marker: (p[1]! & 0x80) !== 0, payloadType: p[1]! & 0x7f, samples: p.length - 12 });

function joined(packets: Buffer[], count?: number): Buffer[] {
  const out: Buffer[] = [];
  const joiner = new G711Joiner((p) => out.push(p), count);
  for (const packet of packets) joiner.push(packet);
  joiner.flush();
  return out;
}

describe('G.711 joiner', () => {
  it('sends 20 ms packets two by two: the first one\'s timestamp and marker, every sample in order, sequence numbers without gaps', () => {
    const input = Array.from({ length: 6 }, (_, i) => pcma(65533 + i, 4294967000 + 160 * i, 160, i === 0));
    const out = joined(input);
    expect(out.map(header)).toEqual([
      { sequence: 65533, timestamp: 4294967000, marker: true, payloadType: 8, samples: 320 },
      { sequence: 65534, timestamp: (4294967000 + 320) >>> 0, marker: false, payloadType: 8, samples: 320 },
      { sequence: 65535, timestamp: (4294967000 + 640) >>> 0, marker: false, payloadType: 8, samples: 320 },
    ]);
    // The payloads are the input's samples back to back: each byte is its sample's timestamp.
    for (const packet of out) {
      const ts = packet.readUInt32BE(4);
      expect([...packet.subarray(12)]).toEqual(Array.from({ length: 320 }, (_, i) => (ts + i) & 0xff));
    }
    expect(joined(input, 3).map(header).map((h) => h.samples)).toEqual([480, 480]);
  });

  it('never joins across a lost packet, a timestamp jump (a new ffmpeg run) or another payload type; numbering stays gapless', () => {
    const lost = [pcma(1, 0), pcma(3, 320), pcma(4, 480)];
    expect(joined(lost).map(header).map((h) => [h.sequence, h.timestamp, h.samples])).toEqual([[1, 0, 160], [2, 320, 320]]);
    const restarted = [pcma(10, 1600), pcma(11, 90_000), pcma(12, 90_160)];
    expect(joined(restarted).map(header).map((h) => [h.sequence, h.timestamp, h.samples])).toEqual([[10, 1600, 160], [11, 90_000, 320]]);
    const other = pcma(21, 160);
    other[1] = 0;
    expect(joined([pcma(20, 0), other]).map(header).map((h) => [h.sequence, h.payloadType, h.samples])).toEqual([[20, 8, 160], [21, 0, 160]]);
  });

  it('sends a packet with a header extension or padding alone, unchanged but for its sequence number', () => {
    const extended = Buffer.concat([pcma(6, 160).subarray(0, 12), Buffer.from([0xbe, 0xde, 0, 1, 0x10, 0xff, 0, 0]), Buffer.alloc(160, 7)]);
    extended[0] = 0x90;
    const out = joined([pcma(5, 0), extended, pcma(7, 320), pcma(8, 480)]);
    expect(out.map(header).map((h) => [h.sequence, h.timestamp])).toEqual([[5, 0], [6, 160], [7, 320]]);
    expect(out[1]!.subarray(4)).toEqual(extended.subarray(4));
  });
});
