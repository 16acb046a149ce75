// A clip's keyframe from the MP4 segment's own fragment index (mfra/tfra + the moof it points at), not from
// ffprobe: the same keyframe ffprobe finds, on a file made as the recorder makes them (segment muxer, fragmented
// MP4 with 1 s fragments, 2 s GOP, B-frames), and a clip planned with no ffprobe at all. A cut from late in a
// segment reads from the keyframe's fragment on, not every fragment of the file, and gives the same frames.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { clipArguments, concatScript, FfmpegSlot, keyframeAtOrBefore, keyframeFromMp4Index, planClip, type ClipPlan, type Footage } from '../../functions/playback/index.js';
import { useScratch } from '../support/scratch.js';
import { segmentFixture } from '../support/segment.js';
import { requireTool } from './fixtures/camera.js';

const scratch = useScratch('shifu-playback-keyframe-');
let files: string[] = [];
const RECORDER_MP4 = ['-f', 'segment', '-segment_format', 'mp4', '-segment_format_options', 'movflags=+frag_keyframe+empty_moov+default_base_moof:frag_duration=1000000:flush_packets=1'];

beforeAll(() => {
  for (const tool of ['ffmpeg', 'ffprobe']) requireTool(tool);
  // The recorder's MP4 muxer options (functions/recorder/plan.ts), through the segment muxer as it runs them.
  execFileSync('ffmpeg', [
    '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=sample_rate=48000',
    '-t', '24', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50', '-bf', '2', '-c:a', 'aac',
    ...RECORDER_MP4, '-segment_time', '12', path.join(scratch.dir, 'seg%d.mp4'),
  ]);
  files = readdirSync(scratch.dir).filter((f) => f.endsWith('.mp4')).sort().map((f) => path.join(scratch.dir, f));
});

const probeSlot = (): FfmpegSlot => new FfmpegSlot(() => undefined);

describe('keyframe from the MP4 index', () => {
  it('finds the keyframe ffprobe finds, in the first segment and a later one (timestamps not from 0)', async () => {
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const file of files.slice(0, 2)) {
      for (const offset of [1.99, 2.1, 5, 9.5, 11.5]) {
        const fromIndex = await keyframeFromMp4Index(file, offset);
        const probed = await keyframeAtOrBefore(probeSlot(), 'ffprobe', file, offset);
        expect(fromIndex, `${path.basename(file)} at ${offset} s`).toEqual(probed);
      }
    }
  });

  it('plans a clip from mid-segment without running ffprobe', async () => {
    const file = files[0]!;
    const segment = segmentFixture({ device: 'cam1', start: '2026-11-24T10:00:00.000Z', seconds: 12 }, { file: `cam1/${path.basename(file)}`, absolutePath: file, audio: { codec: 'aac' } });
    const footage: Footage = { segment, name: path.basename(file), path: file, startMs: Date.parse(segment.startTime), endMs: Date.parse(segment.endTime) };
    const request = { device: 'cam1', startMs: footage.startMs + 5_500, endMs: footage.startMs + 9_000, format: 'mp4' as const };
    // No ffprobe here: a lookup that needed one would fail.
    const plan = await planClip(probeSlot(), '/nonexistent/ffprobe', [footage], request);
    const probed = await keyframeAtOrBefore(probeSlot(), 'ffprobe', file, 5.5);
    expect(plan.inpoint).toBe(probed.keyframe);
    expect(new Date(plan.startMs).toISOString()).toBe('2026-11-24T10:00:04.000Z');
  });

  it('answers null (ffprobe then) for a file without a fragment index', async () => {
    const plain = path.join(scratch.dir, 'plain.mkv');
    execFileSync('ffmpeg', ['-v', 'error', '-i', files[0]!, '-c', 'copy', plain]);
    expect(await keyframeFromMp4Index(plain, 5)).toBeNull();
  });
});

