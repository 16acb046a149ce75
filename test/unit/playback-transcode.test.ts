// /api/clip's video=h264: its parameters, the encoder it picks (a hardware one only where its device exists),
// the pace that makes libx264 faster when it falls behind, and the two slots of the ffmpeg limit it takes.
import type { ServerResponse } from 'node:http';
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { HttpError } from '../../functions/lib/index.js';
import { chooseEncoder, clipArguments, FfmpegSlots, listedEncoders, parseHeight, parseVideo, pieceArguments, TRANSCODE_GOP_SECONDS, TranscodePace, transcodeVideoArguments, type ClipPlan, type Footage } from '../../functions/playback/index.js';

const DEBIAN_ENCODERS = `Encoders:
 V..... = Video
 ------
 V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (codec h264)
 V....D h264_nvenc           NVIDIA NVENC H.264 encoder (codec h264)
 V..... h264_qsv             H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (Intel Quick Sync Video acceleration) (codec h264)
 V....D h264_vaapi           H.264/AVC (VAAPI) (codec h264)
 A....D aac                  AAC (Advanced Audio Coding)
`;

function refusal(fn: () => unknown): { status: number; message: string; headers?: Record<string, string> } {
  try {
    fn();
  } catch (err) {
    if (err instanceof HttpError) return { status: err.statusCode, message: err.message, headers: err.headers as Record<string, string> | undefined };
    throw err;
  }
  throw new Error('not refused');
}

describe('video and height on /api/clip', () => {
  const q = (s: string): URLSearchParams => new URLSearchParams(s);

  it('takes copy (the default) or h264, and a height to scale down to with h264', () => {
    expect(parseVideo(q(''))).toBe('copy');
    expect(parseVideo(q('video=h264'))).toBe('h264');
    expect(parseHeight(q('height=720'), 'h264')).toBe(720);
    expect(parseHeight(q(''), 'h264')).toBeNull();
  });

  it('refuses other codecs, odd or silly heights, and a height on a copy, naming the parameter', () => {
    expect(refusal(() => parseVideo(q('video=vp9')))).toMatchObject({ status: 400, message: 'video: expected copy or h264' });
    expect(refusal(() => parseVideo(q('video=constructor'))).message).toMatch(/^video: /);
    for (const h of ['0', '721', '-2', '1e3', '99999', 'tall']) expect(refusal(() => parseHeight(q(`height=${h}`), 'h264')).message, h).toMatch(/^height: expected an even number/);
    expect(refusal(() => parseHeight(q('height=720'), 'copy')).message).toMatch(/^height: only with video=h264/);
  });
});

describe('the encoder of a transcode', () => {
  const listed = listedEncoders(DEBIAN_ENCODERS);
  const devices = (...present: string[]) => (p: string): boolean => present.includes(p);

  it('reads the names ffmpeg lists', () => {
    expect([...listed].sort()).toEqual(['aac', 'h264_nvenc', 'h264_qsv', 'h264_vaapi', 'libx264']);
  });

  it('uses libx264 veryfast where ffmpeg lists hardware encoders but no device node exists (no GPU)', () => {
    const e = chooseEncoder(listed, devices(), false);
    expect([e.name, e.preset]).toEqual(['libx264', 'veryfast']);
    expect(e.outputArgs(720)).toEqual(['-vf', "scale=-2:'min(ih,720)'", '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p']);
  });

  it('uses ultrafast while transcodes run behind real time', () => {
    expect(chooseEncoder(listed, devices(), true).preset).toBe('ultrafast');
  });

  it('uses NVENC with /dev/nvidia0, VAAPI with a render node, each only when ffmpeg lists it', () => {
    expect(chooseEncoder(listed, devices('/dev/nvidia0', '/dev/dri/renderD128'), false).name).toBe('h264_nvenc');
    const vaapi = chooseEncoder(listed, devices('/dev/dri/renderD128'), false);
    expect(vaapi.name).toBe('h264_vaapi');
    expect(vaapi.inputArgs).toEqual(['-vaapi_device', '/dev/dri/renderD128']);
    expect(chooseEncoder(new Set(['libx264', 'h264_qsv']), devices('/dev/dri/renderD128'), false).name).toBe('h264_qsv');
    expect(chooseEncoder(new Set(['libx264']), devices('/dev/nvidia0', '/dev/dri/renderD128'), false).name).toBe('libx264');
  });
});

