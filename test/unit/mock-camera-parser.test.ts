import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, RtspParser, type RtspInput } from '../../functions/lib/index.js';

const OPTIONS = 'OPTIONS rtsp://cam/stream RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: test\r\n\r\n';
const ANNOUNCE_BODY = 'v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nm=video 0 RTP/AVP 96\r\n';
const ANNOUNCE = `ANNOUNCE rtsp://cam/pub RTSP/1.0\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Length: ${ANNOUNCE_BODY.length}\r\n\r\n${ANNOUNCE_BODY}`;

function frame(channel: number, payload: number[]): Buffer {
  return Buffer.from([0x24, channel, payload.length >> 8, payload.length & 0xff, ...payload]);
}

function parseAll(bytes: Buffer | string, limits = DEFAULT_LIMITS): RtspInput[] {
  return new RtspParser(limits).push(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
}

/** Feeds the bytes in pieces of `size` and collects everything. */
function parseInPieces(bytes: Buffer, size: number): RtspInput[] {
  const parser = new RtspParser();
  const out: RtspInput[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(...parser.push(bytes.subarray(i, i + size)));
  return out;
}

function only(inputs: RtspInput[]): RtspInput {
  expect(inputs).toHaveLength(1);
  return inputs[0] as RtspInput;
}

describe('RTSP request parser', () => {
  it('parses a request: method, URI, CSeq and lower-cased headers', () => {
    const input = only(parseAll(OPTIONS));
    expect(input.kind).toBe('request');
    if (input.kind !== 'request') return;
    expect(input.request.method).toBe('OPTIONS');
    expect(input.request.uri).toBe('rtsp://cam/stream');
    expect(input.request.cseq).toBe('1');
    expect(input.request.headers.get('user-agent')).toEqual(['test']);
    expect(input.request.body.length).toBe(0);
  });

  it('reads a Content-Length body and keeps repeated headers', () => {
    const input = only(parseAll(ANNOUNCE.replace('CSeq: 2\r\n', 'CSeq: 2\r\nX-A: 1\r\nx-a: 2\r\n')));
    if (input.kind !== 'request') throw new Error(input.kind);
    expect(input.request.body.toString()).toBe(ANNOUNCE_BODY);
    expect(input.request.headers.get('x-a')).toEqual(['1', '2']);
  });

  it('separates requests and interleaved frames sharing one connection', () => {
    const bytes = Buffer.concat([frame(0, [1, 2, 3]), Buffer.from(OPTIONS), frame(3, []), Buffer.from(ANNOUNCE), frame(255, [9])]);
    const kinds = parseAll(bytes).map((i) => (i.kind === 'interleaved' ? `$${i.channel}:${i.payload.length}` : i.kind));
    expect(kinds).toEqual(['$0:3', 'request', '$3:0', 'request', '$255:1']);
  });

  it('gives the same result however the bytes are split, down to one byte at a time', () => {
    const bytes = Buffer.concat([Buffer.from(ANNOUNCE), frame(1, [7, 7]), Buffer.from(`\r\n${OPTIONS}`), frame(2, Array.from({ length: 300 }, (_, i) => i & 0xff))]);
    const whole = parseAll(bytes);
    expect(whole).toHaveLength(4);
    for (const size of [1, 2, 3, 7, 64, 500]) expect(parseInPieces(bytes, size)).toEqual(whole);
  });

  it('waits for the rest of a truncated request, body or frame', () => {
    const parser = new RtspParser();
    expect(parser.push(Buffer.from(OPTIONS.slice(0, 20)))).toEqual([]);
    expect(parser.push(Buffer.from(ANNOUNCE.slice(0, 0)))).toEqual([]);
    expect(parser.push(Buffer.from(OPTIONS.slice(20)))).toHaveLength(1);
    expect(parser.push(Buffer.from(ANNOUNCE.slice(0, ANNOUNCE.length - 5)))).toEqual([]);
    expect(parser.push(Buffer.from(ANNOUNCE.slice(ANNOUNCE.length - 5)))).toHaveLength(1);
    expect(parser.push(frame(0, [1, 2, 3]).subarray(0, 5))).toEqual([]);
    expect(parser.push(Buffer.from([2, 3]))).toHaveLength(1);
  });

  it('accepts bare LF line ends and skips blank lines between messages', () => {
    const inputs = parseAll(`\r\n\r\nOPTIONS * RTSP/1.0\nCSeq: 5\n\n\nDESCRIBE rtsp://x/y RTSP/1.0\r\nCSeq: 6\r\n\r\n`);
    expect(inputs.map((i) => (i.kind === 'request' ? i.request.cseq : i.kind))).toEqual(['5', '6']);
  });

  it('answers a malformed but framed request with 400 and keeps parsing (CSeq kept when valid)', () => {
    const cases: Array<[string, string | undefined]> = [
      ['OPTIONS * RTSP/1.0\r\n\r\n', undefined], // no CSeq
      ['OPTIONS * RTSP/1.0\r\nCSeq: abc\r\n\r\n', undefined],
      ['OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nCSeq: 2\r\n\r\n', undefined],
      ['OPTIONS * RTSP/1.0\r\nCSeq: 3\r\nno colon here\r\n\r\n', '3'],
      ['OPTIONS  * RTSP/1.0\r\nCSeq: 4\r\n\r\n', '4'],
      ['OPTIONS *\r\nCSeq: 5\r\n\r\n', '5'],
      ['OPT(ONS * RTSP/1.0\r\nCSeq: 6\r\n\r\n', '6'],
      ['GET / HTTP/1.1\r\nCSeq: 7\r\n\r\n', '7'],
      ['RTSP/1.0 200 OK\r\nCSeq: 8\r\n\r\n', '8'],
      ['OPTIONS * RTSP/1.0\r\nCSeq: 9\r\n : x\r\n\r\n', '9'],
    ];
    for (const [text, cseq] of cases) {
      const inputs = parseAll(text + OPTIONS);
      expect(inputs, text).toHaveLength(2);
      const [bad, good] = inputs;
      expect(bad, text).toMatchObject({ kind: 'malformed', status: 400, fatal: false });
      if (bad?.kind === 'malformed') expect(bad.cseq, text).toBe(cseq);
      expect(good?.kind).toBe('request');
    }
  });

  it('answers another RTSP version with 505', () => {
    expect(only(parseAll('OPTIONS * RTSP/2.0\r\nCSeq: 3\r\n\r\n'))).toMatchObject({ kind: 'malformed', status: 505, cseq: '3', fatal: false });
  });

  it('rejects too many headers', () => {
    const many = Array.from({ length: DEFAULT_LIMITS.maxHeaders + 1 }, (_, i) => `X-${i}: v`).join('\r\n');
    expect(parseAll(`OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n${many}\r\n\r\n`)[0]).toMatchObject({ kind: 'malformed', status: 400, fatal: false });
  });

  describe('gives up on input it cannot frame (fatal: answer 400, close)', () => {
    const fatal = { kind: 'malformed', status: 400, fatal: true };
    it.each([
      ['binary garbage', Buffer.from([0x00, 0xff, 0x13, 0x37])],
      ['a control byte in the head', Buffer.from('OPTIONS * RTSP/1.0\r\nCSeq: 1\x00\r\n\r\n')],
      ['a negative Content-Length', Buffer.from('ANNOUNCE rtsp://x/y RTSP/1.0\r\nCSeq: 1\r\nContent-Length: -5\r\n\r\n')],
      ['a non-numeric Content-Length', Buffer.from('ANNOUNCE rtsp://x/y RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 12abc\r\n\r\n')],
      ['two different Content-Lengths', Buffer.from('ANNOUNCE rtsp://x/y RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab')],
      ['a body over the limit', Buffer.from(`ANNOUNCE rtsp://x/y RTSP/1.0\r\nCSeq: 1\r\nContent-Length: ${DEFAULT_LIMITS.maxBodyBytes + 1}\r\n\r\n`)],
    ])('%s', (_, bytes) => {
      expect(parseAll(bytes)[0]).toMatchObject(fatal);
    });

    it('a head over the limit, even before it ends', () => {
      const parser = new RtspParser();
      expect(parser.push(Buffer.from('DESCRIBE rtsp://x/y RTSP/1.0\r\nCSeq: 1\r\nX-Big: '))).toEqual([]);
      const out = parser.push(Buffer.alloc(DEFAULT_LIMITS.maxHeaderBytes, 'a'));
      expect(out[0]).toMatchObject(fatal);
      expect(parser.closed).toBe(true);
      expect(parser.push(Buffer.from(OPTIONS))).toEqual([]);
    });

    it('answers what came before the garbage first', () => {
      const inputs = parseAll(Buffer.concat([Buffer.from(OPTIONS), Buffer.from([0x01, 0x02]), Buffer.from(OPTIONS)]));
      expect(inputs.map((i) => i.kind)).toEqual(['request', 'malformed']);
    });
  });

  it('never throws on random bytes, whatever the split (seeded)', () => {
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const pieces = [OPTIONS, ANNOUNCE, '$', '\r\n', 'Content-Length: 9\r\n', 'CSeq: 1\r\n', 'SETUP ', ' RTSP/1.0', '\x00', '\xff'];
    for (let round = 0; round < 2000; round += 1) {
      const parts: Buffer[] = [];
      for (let n = Math.floor(random() * 8); n >= 0; n -= 1) {
        parts.push(random() < 0.5 ? Buffer.from(pieces[Math.floor(random() * pieces.length)] ?? '') : Buffer.from([Math.floor(random() * 256)]));
      }
      const parser = new RtspParser();
      const bytes = Buffer.concat(parts);
      let at = 0;
      while (at < bytes.length) {
        const size = 1 + Math.floor(random() * 16);
        for (const input of parser.push(bytes.subarray(at, at + size))) {
          expect(['request', 'interleaved', 'malformed']).toContain(input.kind);
        }
        at += size;
      }
    }
  });
});