/** Footage of the recorder's segments, back to back from 10:00:00 (seconds given per file). */
function footageOf(paths: readonly string[], seconds: number): Footage[] {
  return paths.map((file, i) => {
    const startMs = Date.parse('2026-11-24T10:00:00.000Z') + i * seconds * 1000;
    const segment = segmentFixture({ device: 'cam1', start: startMs, seconds }, { file: `cam1/${path.basename(file)}`, absolutePath: file, audio: { codec: 'aac' } });
    return { segment, name: path.basename(file), path: file, startMs, endMs: startMs + seconds * 1000 };
  });
}

/** Runs the server's cut of a plan (its own arguments and script) at ffmpeg's verbose level: the frames, and what its readers read. */
function cut(plan: ClipPlan, output: readonly string[]): { stdout: Buffer; bytesRead: number; seeks: number } {
  const args = clipArguments(plan).map((a) => (a === 'error' ? 'verbose' : a)).slice(0, -3);
  // The fragmented MP4's options stay out of another muxer (framecrc), which would refuse them.
  const own = output[1] === 'mp4' ? args : args.filter((a, i) => a !== '-movflags' && args[i - 1] !== '-movflags');
  const run = spawnSync('ffmpeg', [...own, ...output], { input: concatScript(plan), maxBuffer: 256 << 20 });
  if (run.status !== 0) throw new Error(`ffmpeg: ${run.stderr.toString().slice(-800)}`);
  let bytesRead = 0;
  let seeks = 0;
  for (const m of run.stderr.toString().matchAll(/Statistics: (\d+) bytes read, (\d+) seeks/g)) {
    bytesRead += Number(m[1]);
    seeks += Number(m[2]);
  }
  return { stdout: run.stdout, bytesRead, seeks };
}

describe('a cut from the keyframe fragment', () => {
  it('reads about the clip it cuts from late in a long segment, not every fragment of the segment', async () => {
    const dir = path.join(scratch.dir, 'long');
    execFileSync('mkdir', ['-p', dir]);
    execFileSync('ffmpeg', [
      '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=sample_rate=48000',
      '-t', '60', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50', '-bf', '2', '-c:a', 'aac', ...RECORDER_MP4, '-segment_time', '600', path.join(dir, 'long%d.mp4'),
    ]);
    const [footage] = footageOf([path.join(dir, 'long0.mp4')], 60);
    const request = { device: 'cam1', startMs: footage!.startMs + 50_500, endMs: footage!.startMs + 55_500, format: 'mp4' as const };
    const plan = await planClip(probeSlot(), '/nonexistent/ffprobe', [footage!], request);
    const clip = cut(plan, ['-f', 'mp4', 'pipe:1']);
    const segmentBytes = statSync(footage!.path).size;
    expect(clip.stdout.length).toBeGreaterThan(0);
    // The clip is about a tenth of the segment: reading the segment's index at open would read nearly all of it.
    expect(clip.bytesRead, `read ${clip.bytesRead} of ${segmentBytes} bytes for a clip of ${clip.stdout.length}`).toBeLessThan(3 * clip.stdout.length);
    expect(clip.seeks).toBeLessThanOrEqual(4);
  });

  it("gives the frames ffmpeg's own seek gives, across two segments with B-frames", async () => {
    const footage = footageOf(files.slice(0, 2), 12);
    for (const from of [3, 9.9]) {
      const request = { device: 'cam1', startMs: footage[0]!.startMs + from * 1000, endMs: footage[0]!.startMs + (from + 10) * 1000, format: 'mp4' as const };
      const plan = await planClip(probeSlot(), '/nonexistent/ffprobe', footage, request);
      const frames = cut(plan, ['-f', 'framecrc', 'pipe:1']).stdout.toString();
      // ffmpeg seeking in the whole files itself: the script as it was before the keyframe's fragment was known.
      const seeking = cut({ ...plan, entry: null }, ['-f', 'framecrc', 'pipe:1']).stdout.toString();
      expect(frames.split('\n').length).toBeGreaterThan(400);
      expect(frames).toBe(seeking);
    }
  });
});
