import { CloudEvent } from 'cloudevents';
import type { Segment } from '../contracts/index.js';
import { SEGMENT_FINISHED_TYPE, type SegmentFinishedData } from '../contracts/index.js';

/**
 * Stable for one segment: a redelivery, a replay from the journal and a restart all carry the same id,
 * so subscribers deduplicate on it. The hash prefix keeps ids apart if a wiped journal restarts sequences.
 */
export function segmentEventId(segment: Pick<Segment, 'device' | 'sequence' | 'sha256'>): string {
  return `${segment.device}.${segment.sequence}.${segment.sha256.slice(0, 16)}`;
}

/** The event's `data`: the segment without its absolute path, which means nothing outside this pod. */
export function segmentFinishedData(segment: Segment): SegmentFinishedData {
  return {
    device: segment.device,
    file: segment.file,
    sequence: segment.sequence,
    bytes: segment.bytes,
    sha256: segment.sha256,
    startTime: segment.startTime,
    endTime: segment.endTime,
    durationSeconds: segment.durationSeconds,
    format: segment.format,
    mimeType: segment.mimeType,
    video: segment.video ? { codec: segment.video.codec, width: segment.video.width, height: segment.video.height, fps: segment.video.fps } : null,
    audio: segment.audio
      ? { codec: segment.audio.codec, ...(segment.audio.transcodedFrom ? { transcodedFrom: segment.audio.transcodedFrom } : {}) }
      : null,
    recovered: segment.recovered,
    gapBeforeSeconds: segment.gapBeforeSeconds,
  };
}

/** `dev.shifu.rtsp.segment.finished.v1` for one finished segment. */
export function segmentFinishedEvent(segment: Segment, source: string): CloudEvent<SegmentFinishedData> {
  return new CloudEvent<SegmentFinishedData>({
    specversion: '1.0',
    id: segmentEventId(segment),
    type: SEGMENT_FINISHED_TYPE,
    source,
    subject: segment.file,
    time: segment.endTime,
    datacontenttype: 'application/json',
    data: segmentFinishedData(segment),
  });
}
