// A finished segment as the recorder journals it, for tests that need one without recording one: every field a
// real one has, named by the contracts' own rule from its device and start, so each test writes only what it is about.
import path from 'node:path';
import { finishedSegmentName, RECORDING_RULES, segmentStem, type ContainerFormat, type Segment } from '../../functions/contracts/index.js';

export interface SegmentFixture {
  readonly device: string;
  /** Wall-clock start: an ISO time or epoch ms. The file is named after it, as the recorder names it. */
  readonly start: string | number;
  readonly seconds: number;
  /** The storage root `absolutePath` is under; `/data` (the recorder's default) unless given. */
  readonly root?: string;
  /** The container, which gives the name's extension and the MIME type; MP4 unless given. */
  readonly format?: ContainerFormat;
}

/** An H.264 320x240 segment (MP4 unless `format` says) without audio, sequence 1, 100 bytes; `overrides` replace any field. */
export function segmentFixture(f: SegmentFixture, overrides: Partial<Segment> = {}): Segment {
  const startMs = typeof f.start === 'number' ? f.start : Date.parse(f.start);
  const rule = RECORDING_RULES[f.format ?? 'mp4'];
  const file = `${f.device}/${finishedSegmentName(segmentStem(f.device, new Date(startMs)), 0, rule.extension)}`;
  return {
    file,
    absolutePath: path.join(f.root ?? '/data', file),
    device: f.device,
    sequence: 1,
    startTime: new Date(startMs).toISOString(),
    endTime: new Date(startMs + f.seconds * 1000).toISOString(),
    durationSeconds: f.seconds,
    bytes: 100,
    sha256: 'a'.repeat(64),
    format: f.format ?? 'mp4',
    mimeType: rule.mimeType,
    video: { codec: 'h264', width: 320, height: 240, fps: 25 },
    audio: null,
    recovered: false,
    gapBeforeSeconds: 0,
    ...overrides,
  };
}
