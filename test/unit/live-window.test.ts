// The live HLS window: bounded in segments and bytes, and a playlist that a player can follow across ffmpeg runs.
import { mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { HlsWindow } from '../../functions/live/hls-window.js';
import { blockingReload, checkCameraPath } from '../../functions/live/server.js';
import { heightOf, liveEncoder, videoArguments, videoInputArguments } from '../../functions/live/video-plan.js';
import { useScratch } from '../support/scratch.js';

const fragment = (bytes: number, seconds = 1) => ({ bytes: Buffer.alloc(bytes), seconds, keyframe: true });

describe('live HLS window', () => {
  it('keeps at most its segment count and bytes, newest last, and lists only what it keeps', () => {
    const window = new HlsWindow({ segments: 3, bytes: 10_000 });
    window.addInit(Buffer.from('init'));
    // Each keyframe part starts a segment and completes the one before: after 10, nine are complete, one open.
    for (let i = 0; i < 10; i += 1) window.add(fragment(1000), 1_000_000 + i * 1000);
    expect(window.length).toBe(3);
    expect(window.segment(5)).toBeUndefined();
    expect(window.segment(8)?.bytes.length).toBe(1000);
    expect(window.segment(9)).toBeUndefined();
    const playlist = window.playlist('');
    expect(playlist).toContain('#EXT-X-MEDIA-SEQUENCE:6\n');
    expect([...playlist.matchAll(/^seg-(\d+)\.m4s$/gm)].map((m) => Number(m[1]))).toEqual([6, 7, 8]);
    // Bytes bound first: segments of 4 KB, 10 KB kept at most with the open one's part, so one complete.
    for (let i = 0; i < 3; i += 1) window.add(fragment(4000), 2_000_000 + i * 1000);
    expect(window.length).toBe(1);
  });

  it('marks a new ffmpeg run with a discontinuity and its own init section, and counts discontinuities that left', () => {
    const window = new HlsWindow({ segments: 3, bytes: 1e6 });
    window.addInit(Buffer.from('first'));
    window.add(fragment(10), 1000);
    window.add(fragment(10), 2000);
    // The run ends: its last segment is complete as it is.
    window.addInit(Buffer.from('second'));
    window.add(fragment(10, 2.5), 4500);
    window.add(fragment(10), 5500);
    const suffix = '?channel=1&subtype=0';
    const playlist = window.playlist(suffix);
    expect(playlist).toContain('#EXT-X-TARGETDURATION:3\n');
    expect(playlist).toMatch(/#EXT-X-MAP:URI="init-1\.mp4\?channel=1&subtype=0"\n[\s\S]*seg-1\.m4s\?channel=1&subtype=0\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init-2\.mp4\?channel=1&subtype=0"/);
    expect(window.init(2)?.toString()).toBe('second');
    window.add(fragment(10), 6500);
    window.add(fragment(10), 7500);
    // Both segments of the first run have left: its init too, and the discontinuity is counted.
    expect(window.init(1)).toBeUndefined();
    expect(window.playlist('')).toContain('#EXT-X-DISCONTINUITY-SEQUENCE:1\n');
    expect(window.playlist('')).not.toContain('#EXT-X-DISCONTINUITY\n');
  });

  it('lists LL-HLS parts: each fragment a part, a segment from keyframe to keyframe, and hints the next part', () => {
    const window = new HlsWindow({ segments: 6, bytes: 1e6 });
    window.addInit(Buffer.from('init'));
    const part = (n: number, keyframe: boolean) => ({ bytes: Buffer.alloc(100, n), seconds: 0.2, keyframe });
    // Two segments of five parts (a 1 s GOP cut every 200 ms), then two parts of the third.
    for (let i = 0; i < 12; i += 1) window.add(part(i, i % 5 === 0), 1_000_000 + i * 200);
    expect(window.length).toBe(2);
    const complete = window.segment(0);
    // A complete segment is its parts back to back, and each part is the fragment it was.
    expect(complete?.bytes).toEqual(Buffer.concat(Array.from({ length: 5 }, (_, i) => Buffer.alloc(100, i))));
    const second = window.part(1, 4);
    expect(second.state === 'ready' && second.part.bytes).toEqual(Buffer.alloc(100, 9));
    expect(window.part(2, 1).state).toBe('ready');
    expect(window.part(2, 2)).toEqual({ state: 'coming' });
    expect(window.part(2, 3)).toEqual({ state: 'missing' });
    expect(window.part(0, 5)).toEqual({ state: 'missing' });
    const playlist = window.playlist('?x=1');
    expect(playlist).toContain('#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.900\n');
    expect(playlist).toContain('#EXT-X-PART-INF:PART-TARGET=0.300\n');
    expect(playlist).toContain('#EXT-X-PART:DURATION=0.200,URI="part-1.0.m4s?x=1",INDEPENDENT=YES\n#EXT-X-PART:DURATION=0.200,URI="part-1.1.m4s?x=1"\n');
    expect(playlist.trimEnd().split('\n').slice(-3)).toEqual(['#EXT-X-PART:DURATION=0.200,URI="part-2.0.m4s?x=1",INDEPENDENT=YES', '#EXT-X-PART:DURATION=0.200,URI="part-2.1.m4s?x=1"', '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-2.2.m4s?x=1"']);
    expect(playlist).toContain('#EXTINF:1.000,\nseg-1.m4s?x=1\n');
    // A blocking reload's wait: segment 1 is there, part 1 of segment 2 too, part 2 not yet; 3 only once it opens.
    expect(window.holds(1, undefined)).toBe(true);
    expect(window.holds(2, 1)).toBe(true);
    expect(window.holds(2, 2)).toBe(false);
    expect(window.holds(2, undefined)).toBe(false);
    window.add(part(12, true), 1_002_400);
    expect(window.holds(2, undefined)).toBe(true);
    expect(window.holds(3, 0)).toBe(true);
    expect(window.edgeSequence).toBe(3);
    // A part longer than the target (frames the camera skipped) raises it while listed: no part is longer.
    window.add({ bytes: Buffer.alloc(100), seconds: 0.4567, keyframe: false }, 1_003_000);
    expect(window.playlist('')).toContain('#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.371\n#EXT-X-PART-INF:PART-TARGET=0.457\n');
  });

  it("refuses a blocking reload's bad parameters naming them, and one too far past the live edge", () => {
    const at = (query: string): URL => new URL(`http://live/cam/live.m3u8?${query}`);
    expect(blockingReload(at('viewer=1'), 5)).toBeUndefined();
    expect(blockingReload(at('_HLS_msn=7&_HLS_part=2'), 5)).toEqual({ msn: 7, part: 2 });
    expect(blockingReload(at('_HLS_msn=6'), 5)).toEqual({ msn: 6, part: undefined });
    expect(() => blockingReload(at('_HLS_msn=8'), 5)).toThrow(/^_HLS_msn: 8 is more than two segments past the live edge/);
    expect(() => blockingReload(at('_HLS_part=1'), 5)).toThrow(/^_HLS_part: given without _HLS_msn/);
    expect(() => blockingReload(at('_HLS_msn=-1'), 5)).toThrow(/^_HLS_msn: /);
    expect(() => blockingReload(at('_HLS_msn=3&_HLS_part=x'), 5)).toThrow(/^_HLS_part: /);
  });

  it('takes a camera path of RFC 3986 characters and refuses what is not one, naming the path', () => {
    expect(checkCameraPath('/Streaming/Channels/101')).toBe('/Streaming/Channels/101');
    expect(checkCameraPath('/cam/realmonitor')).toBe('/cam/realmonitor');
    for (const bad of ['/a%00b', '/a%ff', '/a b', '/a/"x"', `/${'a'.repeat(1100)}`]) expect(() => checkCameraPath(bad)).toThrow(/^path: /);
  });
});

describe('live video plan', () => {
  it('copies H.264, encodes H.264 with libx264 zerolatency (scaled down, never up, for ?height=), and refuses a bad height naming it', () => {
    expect(videoArguments({ transcode: false })).toEqual(['-c:v', 'copy']);
    const encode = videoArguments({ transcode: true, height: 720 });
    expect(encode.slice(0, 4)).toEqual(['-vf', "scale=-2:'min(ih,720)'", '-c:v', 'libx264']);
    expect(encode).toContain('zerolatency');
    expect(encode.join(' ')).toContain('-profile:v baseline');
    expect(videoInputArguments({ transcode: true })).toEqual([]);
    expect(videoInputArguments({ transcode: false })).toEqual(['-fpsprobesize', '0']);
    expect(heightOf(null)).toBeUndefined();
    expect(heightOf('480')).toBe(480);
    for (const bad of ['0', '99999', '720.5', 'tall']) expect(() => heightOf(bad)).toThrow(/^height: /);
  });

  it('transcodes with a hardware encoder when ffmpeg lists it and its device is in the pod, kept to constrained baseline for WebRTC', async () => {
    const log = pino({ level: 'silent' });
    // Debian's ffmpeg lists nvenc, vaapi and qsv on a machine with no GPU: the device node decides.
    const vaapi = await liveEncoder(ffmpegListing(['libx264', 'h264_nvenc', 'h264_vaapi']), log, (p) => p === '/dev/dri/renderD128');
    expect(vaapi.name).toBe('h264_vaapi');
    const plan = { transcode: true, height: 480, encoder: vaapi };
    expect(videoInputArguments(plan)).toEqual(['-vaapi_device', '/dev/dri/renderD128']);
    expect(videoArguments(plan).join(' ')).toBe("-vf format=nv12,hwupload,scale_vaapi=w=-2:h='min(ih,480)' -c:v h264_vaapi -profile:v constrained_baseline -force_key_frames expr:gte(t,n_forced*1)");
    const nvenc = await liveEncoder(ffmpegListing(['libx264', 'h264_nvenc']), log, (p) => p === '/dev/nvidia0');
    expect(videoArguments({ transcode: true, encoder: nvenc })).toEqual(['-c:v', 'h264_nvenc', '-preset', 'p4', '-tune', 'll', '-pix_fmt', 'yuv420p', '-profile:v', 'baseline', '-force_key_frames', 'expr:gte(t,n_forced*1)']);
    expect((await liveEncoder(ffmpegListing(['libx264', 'h264_nvenc']), log, () => false)).name).toBe('libx264');
    // An ffmpeg that cannot list its encoders: libx264, never a failed start.
    expect((await liveEncoder('/nonexistent/ffmpeg', log)).name).toBe('libx264');
  });
});

/** The stand-in ffmpegs' folder, removed after this file's tests (each run left a folder in /tmp before). */
const scratch = useScratch('shifu-encoders-');

/** A stand-in ffmpeg whose `-encoders` lists `names`, as Debian's prints them. */
function ffmpegListing(names: string[]): string {
  const file = path.join(mkdtempSync(path.join(scratch.dir, 'ffmpeg-')), 'ffmpeg');
  const listing = ['Encoders:', ' V..... = Video', ' ------', ...names.map((n) => ` V....D ${n.padEnd(20)} ${n}`)].join('\n');
  writeFileSync(file, `#!/bin/sh\ncat <<'LISTING'\n${listing}\nLISTING\n`, { mode: 0o755 });
  return file;
}
