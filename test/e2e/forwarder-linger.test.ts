// A stream opened again while its camera session lingers (the forwarder's --linger), and the session's end: a
// viewer that comes back within the linger joins the lingering session and plays (HLS through live view, and a
// plain RTSP client); once it lingers out, the camera gets a TEARDOWN it accepts, so a camera that keeps a session
// past its client's connection (RFC 2326) and allows one still lets the next viewer in. Loopback only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeLoopbackPort } from '../../functions/lib/index.js';
import { requireTool, startGstCamera, type GstCamera } from './fixtures/camera.js';
import { runFfmpeg } from './fixtures/player.js';
import { spawnForwarder, waitFor, type ForwarderProcess } from './forwarder-support.js';

const cleanups: Array<() => Promise<unknown>> = [];
let camera: GstCamera;

/**
 * A camera of its own for each part: one session at a time, kept past its client's connection until TEARDOWN (or
 * 60 s), so a second session, or one the forwarder failed to end, is a 503.
 */
async function startCamera(): Promise<void> {
  for (const tool of ['ffmpeg', 'gst-camera']) requireTool(tool);
  const started = await startGstCamera({ video: 'h264', audio: 'pcma', gop: 25, fps: 25, shared: true, maxSessions: 1, keepSessions: true });
  // This camera, not the variable's: the next part's camera replaces it there.
  cleanups.push(() => started.stop());
  camera = started;
}

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function forwarderWith(linger: number): Promise<{ forwarder: ForwarderProcess; rtsp: string; live: string }> {
  const [rtspPort, livePort] = [await freeLoopbackPort(), await freeLoopbackPort()];
  const forwarder = spawnForwarder(
    ['--upstream', `127.0.0.1:${camera.port}`, '--listen', `127.0.0.1:${rtspPort}`, '--health-listen', '127.0.0.1:0', '--live-listen', `127.0.0.1:${livePort}`, '--linger', String(linger)],
    { LOG_LEVEL: 'debug' },
  );
  cleanups.push(() => forwarder.stop());
  await forwarder.ready();
  return { forwarder, rtsp: `rtsp://127.0.0.1:${rtspPort}${camera.path}`, live: `http://127.0.0.1:${livePort}${camera.path}` };
}

const play = (url: string): ReturnType<typeof runFfmpeg> => runFfmpeg(['-v', 'error', '-rtsp_transport', 'tcp', '-i', url, '-map', '0:v:0', '-frames:v', '25', '-f', 'null', '-']);
const count = (f: ForwarderProcess, msg: string): number => f.lines.filter((l) => l.msg === msg).length;

describe('a camera session at the end of its linger', () => {
  beforeAll(startCamera, 60_000);

  it('is torn down where the camera accepts it, so a camera that allows one session lets the next viewer in', async () => {
    const { forwarder, rtsp } = await forwarderWith(1);
    for (let round = 1; round <= 2; round += 1) {
      const viewer = await play(rtsp);
      expect(viewer.code, `viewer ${round}: ${viewer.stderr}`).toBe(0);
      // Its TEARDOWN is on the wire before the next viewer's ffmpeg has even started.
      await waitFor('the camera session to linger out', () => count(forwarder, 'camera session closed') === round);
    }
    expect(forwarder.lines.filter((l) => l.msg === 'camera refused the TEARDOWN')).toEqual([]);
    expect(count(forwarder, 'camera session torn down')).toBe(2);
    await forwarder.stop();
  }, 60_000);
});

describe('a stream opened again while its camera session lingers', () => {
  beforeAll(startCamera, 60_000);

  it('plays from the lingering session: live view (HLS) and a plain RTSP client', async () => {
    // A linger far longer than a loaded machine takes to reopen: every reopen below lands inside it.
    const { forwarder, rtsp, live } = await forwarderWith(60);
    const clientsClosed = (): number => count(forwarder, 'rtsp client closed');
    for (let round = 1; round <= 2; round += 1) {
      const res = await fetch(`${live}/index.m3u8`);
      expect(res.status, `HLS open ${round}: ${res.status === 200 ? '' : await res.text()}`).toBe(200);
      // No more requests: the live stream closes (10 s), its ffmpeg leaves the forwarder, the session lingers.
      const before = clientsClosed();
      await waitFor('the live stream\'s ffmpeg to leave', () => clientsClosed() > before, 40_000);
    }
    const viewer = await play(rtsp);
    expect(viewer.code, viewer.stderr).toBe(0);
    // Every open after the first joined the one lingering camera session.
    expect(count(forwarder, 'camera session opened')).toBe(1);
    expect(forwarder.lines.filter((l) => l.msg === 'rtsp client closed').map((l) => l.shared)).toEqual([false, true, true]);
  }, 120_000);
});
