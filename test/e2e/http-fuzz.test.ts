// Fuzzing every HTTP server of ours over raw TCP: `shifu-rtsp control` (local), control under
// functions-framework (as Knative runs it), the recorder's API, the playback server and the forwarder's
// health server, each the real process. 10,000 seeded malformed requests each (HTTP_FUZZ_SEED reproduces a
// run): every answer that arrives is a 2xx-4xx, never a 5xx, and the process still answers afterwards.
// Over 400 lines because the fuzzer (the seeded request generator and the raw exchange) is one harness, and
// each server under it is a few lines of target.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendToJournal, journalPathOf } from '../../functions/recorder/index.js';
import { segmentFixture } from '../support/segment.js';
import { requireTool } from './fixtures/camera.js';
import { freePort, startCli, type CliProcess } from './support/recorder-process.js';
import { caseSeed, Fuzzer, prng } from './support/rtsp-fuzz.js';

const SEED = Number(process.env.HTTP_FUZZ_SEED ?? 20_261_206);
const CASES = 10_000;
const WORKERS = 24;
/** The recorder's API token; the cases never send it with a POST, so recording stays off (and /ready 200). */
const RECORDER_TOKEN = 'fuzz-recorder-token-0123456789';
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** What a case may aim at on one server: its real routes, so the garbage reaches the handlers too. */
interface Target {
  readonly name: string;
  readonly port: () => number;
  readonly paths: readonly string[];
  readonly token?: string;
  /** A request every healthy server of this kind answers 200. */
  readonly good: string;
  readonly alive: () => boolean;
}

const PROTO_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'isPrototypeOf'];
const QUERY_KEYS = ['device', 'devices', 'wait', 'timeoutSeconds', 'format', 'start', 'end', 'duration', 'access_token', ...PROTO_NAMES];
const JSON_KEYS = ['device', 'wait', 'timeoutSeconds', 'segmentSeconds', 'format', 'audio', 'storagePath', 'retainBytes', ...PROTO_NAMES];

function value(f: Fuzzer): string {
  return f.pick([
    () => f.token(),
    () => f.pick(PROTO_NAMES),
    () => 'cam1',
    () => 'true',
    () => String(f.int(1000) - 10),
    () => '1e999',
    () => '%',
    () => '%zz',
    () => '%E0%A4%A',
    () => '%00',
    () => '2026-11-24T10:00:00Z',
    () => '',
    () => 'a'.repeat(f.int(5000)),
  ])();
}

function query(f: Fuzzer): string {
  const n = f.int(4);
  if (n === 0) return f.pick(['', '?', '?&', '?=', '?==', '?%', '#frag']);
  return `?${Array.from({ length: n }, () => `${f.pick(QUERY_KEYS)}${f.chance(0.1) ? '[]' : ''}=${value(f)}`).join('&')}`;
}

function target(f: Fuzzer, t: Target): string {
  const route = f.pick(t.paths);
  return f.pick([
    () => route,
    () => `${route}${query(f)}`,
    () => `${route}${query(f)}`,
    () => 'http://a:b/',
    () => `http://x${route}${query(f)}`,
    () => `http://[::1${route}`,
    () => `https://a:99999${route}`,
    () => `//${f.token()}${route}`,
    () => '*',
    () => `${route}%`,
    () => `${route}/%zz`,
    () => `/%E0%A4%A${route}`,
    () => `/${f.pick(PROTO_NAMES)}`,
    () => f.pick(PROTO_NAMES),
    () => `${route}/${f.pick(PROTO_NAMES)}`,
    () => `/files/${f.pick(PROTO_NAMES)}/${f.pick(PROTO_NAMES)}`,
    () => `/files/cam1/..%2f..%2f..%2fetc%2fpasswd`,
    () => `/files/%2e%2e/cam1_20261124T100000Z.mp4`,
    () => `/api/clip?device=cam1&start=2026-11-24T10:00:00Z&duration=10&format=${f.pick(PROTO_NAMES)}`,
    // The export's own parameter, a list: odd members, repeats, a real device beside garbage, a range that holds footage.
    () => `/api/export?devices=${Array.from({ length: 1 + f.int(4) }, () => (f.chance(0.5) ? 'cam1' : value(f))).join(f.pick([',', ',,', '%2C', ', ']))}&start=2026-11-24T10:00:00Z&${f.pick(['duration', 'end'])}=${f.pick(['2', '2026-11-24T10:00:02Z', value(f)])}${f.chance(0.5) ? `&format=${f.pick(['mp4', 'mkv', 'ts', ...PROTO_NAMES])}` : ''}`,
    () => `${route}?${f.pick(PROTO_NAMES)}=${f.pick(PROTO_NAMES)}`,
    () => `/${'a/'.repeat(f.int(3000))}`,
    () => `${route}\t${f.token()}`,
    () => `${route}\x00`,
    () => `${route}\xff\xfe`,
    () => f.token(40),
  ])();
}

