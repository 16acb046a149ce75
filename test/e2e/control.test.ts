// `shifu-rtsp control --backend local`: the record-on/off functions outside Knative, with recorders as child
// processes, a real GStreamer camera, real ffmpeg and a decode check of the last file.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireTool, startGstCamera, type GstCamera } from './fixtures/camera.js';
import { decodeCheck, probeFile } from './fixtures/player.js';
import { startCli, type CliProcess } from './support/recorder-process.js';
import type { Segment } from '../../functions/recorder/index.js';
import { journalOf } from '../support/journal.js';

interface RecorderInfo {
  device: string;
  backend: string;
  state: string;
  settings: Record<string, unknown>;
  detail: { pid?: number; recorder?: { state: string; lastSegment: Segment | null; currentSegment: unknown } | null };
}

let tmp: string;
let camera: GstCamera;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  requireTool('ffmpeg');
  requireTool('gst-camera');
  tmp = await mkdtemp(path.join(os.tmpdir(), 'shifu-control-'));
  camera = await startGstCamera({ video: 'h264', audio: 'pcma', gop: 25, fps: 25 });
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});
afterAll(async () => {
  await camera?.stop();
  await rm(tmp, { recursive: true, force: true });
});

async function startControl(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliProcess> {
  const proc = await startCli('control', ['--backend', 'local', ...args], env, { httpFlag: 'port' });
  cleanups.push(() => proc.stop('SIGTERM'));
  return proc;
}

async function call<T>(control: CliProcess, method: 'GET' | 'POST', route: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(`${control.baseUrl}${route}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as T };
}

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('control --backend local', () => {
  it('records from a camera on /record/on and stops on /record/off with the last file playable', async () => {
    const data = path.join(tmp, 'on-off');
    const control = await startControl(['--data-dir', data]);

    const on = await call<{ created: boolean; recorder: RecorderInfo }>(control, 'POST', '/record/on', {
      device: 'cam',
      url: camera.url,
      segmentSeconds: 3,
      storagePath: 'site-a',
    });
    expect(on.status).toBe(201);
    expect(on.body.created).toBe(true);
    const pid = on.body.recorder.detail.pid;
    expect(alive(pid)).toBe(true);

    // Same request again: nothing new starts.
    const again = await call<{ created: boolean; recorder: RecorderInfo }>(control, 'POST', '/record/on', { device: 'cam' });
    expect(again.status).toBe(200);
    expect(again.body.recorder.detail.pid).toBe(pid);

    const recording = await control.waitFor<RecorderInfo>('/record/status?device=cam', (s) => (s.detail.recorder?.lastSegment?.sequence ?? 0) >= 2, 60_000);
    expect(recording.state).toBe('recording');

    const off = await call<{ deleted: boolean; stopped: boolean; detail: { exitCode: number; off: { lastSegment: Segment } } }>(control, 'POST', '/record/off?wait=true', {
      device: 'cam',
    });
    expect(off.status).toBe(200);
    expect(off.body).toMatchObject({ deleted: true, stopped: true, detail: { exitCode: 0 } });
    expect(alive(pid)).toBe(false);

    const root = path.join(data, 'site-a');
    const segments = await journalOf(root, 'cam');
    const last = segments.at(-1);
    expect(last?.file).toBe(off.body.detail.off.lastSegment.file);
    const file = path.join(root, last?.file ?? '');
    const check = await decodeCheck(file);
    expect(check.ok, check.errors.join('\n')).toBe(true);
    expect(check.decodedVideoFrames).toBeGreaterThan(0);
    expect((await probeFile(file)).streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
    // Nothing left half-written.
    expect((await readdir(path.join(root, 'cam', '.recording'))).filter((n) => !n.startsWith('.'))).toEqual([]);

    expect((await call(control, 'POST', '/record/off', { device: 'cam' })).status).toBe(404);
    expect((await call<{ recorders: unknown[] }>(control, 'GET', '/record/status')).body.recorders).toEqual([]);
  });

  it('answers bad requests with a 4xx whose message names the field', async () => {
    const control = await startControl(['--data-dir', path.join(tmp, 'bad')]);
    const cases: Array<[string, unknown, RegExp]> = [
      ['missing device', { url: camera.url }, /^device: required/],
      ['device not a DNS label', { device: 'Front Door', url: camera.url }, /^device: expected a DNS-1123 label/],
      ['segmentSeconds out of range', { device: 'cam', url: camera.url, segmentSeconds: 1 }, /^segmentSeconds: /],
      ['unknown format', { device: 'cam', url: camera.url, format: 'avi' }, /^format: expected one of/],
      ['storagePath escaping the volume', { device: 'cam', url: camera.url, storagePath: '../../etc' }, /^storagePath: /],
      ['credentials in the url', { device: 'cam', url: 'rtsp://admin:pw@127.0.0.1/x' }, /^url: must not hold credentials/],
      ['no url for the local backend', { device: 'cam' }, /^url: required with the local backend/],
      ['a misspelt field', { device: 'cam', url: camera.url, segmentSecond: 60 }, /^segmentSecond: unknown field/],
    ];
    for (const [what, body, message] of cases) {
      const res = await call<{ error: string; message: string }>(control, 'POST', '/record/on', body);
      expect(res.status, what).toBe(400);
      expect(res.body.message, what).toMatch(message);
    }
    const json = await call<{ message: string }>(control, 'POST', '/record/on', '{"device": ');
    expect(json.status).toBe(400);
    expect((await call<{ message: string }>(control, 'POST', '/record/off', { device: 'cam', wait: 'yes' })).body.message).toMatch(/^wait: /);
    expect((await call(control, 'GET', '/record/on')).status).toBe(405);
    expect((await call<{ recorders: unknown[] }>(control, 'GET', '/record/status')).body.recorders).toEqual([]);
  });

  it('refuses other settings for a running recorder with 409, and requires the bearer token when set', async () => {
    const token = 'e2e-token-0123456789abcdef';
    const control = await startControl(['--data-dir', path.join(tmp, 'token')], { CONTROL_TOKEN: token });
    const auth = { authorization: `Bearer ${token}` };
    expect((await call(control, 'POST', '/record/on', { device: 'cam', url: camera.url })).status).toBe(401);
    expect((await call(control, 'POST', '/record/on', { device: 'cam', url: camera.url, segmentSeconds: 5 }, auth)).status).toBe(201);
    const conflict = await call<{ error: string; message: string }>(control, 'POST', '/record/on', { device: 'cam', segmentSeconds: 6 }, auth);
    expect(conflict.status).toBe(409);
    expect(conflict.body.message).toContain('segmentSeconds (running 5, asked 6)');
    expect((await call(control, 'POST', '/record/off?wait=true', { device: 'cam' }, auth)).status).toBe(200);
    expect(control.output()).not.toContain(token);
  });

  it('reads camera credentials from --secrets-dir like a mounted Secret', async () => {
    const cam = await startGstCamera({ video: 'h264', audio: 'none', user: 'viewer', password: 's3cret-pass' });
    cleanups.push(() => cam.stop());
    const secrets = path.join(tmp, 'secrets');
    await mkdir(path.join(secrets, 'cam-rtsp'), { recursive: true });
    await writeFile(path.join(secrets, 'cam-rtsp', 'username'), 'viewer\n');
    await writeFile(path.join(secrets, 'cam-rtsp', 'password'), 's3cret-pass\n');
    const control = await startControl(['--data-dir', path.join(tmp, 'auth'), '--secrets-dir', secrets]);
    expect((await call(control, 'POST', '/record/on', { device: 'cam', url: cam.url, segmentSeconds: 2 })).status).toBe(201);
    await control.waitFor<RecorderInfo>('/record/status?device=cam', (s) => (s.detail.recorder?.lastSegment?.sequence ?? 0) >= 1, 60_000);
    expect((await call(control, 'POST', '/record/off?wait=true', { device: 'cam' })).status).toBe(200);
    expect(control.output()).not.toContain('s3cret-pass');
  });

  it('on SIGTERM switches its recorders off (last segment closed) and exits 0', async () => {
    const data = path.join(tmp, 'sigterm');
    const control = await startControl(['--data-dir', data]);
    const on = await call<{ recorder: RecorderInfo }>(control, 'POST', '/record/on', { device: 'cam', url: camera.url, segmentSeconds: 30 });
    expect(on.status).toBe(201);
    await control.waitFor<RecorderInfo>('/record/status?device=cam', (s) => s.state === 'recording', 30_000);
    await new Promise((r) => setTimeout(r, 3000));
    expect(await control.stop('SIGTERM')).toBe(0);
    expect(alive(on.body.recorder.detail.pid)).toBe(false);
    const segments = await journalOf(data, 'cam');
    expect(segments.length).toBeGreaterThanOrEqual(1);
    const last = path.join(data, segments.at(-1)?.file ?? '');
    expect(existsSync(last)).toBe(true);
    expect((await decodeCheck(last)).ok).toBe(true);
  });
});
