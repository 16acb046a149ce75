import { describe, expect, it } from 'vitest';
import { RtspParser, serializeMessage, type RtspInput } from '../../functions/lib/index.js';

const SDP = 'v=0\r\nm=video 0 RTP/AVP 96\r\na=control:rtsp://10.0.0.5:554/cam/trackID=0\r\n';
const DESCRIBE_REPLY = `RTSP/1.0 200 OK\r\nCSeq: 3\r\nContent-Base: rtsp://10.0.0.5:554/cam/\r\nContent-Length: ${SDP.length}\r\n\r\n${SDP}`;

function parse(bytes: Buffer | string): RtspInput[] {
  return new RtspParser(undefined, 'client').push(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
}

describe('RTSP parser, client role (what a camera sends back)', () => {
  it('parses a response with status, CSeq, headers in order and its body', () => {
    const [input] = parse(DESCRIBE_REPLY);
    expect(input?.kind).toBe('response');
    if (input?.kind !== 'response') return;
    expect(input.response).toMatchObject({ version: 'RTSP/1.0', status: 200, reason: 'OK', cseq: '3' });
    expect(input.response.fields).toEqual([
      ['CSeq', '3'],
      ['Content-Base', 'rtsp://10.0.0.5:554/cam/'],
      ['Content-Length', String(SDP.length)],
    ]);
    expect(input.response.body.toString()).toBe(SDP);
  });

  it('splits responses and interleaved frames arriving in one chunk, in order, even byte by byte', () => {
    const bytes = Buffer.concat([
      Buffer.from(DESCRIBE_REPLY),
      Buffer.from([0x24, 1, 0, 3, 7, 8, 9]),
      Buffer.from('RTSP/1.0 401 Unauthorized\r\nCSeq: 4\r\nWWW-Authenticate: Digest realm="x", nonce="y"\r\n\r\n'),
    ]);
    const parser = new RtspParser(undefined, 'client');
    const out: RtspInput[] = [];
    for (let i = 0; i < bytes.length; i += 1) out.push(...parser.push(bytes.subarray(i, i + 1)));
    expect(out.map((i) => i.kind)).toEqual(['response', 'interleaved', 'response']);
    const last = out[2];
    expect(last?.kind === 'response' && last.response.status).toBe(401);
    const frame = out[1];
    expect(frame?.kind === 'interleaved' && [frame.channel, [...frame.payload]]).toEqual([1, [7, 8, 9]]);
  });

  it('still parses requests a camera sends (e.g. a server-side GET_PARAMETER)', () => {
    const [input] = parse('GET_PARAMETER rtsp://cam/ RTSP/1.0\r\nCSeq: 1\r\n\r\n');
    expect(input?.kind).toBe('request');
  });

  it('a broken status line is fatal: the stream cannot be framed any more', () => {
    const parser = new RtspParser(undefined, 'client');
    const [input] = parser.push(Buffer.from('RTSP/1.0 2x0 OK\r\nCSeq: 1\r\n\r\n'));
    expect(input).toMatchObject({ kind: 'malformed', fatal: true });
    expect(parser.closed).toBe(true);
  });

  it('a server-role parser refuses a status line as a request', () => {
    const [input] = new RtspParser().push(Buffer.from('RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n'));
    expect(input).toMatchObject({ kind: 'malformed', status: 400 });
  });

  it('serializeMessage writes Content-Length from the body, not from the headers given', () => {
    const bytes = serializeMessage('RTSP/1.0 200 OK', [['CSeq', '2'], ['Content-Length', '999']], Buffer.from('abc'));
    expect(bytes.toString()).toBe('RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: 3\r\n\r\nabc');
  });
});
