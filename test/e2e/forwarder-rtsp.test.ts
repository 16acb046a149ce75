// Real RTSP clients reach a GStreamer camera through `shifu-rtsp forwarder` as if it were the camera.
// Over RTSP-interleaved TCP only: with UDP transport RTP would bypass any TCP forwarder.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool, startGstCamera, type GstCamera } from './fixtures/camera.js';
import { decodeCheck, ffprobeStreams, playWithRtspsrc, probeFile, runFfmpeg } from './fixtures/player.js';
import { metricValue, spawnForwarder, waitFor, type ForwarderProcess } from './forwarder-support.js';

describe('RTSP through the forwarder in TCP mode', () => {
  let camera: GstCamera;
  let forwarder: ForwarderProcess;
  let url = '';
  let health: { host: string; port: number };
  let dir = '';

  /** Bytes the forwarder carried from the camera so far: proves the media went through it. */
  const carried = async (): Promise<number> =>
    (await metricValue(health, 'forwarder_bytes_total{direction="to_client"}')) ?? 0;

  beforeAll(async () => {
    for (const tool of ['ffmpeg', 'ffprobe', 'gst-launch-1.0', 'gst-camera']) requireTool(tool);
    dir = await mkdtemp(path.join(tmpdir(), 'shifu-rtsp-forwarder-'));
    camera = await startGstCamera({ video: 'h264', audio: 'pcma', gop: 25 });
    forwarder = spawnForwarder([
      // TCP mode: RTSP carried byte for byte, as before RTSP mode existed (RTSP mode: forwarder-rtsp-mode.test.ts).
      '--mode',
      'tcp',
      '--upstream',
      `127.0.0.1:${camera.port}`,
      '--listen',
      '127.0.0.1:0',
      '--health-listen',
      '127.0.0.1:0',
    ]);
    const ready = await forwarder.ready();
    health = ready.health;
    url = `rtsp://127.0.0.1:${ready.listen.port}${camera.path}`;
  });

  afterAll(async () => {
    await forwarder?.stop();
    await camera?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('ffprobe sees both streams of the camera (H.264 + G.711 A-law)', async () => {
    const { streams } = await ffprobeStreams(url);
    expect(streams.map((s) => [s.codec_type, s.codec_name])).toEqual([
      ['video', 'h264'],
      ['audio', 'pcm_alaw'],
    ]);
    expect(streams[0]).toMatchObject({ width: 320, height: 240 });
  });

  it('ffmpeg records 4 s through it, and the file decodes', async () => {
    const before = await carried();
    const out = path.join(dir, 'through-forwarder.mkv');
    const rec = await runFfmpeg(['-rtsp_transport', 'tcp', '-i', url, '-t', '4', '-c', 'copy', out]);
    expect(rec.code, rec.stderr).toBe(0);

    const probe = await probeFile(out);
    expect(probe.streams.map((s) => s.codec_name)).toEqual(['h264', 'pcm_alaw']);
    expect(probe.durationSeconds).toBeGreaterThanOrEqual(3.5);
    expect(probe.durationSeconds).toBeLessThanOrEqual(5.5);
    const decoded = await decodeCheck(out);
    expect(decoded.errors).toEqual([]);
    expect(decoded.ok).toBe(true);
    expect(decoded.decodedVideoFrames).toBeGreaterThan(75); // 4 s at 25 fps, minus start-up
    expect(decoded.decodedAudioFrames).toBeGreaterThan(0);
    // 4 s of 500 kbit/s video went through the forwarder, not around it.
    expect((await carried()) - before).toBeGreaterThan(100_000);
  });

  it("GStreamer's rtspsrc plays 100 frames through it (TCP interleaved)", async () => {
    const before = await carried();
    const played = await playWithRtspsrc({ url, protocols: 'tcp', frames: 100, timeoutMs: 60_000 });
    expect(played.exitCode, played.stderr).toBe(0);
    expect(played.framesDecoded).toBe(100);
    expect((await carried()) - before).toBeGreaterThan(100_000);
  });

  it('closed every RTSP session it carried', async () => {
    await waitFor('no open relay', async () => (await metricValue(health, 'forwarder_connections_active')) === 0);
    const closes = forwarder.lines.filter((l) => l.msg === 'connection closed');
    expect(closes.length).toBeGreaterThanOrEqual(3);
    for (const line of closes) expect(line.reason).toMatch(/^(client|device)-(closed|error)$/);
  });
});
