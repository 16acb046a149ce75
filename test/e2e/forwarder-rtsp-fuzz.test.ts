// Fuzzing the forwarder's RTSP mode front door with the mock camera's fuzzer: >= 10,000 random and malformed
// requests from a seeded PRNG (FORWARDER_FUZZ_SEED reproduces a run), a real GStreamer camera behind it.
// Every reply must be a well-formed RTSP response (a malformed request: 400, then the connection closes),
// the forwarder must log no internal error, and a real client must still play afterwards.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startForwarder, type Forwarder } from '../../functions/shifu-tcp/index.js';
import { requireTool, startGstCamera, type GstCamera } from './fixtures/camera.js';
import { ffprobeStreams } from './fixtures/player.js';
import { defaultSettings, waitFor } from './forwarder-support.js';
import { caseSeed, checkReplies, exchange, Fuzzer, generate, prng, type Case } from './support/rtsp-fuzz.js';

const SEED = Number(process.env.FORWARDER_FUZZ_SEED ?? 20_261_203);
const CASES = 10_000;
const WORKERS = 8;
const PATH = '/fuzz/cam';

describe('forwarder RTSP mode under fuzzing', () => {
  let camera: GstCamera;
  let forwarder: Forwarder;
  const logged: { level: number; msg: string; reason?: string }[] = [];

  beforeAll(async () => {
    requireTool('ffprobe');
    requireTool('gst-camera');
    // Shared media: thousands of DESCRIBEs reuse one pipeline, like a real camera's single encoder.
    camera = await startGstCamera({ paths: [PATH], video: 'h264', audio: 'pcma', shared: true, width: 160, height: 120 });
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line.trim() !== '') logged.push(JSON.parse(line) as { level: number; msg: string });
        done();
      },
    });
    forwarder = await startForwarder(
      defaultSettings({ host: '127.0.0.1', port: camera.port }, { mode: 'rtsp', lingerMs: 1000, rtpPorts: { min: 37000, max: 37999 } }),
      { log: pino({ level: 'info' }, sink) },
    );
  });

  afterAll(async () => {
    await forwarder?.stop();
    await camera?.stop();
  });

  it(`answers ${CASES} random and malformed cases (>= 10,000 requests) with RTSP responses, never crashing (seed ${SEED})`, async () => {
    const port = forwarder.address.port;
    const f = new Fuzzer(prng(SEED));
    const cases = Array.from({ length: CASES }, () => generate(f, port, PATH));
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
          const replies = checkReplies(await exchange(new Fuzzer(prng(caseSeed(SEED, index))), port, c.bytes));
          for (const s of replies.statuses) statuses.set(s, (statuses.get(s) ?? 0) + 1);
          if (replies.problem) problems.push(`case ${index}: ${replies.problem}`);
        } catch (err) {
          problems.push(`case ${index}: ${(err as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, () => worker()));

    expect(problems, `seed ${SEED}`).toEqual([]);
    // Our own answers (400, 454, 461) and the camera's, passed through (200 to DESCRIBE, 404 for unknown paths).
    for (const status of [200, 400, 404, 454, 461]) expect(statuses.get(status) ?? 0, `status ${status}`).toBeGreaterThan(0);
    expect(logged.filter((l) => l.level >= 50), JSON.stringify(logged.filter((l) => l.level >= 50).slice(0, 5))).toEqual([]);
    // One log line per client connection (its last sockets close a moment after the client saw the close).
    const closes = (): number => logged.filter((l) => l.msg === 'rtsp client closed').length;
    await waitFor(`${CASES} client log lines`, () => closes() >= CASES, 15_000);
    expect(closes()).toBe(CASES);
    console.info(`forwarder fuzz: seed ${SEED}, ${CASES} cases, ${messages} requests; replies by status ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`);
  }, 600_000);

  it('still serves a real client afterwards, and left no client or camera connection open', async () => {
    const probe = await ffprobeStreams(`rtsp://127.0.0.1:${forwarder.address.port}${PATH}`);
    expect(probe.streams.map((s) => s.codec_name)).toEqual(['h264', 'pcm_alaw']);
    await new Promise((r) => setTimeout(r, 1500));
    expect(forwarder.totals().active).toBe(0);
  });
});
