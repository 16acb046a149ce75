import { describe, expect, it } from 'vitest';
import {
  CONTAINER_FORMATS,
  planRecording,
  PlanRefusedError,
  RECORDING_RULES,
  type StreamInfo,
} from '../../functions/recorder/index.js';

function stream(video: string | null, audio: string | null): StreamInfo {
  return {
    video: video ? { index: 0, codec: video, width: 1920, height: 1080, fps: 25 } : null,
    audio: audio ? { index: 1, codec: audio, sampleRate: 8000, channels: 1 } : null,
  };
}

describe('recording plan rules (one table)', () => {
  it('copies H.264 into every container', () => {
    for (const format of CONTAINER_FORMATS) {
      const plan = planRecording(stream('h264', null), format, 'auto');
      expect(plan.video).toMatchObject({ codec: 'h264' });
      expect(plan.video.tag).toBeUndefined();
    }
  });

  it('tags H.265 in MP4 as hvc1 so Apple players open it', () => {
    expect(planRecording(stream('hevc', 'aac'), 'mp4', 'auto').video.tag).toBe('hvc1');
    expect(planRecording(stream('hevc', 'aac'), 'mkv', 'auto').video.tag).toBeUndefined();
  });

  it('refuses H.265 in FLV naming codec and container', () => {
    expect(() => planRecording(stream('hevc', 'aac'), 'flv', 'auto')).toThrow(PlanRefusedError);
    expect(() => planRecording(stream('hevc', 'aac'), 'flv', 'auto')).toThrow(/hevc.*flv/);
  });

  it.each(['pcm_alaw', 'pcm_mulaw'])('transcodes G.711 (%s) to AAC under auto where the container cannot hold it', (codec) => {
    for (const format of CONTAINER_FORMATS) {
      const plan = planRecording(stream('h264', codec), format, 'auto');
      const holds = RECORDING_RULES[format].audio.includes(codec);
      expect(plan.audio.kind).toBe(holds ? 'copy' : 'transcode');
    }
    expect(planRecording(stream('h264', codec), 'mp4', 'auto').audio).toMatchObject({ kind: 'transcode', from: codec, to: 'aac' });
    expect(planRecording(stream('h264', codec), 'ts', 'auto').audio).toMatchObject({ kind: 'transcode' });
    expect(planRecording(stream('h264', codec), 'flv', 'auto').audio).toMatchObject({ kind: 'copy', codec });
  });

  it('refuses --audio copy of G.711 into MP4 with a message naming both', () => {
    expect(() => planRecording(stream('h264', 'pcm_alaw'), 'mp4', 'copy')).toThrow(/pcm_alaw.*mp4/);
  });

  it('transcodes with --audio aac, drops with --audio none, and copies AAC as it is', () => {
    expect(planRecording(stream('h264', 'pcm_alaw'), 'mkv', 'aac').audio.kind).toBe('transcode');
    expect(planRecording(stream('h264', 'aac'), 'mkv', 'aac').audio).toMatchObject({ kind: 'copy', codec: 'aac' });
    expect(planRecording(stream('h264', 'aac'), 'mp4', 'none').audio.kind).toBe('drop');
    expect(planRecording(stream('h264', null), 'mp4', 'auto').audio.kind).toBe('drop');
  });

  it('refuses a stream without video', () => {
    expect(() => planRecording(stream(null, 'aac'), 'mp4', 'auto')).toThrow(/no video/);
  });

  it('keeps MP4 fragmented (<= 1 s) so a crash costs about a second', () => {
    const options = RECORDING_RULES.mp4.muxerOptions.join(':');
    expect(options).toContain('frag_keyframe');
    expect(options).toContain('empty_moov');
    expect(options).toContain('frag_duration=1000000');
  });
});