function jsonBody(f: Fuzzer, depth = 0): unknown {
  switch (f.int(depth > 3 ? 4 : 7)) {
    case 0:
      return f.chance(0.5) ? value(f) : f.pick(PROTO_NAMES);
    case 1:
      return f.int(1_000_000) - 1000;
    case 2:
      return f.pick([true, false, null, 1e308, -0, 0.5]);
    case 3:
      return 'cam1';
    case 4:
      return Array.from({ length: f.int(4) }, () => jsonBody(f, depth + 1));
    default: {
      // JSON text, so that __proto__ stays an own key as a client would send it.
      return Object.fromEntries(Array.from({ length: f.int(5) }, () => [f.pick(JSON_KEYS), jsonBody(f, depth + 1)]));
    }
  }
}

function jsonText(f: Fuzzer): string {
  const body = jsonBody(f);
  let text = JSON.stringify(body);
  // Object.fromEntries never makes a __proto__ key from JSON's point of view; write some by hand.
  if (f.chance(0.3)) text = `{"__proto__":{"device":"cam1","polluted":true},"constructor":{"prototype":{"x":1}}${f.chance(0.5) ? ',"device":"cam1"' : ''}}`;
  return text;
}

function body(f: Fuzzer): string | Buffer {
  return f.pick<() => string | Buffer>([
    () => '',
    () => jsonText(f),
    () => jsonText(f),
    () => jsonText(f).slice(0, f.int(20)),
    () => '{"device":',
    () => `${'['.repeat(5000 + f.int(5000))}`,
    () => f.token(200),
    () => f.bytes(1 + f.int(500)),
    () => `device=cam1&wait=true`,
    () => (f.chance(0.05) ? 'x'.repeat((1 << 20) + 10) : '{}'),
  ])();
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/cloudevents+json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json\x00',
  'application/__proto__+json',
  'application/jsonx',
  '',
  ';;;',
];

