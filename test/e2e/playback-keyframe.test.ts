// A clip's keyframe from the MP4 segment's own fragment index (mfra/tfra + the moof it points at), not from
// ffprobe: the same keyframe ffprobe finds, on a file made as the recorder makes them (segment muxer, fragmented
// MP4 with 1 s fragments, 2 s GOP, B-frames), and a clip planned with no ffprobe at all.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FfmpegSlot, keyframeAtOrBefore, keyframeFromMp4Index, planClip, type Footage } from '../../functions/playback/index.js';
import type { Segment } from '../../functions/recorder/index.js';
import { useScratch } from '../support/scratch.js';
import { requireTool } from './fixtures/camera.js';

const scratch = useScratch('shifu-playback-keyframe-');
let files: string[] = [];

beforeAll(() => {
  for (const tool of ['ffmpeg', 'ffprobe']) requireTool(tool);
  // The recorder's MP4 muxer options (functions/recorder/plan.ts), through the segment muxer as it runs them.
  execFileSync('ffmpeg', [
    '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=sample_rate=48000',
    '-t', '24', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50', '-bf', '2', '-c:a', 'aac',
    '-f', 'segment', '-segment_time', '12', '-segment_format', 'mp4',
    '-segment_format_options', 'movflags=+frag_keyframe+empty_moov+default_base_moof:frag_duration=1000000:flush_packets=1',
    path.join(scratch.dir, 'seg%d.mp4'),
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
    const segment = { file: `cam1/${path.basename(file)}`, startTime: '2026-11-24T10:00:00.000Z', endTime: '2026-11-24T10:00:12.000Z', format: 'mp4', audio: { codec: 'aac' }, video: { codec: 'h264' } } as unknown as Segment;
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
