// Loads for the forwarder bench: iperf3 throughput, paced 8 Mbit/s echo streams with round-trip
// times, and idle connections. All on 127.0.0.1.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { quietKill, startChild, waitListening, type Proxy } from './forwarder-proxies.js';

/** Bits per second iperf3 measured at the receiver; `reverse` sends device -> client (-R). */
export function iperf3(port: number, seconds: number, reverse: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const args = ['-c', '127.0.0.1', '-p', String(port), '-t', String(seconds), '-J', ...(reverse ? ['-R'] : [])];
    const child = spawn('iperf3', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 10) * 1000);
    child.once('error', reject);
    child.once('close', () => {
      clearTimeout(timer);
      try {
        const report = JSON.parse(out) as { end?: { sum_received?: { bits_per_second?: number } }; error?: string };
        const bps = report.end?.sum_received?.bits_per_second;
        if (typeof bps === 'number') resolve(bps);
        else reject(new Error(`iperf3 through port ${port}: ${report.error ?? 'no result'}`));
      } catch {
        reject(new Error(`iperf3 through port ${port} printed no JSON`));
      }
    });
  });
}

/** `iperf3 -s` for the device side of the throughput runs. */
export async function startIperfServer(port: number): Promise<{ stop(): void }> {
  const child = startChild('iperf3', ['-s', '-p', String(port), '-B', '127.0.0.1']);
  await waitListening(port, child);
  return { stop: () => quietKill(child) };
}

// The echo device runs in its own process so its work does not delay our timestamps.
const ECHO_SOURCE = `
const net = require('node:net');
const server = net.createServer((s) => { s.setNoDelay(true); s.on('error', () => {}); s.pipe(s); });
server.maxConnections = 20000;
server.listen(Number(process.argv[1]), '127.0.0.1', 2048);
`;

export async function startEchoDevice(port: number): Promise<{ stop(): void }> {
  const child = startChild(process.execPath, ['-e', ECHO_SOURCE, String(port)]);
  await waitListening(port, child);
  return { stop: () => quietKill(child) };
}

export interface StreamLoad {
  readonly streams: number;
  /** Per stream, each direction. */
  readonly bitsPerSecond: number;
  readonly warmupMs: number;
  readonly measureMs: number;
}

export interface StreamResult {
  /** Round-trip times (ms) of messages sent during the measuring window. */
  readonly rttMs: number[];
  /** Messages sent but not echoed back by the end: a stalled proxy shows here. */
  readonly lost: number;
  readonly cpuSeconds: number;
  readonly seconds: number;
}

const MESSAGE_BYTES = 10_000;

/**
 * `streams` connections through `proxy` to the echo device, each sending one MESSAGE_BYTES message
 * per tick at `bitsPerSecond`, stamped with the send time; the echo's arrival gives the round trip.
 * `measureCpu` reads the proxy's CPU seconds at the start and end of the measuring window.
 */
export async function pacedStreams(
  proxy: Proxy,
  load: StreamLoad,
  measureCpu: () => number,
): Promise<StreamResult> {
  const intervalMs = (MESSAGE_BYTES * 8 * 1000) / load.bitsPerSecond;
  const rtt: number[] = [];
  let measuring = false;
  let sent = 0;
  const sockets: net.Socket[] = [];
  const timers: NodeJS.Timeout[] = [];

  for (let i = 0; i < load.streams; i += 1) {
    const socket = net.connect({ port: proxy.port, host: '127.0.0.1', noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.on('error', () => undefined);
    sockets.push(socket);
    // Re-frame the echoed byte stream into messages; the first 8 bytes of each are its send time.
    let partial = 0;
    const stamp = Buffer.alloc(8);
    socket.on('data', (chunk: Buffer) => {
      let offset = 0;
      while (offset < chunk.length) {
        const take = Math.min(MESSAGE_BYTES - partial, chunk.length - offset);
        if (partial < 8) chunk.copy(stamp, partial, offset, offset + Math.min(take, 8 - partial));
        partial += take;
        offset += take;
        if (partial === MESSAGE_BYTES) {
          const sentAt = stamp.readDoubleLE(0);
          if (sentAt >= 0) rtt.push(performance.now() - sentAt);
          partial = 0;
        }
      }
    });
    // Spread the streams over the tick so they do not all send at the same instant.
    const phase = (i / load.streams) * intervalMs;
    // One message buffer per stream, reused while the socket has flushed it: the sender's own GC stays out of the numbers.
    const reusable = Buffer.alloc(MESSAGE_BYTES);
    timers.push(
      setTimeout(() => {
        timers.push(
          setInterval(() => {
            const message = socket.writableLength === 0 ? reusable : Buffer.alloc(MESSAGE_BYTES);
            // Warm-up messages carry -1: echoed, but not counted.
            message.writeDoubleLE(measuring ? performance.now() : -1, 0);
            socket.write(message);
            if (measuring) sent += 1;
          }, intervalMs),
        );
      }, phase),
    );
  }

  await new Promise((r) => setTimeout(r, load.warmupMs));
  const cpuBefore = measureCpu();
  const started = performance.now();
  measuring = true;
  await new Promise((r) => setTimeout(r, load.measureMs));
  measuring = false;
  const cpuSeconds = measureCpu() - cpuBefore;
  const seconds = (performance.now() - started) / 1000;
  // Let the last measured messages come back.
  await new Promise((r) => setTimeout(r, 500));
  for (const timer of timers) clearTimeout(timer);
  for (const socket of sockets) socket.destroy();
  return { rttMs: rtt, lost: Math.max(0, sent - rtt.length), cpuSeconds, seconds };
}

/** Opens `count` connections through the proxy and keeps them open until `close()`. */
export async function idleConnections(port: number, count: number): Promise<{ close(): void }> {
  const sockets: net.Socket[] = [];
  const batch = 50;
  for (let i = 0; i < count; i += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, count - i) }, async () => {
        const socket = net.connect({ port, host: '127.0.0.1' });
        socket.on('error', () => undefined);
        await new Promise<void>((resolve) => {
          socket.once('connect', resolve);
          socket.once('close', () => resolve());
        });
        sockets.push(socket);
      }),
    );
  }
  // One byte each way through every connection, so the proxy has really dialled the device for all.
  await Promise.all(
    sockets.map(
      (socket) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 5000);
          socket.once('data', () => {
            clearTimeout(timer);
            resolve();
          });
          socket.write('.');
        }),
    ),
  );
  return { close: () => sockets.forEach((s) => s.destroy()) };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}
