import { describe, expect, it } from 'vitest';
import { beginsKeyframeNal, KeyframeGate, parseSdp, rtpPayloadOffset } from '../../functions/shifu-tcp/rtsp-media.js';
import { classify, couldBeRtspRequestLine, isRtspRequestLine } from '../../functions/shifu-tcp/sniff.js';
import { clientOrigin, loggableStream, resolveControl, samePlace, streamKey, toCamera, toClient } from '../../functions/shifu-tcp/rtsp-urls.js';

/** An RTP packet: version 2, `ts`, then the payload bytes. */
function rtp(payload: number[], ts = 1000, csrc = 0): Buffer {
  const head = Buffer.alloc(12 + 4 * csrc);
  head[0] = 0x80 | csrc;
  head[1] = 96;
  head.writeUInt32BE(ts, 4);
  return Buffer.concat([head, Buffer.from(payload)]);
}

describe('auto mode: which connections are RTSP', () => {
  it.each([
    ['OPTIONS rtsp://10.0.0.5:554/Streaming/Channels/101 RTSP/1.0\r\nCSeq: 1\r\n\r\n', 'rtsp'],
    ['DESCRIBE rtsp://cam/stream RTSP/1.0\n', 'rtsp'],
    ['GET /stream HTTP/1.0\r\n', 'bytes'], // RTSP over HTTP tunnelling goes byte for byte
    ['POST /stream HTTP/1.0\r\nx-sessioncookie: a\r\n', 'bytes'],
    ['\x16\x03\x01\x02\x00\x01', 'bytes'], // a TLS ClientHello (RTSPS)
    ['SSH-2.0-OpenSSH_9.6\r\n', 'bytes'],
    ['OPTIONS rtsp://cam/stream RTSP/2.0\r\n', 'bytes'],
  ])('%j -> %s', (head, verdict) => {
    expect(classify(Buffer.from(head, 'latin1'))).toBe(verdict);
  });

  it('waits while the bytes so far could still become an RTSP request line', () => {
    for (const partial of ['O', 'OPTIONS', 'OPTIONS ', 'OPTIONS rtsp://cam/x', 'OPTIONS rtsp://cam/x RT', 'OPTIONS rtsp://cam/x RTSP/1.0\r']) {
      expect(classify(Buffer.from(partial)), partial).toBeUndefined();
    }
    expect(classify(Buffer.from('OPTIONS rtsp://cam/x HTTP'))).toBe('bytes');
    expect(classify(Buffer.from('OPTIONS rtsp://cam/x RTSP/1.0 more'))).toBe('bytes');
    expect(classify(Buffer.from(`OPTIONS /${'a'.repeat(9000)}`))).toBe('bytes');
  });

  it('request line rules', () => {
    expect(isRtspRequestLine('PLAY rtsp://cam/ RTSP/1.0')).toBe(true);
    expect(isRtspRequestLine('PLAY  rtsp://cam/ RTSP/1.0')).toBe(false);
    expect(couldBeRtspRequestLine('PL@Y')).toBe(false);
  });
});

describe('RTSP mode: URLs between the client and the camera', () => {
  it('takes the origin a client used, without credentials', () => {
    expect(clientOrigin('rtsp://admin:pw@10.250.1.5:8554/Streaming/Channels/101')).toBe('rtsp://10.250.1.5:8554');
    expect(clientOrigin('*')).toBeUndefined();
  });

  it('moves request URIs to the camera and camera URLs to the client origin', () => {
    expect(toCamera('rtsp://fwd:8554/cam/stream=0?x=1', 'rtsp://192.168.1.64:554')).toBe('rtsp://192.168.1.64:554/cam/stream=0?x=1');
    expect(toCamera('*', 'rtsp://192.168.1.64:554')).toBe('*');
    const sdp = 'a=control:rtsp://192.168.1.64:554/cam/trackID=1\r\na=control:trackID=2\r\n';
    expect(toClient(sdp, 'rtsp://fwd:8554')).toBe('a=control:rtsp://fwd:8554/cam/trackID=1\r\na=control:trackID=2\r\n');
    expect(toClient('url=rtsp://192.168.1.64/cam/trackID=1;seq=5,url=rtsp://192.168.1.64/cam/trackID=2;seq=9', 'rtsp://fwd:8554')).toBe(
      'url=rtsp://fwd:8554/cam/trackID=1;seq=5,url=rtsp://fwd:8554/cam/trackID=2;seq=9',
    );
  });

  it('keys streams by path and query, so main and sub streams stay apart', () => {
    expect(streamKey('rtsp://cam/Streaming/Channels/101?transportmode=unicast')).toBe('/Streaming/Channels/101?transportmode=unicast');
    expect(streamKey('rtsp://cam/Streaming/Channels/102')).not.toBe(streamKey('rtsp://cam/Streaming/Channels/101'));
    expect(streamKey('rtsp://cam')).toBe('/');
  });

  it('masks credentials cameras take in the query when a stream key is logged', () => {
    expect(loggableStream('/cam/realmonitor?channel=1&subtype=0&user=admin&password=hunter2')).toBe('/cam/realmonitor?channel=1&subtype=0&user=***&password=***');
    expect(loggableStream('/Streaming/Channels/101')).toBe('/Streaming/Channels/101');
  });

  it('resolves a=control like clients do and compares track URLs by place', () => {
    expect(resolveControl('rtsp://cam/stream/', 'trackID=0')).toBe('rtsp://cam/stream/trackID=0');
    expect(resolveControl('rtsp://cam/stream', 'stream=0')).toBe('rtsp://cam/stream/stream=0');
    expect(resolveControl('rtsp://cam/stream', '*')).toBe('rtsp://cam/stream');
    expect(samePlace('rtsp://a:1/x/stream=0', 'rtsp://b:2/x/stream=0/')).toBe(true);
    expect(samePlace('rtsp://a/x/stream=0', 'rtsp://a/x/stream=1')).toBe(false);
  });
});

