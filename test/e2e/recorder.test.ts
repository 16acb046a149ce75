import { readdir } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startGstCamera } from './fixtures/camera.js';
import { decodeCheck, probeFile } from './fixtures/player.js';
import { useScratch } from '../support/scratch.js';
import { scopedTo } from './support/scoped.js';
import type { Segment } from '../../functions/recorder/index.js';
import { journalOf } from '../support/journal.js';

interface Status {
  state: string;
  recording: boolean;
  lastSegment: Segment | null;
  lastError: { kind: string; message: string } | null;
  lastWriteAt: string | null;
  counters: Record<string, number>;
}

const scratch = useScratch('shifu-rec-');
const { camera, recorder } = scopedTo(scratch);

async function finishedFiles(out: string, device: string): Promise<string[]> {
  const names = await readdir(path.join(out, device));
  return names.filter((n) => !n.startsWith('.')).sort().map((n) => path.join(out, device, n));
}

async function expectPlaysWithAudio(file: string): Promise<void> {
  const check = await decodeCheck(file);
  expect(check.ok, `${file}: ${check.errors.join('\n')}`).toBe(true);
  expect(check.decodedVideoFrames, file).toBeGreaterThan(0);
  const probe = await probeFile(file);
  expect(probe.streams.map((s) => s.codec_type).sort(), file).toEqual(['audio', 'video']);
}

describe('recorder: segments that play on any player', () => {
  it('records H.264 + G.711 A-law into 4 s MP4 segments of T ± one GOP, back to back, each with audio', async () => {
    const cam = await camera({ video: 'h264', audio: 'pcma', gop: 25, fps: 25 });
    const out = path.join(scratch.dir, 'pcma-mp4');
    const rec = await recorder(['--url', cam.url, '--out', out, '--device', 'cam', '--segment-seconds', '4', '--no-align-to-clock']);
    await rec.waitFor<Status>('/record/status', (s) => (s.lastSegment?.sequence ?? 0) >= 3, 60_000);
    const off = await rec.json<Status>('POST', '/record/off');
    expect(off.status).toBe(200);
    expect(off.body.state).toBe('idle');

    const segments = await journalOf(out, 'cam');
    expect(segments.length).toBeGreaterThanOrEqual(4);
    expect(off.body.lastSegment?.file).toBe(segments.at(-1)?.file);
    const gop = 1; // 25 frames at 25 fps
    for (const segment of segments.slice(0, -1)) {
      // The last one was cut by /record/off; every other one is T ± one GOP.
      expect(segment.durationSeconds).toBeGreaterThanOrEqual(4 - gop - 0.05);
      expect(segment.durationSeconds).toBeLessThanOrEqual(4 + gop + 0.05);
      expect(segment.audio).toEqual({ codec: 'aac', transcodedFrom: 'pcm_alaw' });
    }
    for (let i = 1; i < segments.length; i++) {
      const gap = (Date.parse(segments[i]!.startTime) - Date.parse(segments[i - 1]!.endTime)) / 1000;
      expect(Math.abs(gap), `gap between ${segments[i - 1]!.file} and ${segments[i]!.file}`).toBeLessThan(0.3);
    }
    for (const segment of segments) await expectPlaysWithAudio(path.join(out, segment.file));
    expect(await readdir(path.join(out, 'cam', '.recording'))).toEqual([]);
  });

  it.each([
    { video: 'h265', audio: 'aac', format: 'mp4', tag: 'hvc1', codec: 'hevc' },
    { video: 'h265', audio: 'aac', format: 'mkv', codec: 'hevc' },
    { video: 'h265', audio: 'aac', format: 'ts', codec: 'hevc' },
    { video: 'h264', audio: 'pcmu', format: 'flv', codec: 'h264' },
  ] as const)('records $video + $audio to $format, playable with audio', async ({ video, audio, format, codec, ...rest }) => {
    const cam = await camera({ video, audio, gop: 25, fps: 25 });
    const out = path.join(scratch.dir, `${video}-${audio}-${format}`);
    const rec = await recorder(['--url', cam.url, '--out', out, '--device', 'cam', '--segment-seconds', '3', '--format', format]);
    await rec.waitFor<Status>('/record/status', (s) => (s.lastSegment?.sequence ?? 0) >= 1, 60_000);
    await rec.json('POST', '/record/off');
    const files = await finishedFiles(out, 'cam');
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const file of files) {
      expect(path.extname(file)).toBe(`.${format}`);
      await expectPlaysWithAudio(file);
      const v = (await probeFile(file)).streams.find((s) => s.codec_type === 'video');
      expect(v?.codec_name).toBe(codec);
      if ('tag' in rest) expect(v?.codec_tag_string).toBe(rest.tag);
    }
  });
});

