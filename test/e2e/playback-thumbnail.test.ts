// A thumbnail asked for by several clients at once is made once, for all of them: the client whose request
// started the render leaving mid-render must not end it for the others. ffmpeg is held by a wrapper until the test
// lets it go (a FIFO), so the render is still running, with a second client waiting on it, when the first leaves.
import { execFile, execFileSync } from 'node:child_process';
import { chmod, mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendToJournal, journalPathOf } from '../../functions/recorder/index.js';
import { segmentFixture } from '../support/segment.js';
import { useScratch } from '../support/scratch.js';
import { requireTool } from './fixtures/camera.js';
import { FFMPEG, FFPROBE } from './fixtures/player.js';
import { startCli, type CliProcess } from './support/recorder-process.js';

const run = promisify(execFile);
const START = Date.parse('2026-11-24T10:00:00Z');
const scratch = useScratch('shifu-playback-thumbnail-');
let playback: CliProcess;
let hold: string;

beforeAll(async () => {
  for (const tool of [FFMPEG, FFPROBE]) requireTool(tool);
  const volume = path.join(scratch.dir, 'volume');
  await mkdir(path.join(volume, 'cam'), { recursive: true });
  await mkdir(path.dirname(journalPathOf(volume, 'cam')), { recursive: true });
  const placed = segmentFixture({ device: 'cam', start: START, seconds: 10, root: volume });
  // 10 s as the recorder writes MP4 (fragmented, 1 s fragments), 2 s GOP.
  await run(FFMPEG, ['-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-t', '10', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50', '-pix_fmt', 'yuv420p',
    '-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-frag_duration', '1000000', placed.absolutePath]);
  const segment = { ...placed, bytes: (await stat(placed.absolutePath)).size };
  await appendToJournal(journalPathOf(volume, 'cam'), segment);
  // The held ffmpeg: marks that it started, waits for a line on the FIFO, then runs the real one.
  hold = path.join(scratch.dir, 'hold');
  await mkdir(hold);
  execFileSync('mkfifo', [path.join(hold, 'go')]);
  const realFfmpeg = execFileSync('sh', ['-c', `command -v ${FFMPEG}`], { encoding: 'utf8' }).trim();
  const wrapper = path.join(hold, 'ffmpeg');
  await writeFile(wrapper, `#!/bin/sh\necho started >> '${hold}/started'\nread line < '${hold}/go'\nexec '${realFfmpeg}' "$@"\n`);
  await chmod(wrapper, 0o755);
  playback = await startCli('playback', ['--root', volume], { FFMPEG_PATH: wrapper, FFPROBE_PATH: FFPROBE }, { httpFlag: 'listen' });
  // An encode, then startCli, which alone may wait 60 s for /health under heavy load.
}, 180_000);

afterAll(async () => {
  await playback?.stop('SIGKILL');
});

/** A metric's value from /metrics (0 when absent). */
async function metric(line: RegExp): Promise<number> {
  const text = await (await fetch(`${playback.baseUrl}/metrics`)).text();
  const m = text.split('\n').find((l) => line.test(l));
  return m === undefined ? 0 : Number(m.split(' ').at(-1));
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const lookups = (result: string): RegExp => new RegExp(`^shifu_rtsp_playback_cache_lookups_total\\{cache="thumbnail",result="${result}"\\}`);

describe('a thumbnail several clients wait for', () => {
  it('is made for the others when the client whose request started it leaves mid-render', async () => {
    const url = `${playback.baseUrl}/api/thumbnail?device=cam&time=2026-11-24T10:00:05Z&width=160`;
    const first = new AbortController();
    const firstAnswer = fetch(url, { signal: first.signal }).catch((err: unknown) => err);
    // The first request's render is running (held), then a second client waits on it.
    await until('the render to start', () => stat(path.join(hold, 'started')).then(() => true, () => false));
    const second = fetch(url);
    await until('the second client to join the render', async () => (await metric(lookups('joined'))) === 1);
    first.abort();
    expect(await firstAnswer).toBeInstanceOf(Error);
    // A third asks after the first left, so the server has read the first one's leaving by then.
    const third = fetch(url);
    await until('the third request', async () => (await metric(lookups('joined'))) + (await metric(lookups('miss'))) === 3);
    await writeFile(path.join(hold, 'go'), 'go\n');
    const [two, three] = await Promise.all([second, third]);
    expect(two.status).toBe(200);
    expect(two.headers.get('content-type')).toBe('image/jpeg');
    expect((await two.arrayBuffer()).byteLength).toBeGreaterThan(500);
    expect(three.status).toBe(200);
    // One render served all three: ffmpeg started once.
    expect((await run('cat', [path.join(hold, 'started')])).stdout.trim().split('\n')).toHaveLength(1);
    expect(await metric(/^shifu_rtsp_playback_render_seconds_count\{kind="thumbnail"\}/)).toBe(1);
    expect(await metric(/^shifu_rtsp_playback_recording_requests_total\{route="thumbnail",status="200"\}/)).toBe(2);
    expect(await metric(/^shifu_rtsp_playback_recording_requests_total\{route="thumbnail",status="500"\}/)).toBe(0);
  });
});