describe('RTSP mode: media inspection', () => {
  it('reads codecs and controls from an SDP', () => {
    const sdp = parseSdp(
      'v=0\r\na=control:*\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H265/90000\r\na=control:stream=0\r\nm=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/48000\r\na=control:stream=1\r\n',
    );
    expect(sdp).toEqual({
      control: '*',
      media: [
        { kind: 'video', control: 'stream=0', codec: 'h265' },
        { kind: 'audio', control: 'stream=1', codec: undefined },
      ],
    });
  });

  it('finds the payload after CSRCs and a header extension', () => {
    expect(rtpPayloadOffset(rtp([0x65], 0, 2))).toBe(20);
    const ext = rtp([0, 0, 0, 1, 9, 9, 9, 9, 0x65]);
    ext[0] = 0x90;
    expect(rtpPayloadOffset(ext)).toBe(20);
    expect(rtpPayloadOffset(Buffer.from([0x40, 0, 0]))).toBeUndefined();
  });

  it('H.264: SPS, IDR, STAP-A starting with SPS and an FU-A start of an IDR begin keyframes; P slices and FU continuations do not', () => {
    expect(beginsKeyframeNal('h264', rtp([0x67, 0x42]))).toBe(true); // SPS
    expect(beginsKeyframeNal('h264', rtp([0x65, 0x88]))).toBe(true); // IDR
    expect(beginsKeyframeNal('h264', rtp([0x41, 0x9a]))).toBe(false); // P slice
    expect(beginsKeyframeNal('h264', rtp([0x78, 0x00, 0x0a, 0x67]))).toBe(true); // STAP-A, SPS first
    expect(beginsKeyframeNal('h264', rtp([0x7c, 0x85]))).toBe(true); // FU-A start, IDR
    expect(beginsKeyframeNal('h264', rtp([0x7c, 0x05]))).toBe(false); // FU-A middle
    expect(beginsKeyframeNal('h264', rtp([0x7c, 0x81]))).toBe(false); // FU-A start, P slice
  });

  it('H.265: VPS, IDR, an AP starting with a VPS and an FU start of an IDR begin keyframes', () => {
    expect(beginsKeyframeNal('h265', rtp([0x40, 0x01]))).toBe(true); // VPS (32)
    expect(beginsKeyframeNal('h265', rtp([0x26, 0x01]))).toBe(true); // IDR_W_RADL (19)
    expect(beginsKeyframeNal('h265', rtp([0x02, 0x01]))).toBe(false); // TRAIL_R (1)
    expect(beginsKeyframeNal('h265', rtp([0x60, 0x01, 0x00, 0x18, 0x40, 0x01]))).toBe(true); // AP, VPS first
    expect(beginsKeyframeNal('h265', rtp([0x62, 0x01, 0x93]))).toBe(true); // FU start, type 19
    expect(beginsKeyframeNal('h265', rtp([0x62, 0x01, 0x13]))).toBe(false); // FU middle
  });

  it('the gate lets a joining viewer in at the first packet of a keyframe only (SPS, not the PPS/IDR after it)', () => {
    const gate = new KeyframeGate('h264');
    expect(gate.isJoinPoint(rtp([0x41], 100))).toBe(false);
    expect(gate.isJoinPoint(rtp([0x67], 200))).toBe(true);
    expect(gate.isJoinPoint(rtp([0x68], 200))).toBe(false);
    expect(gate.isJoinPoint(rtp([0x65], 200))).toBe(false);
    expect(gate.isJoinPoint(rtp([0x41], 300))).toBe(false);
    expect(gate.isJoinPoint(rtp([0x65], 400))).toBe(true); // a camera without in-band SPS: the IDR
  });
});
