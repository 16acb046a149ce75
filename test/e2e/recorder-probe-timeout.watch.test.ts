// A probe the camera never lets finish: the recorder gives up on it after its timeout and ends the camera session
// with TEARDOWN. A watch test (e2e-watch, beside the e2e tier): about 35 s of waiting out that timeout.
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useScratch } from '../support/scratch.js';
import { scopedTo } from './support/scoped.js';

interface Status {
  lastError: { kind: string; message: string } | null;
}

const scratch = useScratch('shifu-probe-');
const { camera, recorder } = scopedTo(scratch);

describe('recorder: a probe that times out', () => {
  it('ends the probe\'s camera session with TEARDOWN instead of leaving it open', async () => {
    const cam = await camera({ video: 'h264', audio: 'none', gop: 25 });
    // After PLAY the camera only trickles a few bytes every 2 s: reads never time out, the probe never ends.
    const requests: string[] = [];
    const sockets = new Set<net.Socket>();
    const server = net.createServer((client) => {
      const upstream = net.connect({ host: '127.0.0.1', port: cam.port });
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      let played = false;
      let answeredPlay = false;
      let last = 0;
      client.on('data', (chunk: Buffer) => {
        for (const m of chunk.toString('latin1').matchAll(/^([A-Z_]+) rtsp:\/\/\S+ RTSP\/1\.0\r?$/gm)) requests.push(m[1]!);
        if (/^PLAY /m.test(chunk.toString('latin1'))) played = true;
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        if (!played || !answeredPlay) {
          if (played) answeredPlay = true;
          client.write(chunk);
        } else if (Date.now() - last > 2000) {
          last = Date.now();
          client.write(chunk.subarray(0, 8));
        }
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    scratch.defer(
      () =>
        new Promise((resolve) => {
          for (const socket of sockets) socket.destroy();
          server.close(resolve);
        }),
    );
    const port = (server.address() as net.AddressInfo).port;
    const rec = await recorder(['--url', `rtsp://127.0.0.1:${port}${cam.path}`, '--out', path.join(scratch.dir, 'probe-timeout'), '--device', 'cam']);
    await rec.waitFor<Status>('/record/status', () => requests.includes('PLAY'), 20_000);
    await rec.waitFor<Status>('/record/status', (s) => s.lastError !== null, 40_000);
    expect(requests).toContain('TEARDOWN');
    expect(requests.indexOf('TEARDOWN')).toBeGreaterThan(requests.indexOf('PLAY'));
  });
});
