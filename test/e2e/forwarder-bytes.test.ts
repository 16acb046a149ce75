// The forwarder moves every byte both ways, in order, and closes what must be closed.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '../../functions/lib/index.js';
import { openEdgeDeviceApi, startForwarder, type Forwarder } from '../../functions/shifu-tcp/index.js';
import {
  closedHow,
  connect,
  connectOutcome,
  digestAfterEof,
  echo,
  getJson,
  listenTcp,
  readAll,
  sha256,
  defaultSettings,
  startQuietForwarder,
  waitFor,
  type TestServer,
} from './forwarder-support.js';

const MiB = 1024 * 1024;
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function device(onConnection: Parameters<typeof listenTcp>[0]): Promise<TestServer> {
  const server = await listenTcp(onConnection);
  cleanup.push(() => server.close());
  return server;
}

async function forwarderTo(server: TestServer, overrides: Parameters<typeof startQuietForwarder>[1] = {}): Promise<Forwarder> {
  const forwarder = await startQuietForwarder(server.address, overrides);
  cleanup.push(() => forwarder.stop());
  return forwarder;
}

describe('forwarder: bytes', () => {
  it('carries 64 MiB of random bytes from the client to the device intact, and the reply sent after the client half-closes', async () => {
    const server = await device(digestAfterEof);
    const forwarder = await forwarderTo(server);
    const payload = randomBytes(64 * MiB);
    const client = await connect(forwarder.address);
    const reply = readAll(client);
    // Uneven writes, so reads and writes never line up with buffer sizes.
    for (let offset = 0; offset < payload.length; ) {
      const size = Math.min(payload.length - offset, 1 + Math.floor(Math.random() * 300_000));
      if (!client.write(payload.subarray(offset, offset + size))) await once(client, 'drain');
      offset += size;
    }
    client.end();
    const { data, error } = await reply;
    expect(error).toBeUndefined();
    expect(data.toString()).toBe(`${payload.length} ${sha256(payload)}\n`);
  });

  it('in --mode auto, carries 64 MiB each way intact for a client whose first line is not RTSP, and the late reply', async () => {
    const server = await device(digestAfterEof);
    const forwarder = await forwarderTo(server, { mode: 'auto' });
    const payload = randomBytes(64 * MiB);
    const client = await connect(forwarder.address);
    const reply = readAll(client);
    for (let offset = 0; offset < payload.length; ) {
      const size = Math.min(payload.length - offset, 1 + Math.floor(Math.random() * 300_000));
      if (!client.write(payload.subarray(offset, offset + size))) await once(client, 'drain');
      offset += size;
    }
    client.end();
    const { data, error } = await reply;
    expect(error).toBeUndefined();
    expect(data.toString()).toBe(`${payload.length} ${sha256(payload)}\n`);

    const echoServer = await device(echo);
    const echoing = await forwarderTo(echoServer, { mode: 'auto' });
    const echoClient = await connect(echoing.address);
    const back = readAll(echoClient);
    const chunk = randomBytes(8 * MiB);
    echoClient.end(chunk);
    expect(sha256((await back).data)).toBe(sha256(chunk));
  });

  it('carries 64 MiB from the device to the client intact', async () => {
    const payload = randomBytes(64 * MiB);
    const server = await device((socket) => socket.end(payload));
    const forwarder = await forwarderTo(server);
    const { data, error } = await readAll(await connect(forwarder.address));
    expect(error).toBeUndefined();
    expect(data.length).toBe(payload.length);
    expect(sha256(data)).toBe(sha256(payload));
  });

  it('keeps the bytes intact for a client that reads slowly (backpressure, buffers held by pending writes)', async () => {
    const payload = randomBytes(24 * MiB);
    const server = await device((socket) => socket.end(payload));
    const forwarder = await forwarderTo(server);
    const client = await connect(forwarder.address);
    const chunks: Buffer[] = [];
    let sinceStall = 0;
    client.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      sinceStall += chunk.length;
      if (sinceStall > 2 * MiB) {
        sinceStall = 0;
        client.pause();
        setTimeout(() => client.resume(), 20);
      }
    });
    await once(client, 'end');
    const data = Buffer.concat(chunks);
    expect(data.length).toBe(payload.length);
    expect(sha256(data)).toBe(sha256(payload));
  });

  it('carries both directions at once on parallel connections (echo)', async () => {
    const server = await device(echo);
    const forwarder = await forwarderTo(server);
    const results = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const payload = randomBytes(6 * MiB);
        const client = await connect(forwarder.address);
        const back = readAll(client);
        client.end(payload);
        const { data } = await back;
        return data.equals(payload);
      }),
    );
    expect(results).toEqual([true, true, true, true, true, true]);
    await waitFor('all connections closed', () => forwarder.totals().active === 0);
    expect(forwarder.totals().bytesToDevice).toBe(36 * MiB);
    expect(forwarder.totals().bytesToClient).toBe(36 * MiB);
  });

  it('passes the device half-close to the client and keeps the client-to-device direction open', async () => {
    // The device says hello and half-closes, then digests what the client still sends.
    const server = await device((socket) => {
      socket.write('hello\n');
      socket.end();
      digestAfterEof(socket);
    });
    const forwarder = await forwarderTo(server);
    const client = await connect(forwarder.address);
    const chunks: Buffer[] = [];
    client.on('data', (c: Buffer) => chunks.push(c));
    await once(client, 'end');
    expect(Buffer.concat(chunks).toString()).toBe('hello\n');
    // The device's digest answer cannot come back (it already ended); the bytes still arrive.
    const payload = randomBytes(MiB);
    const closed = once(client, 'close');
    client.end(payload);
    await closed;
    await waitFor('device got the bytes', () => forwarder.totals().bytesToDevice === MiB);
  });
});

