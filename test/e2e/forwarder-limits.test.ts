// What one client can cost the forwarder: memory when it floods a stalled camera, connections per address,
// and connections that go silent. The real `shifu-rtsp forwarder` process, so that its RSS is its own.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, listenTcp, readAll, spawnForwarder, waitFor, type ForwarderProcess, type LogLine, type TestServer } from './forwarder-support.js';

const MiB = 1024 * 1024;
/** How much the forwarder may grow while one client floods it (the issue saw 143 MiB; the pod's limit is 256 MiB). */
const RSS_GROWTH_LIMIT = 32 * MiB;

const cleanup: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function rssBytes(pid: number): number {
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (kib === undefined) throw new Error(`no VmRSS for ${pid}`);
  return Number(kib) * 1024;
}

/**
 * A camera that has stalled: it accepts and then never reads nor answers. Only its first connection stalls;
 * later ones echo, so that a second client shows whether the forwarder still serves anyone.
 */
async function stalledCamera(): Promise<TestServer & { readonly stalled: () => boolean }> {
  let accepted = 0;
  const server = await listenTcp((socket) => {
    accepted += 1;
    if (accepted === 1) socket.pause();
    else socket.pipe(socket);
  });
  cleanup.push(() => server.close());
  return Object.assign(server, { stalled: () => accepted >= 1 });
}

async function forwarder(camera: TestServer, args: readonly string[]): Promise<{ proc: ForwarderProcess; listen: { host: string; port: number } }> {
  const proc = spawnForwarder([
    '--upstream', `${camera.address.host}:${camera.address.port}`,
    '--listen', '127.0.0.1:0',
    '--health-listen', '127.0.0.1:0',
    ...args,
  ]);
  cleanup.push(() => proc.stop('SIGKILL'));
  const { listen } = await proc.ready();
  return { proc, listen };
}

function connectFrom(localAddress: string, to: { host: string; port: number }): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: to.host, port: to.port, localAddress, allowHalfOpen: true });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** The close line the forwarder logged for the client on local port `port` (either mode). */
function closeLine(lines: readonly LogLine[], port: number): LogLine | undefined {
  return lines.find((l) => (l.msg === 'rtsp client closed' || l.msg === 'connection closed') && String(l.peer).endsWith(`:${port}`));
}

/** One line sent through the forwarder, and what came back before the connection ended. */
async function roundTrip(socket: net.Socket, text: string): Promise<string> {
  const back = readAll(socket);
  socket.end(text);
  const { data } = await back;
  return data.toString('latin1');
}

const OPTIONS = Buffer.from('OPTIONS rtsp://127.0.0.1/stream RTSP/1.0\r\nCSeq: 2\r\n\r\n');

describe('forwarder: a client that floods a stalled camera', () => {
  it.each(['auto', 'tcp'])(
    '--mode %s: 8 MiB of pipelined OPTIONS behind a DESCRIBE the camera never answers grow the forwarder by less than 32 MiB, and another client is served meanwhile',
    async (mode) => {
      const camera = await stalledCamera();
      const { proc, listen } = await forwarder(camera, ['--mode', mode, '--idle-timeout', '5']);
      const baseline = rssBytes(proc.pid);

      // The flooding client never reads the answers either.
      const flood = await connect(listen);
      flood.pause();
      flood.on('error', () => undefined);
      const floodPort = flood.localPort ?? 0;
      // One write: the first read (where --mode auto looks for a request line) already holds many requests.
      const describe = Buffer.from('DESCRIBE rtsp://127.0.0.1/stream RTSP/1.0\r\nCSeq: 1\r\n\r\n');
      flood.write(Buffer.concat([describe, ...Array.from({ length: Math.ceil((8 * MiB) / OPTIONS.length) }, () => OPTIONS)]));
      await waitFor('the camera connection', () => camera.stalled());

      const other = await connect(listen);
      const answer = await roundTrip(other, mode === 'tcp' ? 'ping\n' : 'OPTIONS rtsp://127.0.0.1/stream RTSP/1.0\r\nCSeq: 1\r\n\r\n');
      expect(answer).toMatch(mode === 'tcp' ? /^ping\n$/ : /^RTSP\/1\.0 200 OK\r\n/);

      // Until the flooding connection is closed (idle once nothing moves), or the forwarder has grown too much.
      let peak = 0;
      await waitFor(
        'the flooding connection to close',
        () => {
          peak = Math.max(peak, rssBytes(proc.pid) - baseline);
          return peak >= RSS_GROWTH_LIMIT || closeLine(proc.lines, floodPort) !== undefined;
        },
        60_000,
      );
      expect(Math.round(peak / MiB), 'MiB the forwarder grew').toBeLessThan(RSS_GROWTH_LIMIT / MiB);
      expect(closeLine(proc.lines, floodPort)?.reason).toBe('idle-timeout');
      flood.destroy();
    },
    90_000,
  );
});

