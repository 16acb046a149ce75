import { CloudEvent } from 'cloudevents';
import type { ArchiveRecord } from '../contracts/index.js';
import { SEGMENT_ARCHIVED_TYPE, type SegmentArchivedData } from '../contracts/index.js';

/**
 * `dev.shifu.rtsp.segment.archived.v1` for one archived segment. Its id is the same for every announcement of the
 * same object (a crash between queueing it and journaling the archive record announces it again), so subscribers
 * deduplicate on it.
 */
export function segmentArchivedEvent(record: ArchiveRecord, source: string): CloudEvent<SegmentArchivedData> {
  return new CloudEvent<SegmentArchivedData>({
    specversion: '1.0',
    id: `${record.device}.archived.${record.sha256.slice(0, 16)}`,
    type: SEGMENT_ARCHIVED_TYPE,
    source,
    subject: record.archived,
    time: record.at,
    datacontenttype: 'application/json',
    data: { device: record.device, file: record.archived, sha256: record.sha256, bucket: record.bucket, key: record.key, etag: record.etag, at: record.at },
  });
}
