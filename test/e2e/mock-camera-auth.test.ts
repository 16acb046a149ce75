// Camera credentials on `shifu-rtsp mock-camera`: Digest and Basic as ffmpeg and GStreamer speak them.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool } from './fixtures/camera.js';
import { FFMPEG, FFPROBE, decodeCheck, playWithRtspsrc } from './fixtures/player.js';
import { runTool, startMockCameraProcess } from './support/mock-camera-process.js';

const play = playWithRtspsrc;

const run = runTool;

/** The camera serves one test pattern at /cam. */
async function startCamera(args: string[], env: NodeJS.ProcessEnv) {
  const camera = await startMockCameraProcess(args, env);
  return { ...camera, url: (user?: string, password?: string) => camera.url('/cam', user, password) };
}

const USER = 'admin';
const PASSWORD = 'Hik-12345!';
const STREAM = ['--stream', '/cam:h264:160x120:10:10:pcmu'];

type Camera = Awaited<ReturnType<typeof startCamera>>;

async function recordsWith(camera: Camera, url: string, file: string): Promise<void> {
  const r = await run(FFMPEG, ['-nostdin', '-v', 'error', '-rtsp_transport', 'tcp', '-i', url, '-t', '2', '-c', 'copy', file]);
  expect(r.code, r.stderr).toBe(0);
  const decoded = await decodeCheck(file);
  expect(decoded.ok, decoded.errors.join('\n')).toBe(true);
  expect(decoded.decodedVideoFrames).toBeGreaterThan(5);
  expect(camera.output()).not.toContain(PASSWORD);
}

async function refused(url: string): Promise<string> {
  const r = await run(FFPROBE, ['-v', 'error', '-rtsp_transport', 'tcp', url], 30_000);
  expect(r.code).not.toBe(0);
  return r.stderr;
}

describe('mock-camera authentication with real clients', () => {
  let work: string;
  let digest: Camera;
  let basic: Camera;

  beforeAll(async () => {
    for (const tool of ['ffmpeg', 'ffprobe', 'gst-launch-1.0']) requireTool(tool);
    work = await mkdtemp(path.join(tmpdir(), 'mock-camera-auth-'));
    const passwordFile = path.join(work, 'password');
    await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    [digest, basic] = await Promise.all([
      startCamera([...STREAM, '--user', USER, '--auth', 'digest', '--rtp-port-range', '35000-35099'], { MOCK_CAMERA_PASSWORD: PASSWORD }),
      startCamera([...STREAM, '--user', USER, '--auth', 'basic', '--password-file', passwordFile, '--rtp-port-range', '35100-35199'], {}),
    ]);
  });

  afterAll(async () => {
    expect(await digest?.stop()).toBe(0);
    expect(await basic?.stop()).toBe(0);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it.each(['digest', 'basic'] as const)('%s: answers 401 without credentials and with a wrong password', async (scheme) => {
    const camera = scheme === 'digest' ? digest : basic;
    expect(await refused(camera.url())).toMatch(/401/);
    expect(await refused(camera.url(USER, 'wrong-password'))).toMatch(/401/);
    expect(await refused(camera.url('root', PASSWORD))).toMatch(/401/);
  });

  it.each(['digest', 'basic'] as const)('%s: lets ffmpeg record with the right credentials', async (scheme) => {
    const camera = scheme === 'digest' ? digest : basic;
    await recordsWith(camera, camera.url(USER, PASSWORD), path.join(work, `${scheme}.mkv`));
  });

  it.each(['digest', 'basic'] as const)('%s: plays in rtspsrc with user-id/user-pw', async (scheme) => {
    const camera = scheme === 'digest' ? digest : basic;
    const played = await play({ url: camera.url(), protocols: 'tcp', frames: 10, user: USER, password: PASSWORD, timeoutMs: 60_000 });
    expect(played.framesDecoded, played.stderr).toBeGreaterThanOrEqual(10);
  });
});
