// Benchmark, not a test: the forwarder's RTSP mode.
//   first frame  across network namespaces (camera | forwarder | viewer), a default ffmpeg client (UDP first)
//                and rtspsrc over UDP: time to the first and to the 50th decoded frame, direct vs through the
//                forwarder (cold: the client opens the camera session; warm: it joins one that is open)
//   viewers      1, 10 and 50 viewers of one 4 Mbit/s camera: forwarder CPU and memory, RTSP mode (one camera
//                session) against TCP mode (one camera session per viewer)
import { spawn } from 'node:child_process';
import net from 'node:net';
import { RtspParser } from '../../functions/lib/index.js';
import { startGstCamera } from '../e2e/fixtures/camera.js';
import { createTestNetwork, type TestNetwork } from '../e2e/support/netns.js';
import { CLI as CLI_PATH, cpuSeconds, freePort, killAll, memoryMiB, startChild, stopChild, waitListening } from './forwarder-proxies.js';

type BenchRow = Readonly<Record<string, string | number>>;

const FIRST_FRAME_ROUNDS = 5;
const VIEWER_COUNTS = [1, 10, 50] as const;
const MEASURE_MS = 5000;
const WARMUP_MS = 2000;
const WATCHDOG_MS = 300_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round = (n: number, digits = 2): number => (Number.isFinite(n) ? Number(n.toFixed(digits)) : NaN);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[Math.floor((s.length - 1) / 2)] ?? NaN);
};

async function startForwarder(upstream: string, listen: string, args: readonly string[]): Promise<{ pid: number; port: number; stop(): Promise<void> }> {
  const port = Number(listen.split(':').pop());
  const child = startChild(process.execPath, [
    CLI_PATH,
    'forwarder',
    '--upstream',
    upstream,
    '--listen',
    listen,
    '--health-listen',
    '127.0.0.1:0',
    '--max-connections',
    '5000',
    // Every load client comes from one loopback address.
    '--max-connections-per-client',
    '5000',
    '--drain-timeout',
    '0',
    ...args,
  ]);
  await waitListening(port, child);
  return { pid: child.pid ?? -1, port, stop: () => stopChild(child) };
}


