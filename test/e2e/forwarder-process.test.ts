// `shifu-rtsp forwarder` as a process: file descriptors, logs, endpoints, SIGTERM drain, exit codes.
import { readdirSync } from 'node:fs';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cliPath,
  connect,
  echo,
  getJson,
  listenTcp,
  metricValue,
  readAll,
  spawnForwarder,
  waitFor,
  type ForwarderProcess,
  type TestServer,
} from './forwarder-support.js';

const openFds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

/** One connect/close cycle in one of three shapes: a full exchange, a client reset, or an instant close. */
async function cycle(address: { host: string; port: number }, shape: number): Promise<void> {
  const client = await connect(address);
  if (shape === 0) {
    const back = readAll(client);
    client.end('ping');
    expect((await back).data.toString()).toBe('ping');
  } else if (shape === 1) {
    client.on('error', () => undefined);
    client.write('ping');
    client.resetAndDestroy();
    await once(client, 'close');
  } else {
    client.destroy();
    await once(client, 'close');
  }
}

describe('forwarder process', () => {
  let device: TestServer;
  let forwarder: ForwarderProcess;
  let listen: { host: string; port: number };
  let health: { host: string; port: number };

  beforeAll(async () => {
    expect(cliPath).toMatch(/cli\.js$/);
    device = await listenTcp(echo);
    forwarder = spawnForwarder([
      '--upstream',
      `${device.address.host}:${device.address.port}`,
      '--listen',
      '127.0.0.1:0',
      '--health-listen',
      '127.0.0.1:0',
      '--probe-interval',
      '0.2',
      '--drain-timeout',
      '30',
    ]);
    ({ listen, health } = await forwarder.ready());
  });

  afterAll(async () => {
    await forwarder?.stop('SIGKILL');
    await device?.close();
  });

  it('answers /health, /ready and /metrics', async () => {
    expect(await getJson(health, '/health')).toEqual({ status: 200, body: { status: 'ok' } });
    await waitFor('ready', async () => (await getJson(health, '/ready')).status === 200);
    expect((await getJson(health, '/ready')).body).toMatchObject({ ready: true });
    expect(await metricValue(health, 'forwarder_upstream_up')).toBe(1);
    expect(await metricValue(health, 'forwarder_connections_active')).toBe(0);
    for (const name of ['forwarder_connections_total', 'forwarder_dial_failures_total', 'forwarder_connections_refused_total']) {
      expect(await metricValue(health, name)).toBeTypeOf('number');
    }
  });

  it('logs one JSON line per closed connection with peer, bytes each way, duration and reason', async () => {
    const client = await connect(listen);
    const local = `127.0.0.1:${client.localPort}`;
    const back = readAll(client);
    client.end('hello device');
    expect((await back).data.toString()).toBe('hello device');
    await waitFor('close line', () => forwarder.lines.some((l) => l.msg === 'connection closed' && l.peer === local));
    const lines = forwarder.lines.filter((l) => l.msg === 'connection closed' && l.peer === local);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'info',
      peer: local,
      bytesToDevice: 12,
      bytesToClient: 12,
      reason: 'client-closed',
      upstream: `${device.address.host}:${device.address.port}`,
    });
    expect(lines[0]?.durationMs).toBeTypeOf('number');
    expect(await metricValue(health, 'forwarder_bytes_total{direction="to_device"}')).toBeGreaterThanOrEqual(12);
  });

  it('leaves no file descriptor behind after 1000 connect/close cycles', async () => {
    // Warm up first: lazily opened descriptors (the metrics connection, timers) are not leaks.
    for (let i = 0; i < 30; i += 1) await cycle(listen, i % 3);
    await waitFor('idle', async () => (await metricValue(health, 'forwarder_connections_active')) === 0);
    const before = openFds(forwarder.pid);

    const acceptedBefore = (await metricValue(health, 'forwarder_connections_total')) ?? 0;
    const parallel = 20;
    for (let batch = 0; batch < 1000 / parallel; batch += 1) {
      await Promise.all(Array.from({ length: parallel }, (_, i) => cycle(listen, (batch + i) % 3)));
    }
    await waitFor('all relays closed', async () => (await metricValue(health, 'forwarder_connections_active')) === 0);
    await waitFor(`descriptors back to ${before}`, () => openFds(forwarder.pid) <= before, 10_000);
    expect(openFds(forwarder.pid)).toBeLessThanOrEqual(before);
    expect(await metricValue(health, 'forwarder_connections_total')).toBe(acceptedBefore + 1000);
    expect(device.connections.size).toBeLessThanOrEqual(1);
  });

  it('drains on SIGTERM: stops accepting, lets an open connection finish, then exits 0', async () => {
    const client = await connect(listen);
    client.write('before ');
    await waitFor('relay open', async () => (await metricValue(health, 'forwarder_connections_active')) === 1);
    forwarder.child.kill('SIGTERM');
    await waitFor('draining', async () => (await getJson(health, '/ready').catch(() => ({ status: 0 }))).status === 503);
    // New clients are no longer accepted ...
    await expect(connect(listen)).rejects.toThrow(/ECONNREFUSED/);
    // ... while the open one still works both ways until it ends.
    const back = readAll(client);
    client.end('after');
    expect((await back).data.toString()).toBe('before after');
    expect(await forwarder.exited).toBe(0);
    expect(forwarder.lines.some((l) => l.msg === 'stopped')).toBe(true);
  });
});

describe('forwarder process: shutdown and configuration', () => {
  it('cuts connections still open when the drain timeout ends', async () => {
    const device = await listenTcp(echo);
    const forwarder = spawnForwarder([
      '--upstream',
      `127.0.0.1:${device.address.port}`,
      '--listen',
      '127.0.0.1:0',
      '--health-listen',
      '127.0.0.1:0',
      '--drain-timeout',
      '1',
    ]);
    try {
      const { listen } = await forwarder.ready();
      const client = await connect(listen);
      const closed = readAll(client);
      client.write('x');
      await waitFor('relay open', () => device.connections.size >= 1);
      const started = Date.now();
      forwarder.child.kill('SIGTERM');
      await closed;
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      expect(await forwarder.exited).toBe(0);
      expect(forwarder.lines.find((l) => l.msg === 'connection closed')).toMatchObject({ reason: 'shutdown' });
    } finally {
      await forwarder.stop('SIGKILL');
      await device.close();
    }
  });

  it('exits 2 naming the flag or variable for an invalid value', async () => {
    const bad = spawnForwarder(['--upstream', '127.0.0.1:1', '--max-connections', 'many']);
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toContain('--max-connections');
    const badEnv = spawnForwarder(['--upstream', '127.0.0.1:1'], { FORWARDER_DIAL_TIMEOUT: '-1' });
    expect(await badEnv.exited).toBe(2);
    expect(badEnv.stderr()).toContain('FORWARDER_DIAL_TIMEOUT');
    expect(badEnv.stderr()).toContain('--dial-timeout');
  });

  it('exits 1 with the reason when the listen port is taken', async () => {
    const taken = await listenTcp(() => undefined);
    try {
      const p = spawnForwarder([
        '--upstream',
        '127.0.0.1:1',
        '--listen',
        `127.0.0.1:${taken.address.port}`,
        '--health-listen',
        '127.0.0.1:0',
      ]);
      expect(await p.exited).toBe(1);
      expect(p.stderr()).toContain('EADDRINUSE');
    } finally {
      await taken.close();
    }
  });
});