describe('forwarder: failures close the client', () => {
  it('closes the client at once when the device refuses the connection', async () => {
    const server = await device(() => undefined);
    const forwarder = await forwarderTo(server, { dialTimeoutMs: 1000 });
    await server.close();
    const started = Date.now();
    const how = await connectOutcome(forwarder.address);
    expect(Date.now() - started).toBeLessThan(1000 + 1000);
    expect(how).toMatch(/^(ECONNRESET|refused)$/);
    await waitFor('dial failure counted', () => forwarder.totals().dialFailures === 1);
    expect((await getJson(forwarder.healthAddress, '/ready')).status).toBe(503);
  });

  it('closes the client within the dial timeout + 1 s when the device never answers', async () => {
    // A listener whose accept queue is full: the kernel drops our SYNs, so the dial hangs.
    const blackhole = spawn('/usr/bin/python3', [
      '-c',
      [
        'import socket, time',
        's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0); port = s.getsockname()[1]',
        'fill = []',
        'for _ in range(3):',
        '    c = socket.socket(); c.setblocking(False)',
        '    try: c.connect(("127.0.0.1", port))',
        '    except BlockingIOError: pass',
        '    fill.append(c)',
        'print(port, flush=True)',
        'time.sleep(120)',
      ].join('\n'),
    ]);
    cleanup.push(async () => {
      blackhole.kill();
    });
    const [line] = (await once(createInterface({ input: blackhole.stdout }), 'line')) as [string];
    const dialTimeoutMs = 1500;
    const forwarder = await startQuietForwarder({ host: '127.0.0.1', port: Number(line) }, { dialTimeoutMs });
    cleanup.push(() => forwarder.stop());
    const started = Date.now();
    const how = await connectOutcome(forwarder.address);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeLessThan(dialTimeoutMs + 1000);
    expect(elapsed).toBeGreaterThanOrEqual(dialTimeoutMs - 100);
    expect(how).toBe('ECONNRESET');
    await waitFor('dial failure counted', () => forwarder.totals().dialFailures === 1);
  });

  it('resets the client when the device resets mid-stream', async () => {
    const server = await device((socket) => {
      socket.write(randomBytes(4 * MiB), () => setTimeout(() => socket.resetAndDestroy(), 50));
    });
    const forwarder = await forwarderTo(server);
    const client = await connect(forwarder.address);
    const { data, error } = await readAll(client);
    expect(error?.code).toBe('ECONNRESET');
    expect(data.length).toBeLessThanOrEqual(4 * MiB);
    await waitFor('relay closed', () => forwarder.totals().active === 0);
  });

  it('resets the device when the client resets', async () => {
    let deviceSide: Promise<string> | undefined;
    // The first byte marks the forwarded connection (the forwarder's probes connect too).
    const server = await device((socket) => {
      socket.once('data', () => {
        deviceSide = closedHow(socket);
      });
    });
    const forwarder = await forwarderTo(server);
    const client = await connect(forwarder.address);
    client.write('x');
    await waitFor('device connection', () => deviceSide !== undefined);
    client.resetAndDestroy();
    expect(await deviceSide).toBe('ECONNRESET');
  });

  it('closes a connection idle for longer than the idle timeout', async () => {
    const server = await device(echo);
    const forwarder = await forwarderTo(server, { idleTimeoutMs: 500 });
    const client = await connect(forwarder.address);
    const started = Date.now();
    client.write('ping');
    const how = await closedHow(client);
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(how).not.toBe('ECONNRESET');
  });

  it('refuses connections beyond --max-connections at once, and accepts again when one closes', async () => {
    const server = await device(echo);
    const forwarder = await forwarderTo(server, { maxConnections: 2 });
    const first = await connect(forwarder.address);
    const second = await connect(forwarder.address);
    await waitFor('two relays', () => forwarder.totals().active === 2);
    expect(await connectOutcome(forwarder.address)).not.toBe('end');
    expect(forwarder.totals().refused).toBe(1);
    first.destroy();
    await waitFor('one relay left', () => forwarder.totals().active === 1);
    const fourth = await connect(forwarder.address);
    const back = readAll(fourth);
    fourth.end('again');
    expect((await back).data.toString()).toBe('again');
    second.destroy();
  });
});

describe('forwarder: Kubernetes API trouble', () => {
  it('keeps forwarding and probing when the EdgeDevice status cannot be written', async () => {
    const server = await device(echo);
    // An API server address where nothing listens: every status write fails.
    const gone = await listenTcp(() => undefined);
    await gone.close();
    const kc = new KubeConfig();
    kc.loadFromClusterAndUser(
      { name: 'gone', server: `http://127.0.0.1:${gone.address.port}`, skipTLSVerify: true },
      { name: 'nobody' },
    );
    const api = await openEdgeDeviceApi({ name: 'cam-1', namespace: 'devices' }, {}, kc);
    const forwarder = await startForwarder(defaultSettings(server.address, { probeIntervalMs: 100 }), {
      log: createLogger('forwarder-test', 'silent'),
      phaseSink: api,
    });
    cleanup.push(() => forwarder.stop());
    await new Promise((r) => setTimeout(r, 1000));
    expect((await getJson(forwarder.healthAddress, '/ready')).status).toBe(200);
    const client = await connect(forwarder.address);
    const back = readAll(client);
    client.end('still here');
    expect((await back).data.toString()).toBe('still here');
  });
});
