// The RTSP fuzzer shared by the mock camera's and the forwarder's fuzz tests: a seeded PRNG, case
// generator, reply checker and the exchange that sends a case and collects what came back.
import net from 'node:net';

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The generator seed of case `index`: independent of which worker runs it. */
export function caseSeed(seed: number, index: number): number {
  return (Math.imul(seed, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0;
}

export class Fuzzer {
  constructor(private readonly random: () => number) {}
  int(max: number): number {
    return Math.floor(this.random() * max);
  }
  chance(p: number): boolean {
    return this.random() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i += 1) b[i] = this.int(256);
    return b;
  }
  token(max = 12): string {
    const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*';
    return Array.from({ length: 1 + this.int(max) }, () => this.pick([...chars])).join('');
  }
}

export const METHODS = ['OPTIONS', 'DESCRIBE', 'ANNOUNCE', 'SETUP', 'PLAY', 'PAUSE', 'RECORD', 'TEARDOWN', 'GET_PARAMETER', 'SET_PARAMETER', 'REDIRECT', 'GET', 'POST', 'options', 'PLAY PLAY', ''];
export const TRANSPORTS = [
  'RTP/AVP/TCP;unicast;interleaved=0-1',
  'RTP/AVP/TCP;unicast;interleaved=254-255',
  'RTP/AVP/TCP;unicast;interleaved=300-301',
  'RTP/AVP/TCP;unicast',
  'RTP/AVP;unicast;client_port=40000-40001',
  'RTP/AVP;unicast;client_port=0-1',
  'RTP/AVP;unicast;client_port=99999-100000',
  'RTP/AVP;multicast',
  'RTP/AVP/TCP;unicast;interleaved=0-1;mode=record',
  'RTP/AVP;unicast;client_port=40002-40003;mode=record',
  'RTP/AVP;unicast;client_port=40004;destination=10.0.0.1',
  'RAW/RAW/UDP;unicast',
  ';;;;',
  'RTP/AVP/TCP;interleaved=a-b,RTP/AVP;client_port=-',
];
export const SDP = 'v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=fuzz\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:streamid=0\r\nm=audio 0 RTP/AVP 8\r\na=control:streamid=1\r\n';

export interface Case {
  bytes: Buffer;
  /** Requests (or request-like blobs) in it: the fuzz budget counts these. */
  messages: number;
}

/** Builds one case: a few messages of one of many malformed shapes, sometimes after valid ones. */
export function generate(f: Fuzzer, port: number, PATH: string): Case {
  const base = `rtsp://127.0.0.1:${port}`;
  const url = (): string =>
    f.pick([
      `${base}${PATH}`,
      `${base}${PATH}/trackID=${f.int(4)}`,
      `${base}${PATH}?transportmode=unicast`,
      `${base}/${f.token()}`,
      `${base}/${f.token()}/${f.token()}`,
      '*',
      `${base}`,
      `http://${f.token()}/x`,
      `${base}/%${f.token(2)}`,
      `${base}/${'a/'.repeat(f.int(200))}`,
      f.token(40),
      `/${f.token()}`,
    ]);
  const request = (method = f.pick(METHODS), withCseq = f.chance(0.9)): string => {
    const headers: string[] = [];
    if (withCseq) headers.push(`CSeq: ${f.chance(0.9) ? f.int(100000) : f.pick(['x', '-1', '', '99999999999', '1 2'])}`);
    if (f.chance(0.1)) headers.push(`CSeq: ${f.int(10)}`);
    if (f.chance(0.4)) headers.push(`Transport: ${f.pick(TRANSPORTS)}`);
    if (f.chance(0.3)) headers.push(`Session: ${f.chance(0.5) ? f.token(16) : `${f.token(16)};timeout=${f.int(100)}`}`);
    if (f.chance(0.1)) headers.push(`Authorization: ${f.pick(['Basic ', 'Digest ', 'Bearer '])}${f.token(60)}`);
    if (f.chance(0.1)) headers.push(`Authorization: Digest username="${f.token()}", realm="x", nonce="${f.token(32)}", uri="${url()}", response="${f.token(32)}"`);
    if (f.chance(0.05)) headers.push(`Require: ${f.token()}`);
    if (f.chance(0.1)) headers.push(`Range: npt=${f.int(10)}.000-`);
    if (f.chance(0.2)) headers.push(`${f.token()}: ${f.token(30)}`);
    if (f.chance(0.05)) headers.push(f.pick(['no colon', ': empty name', ' folded', 'X-Tab:\tvalue', 'Bad Name: x']));
    let body = '';
    if (f.chance(0.15)) {
      body = f.chance(0.5) ? SDP : f.token(200);
      headers.push(`Content-Type: ${f.pick(['application/sdp', 'text/plain', 'application/sdp; charset=utf-8'])}`);
      headers.push(`Content-Length: ${Buffer.byteLength(body)}`);
    }
    const version = f.chance(0.95) ? 'RTSP/1.0' : f.pick(['RTSP/2.0', 'HTTP/1.1', 'RTSP/1', 'rtsp/1.0', '']);
    const eol = f.chance(0.95) ? '\r\n' : '\n';
    return `${method} ${url()} ${version}${eol}${headers.join(eol)}${eol}${eol}${body}`;
  };
  const frame = (): Buffer => {
    const payload = f.bytes(f.int(200));
    const head = Buffer.from([0x24, f.int(256), 0, 0]);
    head.writeUInt16BE(f.chance(0.8) ? payload.length : f.int(65536), 2);
    return Buffer.concat([head, payload]);
  };

  const parts: Buffer[] = [];
  let messages = 0;
  // Sometimes a valid exchange first, so the garbage lands on a connection in a later state.
  if (f.chance(0.2)) {
    parts.push(Buffer.from(`OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\nDESCRIBE ${base}${PATH} RTSP/1.0\r\nCSeq: 2\r\n\r\n`));
    messages += 2;
  }
  const shapes = 1 + f.int(4);
  for (let i = 0; i < shapes; i += 1) {
    messages += 1;
    switch (f.int(9)) {
      case 0: // random bytes
        parts.push(f.bytes(1 + f.int(2000)));
        break;
      case 1: {
        // a valid-looking request cut short
        const text = Buffer.from(request());
        parts.push(text.subarray(0, f.int(text.length)));
        break;
      }
      case 2: // a huge header
        parts.push(Buffer.from(`DESCRIBE ${base}${PATH} RTSP/1.0\r\nCSeq: 1\r\nX-Huge: ${'h'.repeat(8000 + f.int(60000))}\r\n\r\n`));
        break;
      case 3: // a bad Content-Length
        parts.push(
          Buffer.from(
            `ANNOUNCE ${base}/${f.token()} RTSP/1.0\r\nCSeq: 3\r\nContent-Type: application/sdp\r\nContent-Length: ${f.pick([
              '-1', 'abc', '99999999', '1e3', '', ' 5', '65537', `${SDP.length + 50}`, `${SDP.length}\r\nContent-Length: 1`,
            ])}\r\n\r\n${SDP}`,
          ),
        );
        break;
      case 4: // interleaved frames, some claiming more bytes than follow
        for (let n = 1 + f.int(5); n > 0; n -= 1) parts.push(frame());
        break;
      case 5: // many headers
        parts.push(Buffer.from(`OPTIONS * RTSP/1.0\r\nCSeq: 4\r\n${Array.from({ length: 30 + f.int(100) }, (_, k) => `X-${k}: ${f.token()}`).join('\r\n')}\r\n\r\n`));
        break;
      case 6: {
        // a valid request with bytes flipped, inserted or dropped
        const text = Buffer.from(request(f.pick(METHODS.slice(0, 9)), true));
        for (let n = 1 + f.int(4); n > 0; n -= 1) {
          const at = f.int(text.length);
          const op = f.int(3);
          if (op === 0) text[at] = f.int(256);
          else if (op === 1) text[at] = 0x0a;
          else text[at] = 0x3a;
        }
        parts.push(text);
        break;
      }
      default: // valid-looking requests with random methods, URLs and headers, pipelined
        for (let n = 1 + f.int(4); n > 0; n -= 1) {
          parts.push(Buffer.from(request()));
          messages += 1;
        }
        messages -= 1;
    }
  }
  return { bytes: Buffer.concat(parts), messages };
}

/** What the server sent back: each piece must be an RTSP/1.0 response or an interleaved frame. */
export function checkReplies(data: Buffer): { statuses: number[]; problem?: string } {
  const statuses: number[] = [];
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0x24) {
      if (data.length - at < 4) break; // cut off by the close
      at += 4 + data.readUInt16BE(at + 2);
      continue;
    }
    const end = data.indexOf('\r\n\r\n', at);
    const head = data.toString('latin1', at, end < 0 ? data.length : end);
    const m = /^RTSP\/1\.0 (\d{3}) [^\r\n]+(\r\n[A-Za-z-]+: [^\r\n]*)*$/.exec(head);
    if (!m || end < 0) return { statuses, problem: `not an RTSP response at byte ${at}: ${JSON.stringify(head.slice(0, 200))}` };
    statuses.push(Number(m[1]));
    const length = Number(/\r\nContent-Length: (\d+)/.exec(head)?.[1] ?? 0);
    at = end + 4 + length;
  }
  return { statuses };
}

/** Sends one case in random-sized pieces, half-closes, and collects everything until the server closes. */
export function exchange(f: Fuzzer, port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    const hang = setTimeout(() => {
      socket.destroy();
      reject(new Error('the server neither answered nor closed within 30 s'));
    }, 30_000);
    socket.on('data', (d: Buffer) => received.push(d));
    socket.on('error', () => undefined); // a reset after a fatal 400 is a fine way to close
    socket.on('close', () => {
      clearTimeout(hang);
      resolve(Buffer.concat(received));
    });
    socket.on('connect', () => {
      let at = 0;
      while (at < bytes.length) {
        const size = 1 + f.int(f.chance(0.5) ? 64 : 8192);
        socket.write(bytes.subarray(at, at + size));
        at += size;
      }
      socket.end();
    });
  });
}