/** One request, well formed or not; `last` asks the server to close after answering. */
function request(f: Fuzzer, t: Target, last: boolean): Buffer {
  const method = f.chance(0.85)
    ? f.pick(['GET', 'GET', 'POST', 'POST', 'HEAD'])
    : f.pick(['PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT', 'PROPFIND', 'get', 'G ET', '', '\x00GET', 'GET\x7f', f.token()]);
  const version = f.chance(0.9) ? 'HTTP/1.1' : f.pick(['HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x', 'HTTP/0.9', '', 'http/1.1', 'HTTP/1.', 'RTSP/1.0']);
  const headers: string[] = [];
  if (f.chance(0.92)) headers.push(`Host: ${f.chance(0.95) ? 'x' : f.pick(['', 'a b', '[::1', '__proto__'])}`);
  if (f.chance(0.03)) headers.push('Host: y');
  if (t.token && method !== 'POST' && f.chance(0.3)) headers.push(`Authorization: Bearer ${t.token}`);
  if (f.chance(0.1)) headers.push(`Authorization: ${f.pick(['Bearer ', 'Basic ', 'Bearer', ''])}${f.token(40)}`);
  const payload = method === 'GET' && f.chance(0.8) ? '' : body(f);
  const size = Buffer.byteLength(payload);
  if (f.chance(0.7)) headers.push(`Content-Type: ${f.pick(CONTENT_TYPES)}`);
  let framed: Buffer = Buffer.from(payload);
  const framing = f.int(10);
  if (framing < 6) {
    if (size > 0 || f.chance(0.3)) headers.push(`Content-Length: ${size}`);
  } else if (framing === 6) {
    headers.push(`Content-Length: ${f.pick(['-1', 'abc', '1e3', '99999999999999999999', '+5', ` ${size}`, `${size}, ${size + 1}`, `${size + 10}`])}`);
  } else if (framing === 7) {
    headers.push(`Content-Length: ${size}`, `Content-Length: ${size + f.int(3)}`);
  } else if (framing === 8) {
    headers.push('Transfer-Encoding: chunked');
    if (f.chance(0.3)) headers.push(`Content-Length: ${size}`);
    framed = f.chance(0.5)
      ? Buffer.concat([Buffer.from(`${size.toString(16)}\r\n`), framed, Buffer.from('\r\n0\r\n\r\n')])
      : Buffer.from(f.pick([`zz\r\n${payload.toString()}\r\n0\r\n\r\n`, `5\r\nabc\r\n0\r\n\r\n`, `-1\r\n\r\n`, `ffffffffffffffff\r\nx\r\n`, `0;${'e'.repeat(20000)}\r\n\r\n`, `1\r\nx\r\n0\r\nTrailer: ${f.token()}\r\n\r\n`]));
  } else {
    headers.push(`Transfer-Encoding: ${f.pick(['gzip', 'chunked, gzip', 'identity', 'chunked\x00', ''])}`);
  }
  if (f.chance(0.1)) headers.push(f.pick(['no colon', ': empty name', ' folded', 'Bad Name: x', 'X-Nul: a\x00b', 'X-Del: \x7f', '__proto__: x', 'constructor: y', 'Expect: 100-continue', 'Connection: upgrade\r\nUpgrade: websocket', 'X-Latin: \xe9\xff']));
  if (f.chance(0.02)) headers.push(`X-Huge: ${'h'.repeat(8000 + f.int(70000))}`);
  if (f.chance(0.02)) for (let k = 0; k < 150 + f.int(3000); k += 1) headers.push(`X-${k}: ${f.token()}`);
  if (f.chance(0.2)) headers.push(`${f.token()}: ${f.token(30)}`);
  if (last) headers.push('Connection: close');
  const eol = f.chance(0.97) ? '\r\n' : '\n';
  return Buffer.concat([Buffer.from(`${method} ${target(f, t)} ${version}${eol}${headers.join(eol)}${eol}${eol}`, 'latin1'), framed]);
}

/** One case: a malformed request, sometimes after a good one on the same connection, sometimes mangled. */
function generate(f: Fuzzer, t: Target): Buffer {
  const parts: Buffer[] = [];
  if (f.chance(0.15)) parts.push(Buffer.from(`GET ${t.good} HTTP/1.1\r\nHost: x\r\n\r\n`));
  const count = 1 + (f.chance(0.15) ? f.int(3) : 0);
  for (let i = 0; i < count; i += 1) parts.push(request(f, t, i === count - 1));
  const bytes = Buffer.concat(parts);
  if (f.chance(0.1)) {
    for (let n = 1 + f.int(4); n > 0; n -= 1) {
      const at = f.int(bytes.length);
      bytes[at] = f.pick([f.int(256), 0x0a, 0x3a, 0x20, 0x25, 0x00]);
    }
  }
  if (f.chance(0.05)) return f.chance(0.5) ? bytes.subarray(0, f.int(bytes.length)) : f.bytes(1 + f.int(3000));
  return bytes;
}

/**
 * Sends a case and collects what comes back until the server closes. A case the server waits on (a body
 * shorter than its Content-Length) gets a half-close once nothing arrived for a while: its answer, if
 * any, is then whatever the server makes of the end of the stream.
 */
function exchange(port: number, bytes: Buffer, onHalfClose: () => void = () => undefined): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let quiet: NodeJS.Timeout | undefined;
    const hang = setTimeout(() => {
      socket.destroy();
      reject(new Error('the server neither answered nor closed the connection within 30 s'));
    }, 30_000);
    const rearm = (): void => {
      clearTimeout(quiet);
      quiet = setTimeout(() => {
        onHalfClose();
        socket.end();
      }, 300);
    };
    socket.on('data', (d: Buffer) => {
      received.push(d);
      rearm();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A reset after an answer is a fine way to close; a refused connection means the server is gone.
      if (err.code === 'ECONNREFUSED') reject(new Error('connection refused: the server is gone'));
    });
    socket.on('close', () => {
      clearTimeout(hang);
      clearTimeout(quiet);
      resolve(Buffer.concat(received));
    });
    socket.on('connect', () => {
      socket.write(bytes, () => rearm());
    });
  });
}

