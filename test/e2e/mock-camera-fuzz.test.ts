// Fuzzing the mock camera's RTSP front door: >= 10,000 random and malformed requests from a seeded PRNG
// (MOCK_CAMERA_FUZZ_SEED reproduces a run). The server must answer each with a well-formed RTSP response
// or close the connection, never crash or log an internal error, and still serve ffprobe afterwards.
import net from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockCamera, type MockCamera } from '../../functions/mock-camera/index.js';
import { requireTool } from './fixtures/camera.js';
import { ffprobeStreams } from './fixtures/player.js';
import { caseSeed, checkReplies, exchange, Fuzzer, generate, METHODS, prng, SDP, TRANSPORTS, type Case } from './support/rtsp-fuzz.js';

const SEED = Number(process.env.MOCK_CAMERA_FUZZ_SEED ?? 20_240_601);
const CASES = 10_000;
const WORKERS = 8;
const PATH = '/fuzz/cam';

/** An interactive client for the stateful flows: waits for each answer, so it can use the real Session id. */
class Conversation {
  /** `METHOD status` → count, over every conversation. */
  static readonly answers = new Map<string, number>();
  private data = Buffer.alloc(0);
  private cseq = 0;
  private readonly waiting = new Set<() => void>();
  private closed = false;
  /** The server answered 400 and closes: nothing more to send. */
  refused = false;
  readonly done: Promise<void>;
  messages = 0;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.data = Buffer.concat([this.data, d]);
      this.wakeAll();
    });
    socket.on('error', () => undefined);
    this.done = new Promise((resolve) =>
      socket.on('close', () => {
        this.closed = true;
        this.wakeAll();
        resolve();
      }),
    );
  }

  static async open(port: number): Promise<Conversation> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new Conversation(socket);
  }

  private wakeAll(): void {
    for (const w of this.waiting) w();
    this.waiting.clear();
  }

  /** Sends a request and returns its status and headers (interleaved frames before it are skipped). */
  async request(method: string, url: string, headers: string[] = [], body = ''): Promise<{ status: number; head: string }> {
    this.cseq += 1;
    this.messages += 1;
    const all = [`CSeq: ${this.cseq}`, ...headers, ...(body ? [`Content-Length: ${Buffer.byteLength(body)}`] : [])];
    this.socket.write(`${method} ${url} RTSP/1.0\r\n${all.join('\r\n')}\r\n\r\n${body}`);
    for (;;) {
      while (this.data[0] === 0x24 && this.data.length >= 4 && this.data.length >= 4 + this.data.readUInt16BE(2)) {
        this.data = this.data.subarray(4 + this.data.readUInt16BE(2));
      }
      const end = this.data.indexOf('\r\n\r\n');
      if (this.data[0] !== 0x24 && end >= 0) {
        const head = this.data.toString('latin1', 0, end);
        const length = Number(/\r\nContent-Length: (\d+)/.exec(head)?.[1] ?? 0);
        if (this.data.length >= end + 4 + length) {
          this.data = this.data.subarray(end + 4 + length);
          const m = /^RTSP\/1\.0 (\d{3}) /.exec(head);
          if (!m) throw new Error(`not an RTSP response: ${JSON.stringify(head.slice(0, 200))}`);
          // Garbage the server cannot frame (a request line starting with a space) ends the connection.
          if (m[1] === '400' && head.includes('\r\nConnection: close')) {
            this.refused = true;
            return { status: 400, head };
          }
          if (!head.includes(`\r\nCSeq: ${this.cseq}\r\n`) && !head.endsWith(`\r\nCSeq: ${this.cseq}`)) throw new Error(`CSeq ${this.cseq} not echoed: ${head}`);
          const key = `${method} ${m[1]}`;
          Conversation.answers.set(key, (Conversation.answers.get(key) ?? 0) + 1);
          return { status: Number(m[1]), head };
        }
      }
      if (this.closed) throw new Error(`closed while waiting for the answer to ${method}`);
      await new Promise<void>((resolve) => this.waiting.add(resolve));
    }
  }

  write(bytes: Buffer | string): void {
    this.messages += 1;
    this.socket.write(bytes);
  }

  async end(): Promise<void> {
    this.socket.end();
    await this.done;
  }
}

