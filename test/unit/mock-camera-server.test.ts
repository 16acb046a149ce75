// The RTSP state machine and relay, in-process: a scripted publisher and players over real sockets, no ffmpeg.
// Over 400 lines because every case drives the server with the one scripted publisher and player kit below
// (raw RTSP and RTP over real sockets); the cases read as one table of the server's RTSP behaviour.
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../functions/lib/index.js';
import { AccessPolicy } from '../../functions/mock-camera/access.js';
import { Authenticator } from '../../functions/mock-camera/auth.js';
import { RtspServer } from '../../functions/mock-camera/server.js';

interface Response {
  status: number;
  headers: Map<string, string[]>;
  body: string;
}
interface Frame {
  channel: number;
  payload: Buffer;
}

/** A scriptable RTSP client: requests with automatic CSeq, and the interleaved frames it receives. */
class Client {
  private buffer = Buffer.alloc(0);
  private cseq = 0;
  private readonly responses: Response[] = [];
  readonly frames: Frame[] = [];
  private readonly waiting = new Set<() => void>();
  readonly closed: Promise<void>;
  session: string | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      this.parse();
      this.wakeAll();
    });
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()));
    socket.on('close', () => this.wakeAll());
    socket.on('error', () => undefined);
  }

  static async connect(port: number): Promise<Client> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return new Client(socket);
  }

  private wakeAll(): void {
    for (const wake of this.waiting) wake();
    this.waiting.clear();
  }

  private parse(): void {
    for (;;) {
      if (this.buffer[0] === 0x24) {
        if (this.buffer.length < 4) return;
        const size = this.buffer.readUInt16BE(2);
        if (this.buffer.length < 4 + size) return;
        this.frames.push({ channel: this.buffer[1] as number, payload: Buffer.from(this.buffer.subarray(4, 4 + size)) });
        this.buffer = this.buffer.subarray(4 + size);
        continue;
      }
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine = '', ...lines] = this.buffer.toString('utf8', 0, end).split('\r\n');
      const headers = new Map<string, string[]>();
      for (const l of lines) {
        const i = l.indexOf(':');
        const k = l.slice(0, i).toLowerCase();
        headers.set(k, [...(headers.get(k) ?? []), l.slice(i + 1).trim()]);
      }
      const length = Number(headers.get('content-length')?.[0] ?? 0);
      if (this.buffer.length < end + 4 + length) return;
      const body = this.buffer.toString('utf8', end + 4, end + 4 + length);
      this.buffer = this.buffer.subarray(end + 4 + length);
      this.responses.push({ status: Number(statusLine.split(' ')[1]), headers, body });
    }
  }

  private async until<T>(take: () => T | undefined): Promise<T> {
    for (;;) {
      const value = take();
      if (value !== undefined) return value;
      if (this.socket.destroyed || this.socket.readableEnded) throw new Error('connection closed');
      await new Promise<void>((resolve) => this.waiting.add(resolve));
    }
  }

  write(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  nextResponse(): Promise<Response> {
    return this.until(() => this.responses.shift());
  }

  async request(method: string, uri: string, headers: Record<string, string> = {}, body = ''): Promise<Response> {
    this.cseq += 1;
    const lines = [`${method} ${uri} RTSP/1.0`, `CSeq: ${this.cseq}`];
    if (this.session && !('Session' in headers)) lines.push(`Session: ${this.session}`);
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    if (body) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
    this.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
    const res = await this.nextResponse();
    expect(res.headers.get('cseq')).toEqual([String(this.cseq)]);
    const session = res.headers.get('session')?.[0]?.split(';')[0];
    if (session) this.session = session;
    return res;
  }

  sendFrame(channel: number, payload: Buffer): void {
    this.write(Buffer.concat([Buffer.from([0x24, channel, payload.length >> 8, payload.length & 0xff]), payload]));
  }

  frame(index: number): Promise<Frame> {
    return this.until(() => this.frames[index]);
  }

  close(): void {
    this.socket.destroy();
  }
}

const SDP = [
  'v=0',
  'o=- 0 0 IN IP4 127.0.0.1',
  's=No Name',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=video 0 RTP/AVP 96',
  'a=rtpmap:96 H264/90000',
  'a=control:streamid=0',
  'm=audio 0 RTP/AVP 8',
  'a=control:streamid=1',
  '',
].join('\r\n');