/** Status codes of the responses in what came back (each starts a line with `HTTP/1.x NNN`). */
function statusesOf(data: Buffer): number[] {
  const text = data.toString('latin1');
  return [...text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3})[ \r]/g)].map((m) => Number(m[1]));
}

function show(bytes: Buffer): string {
  const text = JSON.stringify(bytes.toString('latin1'));
  return text.length > 600 ? `${text.slice(0, 600)}... (${bytes.length} bytes)` : text;
}

async function fuzz(t: Target): Promise<void> {
  const problems: string[] = [];
  const statuses = new Map<number, number>();
  let halfClosed = 0;
  const started = Date.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < CASES && problems.length < 5) {
      const index = next;
      next += 1;
      // Each case has its own generator: HTTP_FUZZ_SEED and the index replay it alone.
      const bytes = generate(new Fuzzer(prng(caseSeed(SEED, index))), t);
      try {
        const data = await exchange(t.port(), bytes, () => (halfClosed += 1));
        const found = statusesOf(data);
        for (const s of found) statuses.set(s, (statuses.get(s) ?? 0) + 1);
        if (data.length > 0 && found.length === 0) problems.push(`case ${index}: not an HTTP answer: ${show(data)}\n  sent ${show(bytes)}`);
        const bad = found.find((s) => s >= 500 || (s < 200 && s !== 100));
        if (bad !== undefined) problems.push(`case ${index}: answered ${bad}: ${show(data)}\n  sent ${show(bytes)}`);
      } catch (err) {
        problems.push(`case ${index}: ${(err as Error).message}\n  sent ${show(bytes)}`);
      }
      if (!t.alive()) problems.push(`case ${index}: the ${t.name} process exited\n  sent ${show(bytes)}`);
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, () => worker()));
  console.info(`http fuzz ${t.name}: seed ${SEED}, ${CASES} cases in ${((Date.now() - started) / 1000).toFixed(1)} s, ${halfClosed} half-closed after a silence; answers by status ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`);
  expect(problems, `${t.name}, seed ${SEED} (HTTP_FUZZ_SEED)`).toEqual([]);
  expect(t.alive(), `${t.name} still runs`).toBe(true);
  expect((await fetch(`http://127.0.0.1:${t.port()}${t.good}`, { headers: t.token ? { authorization: `Bearer ${t.token}` } : {} })).status, `${t.name} answers ${t.good}`).toBe(200);
  // The mix reached the routes (2xx), the handlers' checks and the parser (400).
  expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
  expect([...statuses].some(([s, n]) => s >= 200 && s < 300 && n > 0)).toBe(true);
}