/** Seconds from start until ffmpeg (in the viewer namespace) has decoded 1 and 50 frames, read from -progress. */
function ffmpegTimes(ns: string, url: string): Promise<{ first: number; fifty: number }> {
  return new Promise((resolve) => {
    const started = performance.now();
    let first = NaN;
    let fifty = NaN;
    const child = spawn('ip', ['netns', 'exec', ns, 'ffmpeg', '-nostdin', '-v', 'error', '-i', url, '-map', '0:v:0', '-frames:v', '50', '-f', 'null', '-', '-progress', 'pipe:1', '-stats_period', '0.02'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let text = '';
    child.stdout.on('data', (b: Buffer) => {
      text += b.toString();
      for (const m of text.matchAll(/frame=(\d+)/g)) {
        const n = Number(m[1]);
        const t = (performance.now() - started) / 1000;
        if (n >= 1 && Number.isNaN(first)) first = t;
        if (n >= 50 && Number.isNaN(fifty)) fifty = t;
      }
      text = text.slice(-200);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('close', () => {
      clearTimeout(timer);
      const t = (performance.now() - started) / 1000;
      // -frames:v 50 ends right after the 50th frame: the exit is the 50th frame if progress missed it.
      resolve({ first, fifty: Number.isNaN(fifty) && !Number.isNaN(first) ? t : fifty });
    });
  });
}

/** Seconds until rtspsrc over UDP (in the viewer namespace) hands its first decoded frame on. */
function rtspsrcFirstFrame(ns: string, url: string): Promise<number> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(
      'ip',
      ['netns', 'exec', ns, 'gst-launch-1.0', '-v', 'rtspsrc', `location=${url}`, 'protocols=udp', 'latency=200', '!', 'application/x-rtp,media=video', '!', 'decodebin', '!', 'identity', 'eos-after=2', '!', 'fakesink', 'silent=false', 'sync=false'],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let done = false;
    child.stdout.on('data', (b: Buffer) => {
      if (!done && b.toString().includes('last-message = chain')) {
        done = true;
        resolve((performance.now() - started) / 1000);
        child.kill('SIGKILL');
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('close', () => {
      clearTimeout(timer);
      if (!done) resolve(NaN);
    });
  });
}

async function firstFrame(network: TestNetwork): Promise<BenchRow[]> {
  const cam = await startGstCamera({ video: 'h264', audio: 'pcma', gop: 25, fps: 25, netns: network.cameraNs, address: '0.0.0.0' });
  const upstream = `${network.cameraAddress}:${cam.port}`;
  const cold = await startForwarder(upstream, `0.0.0.0:${await freePort()}`, ['--linger', '0']);
  const warm = await startForwarder(upstream, `0.0.0.0:${await freePort()}`, ['--linger', '60']);
  // Keeps the warm forwarder's camera session open, as any other viewer would.
  const keeper = spawn('ip', ['netns', 'exec', network.viewerNs, 'ffmpeg', '-nostdin', '-v', 'quiet', '-rtsp_transport', 'tcp', '-i', `rtsp://${network.forwarderAddress}:${warm.port}${cam.path}`, '-f', 'null', '-'], { stdio: 'ignore' });
  try {
    await sleep(2000);
    const urls: Array<[string, string]> = [
      ['direct', `rtsp://${network.cameraDirectAddress}:${cam.port}${cam.path}`],
      ['forwarder, cold (opens the camera session)', `rtsp://${network.forwarderAddress}:${cold.port}${cam.path}`],
      ['forwarder, warm (joins at the next keyframe)', `rtsp://${network.forwarderAddress}:${warm.port}${cam.path}`],
    ];
    const times = new Map(urls.map(([k]) => [k, { first: [] as number[], fifty: [] as number[], rtspsrc: [] as number[] }]));
    for (let r = 0; r < FIRST_FRAME_ROUNDS; r += 1) {
      for (const [key, url] of urls) {
        const t = times.get(key)!;
        const f = await ffmpegTimes(network.viewerNs, url);
        t.first.push(f.first);
        t.fifty.push(f.fifty);
        t.rtspsrc.push(await rtspsrcFirstFrame(network.viewerNs, url));
        process.stderr.write(`[bench] first frame ${key}: ffmpeg ${round(f.first)} / ${round(f.fifty)} s, rtspsrc ${round(t.rtspsrc.at(-1) ?? NaN)} s\n`);
        // Let a cold forwarder's linger-0 session close before the next round.
        await sleep(300);
      }
    }
    const base = times.get('direct')!;
    return urls.map(([key]) => {
      const t = times.get(key)!;
      return {
        path: key,
        'ffmpeg 1st frame s': round(median(t.first)),
        'ffmpeg 50 frames s': round(median(t.fifty)),
        'ffmpeg 50 - direct s': round(median(t.fifty) - median(base.fifty)),
        'rtspsrc UDP 1st frame s': round(median(t.rtspsrc)),
        'rtspsrc - direct s': round(median(t.rtspsrc) - median(base.rtspsrc)),
        rounds: FIRST_FRAME_ROUNDS,
      };
    });
  } finally {
    keeper.kill('SIGKILL');
    await cold.stop();
    await warm.stop();
    await cam.stop();
  }
}

/** A minimal RTSP viewer: DESCRIBE, SETUP every track interleaved, PLAY, then it counts the bytes it receives. */
class CountingViewer {
  bytes = 0;
  private readonly socket: net.Socket;
  private readonly parser = new RtspParser(undefined, 'client');
  private cseq = 0;
  private waiting: ((r: { status: number; headers: ReadonlyMap<string, readonly string[]>; body: Buffer }) => void) | undefined;

  constructor(port: number) {
    this.socket = net.connect({ host: '127.0.0.1', port });
    this.socket.on('error', () => undefined);
    this.socket.on('data', (chunk: Buffer) => {
      this.bytes += chunk.length;
      for (const input of this.parser.push(chunk)) if (input.kind === 'response') this.waiting?.(input.response);
    });
  }

  private ask(method: string, url: string, headers: string[] = []): Promise<{ status: number; headers: ReadonlyMap<string, readonly string[]>; body: Buffer }> {
    this.cseq += 1;
    this.socket.write(`${method} ${url} RTSP/1.0\r\nCSeq: ${this.cseq}\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  async play(url: string): Promise<void> {
    const described = await this.ask('DESCRIBE', url, ['Accept: application/sdp']);
    const controls = [...described.body.toString().matchAll(/^a=control:(.+)$/gm)].map((m) => (m[1] ?? '').trim()).filter((c) => c !== '*');
    let session = '';
    for (const [i, control] of controls.entries()) {
      const trackUrl = /^rtsp:/.test(control) ? control : `${url}/${control}`;
      const r = await this.ask('SETUP', trackUrl, [`Transport: RTP/AVP/TCP;unicast;interleaved=${2 * i}-${2 * i + 1}`, ...(session ? [`Session: ${session}`] : [])]);
      session = (r.headers.get('session')?.[0] ?? '').split(';')[0] ?? '';
    }
    await this.ask('PLAY', url, [`Session: ${session}`]);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Exported for a run of this part alone (`node -e` on the built file). */
export async function viewers(): Promise<BenchRow[]> {
  // Noise at 4 Mbit/s: x264 cannot compress it below the bitrate, so the camera really sends 4 Mbit/s.
  // Shared media: the camera encodes once however many sessions TCP mode opens.
  const cam = await startGstCamera({ video: 'h264', audio: 'none', gop: 25, fps: 25, width: 640, height: 480, pattern: 'snow', bitrate: 4000, shared: true });
  const rows: BenchRow[] = [];
  try {
    for (const count of VIEWER_COUNTS) {
      for (const mode of ['rtsp', 'tcp'] as const) {
        const forwarder = await startForwarder(`127.0.0.1:${cam.port}`, `127.0.0.1:${await freePort()}`, ['--mode', mode]);
        const clients = Array.from({ length: count }, () => new CountingViewer(forwarder.port));
        try {
          await Promise.all(clients.map((c) => c.play(`rtsp://127.0.0.1:${forwarder.port}${cam.path}`)));
          await sleep(WARMUP_MS);
          const cpu0 = cpuSeconds(forwarder.pid);
          const bytes0 = clients.reduce((n, c) => n + c.bytes, 0);
          const t0 = performance.now();
          await sleep(MEASURE_MS);
          const seconds = (performance.now() - t0) / 1000;
          const cpu = (100 * (cpuSeconds(forwarder.pid) - cpu0)) / seconds;
          const mbits = (8 * (clients.reduce((n, c) => n + c.bytes, 0) - bytes0)) / seconds / 1e6 / count;
          const rss = memoryMiB(forwarder.pid).mib;
          rows.push({
            viewers: count,
            mode: mode === 'rtsp' ? 'rtsp (1 camera session)' : `tcp (${count} camera sessions)`,
            'Mbit/s per viewer': round(mbits, 1),
            'CPU %': round(cpu, 1),
            'CPU % per viewer': round(cpu / count, 2),
            'RSS MiB': round(rss, 1),
          });
          process.stderr.write(`[bench] ${count} viewers, ${mode}: ${round(mbits, 1)} Mbit/s each, CPU ${round(cpu, 1)} %, RSS ${round(rss, 1)} MiB\n`);
        } finally {
          for (const c of clients) c.close();
          await forwarder.stop();
        }
      }
    }
  } finally {
    await cam.stop();
  }
  return rows;
}

export async function runRtsp(): Promise<Array<[string, BenchRow[]]>> {
  const watchdog = setTimeout(() => {
    process.stderr.write(`[bench] RTSP part exceeded ${WATCHDOG_MS / 1000} s: stopping\n`);
    killAll();
    network?.remove();
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();
  let network: TestNetwork | undefined;
  try {
    network = createTestNetwork();
    const first = await firstFrame(network);
    network.remove();
    network = undefined;
    const load = await viewers();
    return [
      ['RTSP mode: time to first frame across network namespaces (median)', first],
      ['RTSP mode: viewers of one 4 Mbit/s camera, forwarder CPU and memory', load],
    ];
  } finally {
    network?.remove();
    clearTimeout(watchdog);
  }
}
