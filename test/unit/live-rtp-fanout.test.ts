// The fan-out of a camera stream's RTP packets to its WebRTC viewers: each packet parsed once for all of them
// (a parse, two copies and two events per viewer cost forwarder CPU per viewer: test/bench/live-load.ts), every
// viewer starting at a keyframe, audio only once its video started.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RtpPacket } from 'werift';
import { RtpFanout, type RtpSubscriber } from '../../functions/live/rtp-fanout.js';

/** An H.264 RTP packet: `nal` its NAL unit type (7, SPS, starts a keyframe), `seq` its sequence number. */
function h264(seq: number, ts: number, nal: number): Buffer {
  const b = Buffer.alloc(40);
  b[0] = 0x80;
  b[1] = 96;
  b.writeUInt16BE(seq, 2);
  b.writeUInt32BE(ts, 4);
  b[12] = 0x60 | nal;
  return b;
}

function viewer(): RtpSubscriber & { videos: RtpPacket[]; audios: RtpPacket[] } {
  const videos: RtpPacket[] = [];
  const audios: RtpPacket[] = [];
  return { videos, audios, video: (p) => videos.push(p), audio: (p) => audios.push(p) };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the WebRTC fan-out', () => {
  it('parses each packet once and gives every viewer that same packet', () => {
    const fanout = new RtpFanout();
    fanout.start('h264');
    const viewers = [viewer(), viewer(), viewer()];
    for (const v of viewers) fanout.add(v);
    const parse = vi.spyOn(RtpPacket, 'deSerialize');
    fanout.video(h264(1, 3600, 7));
    fanout.video(h264(2, 3600, 5));
    fanout.video(h264(3, 7200, 1));
    fanout.audio(h264(9, 100, 0));
    expect(parse).toHaveBeenCalledTimes(4);
    expect(viewers.map((v) => v.videos.map((p) => p.header.sequenceNumber))).toEqual([[1, 2, 3], [1, 2, 3], [1, 2, 3]]);
    for (const v of viewers.slice(1)) {
      expect(v.videos[0]).toBe(viewers[0]!.videos[0]);
      expect(v.audios[0]).toBe(viewers[0]!.audios[0]);
    }
  });

  it('starts a viewer at a keyframe: the kept GOP once its connection is up, else the next keyframe; audio after its video', () => {
    const fanout = new RtpFanout();
    const early = viewer();
    fanout.add(early);
    fanout.video(h264(1, 3600, 7)); // before the codec is known: nothing goes out
    fanout.start('h264');
    fanout.video(h264(2, 7200, 7));
    fanout.video(h264(3, 10800, 1));
    const late = viewer();
    const waiting = viewer();
    fanout.add(late);
    fanout.add(waiting);
    fanout.audio(h264(50, 100, 0));
    fanout.video(h264(4, 14400, 1));
    expect(early.videos.map((p) => p.header.sequenceNumber)).toEqual([2, 3, 4]);
    expect(early.audios).toHaveLength(1);
    expect([late.videos, late.audios, waiting.videos]).toEqual([[], [], []]);
    fanout.rejoin(late); // its connection came up: the GOP from the keyframe at once
    expect(late.videos.map((p) => p.header.sequenceNumber)).toEqual([2, 3, 4]);
    fanout.video(h264(5, 18000, 7));
    expect(waiting.videos.map((p) => p.header.sequenceNumber)).toEqual([5]);
    fanout.restart(); // a new ffmpeg run: everyone waits for its first keyframe
    fanout.video(h264(6, 21600, 1));
    fanout.video(h264(7, 25200, 7));
    expect(early.videos.map((p) => p.header.sequenceNumber)).toEqual([2, 3, 4, 5, 7]);
  });
});
