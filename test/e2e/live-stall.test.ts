// A live viewer that stops reading (issue 23, "Bad input and load"): an HLS client that asks for segments and
// never reads the answers is dropped by the forwarder, while a normal HLS viewer and an RTSP client (the
// recorder's place) beside it play on, from one camera session. Loopback only.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool, startGstCamera, type GstCamera } from './fixtures/camera.js';
import { runFfmpeg } from './fixtures/player.js';
import { spawnForwarder, waitFor, type ForwarderProcess } from './forwarder-support.js';
import { freeLoopbackPort } from '../../functions/lib/index.js';

const cleanups: Array<() => Promise<unknown>> = [];
let camera: GstCamera;
let forwarder: ForwarderProcess;
let live: string;
let rtsp: string;

beforeAll(async () => {
  for (const tool of ['ffmpeg', 'gst-camera']) requireTool(tool);
  camera = await startGstCamera({ video: 'h264', audio: 'none', gop: 25, fps: 25, width: 640, height: 360, bitrate: 2000, shared: true, maxSessions: 1 });
  cleanups.push(() => camera.stop());
  const [rtspPort, livePort] = [await freeLoopbackPort(), await freeLoopbackPort()];
  forwarder = spawnForwarder(['--upstream', `127.0.0.1:${camera.port}`, '--listen', `127.0.0.1:${rtspPort}`, '--health-listen', '127.0.0.1:0', '--live-listen', `127.0.0.1:${livePort}`, '--linger', '2']);
  cleanups.push(() => forwarder.stop());
  await forwarder.ready();
  live = `http://127.0.0.1:${livePort}${camera.path}`;
  rtsp = `rtsp://127.0.0.1:${rtspPort}${camera.path}`;
}, 60_000);

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

describe('a live viewer that stops reading', () => {
  it('is dropped alone: the HLS viewer and the RTSP client beside it play every frame, from one camera session', async () => {
    // The stream open, and a whole segment (the first one is cut short): its name and size.
    const index = await (await fetch(`${live}/index.m3u8`)).text();
    const media = /^(live\.m3u8\?\S+)$/m.exec(index)?.[1];
    expect(media, index).toBeDefined();
    let segment = '';
    let bytes = 0;
    await waitFor('a whole segment in the window', async () => {
      const playlist = await (await fetch(`${live}/${media}`)).text();
      segment = [...playlist.matchAll(/^(seg-\d+\.m4s)$/gm)].at(-1)?.[1] ?? 'seg-0.m4s';
      if (segment === 'seg-0.m4s') return false;
      bytes = (await (await fetch(`${live}/${segment}`)).arrayBuffer()).byteLength;
      return true;
    });

    // The stalled viewer: requests for that segment in one go, 24 MiB of answers (more than the sockets'
    // buffers hold), then it reads nothing.
    const requests = Math.ceil((24 << 20) / bytes);
    const stalled = net.connect(Number(new URL(live).port), '127.0.0.1');
    await new Promise<void>((resolve) => stalled.once('connect', () => resolve()));
    stalled.pause();
    let received = 0;
    const closed = new Promise<void>((resolve) => stalled.once('close', () => resolve()));
    stalled.on('data', (b: Buffer) => (received += b.length));
    stalled.on('error', () => undefined);
    stalled.write(`GET ${new URL(live).pathname}/${segment} HTTP/1.1\r\nHost: camera\r\n\r\n`.repeat(requests));

    // Beside it, 10 s of video over HLS and over RTSP, every frame.
    const [hls, rtspViewer] = await Promise.all([
      runFfmpeg(['-v', 'info', '-nostats', '-i', `${live}/index.m3u8`, '-map', '0:v:0', '-frames:v', '250', '-f', 'null', '-']),
      runFfmpeg(['-v', 'info', '-nostats', '-rtsp_transport', 'tcp', '-i', rtsp, '-map', '0:v:0', '-frames:v', '250', '-f', 'null', '-']),
    ]);
    expect(hls.code, hls.stderr).toBe(0);
    expect(hls.stderr).toMatch(/frame=\s*250\b/);
    expect(rtspViewer.code, rtspViewer.stderr).toBe(0);
    expect(rtspViewer.stderr).toMatch(/frame=\s*250\b/);

    // The forwarder gave up on the stalled viewer; what it still had to send never came.
    await waitFor('the stalled viewer to be dropped', () => forwarder.lines.some((l) => l.msg === 'live viewer dropped'), 30_000);
    stalled.resume();
    await closed;
    expect(received).toBeLessThan(requests * bytes);
    expect(forwarder.lines.filter((l) => l.msg === 'camera session opened')).toHaveLength(1);
  });
});
