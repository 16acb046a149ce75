// The data of the events a recorder announces: one zod schema per event type, shared by producer and subscribers.
import { z } from 'zod';
import { RECORDER_STATES, type RecorderState } from './recorder-status.js';

/** A finished segment file: announced once it is closed, measured, hashed and journaled. */
export const SEGMENT_FINISHED_TYPE = 'dev.shifu.rtsp.segment.finished.v1';
/** Recording started, stopped or was interrupted. */
export const RECORDER_STATE_TYPE = 'dev.shifu.rtsp.recorder.state.v1';
/** A finished segment's object is complete in the archive's S3 bucket (functions/archive). */
export const SEGMENT_ARCHIVED_TYPE = 'dev.shifu.rtsp.segment.archived.v1';
export const EVENT_TYPES = [SEGMENT_FINISHED_TYPE, RECORDER_STATE_TYPE, SEGMENT_ARCHIVED_TYPE] as const;
export type EventType = (typeof EVENT_TYPES)[number];

const STATES = RECORDER_STATES as [RecorderState, ...RecorderState[]];

const isoTime = z.iso.datetime({ message: 'expected an ISO 8601 UTC time such as 2026-11-24T10:00:00.000Z' });

/** `data` of `dev.shifu.rtsp.segment.finished.v1`. Unknown keys are dropped, so later additive fields parse. */
export const segmentFinishedDataSchema = z.object({
  device: z.string().min(1),
  /** Relative to the storage root (FileSavePath), `/`-separated: mount the volume anywhere and join. */
  file: z
    .string()
    .min(1)
    .refine((f) => !f.startsWith('/') && !f.split('/').includes('..'), 'expected a path relative to the storage root'),
  sequence: z.number().int().positive(),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits'),
  startTime: isoTime,
  endTime: isoTime,
  durationSeconds: z.number().nonnegative(),
  format: z.string().min(1),
  mimeType: z.string().min(1),
  /** null only for a stream without video. */
  video: z
    .object({
      codec: z.string().min(1),
      width: z.number().int().nonnegative(),
      height: z.number().int().nonnegative(),
      fps: z.number().positive().nullable(),
    })
    .nullable(),
  audio: z.object({ codec: z.string().min(1), transcodedFrom: z.string().min(1).optional() }).nullable(),
  recovered: z.boolean(),
  gapBeforeSeconds: z.number().nonnegative(),
});
export type SegmentFinishedData = z.infer<typeof segmentFinishedDataSchema>;

export const RECORDER_STATE_CHANGES = ['started', 'stopped', 'interrupted'] as const;
export type RecorderStateChange = (typeof RECORDER_STATE_CHANGES)[number];

/** `data` of `dev.shifu.rtsp.recorder.state.v1`. */
export const recorderStateDataSchema = z.object({
  device: z.string().min(1),
  change: z.enum(RECORDER_STATE_CHANGES),
  /** The recorder state entered. */
  state: z.enum(STATES),
  previousState: z.enum(STATES).optional(),
  /** Failure kind (unreachable, unauthorized, stalled, disk, ...) when interrupted. */
  reason: z.string().min(1).optional(),
  message: z.string().optional(),
  at: isoTime,
});
export type RecorderStateData = z.infer<typeof recorderStateDataSchema>;

/** `data` of `dev.shifu.rtsp.segment.archived.v1`: where the segment's object now is. */
export const segmentArchivedDataSchema = z.object({
  device: z.string().min(1),
  /** The segment's `file`, as in its segment.finished event. */
  file: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits'),
  bucket: z.string().min(1),
  key: z.string().min(1),
  etag: z.string(),
  /** When the object was complete. */
  at: isoTime,
});
export type SegmentArchivedData = z.infer<typeof segmentArchivedDataSchema>;