describe('recorder: crash safety', () => {
  it('keeps >= 7 s of a 60 s segment after SIGKILL at 9 s, and marks it recovered on restart', async () => {
    const cam = await camera({ video: 'h264', audio: 'pcma' });
    const out = path.join(scratch.dir, 'crash');
    const args = ['--url', cam.url, '--out', out, '--device', 'cam', '--segment-seconds', '60', '--no-align-to-clock'];
    const rec = await recorder(args);
    await rec.waitFor<Status>('/record/status', (s) => s.state === 'recording', 30_000);
    await new Promise((r) => setTimeout(r, 9000));
    // Power-loss style: the recorder and its ffmpeg die together, nothing gets to write a trailer.
    const pid = rec.child.pid!;
    execFileSync('pkill', ['-KILL', '-P', String(pid)]);
    process.kill(pid, 'SIGKILL');
    await rec.exited;
    const left = (await readdir(path.join(out, 'cam', '.recording'))).map((n) => path.join(out, 'cam', '.recording', n));
    expect(left).toHaveLength(1);
    const cut = await probeFile(left[0]!);
    expect(cut.durationSeconds).toBeGreaterThanOrEqual(7);

    const again = await recorder([...args, '--idle']);
    const status = await again.waitFor<Status>('/record/status', (s) => s.lastSegment !== null, 30_000);
    expect(status.lastSegment?.recovered).toBe(true);
    expect(status.lastSegment?.durationSeconds).toBeGreaterThanOrEqual(7);
    await expectPlaysWithAudio(path.join(out, status.lastSegment!.file));
    expect(await readdir(path.join(out, 'cam', '.recording'))).toEqual([]);
  });
});

describe('recorder: camera trouble', () => {
  it('survives the camera going away for 12 s and records again within 8 s of its return', async () => {
    const cam = await camera({ video: 'h264', audio: 'none' });
    const out = path.join(scratch.dir, 'outage');
    const rec = await recorder(['--url', cam.url, '--out', out, '--device', 'cam', '--segment-seconds', '4', '--watchdog-seconds', '5']);
    await rec.waitFor<Status>('/record/status', (s) => s.state === 'recording', 30_000);
    await cam.stop();
    await rec.waitFor<Status>('/record/status', (s) => s.state === 'reconnecting', 20_000);
    await new Promise((r) => setTimeout(r, 12_000));
    expect(rec.child.exitCode).toBeNull();
    const back = await startGstCamera({ video: 'h264', audio: 'none', port: cam.port });
    scratch.defer(() => back.stop());
    const returned = Date.now();
    const status = await rec.waitFor<Status>(
      '/record/status',
      (s) => s.state === 'recording' && s.lastWriteAt !== null && Date.parse(s.lastWriteAt) > returned,
      8000,
    );
    expect(status.counters.reconnects).toBeGreaterThan(0);
    const off = await rec.json<Status>('POST', '/record/off');
    expect(off.status).toBe(200);
    for (const file of await finishedFiles(out, 'cam')) expect((await decodeCheck(file)).ok).toBe(true);
  });

  it('reports a wrong password as unauthorized and never shows it', async () => {
    const password = 'Sup3r-Secret-Pw';
    const cam = await camera({ video: 'h264', audio: 'none', user: 'admin', password: 'right-one' });
    const out = path.join(scratch.dir, 'auth');
    const rec = await recorder(['--url', cam.url, '--out', out, '--device', 'cam', '--username', 'admin'], { PasswordSecret: password });
    const status = await rec.waitFor<Status>('/record/status', (s) => s.state === 'unauthorized', 30_000);
    expect(status.lastError?.kind).toBe('unauthorized');
    const metrics = await (await fetch(`${rec.baseUrl}/metrics`)).text();
    expect(metrics).toContain('shifu_rtsp_recorder_state{device="cam",state="unauthorized"} 1');
    await rec.stop('SIGTERM');
    for (const text of [rec.output(), JSON.stringify(status), metrics]) {
      expect(text).not.toContain(password);
      expect(text).not.toContain(encodeURIComponent(password));
    }
  });

  it('accepts off twice, on twice and SIGTERM without error, leaving every file playable', async () => {
    const cam = await camera({ video: 'h264', audio: 'pcma' });
    const out = path.join(scratch.dir, 'idempotent');
    const rec = await recorder(['--url', cam.url, '--out', out, '--device', 'cam', '--segment-seconds', '3']);
    await rec.waitFor<Status>('/record/status', (s) => s.state === 'recording', 30_000);
    const offs = [await rec.json<Status>('POST', '/record/off'), await rec.json<Status>('POST', '/record/off')];
    expect(offs.map((o) => [o.status, o.body.state])).toEqual([
      [200, 'idle'],
      [200, 'idle'],
    ]);
    const ons = [await rec.json<Status>('POST', '/record/on'), await rec.json<Status>('POST', '/record/on')];
    expect(ons.map((o) => [o.status, o.body.recording])).toEqual([
      [200, true],
      [200, true],
    ]);
    await rec.waitFor<Status>('/record/status', (s) => s.state === 'recording', 30_000);
    await new Promise((r) => setTimeout(r, 2000));
    expect(await rec.stop('SIGTERM')).toBe(0);
    const files = await finishedFiles(out, 'cam');
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const file of files) await expectPlaysWithAudio(file);
    expect(await readdir(path.join(out, 'cam', '.recording'))).toEqual([]);
  });
});