const sessionOf = (head: string): string => /\r\nSession: ([^;\r\n]+)/.exec(head)?.[1] ?? 'none';

/** A player that gets a real session, then mixes valid session requests with garbage. */
async function playerFlow(f: Fuzzer, port: number): Promise<number> {
  const base = `rtsp://127.0.0.1:${port}${PATH}`;
  const c = await Conversation.open(port);
  const described = await c.request('DESCRIBE', base);
  if (described.status !== 200) throw new Error(`DESCRIBE ${described.status}`);
  const transport = (): string =>
    f.pick(['RTP/AVP/TCP;unicast;interleaved=0-1', `RTP/AVP/TCP;unicast;interleaved=${2 * f.int(127)}-${2 * f.int(127) + 1}`, `RTP/AVP;unicast;client_port=${40000 + 2 * f.int(1000)}-${40001 + 2 * f.int(1000)}`, f.pick(TRANSPORTS)]);
  const first = await c.request('SETUP', `${base}/trackID=0`, [`Transport: ${transport()}`]);
  const session = first.status === 200 ? sessionOf(first.head) : f.token(16);
  for (let step = 0, steps = 2 + f.int(8); step < steps && !c.refused; step += 1) {
    const op = f.int(10);
    const sessionHeader = f.chance(0.9) ? [`Session: ${session}`] : [];
    if (op === 0) await c.request('SETUP', `${base}/trackID=${f.int(3)}`, [...sessionHeader, `Transport: ${transport()}`]);
    else if (op <= 2) await c.request('PLAY', base, sessionHeader);
    else if (op === 3) await c.request('PAUSE', base, sessionHeader);
    else if (op === 4) await c.request('GET_PARAMETER', base, sessionHeader);
    else if (op === 5) await c.request(f.pick(METHODS), f.chance(0.5) ? base : `${base}/${f.token()}`, sessionHeader);
    else if (op === 6) c.write(Buffer.concat([Buffer.from([0x24, f.int(256), 0, 8]), f.bytes(8)])); // RTCP-sized junk
    else if (op === 7) await c.request('TEARDOWN', base, sessionHeader);
    else await c.request('OPTIONS', '*', sessionHeader);
  }
  if (f.chance(0.3) && !c.refused) c.write(f.bytes(1 + f.int(100)));
  await c.end();
  return c.messages;
}

/** A publisher that ANNOUNCEs, RECORDs and pushes junk "RTP", sometimes watched by a player. */
async function publisherFlow(f: Fuzzer, port: number, n: number): Promise<number> {
  const url = `rtsp://127.0.0.1:${port}/fuzz-pub/${n}`;
  const c = await Conversation.open(port);
  const sdp = f.chance(0.8) ? SDP : SDP.replace('m=audio', f.pick(['m=bogus', 'x=', 'm=audio 0 RTP/AVP 8\r\nm=video 0 RTP/AVP 97']));
  const announced = await c.request('ANNOUNCE', url, ['Content-Type: application/sdp'], sdp);
  let messages = 0;
  if (announced.status === 200) {
    const udp = f.chance(0.3);
    const setup = await c.request('SETUP', `${url}/streamid=${f.chance(0.9) ? 0 : f.int(5)}`, [
      `Transport: ${udp ? `RTP/AVP;unicast;client_port=${41000 + 2 * f.int(500)}-${41001 + 2 * f.int(500)};mode=record` : 'RTP/AVP/TCP;unicast;interleaved=0-1;mode=record'}`,
    ]);
    const session = sessionOf(setup.head);
    const recording = await c.request('RECORD', url, [`Session: ${session}`]);
    // Only a live path: DESCRIBE on one still being announced waits for its RECORD.
    const player = recording.status === 200 && f.chance(0.5) ? await Conversation.open(port) : undefined;
    if (player) {
      const d = await player.request('DESCRIBE', url);
      if (d.status === 200) {
        const s = await player.request('SETUP', `${url}/trackID=0`, ['Transport: RTP/AVP/TCP;unicast;interleaved=0-1']);
        await player.request('PLAY', url, [`Session: ${sessionOf(s.head)}`]);
      }
    }
    for (let k = 1 + f.int(20); k > 0; k -= 1) {
      const payload = f.bytes(f.int(1500));
      const head = Buffer.from([0x24, f.pick([0, 1, 2, 3, f.int(256)]), 0, 0]);
      head.writeUInt16BE(payload.length, 2);
      c.write(Buffer.concat([head, payload]));
    }
    if (f.chance(0.3)) await c.request('TEARDOWN', url, [`Session: ${session}`]);
    if (player) {
      await c.end();
      // The player is closed by the server when the publisher goes.
      await player.done;
      messages += player.messages;
    }
  }
  await c.end();
  return messages + c.messages;
}