const PUBLISHER = { user: 'test-pattern', password: 'publisher-secret' };
const CAMERA = { user: 'admin', password: 'pa:ss' };
const log = createLogger('mock-camera-test', 'silent');
const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
const basic = (a: { user: string; password: string }): string => `Basic ${Buffer.from(`${a.user}:${a.password}`).toString('base64')}`;

function rtp(seq: number, size = 40): Buffer {
  const b = Buffer.alloc(size, seq & 0xff);
  b[0] = 0x80;
  b[1] = 96;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(0xdeadbeef, 8);
  return b;
}

async function startServer(clientAccount?: { user: string; password: string }): Promise<RtspServer> {
  const access = new AccessPolicy(new Authenticator('both'), clientAccount, PUBLISHER);
  return RtspServer.start({
    listen: { host: '127.0.0.1', port: 0 },
    rtpPorts: { min: 42000, max: 42999 },
    access,
    reservedPaths: ['/reserved'],
    log,
    describeWaitMs: 200,
  });
}

/** A publisher that has ANNOUNCEd, SETUP both tracks interleaved on 0-1 and 2-3, and RECORDs. */
async function publish(port: number, path: string, headers: Record<string, string> = {}): Promise<Client> {
  const pub = await Client.connect(port);
  const url = `rtsp://127.0.0.1:${port}${path}`;
  expect((await pub.request('ANNOUNCE', url, { 'Content-Type': 'application/sdp', ...headers }, SDP)).status).toBe(200);
  const s0 = await pub.request('SETUP', `${url}/streamid=0`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1;mode=record', ...headers });
  expect(s0.status).toBe(200);
  expect(s0.headers.get('transport')?.[0]).toBe('RTP/AVP/TCP;unicast;interleaved=0-1;mode=record');
  expect((await pub.request('SETUP', `${url}/streamid=1`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=2-3;mode=record', ...headers })).status).toBe(200);
  expect((await pub.request('RECORD', url, { Range: 'npt=0.000-', ...headers })).status).toBe(200);
  return pub;
}

/** Everything the server read from `client` before this returns has been handled (requests answer in order). */
async function flushed(client: Client): Promise<void> {
  expect((await client.request('GET_PARAMETER', '*')).status).toBe(200);
}

describe('mock camera RTSP server', () => {
  let server: RtspServer;
  let url: (path: string) => string;
  const clients: Client[] = [];
  const connect = async (): Promise<Client> => {
    const c = await Client.connect(server.port);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    server = await startServer();
    url = (path) => `rtsp://127.0.0.1:${server.port}${path}`;
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(() => server.close());

  it('answers OPTIONS with the methods it implements, echoing CSeq', async () => {
    const c = await connect();
    const res = await c.request('OPTIONS', '*');
    expect(res.status).toBe(200);
    expect(res.headers.get('public')?.[0]).toBe('OPTIONS, DESCRIBE, ANNOUNCE, SETUP, PLAY, PAUSE, RECORD, TEARDOWN, GET_PARAMETER');
    expect(res.headers.get('server')?.[0]).toBe('shifu-rtsp mock-camera');
  });

  it('answers protocol mistakes with their RTSP status codes', async () => {
    const c = await connect();
    expect((await c.request('REDIRECT', url('/x'))).status).toBe(501);
    expect((await c.request('SET_PARAMETER', url('/x'))).status).toBe(501);
    expect((await c.request('DESCRIBE', url('/nothing/here'))).status).toBe(404);
    expect((await c.request('DESCRIBE', 'http://elsewhere/x')).status).toBe(400);
    expect((await c.request('OPTIONS', '*', { Require: 'play.basic' })).status).toBe(551);
    expect((await c.request('PLAY', url('/x'))).status).toBe(455);
    expect((await c.request('PLAY', url('/x'), { Session: 'feedbeef' })).status).toBe(454);
    expect((await c.request('PAUSE', url('/x'), { Session: 'feedbeef' })).status).toBe(454);
    expect((await c.request('TEARDOWN', url('/x'))).status).toBe(454);
    expect((await c.request('GET_PARAMETER', url('/x'), { Session: 'feedbeef' })).status).toBe(454);
    expect((await c.request('RECORD', url('/x'))).status).toBe(455);
    expect((await c.request('SETUP', url('/x/trackID=0'))).status).toBe(400);
    expect((await c.request('SETUP', url('/x/trackID=0'), { Transport: 'RTP/AVP;multicast' })).status).toBe(461);
    expect((await c.request('SETUP', url('/x/trackID=0'), { Transport: 'RTP/AVP/TCP;unicast;mode=record' })).status).toBe(455);
    expect((await c.request('ANNOUNCE', url('/x'), { 'Content-Type': 'text/plain' }, 'hello')).status).toBe(415);
    expect((await c.request('ANNOUNCE', url('/x'), { 'Content-Type': 'application/sdp' }, 'v=0\r\n')).status).toBe(400);
  });

  it('answers 400 to a malformed request and keeps the connection; closes on garbage', async () => {
    const c = await connect();
    c.write('DESCRIBE rtsp://x/y RTSP/1.0\r\nCSeq: 7\r\nbroken header\r\n\r\n');
    const bad = await c.nextResponse();
    expect(bad.status).toBe(400);
    expect(bad.headers.get('cseq')).toEqual(['7']);
    expect((await c.request('OPTIONS', '*')).status).toBe(200);
    c.write(Buffer.from([0x00, 0x01, 0x02, 0xff]));
    expect((await c.nextResponse()).status).toBe(400);
    await c.closed;
  });

  it('wants DESCRIBE before a player SETUP', async () => {
    const pub = await publish(server.port, '/order');
    clients.push(pub);
    const c = await connect();
    expect((await c.request('SETUP', url('/order/trackID=0'), { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' })).status).toBe(455);
    expect((await c.request('DESCRIBE', url('/order'))).status).toBe(200);
    expect((await c.request('SETUP', url('/order/trackID=7'), { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' })).status).toBe(404);
    expect((await c.request('SETUP', url('/order'), { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' })).status).toBe(459);
    expect((await c.request('SETUP', url('/order/trackID=0'), { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' })).status).toBe(200);
    expect((await c.request('SETUP', url('/order/trackID=0'), { Transport: 'RTP/AVP/TCP;unicast;interleaved=2-3' })).status).toBe(455);
    expect((await c.request('RECORD', url('/order'))).status).toBe(455);
    expect((await c.request('TEARDOWN', url('/order'))).status).toBe(200);
    expect((await c.request('PLAY', url('/order'))).status).toBe(454);
  });

  it('relays a publisher’s packets unchanged to an interleaved player, on the player’s channels', async () => {
    const pub = await publish(server.port, '/live/one');
    clients.push(pub);
    const player = await connect();
    const described = await player.request('DESCRIBE', url('/live/one'));
    expect(described.status).toBe(200);
    expect(described.headers.get('content-type')).toEqual(['application/sdp']);
    expect(described.headers.get('content-base')).toEqual([`${url('/live/one')}/`]);
    expect(described.body).toContain('a=control:trackID=1');
    expect(described.body).not.toContain('streamid');
    const setup = await player.request('SETUP', url('/live/one/trackID=0'), { Transport: 'RTP/AVP/TCP;unicast;interleaved=10-11' });
    expect(setup.headers.get('transport')).toEqual(['RTP/AVP/TCP;unicast;interleaved=10-11']);
    expect(setup.headers.get('session')?.[0]).toMatch(/^[0-9a-f]{16};timeout=60$/);
    // A channel pair already in use on this connection is replaced by a free one.
    const audio = await player.request('SETUP', url('/live/one/trackID=1'), { Transport: 'RTP/AVP/TCP;unicast;interleaved=10-11' });
    expect(audio.headers.get('transport')).toEqual(['RTP/AVP/TCP;unicast;interleaved=0-1']);
    expect((await player.request('PLAY', url('/live/one'))).status).toBe(200);

    const sent = [rtp(1), rtp(2, 1400), Buffer.from('rtcp-sr'), rtp(3, 160)];
    pub.sendFrame(0, sent[0]!);
    pub.sendFrame(0, sent[1]!);
    pub.sendFrame(1, sent[2]!);
    pub.sendFrame(2, sent[3]!);
    pub.sendFrame(9, Buffer.from('nobody set up channel 9'));
    const got = await Promise.all([0, 1, 2, 3].map((i) => player.frame(i)));
    expect(got.map((f) => f.channel)).toEqual([10, 10, 11, 0]);
    expect(got.map((f) => f.payload)).toEqual(sent);
  });

  it('takes media sent right behind RECORD, and gives late players the last sender report first', async () => {
    const pub = await connect();
    const path = url('/eager');
    await pub.request('ANNOUNCE', path, { 'Content-Type': 'application/sdp' }, SDP);
    await pub.request('SETUP', `${path}/streamid=0`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1;mode=record' });
    const report = Buffer.from([0x80, 200, 0, 6, ...Buffer.alloc(24, 7)]);
    // One write: the frame reaches the server in the same chunk as the RECORD it must wait for.
    pub.write(Buffer.concat([Buffer.from(`RECORD ${path} RTSP/1.0\r\nCSeq: 9\r\nSession: ${pub.session}\r\n\r\n$\x01\x00\x1c`), report]));
    expect((await pub.nextResponse()).status).toBe(200);
    await flushed(pub);
    const player = await connect();
    await player.request('DESCRIBE', path);
    await player.request('SETUP', `${path}/trackID=0`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
    await player.request('PLAY', path);
    pub.sendFrame(0, rtp(1));
    expect(await player.frame(0)).toEqual({ channel: 1, payload: report });
    expect((await player.frame(1)).payload).toEqual(rtp(1));
  });

  it('stops sending on PAUSE and resumes on PLAY', async () => {
    const pub = await publish(server.port, '/pausable');
    clients.push(pub);
    const player = await connect();
    await player.request('DESCRIBE', url('/pausable'));
    await player.request('SETUP', url('/pausable/trackID=0'), { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
    expect((await player.request('PAUSE', url('/pausable'))).status).toBe(200);
    pub.sendFrame(0, rtp(1));
    await flushed(pub);
    expect((await player.request('PLAY', url('/pausable'))).status).toBe(200);
    pub.sendFrame(0, rtp(2));
    expect((await player.frame(0)).payload).toEqual(rtp(2));
  });

  it('relays to a UDP player from its server port pair, RTP and RTCP apart', async () => {
    const pub = await publish(server.port, '/udp/out');
    clients.push(pub);
    const rtpSocket = dgram.createSocket('udp4');
    const rtcpSocket = dgram.createSocket('udp4');
    rtpSocket.bind(0, '127.0.0.1');
    rtcpSocket.bind(0, '127.0.0.1');
    await Promise.all([once(rtpSocket, 'listening'), once(rtcpSocket, 'listening')]);
    try {
      const ports = [rtpSocket.address().port, rtcpSocket.address().port];
      const player = await connect();
      await player.request('DESCRIBE', url('/udp/out'));
      const setup = await player.request('SETUP', url('/udp/out/trackID=0'), { Transport: `RTP/AVP;unicast;client_port=${ports[0]}-${ports[1]}` });
      expect(setup.status).toBe(200);
      const server_port = /server_port=(\d+)-(\d+)/.exec(setup.headers.get('transport')?.[0] ?? '');
      expect(Number(server_port?.[1]) % 2).toBe(0);
      expect(Number(server_port?.[2])).toBe(Number(server_port?.[1]) + 1);
      const gotRtp = once(rtpSocket, 'message');
      const gotRtcp = once(rtcpSocket, 'message');
      expect((await player.request('PLAY', url('/udp/out'))).status).toBe(200);
      pub.sendFrame(0, rtp(5));
      pub.sendFrame(1, Buffer.from('sender report'));
      const [rtpMessage, rtpFrom] = (await gotRtp) as [Buffer, dgram.RemoteInfo];
      const [rtcpMessage, rtcpFrom] = (await gotRtcp) as [Buffer, dgram.RemoteInfo];
      expect(rtpMessage).toEqual(rtp(5));
      expect(rtcpMessage.toString()).toBe('sender report');
      expect([rtpFrom.port, rtcpFrom.port]).toEqual([Number(server_port?.[1]), Number(server_port?.[2])]);
    } finally {
      rtpSocket.close();
      rtcpSocket.close();
    }
  });

  it('takes a publisher’s RTP over UDP', async () => {
    const pub = await connect();
    const sender = dgram.createSocket('udp4');
    sender.bind(0, '127.0.0.1');
    await once(sender, 'listening');
    try {
      const p = sender.address().port;
      await pub.request('ANNOUNCE', url('/udp/in'), { 'Content-Type': 'application/sdp' }, SDP);
      const setup = await pub.request('SETUP', url('/udp/in/streamid=0'), { Transport: `RTP/AVP;unicast;client_port=${p}-${p + 1};mode=record` });
      const serverRtp = Number(/server_port=(\d+)/.exec(setup.headers.get('transport')?.[0] ?? '')?.[1]);
      expect((await pub.request('RECORD', url('/udp/in'))).status).toBe(200);
      const player = await connect();
      await player.request('DESCRIBE', url('/udp/in'));
      await player.request('SETUP', url('/udp/in/trackID=0'), { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
      await player.request('PLAY', url('/udp/in'));
      // UDP may drop even on loopback: send until one arrives.
      const timer = setInterval(() => sender.send(rtp(9), serverRtp, '127.0.0.1'), 50);
      try {
        expect((await player.frame(0)).payload).toEqual(rtp(9));
      } finally {
        clearInterval(timer);
      }
    } finally {
      sender.close();
    }
  });

  it('closes players when the publisher leaves, and frees the path', async () => {
    const pub = await publish(server.port, '/leaving');
    const player = await connect();
    await player.request('DESCRIBE', url('/leaving'));
    await player.request('SETUP', url('/leaving/trackID=0'), { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
    await player.request('PLAY', url('/leaving'));
    const busy = await connect();
    expect((await busy.request('ANNOUNCE', url('/leaving'), { 'Content-Type': 'application/sdp' }, SDP)).status).toBe(403);
    pub.close();
    await player.closed;
    const later = await connect();
    expect((await later.request('DESCRIBE', url('/leaving'))).status).toBe(404);
    clients.push(await publish(server.port, '/leaving'));
  });

  it('keeps test-pattern paths for the built-in publisher', async () => {
    const c = await connect();
    const res = await c.request('ANNOUNCE', url('/reserved'), { 'Content-Type': 'application/sdp' }, SDP);
    expect(res.status).toBe(401);
    expect((await c.request('DESCRIBE', url('/reserved'))).status).toBe(503);
    clients.push(await publish(server.port, '/reserved', { Authorization: basic(PUBLISHER) }));
    expect((await c.request('DESCRIBE', url('/reserved'))).status).toBe(200);
  });
});

describe('mock camera authentication', () => {
  let server: RtspServer;
  let url: string;
  let c: Client;
  beforeAll(async () => {
    server = await startServer(CAMERA);
    url = `rtsp://127.0.0.1:${server.port}/cam`;
  });
  afterEach(() => c.close());
  afterAll(() => server.close());

  it('challenges with Digest and Basic, but leaves OPTIONS open', async () => {
    c = await Client.connect(server.port);
    expect((await c.request('OPTIONS', url)).status).toBe(200);
    const res = await c.request('DESCRIBE', url);
    expect(res.status).toBe(401);
    const challenges = res.headers.get('www-authenticate') ?? [];
    expect(challenges).toHaveLength(2);
    expect(challenges[0]).toMatch(/^Digest realm="[^"]+", nonce="[0-9a-f]{32}", algorithm=MD5$/);
    expect(challenges[1]).toMatch(/^Basic realm="/);
  });

  it('accepts the right Basic credentials only', async () => {
    c = await Client.connect(server.port);
    expect((await c.request('DESCRIBE', url, { Authorization: basic({ ...CAMERA, password: 'wrong' }) })).status).toBe(401);
    expect((await c.request('DESCRIBE', url, { Authorization: basic(CAMERA) })).status).toBe(404);
  });

  it('accepts the right Digest response only', async () => {
    c = await Client.connect(server.port);
    const challenge = (await c.request('DESCRIBE', url)).headers.get('www-authenticate')?.[0] ?? '';
    const realm = /realm="([^"]+)"/.exec(challenge)?.[1] ?? '';
    const nonce = /nonce="([^"]+)"/.exec(challenge)?.[1] ?? '';
    const digest = (password: string, method = 'DESCRIBE'): string => {
      const response = md5(`${md5(`${CAMERA.user}:${realm}:${password}`)}:${nonce}:${md5(`${method}:${url}`)}`);
      return `Digest username="${CAMERA.user}", realm="${realm}", nonce="${nonce}", uri="${url}", response="${response}"`;
    };
    expect((await c.request('DESCRIBE', url, { Authorization: digest('wrong') })).status).toBe(401);
    expect((await c.request('DESCRIBE', url, { Authorization: digest(CAMERA.password) })).status).toBe(404);
    expect((await c.request('GET_PARAMETER', url, { Authorization: digest(CAMERA.password, 'GET_PARAMETER') })).status).toBe(200);
  });
});