describe('the pace of transcodes', () => {
  const block = (outSeconds: number, speed: string): string => `frame=100\nout_time_us=${outSeconds * 1_000_000}\nspeed=${speed}\nprogress=continue\n`;

  it('is behind after a report under real time, past start-up; back once ultrafast runs at twice real time', () => {
    const pace = new TranscodePace();
    expect(pace.behind).toBe(false);
    pace.observe('veryfast', block(1, '0.3x'));
    expect(pace.behind).toBe(false);
    pace.observe('veryfast', block(5, '0.8x'));
    expect(pace.behind).toBe(true);
    pace.observe('ultrafast', block(5, '1.5x'));
    expect(pace.behind).toBe(true);
    pace.observe('ultrafast', block(8, '2.4x'));
    expect(pace.behind).toBe(false);
  });
});

describe('a transcode in the ffmpeg limit', () => {
  const response = (): ServerResponse => Object.assign(new EventEmitter(), { destroyed: false, socket: { destroyed: false } }) as unknown as ServerResponse;

  it('counts 2 slots: with 3, one transcode and one cut run, a second transcode gets 503 with Retry-After', () => {
    const slots = new FfmpegSlots(3);
    const transcode = slots.take(response(), 2);
    expect(slots.busy).toBe(2);
    const refused = refusal(() => slots.take(response(), 2));
    expect(refused.status).toBe(503);
    expect(refused.headers?.['retry-after']).toBe('5');
    expect(refused.message).toMatch(/PLAYBACK_MAX_CUTS; this needs 2/);
    const cut = slots.take(response());
    expect(slots.busy).toBe(3);
    transcode.release();
    cut.release();
    expect(slots.busy).toBe(0);
  });

  it('still runs one transcode at a time with a limit of 1', () => {
    const slots = new FfmpegSlots(1);
    const one = slots.take(response(), 2);
    expect(refusal(() => slots.take(response(), 2)).status).toBe(503);
    one.release();
    expect(slots.take(response(), 2).open).toBe(true);
  });
});

describe("a transcode's keyframes", () => {
  it('are forced by one rule for /api/clip and the HLS pieces: a keyframe every TRANSCODE_GOP_SECONDS, at the height asked', () => {
    const encoder = chooseEncoder(new Set(['libx264']), () => false, false);
    const video = transcodeVideoArguments(encoder, 480);
    expect(video).toEqual([...encoder.outputArgs(480), '-force_key_frames', `expr:gte(t,n_forced*${TRANSCODE_GOP_SECONDS})`]);
    const holds = (args: readonly string[]): boolean => args.join('\u0000').includes(video.join('\u0000'));
    const segment = { format: 'mp4', audio: { codec: 'aac' }, video: { codec: 'hevc' } };
    const plan = { request: { device: 'cam', startMs: 0, endMs: 10_000, format: 'mp4', video: 'h264', height: 480 }, parts: [], inpoint: null, mediaSeconds: 10, audio: { mode: 'copy', recorded: 'aac', adtsToAsc: false }, videoTag: null } as unknown as ClipPlan;
    expect(holds(clipArguments(plan, encoder))).toBe(true);
    const f = { segment, name: 'cam_20261124T100000Z.mp4', path: '/data/cam/cam_20261124T100000Z.mp4', startMs: 0, endMs: 60_000 } as unknown as Footage;
    const piece = { device: 'cam', name: f.name, from: 0, to: 6, video: 'h264' as const, height: 480 };
    expect(holds(pieceArguments(f, piece, { fileStart: 0, inpoint: null, outpoint: 6 }, encoder))).toBe(true);
  });
});