/** control as Knative runs it: functions-framework's main.js with our source, on a loopback check. */
async function startFunctionsFramework(dataDir: string): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(repoRoot, 'node_modules/@google-cloud/functions-framework/build/src/main.js')], {
    cwd: repoRoot,
    env: {
      ...process.env,
      FUNCTION_TARGET: 'control',
      FUNCTION_SOURCE: 'dist/functions/control/functions.js',
      FUNCTION_SIGNATURE_TYPE: 'http',
      CONTROL_BACKEND: 'local',
      DATA_DIR: dataDir,
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  await waitOk(`http://127.0.0.1:${port}/record/status`).catch((err: Error) => {
    throw new Error(`${err.message}; functions-framework said:\n${out}`);
  });
  return { child, port, output: () => out };
}

/** Polls until `url` answers 200 (a condition, not a sleep: the forwarder's first device probe). */
async function waitOk(url: string): Promise<void> {
  for (const deadline = Date.now() + 30_000; ; ) {
    if (await fetch(url).then((r) => r.status === 200, () => false)) return;
    if (Date.now() > deadline) throw new Error(`${url} never answered 200`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

let tmp: string;
const stops: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  requireTool('ffmpeg');
  tmp = await mkdtemp(path.join(os.tmpdir(), 'shifu-http-fuzz-'));
});
afterAll(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  await rm(tmp, { recursive: true, force: true });
});

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function cliTarget(name: string, proc: CliProcess, paths: readonly string[], good: string, token?: string): Target {
  const port = Number(new URL(proc.baseUrl).port);
  return { name, port: () => port, paths, good, alive: () => running(proc.child), ...(token ? { token } : {}) };
}

let sharedControl: CliProcess | undefined;
/** One `shifu-rtsp control` for the control cases (a process start costs seconds on a busy machine). */
async function control_(): Promise<CliProcess> {
  if (!sharedControl) {
    const started = await startCli('control', ['--backend', 'local', '--data-dir', path.join(tmp, 'control')], {}, { httpFlag: 'port' });
    stops.push(() => started.stop());
    sharedControl = started;
  }
  return sharedControl;
}

describe('every HTTP server of ours answers malformed requests with a 4xx and keeps running', () => {
  it('control: an absolute request target with a bad port (the nc line of issue 21) gets 400, and control keeps running', async () => {
    const control = await control_();
    const data = await exchange(Number(new URL(control.baseUrl).port), Buffer.from('GET http://a:b/ HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(statusesOf(data), data.toString()).toEqual([400]);
    expect(running(control.child), control.output().slice(-2000)).toBe(true);
    expect((await fetch(`${control.baseUrl}/health`)).status).toBe(200);
  });

  it('control: a body over 1 MiB gets its 413 before the connection closes', async () => {
    const control = await control_();
    const body = `{"device":"${'x'.repeat((1 << 20) + 10)}"}`;
    const data = await exchange(Number(new URL(control.baseUrl).port), Buffer.from(`POST /record/off HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`));
    expect(statusesOf(data), data.toString().slice(0, 300)).toEqual([413]);
    expect((await fetch(`${control.baseUrl}/health`)).status).toBe(200);
  });

});

// Each server is its own process: fuzzing them side by side keeps both cores busy.
describe.concurrent(`10,000 seeded malformed requests to each server (HTTP_FUZZ_SEED=${SEED})`, () => {
  it(`shifu-rtsp control (local) (seed ${SEED})`, async () => {
    await fuzz(cliTarget('control', await control_(), ['/record/on', '/record/off', '/record/status', '/health', '/ready', '/record/off/'], '/health'));
  }, 120_000);

  it(`control under functions-framework (seed ${SEED})`, async () => {
    const ff = await startFunctionsFramework(path.join(tmp, 'ff'));
    stops.push(async () => {
      if (running(ff.child)) ff.child.kill('SIGTERM');
    });
    await fuzz({ name: 'functions-framework control', port: () => ff.port, paths: ['/record/on', '/record/off', '/record/status', '/'], good: '/record/status', alive: () => running(ff.child) });
  }, 120_000);

  it(`recorder API, idle, with a token (seed ${SEED})`, async () => {
    const recorder = await startCli(
      'recorder',
      ['--url', 'rtsp://127.0.0.1:9/none', '--idle', '--out', path.join(tmp, 'recorder'), '--device', 'cam1'],
      { RECORDER_API_TOKEN: RECORDER_TOKEN },
    );
    stops.push(() => recorder.stop());
    await fuzz(cliTarget('recorder', recorder, ['/record/on', '/record/off', '/record/status', '/health', '/ready', '/metrics'], '/ready', RECORDER_TOKEN));
  }, 120_000);

  it(`playback server, with footage of cam1 (seed ${SEED})`, async () => {
    // Real footage, so that cases reach past the device check into clip planning and file serving.
    const root = path.join(tmp, 'playback');
    const placed = segmentFixture({ device: 'cam1', start: '2026-11-24T10:00:00.000Z', seconds: 2, root }, { video: { codec: 'h264', width: 160, height: 120, fps: 10 } });
    await mkdir(path.dirname(placed.absolutePath), { recursive: true });
    const made = spawnSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10', '-t', '2', '-c:v', 'libx264', '-g', '10', '-movflags', '+frag_keyframe+empty_moov+default_base_moof', placed.absolutePath], { encoding: 'utf8' });
    expect(made.status, made.stderr).toBe(0);
    const bytes = await readFile(placed.absolutePath);
    await mkdir(path.dirname(journalPathOf(root, 'cam1')), { recursive: true });
    await appendToJournal(journalPathOf(root, 'cam1'), { ...placed, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    // A stand-in forwarder behind the live proxy (/live/cam1/...), answering as the live port does, so that every
    // 5xx would be the proxy's own.
    const forwarderLive = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.method === 'POST') res.writeHead(201, { 'content-type': 'application/sdp', location: `/s/whep/${'ab'.repeat(12)}` }).end('v=0\r\n');
        else res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl' }).end('#EXTM3U\n');
      });
    });
    await new Promise<void>((resolve) => forwarderLive.listen(0, '127.0.0.1', resolve));
    stops.push(() => new Promise((resolve) => forwarderLive.close(resolve)));
    const livePort = (forwarderLive.address() as net.AddressInfo).port;
    const playback = await startCli('playback', ['--root', root], { PLAYBACK_LIVE_URLS: `cam1=http://127.0.0.1:${livePort}/s` }, { httpFlag: 'listen' });
    stops.push(() => playback.stop());
    await fuzz(cliTarget('playback', playback, ['/', '/app.js', '/favicon.svg', '/api/session', '/health', '/api/devices', '/api/timeline', '/api/clip', '/files/cam1/cam1_20261124T100000Z.mp4', '/files/', '/api/export', '/api/hls/cam1.m3u8', '/api/hls/cam1/piece.ts', '/api/thumbnail', '/hls-player.js', '/thumbnail.js', '/hls.min.js', '/metrics', '/api/live', '/live-grid.js', '/live/cam1/index.m3u8', '/live/cam1/whep', `/live/cam1/whep/${'ab'.repeat(12)}`, '/live/'], '/api/devices'));
    // The mix reached /api/export past its checks too: zips of cam1's footage were started (the fuzz's client
    // leaves after 300 ms of silence, so most end aborted).
    const metrics = await (await fetch(`${playback.baseUrl}/metrics`)).text();
    const zips = [...metrics.matchAll(/^shifu_rtsp_playback_exports_total\{outcome="\w+"\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    expect(zips, 'zips started by the fuzz').toBeGreaterThan(0);
  }, 120_000);

  it(`forwarder health server (seed ${SEED})`, async () => {
    // A device that accepts TCP, so /ready is 200 and every 503 would be the fuzz's doing.
    const device = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => device.listen(0, '127.0.0.1', resolve));
    stops.push(() => new Promise((resolve) => device.close(resolve)));
    const devicePort = (device.address() as net.AddressInfo).port;
    const forwarder = await startCli('forwarder', ['--upstream', `127.0.0.1:${devicePort}`, '--listen', `127.0.0.1:${await freePort()}`], {}, { httpFlag: 'health-listen' });
    stops.push(() => forwarder.stop());
    await waitOk(`${forwarder.baseUrl}/ready`);
    await fuzz(cliTarget('forwarder', forwarder, ['/health', '/ready', '/metrics'], '/ready'));
  }, 120_000);

  it(`forwarder live view port (seed ${SEED})`, async () => {
    // The routes that open no camera stream: the page, its scripts, WHEP offers (checked before any camera
    // session opens) and session deletes. A playlist request would start a stream per case.
    const device = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => device.listen(0, '127.0.0.1', resolve));
    stops.push(() => new Promise((resolve) => device.close(resolve)));
    const devicePort = (device.address() as net.AddressInfo).port;
    const forwarder = await startCli(
      'forwarder',
      ['--upstream', `127.0.0.1:${devicePort}`, '--listen', `127.0.0.1:${await freePort()}`, '--health-listen', `127.0.0.1:${await freePort()}`],
      {},
      { httpFlag: 'live-listen' },
    );
    stops.push(() => forwarder.stop());
    await waitOk(`${forwarder.baseUrl}/_live/player.js`);
    await fuzz(cliTarget('forwarder live', forwarder, ['/cam/', '/cam/whep', '/cam/whep/0123456789abcdef', '/_live/player.js', '/_live/hls.min.js', '/Streaming/Channels/101/'], '/cam/'));
  }, 120_000);
});
