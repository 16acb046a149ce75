// Self-test of the e2e fixtures against real peers: GStreamer cameras, ffmpeg/ffprobe and rtspsrc.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool, startGstCamera, type GstCamera } from './fixtures/camera.js';
import { decodeCheck, ffprobeStreams, playWithRtspsrc, probeFile, runFfmpeg } from './fixtures/player.js';

describe('e2e fixtures', () => {
  const cameras: GstCamera[] = [];
  let dir = '';
  let h264: GstCamera;

  beforeAll(async () => {
    for (const tool of ['ffmpeg', 'ffprobe', 'gst-launch-1.0', 'gst-camera']) requireTool(tool);
    dir = await mkdtemp(path.join(tmpdir(), 'shifu-rtsp-fixtures-'));
    h264 = await startGstCamera({ video: 'h264', audio: 'pcma', gop: 25 });
    cameras.push(h264);
  });

  afterAll(async () => {
    await Promise.all(cameras.map((c) => c.stop()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('ffprobe sees H.264 + PCMA from the GStreamer camera', async () => {
    const { streams } = await ffprobeStreams(h264.url);
    expect(streams.map((s) => [s.codec_type, s.codec_name])).toEqual([
      ['video', 'h264'],
      ['audio', 'pcm_alaw'],
    ]);
    expect(streams[0]).toMatchObject({ width: 320, height: 240 });
  });

  it('ffmpeg records 3 s that decode with video and audio', async () => {
    const out = path.join(dir, 'rec.mkv');
    const rec = await runFfmpeg(['-rtsp_transport', 'tcp', '-i', h264.url, '-t', '3', '-c', 'copy', out]);
    expect(rec.code, rec.stderr).toBe(0);

    const probe = await probeFile(out);
    expect(probe.formatName).toContain('matroska');
    expect(probe.durationSeconds).toBeGreaterThanOrEqual(2.5);
    expect(probe.durationSeconds).toBeLessThanOrEqual(4.5);
    expect(probe.streams.map((s) => s.codec_name)).toEqual(['h264', 'pcm_alaw']);

    const dec = await decodeCheck(out);
    expect(dec.errors).toEqual([]);
    expect(dec.ok).toBe(true);
    expect(dec.decodedVideoFrames).toBeGreaterThan(50); // 3 s at 25 fps
    expect(dec.decodedAudioFrames).toBeGreaterThan(0);
  });

  it.each(['tcp', 'udp'] as const)('rtspsrc plays 50 frames over %s', async (protocols) => {
    const r = await playWithRtspsrc({ url: h264.url, protocols, frames: 50, timeoutMs: 30_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.framesDecoded).toBe(50);
  });

  it('H.265 + AAC camera probes as hevc + aac and plays in rtspsrc', async () => {
    const cam = await startGstCamera({ video: 'h265', audio: 'aac' });
    cameras.push(cam);
    const { streams } = await ffprobeStreams(cam.url);
    expect(streams.map((s) => [s.codec_type, s.codec_name])).toEqual([
      ['video', 'hevc'],
      ['audio', 'aac'],
    ]);
    const r = await playWithRtspsrc({ url: cam.url, protocols: 'tcp', frames: 10 });
    expect(r.framesDecoded, r.stderr).toBe(10);
  });

  it('Basic auth camera refuses anonymous clients and serves with credentials', async () => {
    const cam = await startGstCamera({ user: 'admin', password: 's3cret' });
    cameras.push(cam);
    await expect(ffprobeStreams(cam.url)).rejects.toThrow(/401/);
    const { streams } = await ffprobeStreams(cam.authUrl);
    expect(streams[0]?.codec_name).toBe('h264');

    const anon = await playWithRtspsrc({ url: cam.url, protocols: 'tcp', frames: 5 });
    expect(anon.exitCode).not.toBe(0);
    expect(anon.framesDecoded).toBe(0);
    const authed = await playWithRtspsrc({ url: cam.url, protocols: 'tcp', frames: 5, user: 'admin', password: 's3cret' });
    expect(authed.framesDecoded, authed.stderr).toBe(5);
  });

  it('camera comes back on the same port after a crash', async () => {
    const cam = await startGstCamera({ shared: true });
    cameras.push(cam);
    const { port, pid } = cam;
    await cam.kill();
    expect(cam.running).toBe(false);
    await expect(ffprobeStreams(cam.url, 5_000)).rejects.toThrow();
    await cam.restart();
    expect(cam.port).toBe(port);
    expect(cam.pid).not.toBe(pid);
    expect((await ffprobeStreams(cam.url)).streams[0]?.codec_name).toBe('h264');
  });
});