describe('mock-camera under fuzzing', () => {
  let camera: MockCamera;
  const logged: { level: number; msg: string }[] = [];

  beforeAll(async () => {
    requireTool('ffprobe');
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) {
          if (line.trim() !== '') logged.push(JSON.parse(line) as { level: number; msg: string });
        }
        done();
      },
    });
    camera = await startMockCamera({
      streams: `${PATH}:h264:160x120:10:10:pcma`,
      rtpPortRange: '36000-36999',
      log: pino({ level: 'warn' }, sink),
    });
  });

  afterAll(async () => {
    await camera?.close();
  });

  it(`answers ${CASES} random and malformed cases (>= 10,000 requests) without crashing (seed ${SEED})`, async () => {
    const f = new Fuzzer(prng(SEED));
    const cases = Array.from({ length: CASES }, () => generate(f, camera.port, PATH));
    const messages = cases.reduce((n, c) => n + c.messages, 0);
    expect(messages).toBeGreaterThanOrEqual(10_000);

    const problems: string[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < cases.length && problems.length < 5) {
        const index = next;
        next += 1;
        const c = cases[index] as Case;
        try {
          // Each case splits its bytes with its own generator: the same seed replays the same writes.
          const replies = checkReplies(await exchange(new Fuzzer(prng(caseSeed(SEED, index))), camera.port, c.bytes));
          for (const s of replies.statuses) statuses.set(s, (statuses.get(s) ?? 0) + 1);
          if (replies.problem) problems.push(`case ${index}: ${replies.problem}`);
        } catch (err) {
          problems.push(`case ${index}: ${(err as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, () => worker()));

    expect(problems, `seed ${SEED}`).toEqual([]);
    // The mix reached every kind of answer, not only 400s.
    for (const status of [200, 400, 404, 454, 455, 501]) expect(statuses.get(status) ?? 0, `status ${status}`).toBeGreaterThan(0);
    expect(logged.filter((l) => l.level >= 50), JSON.stringify(logged.slice(0, 5))).toEqual([]);
    console.info(`mock-camera fuzz: seed ${SEED}, ${CASES} cases, ${messages} requests; replies by status ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`);
  }, 300_000);

  it('survives stateful flows: real sessions and publications fed garbage midway', async () => {
    const FLOWS = 400;
    Conversation.answers.clear();
    const problems: string[] = [];
    let messages = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < FLOWS && problems.length < 5) {
        const index = next;
        next += 1;
        const wf = new Fuzzer(prng(caseSeed(SEED ^ 0x5eed, index)));
        try {
          const sent = index % 2 === 0 ? await playerFlow(wf, camera.port) : await publisherFlow(wf, camera.port, index);
          messages += sent;
        } catch (err) {
          problems.push(`flow ${index}: ${(err as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, () => worker()));
    expect(problems, `seed ${SEED}`).toEqual([]);
    expect(logged.filter((l) => l.level >= 50), JSON.stringify(logged.slice(0, 5))).toEqual([]);
    // The flows reached the states that matter: playing, and publishing to a player.
    for (const answer of ['SETUP 200', 'PLAY 200', 'PAUSE 200', 'RECORD 200', 'TEARDOWN 200', 'PLAY 454']) {
      expect(Conversation.answers.get(answer) ?? 0, answer).toBeGreaterThan(0);
    }
    console.info(`mock-camera fuzz flows: seed ${SEED}, ${FLOWS} flows, ${messages} messages; answers ${JSON.stringify(Object.fromEntries([...Conversation.answers].sort()))}`);
  }, 300_000);

  it('still serves a real client afterwards', async () => {
    const probe = await ffprobeStreams(camera.url());
    expect(probe.streams.map((s) => s.codec_name)).toEqual(['h264', 'pcm_alaw']);
    expect(camera.livePaths()).toEqual([PATH]);
  });
});