describe('forwarder: connections per client address', () => {
  it('refuses a client address its third connection with --max-connections-per-client 2, while another address connects', async () => {
    const camera = await listenTcp((socket) => socket.pipe(socket));
    cleanup.push(() => camera.close());
    const { proc, listen } = await forwarder(camera, ['--max-connections-per-client', '2']);

    const first = await connectFrom('127.0.0.1', listen);
    const second = await connectFrom('127.0.0.1', listen);
    for (const socket of [first, second]) socket.write('hello\n');
    await waitFor('two relays', () => camera.connections.size === 2);

    // Reset at once: the reset may even beat the client's own 'connect'.
    const refused = await new Promise<{ data: number; error: string | undefined }>((resolve) => {
      const third = net.connect({ host: listen.host, port: listen.port, localAddress: '127.0.0.1' });
      let data = 0;
      let error: string | undefined;
      third.on('data', (chunk: Buffer) => (data += chunk.length));
      third.on('error', (err: NodeJS.ErrnoException) => (error = err.code));
      third.on('close', () => resolve({ data, error }));
    });
    expect(refused).toEqual({ data: 0, error: 'ECONNRESET' });
    await waitFor('the refusal logged', () => proc.lines.some((l) => l.msg === 'connection refused: connection limit per client address reached'));

    const elsewhere = await connectFrom('127.0.0.2', listen);
    expect(await roundTrip(elsewhere, 'from 127.0.0.2\n')).toBe('from 127.0.0.2\n');

    // A closed connection gives its address the slot back.
    const firstPort = first.localPort ?? 0;
    expect(await roundTrip(first, 'bye\n')).toBe('hello\nbye\n');
    await waitFor('the first connection logged closed', () => closeLine(proc.lines, firstPort) !== undefined);
    const again = await connectFrom('127.0.0.1', listen);
    expect(await roundTrip(again, 'again\n')).toBe('again\n');
    second.destroy();
  }, 60_000);
});

describe('forwarder: silent connections', () => {
  it('closes an RTSP-mode client that has gone silent after its OPTIONS, after the idle timeout', async () => {
    const camera = await listenTcp(() => undefined);
    cleanup.push(() => camera.close());
    const { proc, listen } = await forwarder(camera, ['--idle-timeout', '1']);
    const client = await connect(listen);
    const port = client.localPort ?? 0;
    const got = readAll(client);
    client.write('OPTIONS rtsp://127.0.0.1/stream RTSP/1.0\r\nCSeq: 1\r\n\r\n');
    const { data, error } = await got;
    expect(data.toString('latin1')).toMatch(/^RTSP\/1\.0 200 OK\r\n/);
    expect(error).toBeUndefined();
    await waitFor('the close line', () => closeLine(proc.lines, port) !== undefined);
    expect(closeLine(proc.lines, port)).toMatchObject({ mode: 'rtsp', reason: 'idle-timeout' });
  }, 30_000);
});
