// `shifu-rtsp mock-camera` as users run it, played by real clients: ffprobe, ffmpeg and GStreamer's rtspsrc,
// over TCP and UDP, 20 at once; a file pushed with `ffmpeg -f rtsp` played back; a crashed test pattern restarted.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool } from './fixtures/camera.js';
import { FFMPEG, FFPROBE, decodeCheck, ffprobeStreams, playWithRtspsrc, probeFile } from './fixtures/player.js';
import { runTool, startMockCameraProcess } from './support/mock-camera-process.js';

const play = playWithRtspsrc;

const run = runTool;
const startCamera = startMockCameraProcess;

/** Child processes of `pid` with their command lines (the test-pattern ffmpegs of the camera). */
function childrenOf(pid: number): { pid: number; args: string }[] {
  const r = spawnSync('ps', ['--ppid', String(pid), '-o', 'pid=,args='], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .map((l) => /^\s*(\d+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), args: m[2] ?? '' }));
}

/** Retries `attempt` until it resolves (a publisher may still be connecting), up to `timeoutMs`. */
async function eventually<T>(attempt: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

const MAIN = '/Streaming/Channels/101';
const SUB = '/Streaming/Channels/102';

describe('mock-camera with real RTSP clients', () => {
  let camera: Awaited<ReturnType<typeof startCamera>>;
  let work: string;

  beforeAll(async () => {
    for (const tool of ['ffmpeg', 'ffprobe', 'gst-launch-1.0']) requireTool(tool);
    work = await mkdtemp(path.join(tmpdir(), 'mock-camera-'));
    // Small pictures keep 20 decoding players affordable on two cores.
    camera = await startCamera([
      '--stream', `${MAIN}:h264:320x240:15:15:pcma`,
      '--stream', `${SUB}:h265:160x120:10:10:aac`,
      '--rtp-port-range', '34000-34999',
    ]);
  });

  afterAll(async () => {
    await camera?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('looks like a Hikvision to ffprobe: H.264 + G.711 A-law on channel 101, H.265 + AAC on 102', async () => {
    const main = await ffprobeStreams(camera.url(MAIN));
    expect(main.streams.map((s) => [s.codec_type, s.codec_name])).toEqual([
      ['video', 'h264'],
      ['audio', 'pcm_alaw'],
    ]);
    expect(main.streams[0]).toMatchObject({ width: 320, height: 240 });
    expect(main.streams[1]).toMatchObject({ sample_rate: '8000', channels: 1 });
    const sub = await ffprobeStreams(camera.url(SUB));
    expect(sub.streams.map((s) => [s.codec_type, s.codec_name])).toEqual([
      ['video', 'hevc'],
      ['audio', 'aac'],
    ]);
  });

  it('probes over UDP too', async () => {
    const r = await run(FFPROBE, ['-v', 'error', '-rtsp_transport', 'udp', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', camera.url(MAIN)], 30_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['h264', 'pcm_alaw']);
  });

  it.each(['tcp', 'udp'] as const)('lets ffmpeg record 3 s over %s into a file that decodes', async (transport) => {
    const file = path.join(work, `record-${transport}.mkv`);
    const r = await run(FFMPEG, ['-nostdin', '-v', 'error', '-rtsp_transport', transport, '-i', camera.url(MAIN), '-t', '3', '-c', 'copy', file], 60_000);
    expect(r.code, r.stderr).toBe(0);
    const probe = await probeFile(file);
    expect(probe.streams.map((s) => s.codec_name)).toEqual(['h264', 'pcm_alaw']);
    expect(probe.durationSeconds).toBeGreaterThan(2.5);
    const decoded = await decodeCheck(file);
    expect(decoded.ok, decoded.errors.join('\n')).toBe(true);
    expect(decoded.decodedVideoFrames).toBeGreaterThan(20);
    expect(decoded.decodedAudioFrames).toBeGreaterThan(0);
  });

  it.each(['tcp', 'udp'] as const)('plays in GStreamer rtspsrc over %s', async (protocols) => {
    const played = await play({ url: camera.url(MAIN), protocols, frames: 30, timeoutMs: 60_000 });
    expect(played.framesDecoded, played.stderr).toBeGreaterThanOrEqual(30);
  });

  it('plays H.265 in rtspsrc', async () => {
    const played = await play({ url: camera.url(SUB), protocols: 'tcp', frames: 20, timeoutMs: 60_000 });
    expect(played.framesDecoded, played.stderr).toBeGreaterThanOrEqual(20);
  });

  it('serves 20 players at once (10 over TCP, 10 over UDP), each decoding 30 frames', async () => {
    const players = Array.from({ length: 20 }, (_, i) =>
      play({ url: camera.url(MAIN), protocols: i % 2 === 0 ? 'tcp' : 'udp', frames: 30, timeoutMs: 110_000 }),
    );
    const results = await Promise.all(players);
    for (const [i, r] of results.entries()) expect(r.framesDecoded, `player ${i}: ${r.stderr.slice(-1500)}`).toBeGreaterThanOrEqual(30);
  }, 120_000);

  it('relays a file pushed with ffmpeg -f rtsp to other clients while the push lasts', async () => {
    const clip = path.join(work, 'clip.mp4');
    const made = await run(FFMPEG, [
      '-nostdin', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=15', '-f', 'lavfi', '-i', 'sine=sample_rate=16000',
      '-t', '6', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '15', '-c:a', 'aac', '-ac', '1', clip,
    ]);
    expect(made.code, made.stderr).toBe(0);
    const pushUrl = camera.url('/pushed/clip');
    const pusher = spawn(FFMPEG, ['-nostdin', '-v', 'error', '-re', '-stream_loop', '-1', '-i', clip, '-c', 'copy', '-f', 'rtsp', pushUrl], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const pusherExit = new Promise((resolve) => pusher.once('close', resolve));
    try {
      const probe = await eventually(() => ffprobeStreams(pushUrl));
      expect(probe.streams.map((s) => s.codec_name)).toEqual(['h264', 'aac']);
      const played = await play({ url: pushUrl, protocols: 'udp', frames: 20, timeoutMs: 60_000 });
      expect(played.framesDecoded, played.stderr).toBeGreaterThanOrEqual(20);
      const file = path.join(work, 'pushed.mkv');
      const r = await run(FFMPEG, ['-nostdin', '-v', 'error', '-rtsp_transport', 'tcp', '-i', pushUrl, '-t', '2', '-c', 'copy', file]);
      expect(r.code, r.stderr).toBe(0);
      expect((await decodeCheck(file)).decodedVideoFrames).toBeGreaterThan(10);
    } finally {
      pusher.kill('SIGTERM');
      await pusherExit;
    }
    // The push is over: the path is gone again.
    const gone = await eventually(async () => {
      const r = await run(FFPROBE, ['-v', 'error', '-rtsp_transport', 'tcp', pushUrl], 20_000);
      if (r.code === 0) throw new Error('still published');
      return r.stderr;
    });
    expect(gone).toMatch(/404/);
  });

  it('restarts a test pattern whose ffmpeg died', async () => {
    const before = childrenOf(camera.child.pid ?? -1).find((c) => c.args.includes(MAIN));
    expect(before, JSON.stringify(childrenOf(camera.child.pid ?? -1))).toBeDefined();
    process.kill(before?.pid ?? -1, 'SIGKILL');
    const probe = await eventually(() => ffprobeStreams(camera.url(MAIN)));
    expect(probe.streams.map((s) => s.codec_name)).toEqual(['h264', 'pcm_alaw']);
    const after = childrenOf(camera.child.pid ?? -1).find((c) => c.args.includes(MAIN));
    expect(after?.pid).not.toBe(before?.pid);
    expect(camera.output()).toContain('test-pattern ffmpeg exited; restarting');
  });

  it('stops on SIGTERM with exit code 0, taking its ffmpeg publishers along', async () => {
    const pid = camera.child.pid ?? -1;
    const publishers = childrenOf(pid).filter((c) => c.args.includes('testsrc2'));
    expect(publishers).toHaveLength(2);
    expect(await camera.stop()).toBe(0);
    expect(camera.output()).toContain('"msg":"mock camera stopped"');
    for (const p of publishers) expect(() => process.kill(p.pid, 0)).toThrow();
  });
});
