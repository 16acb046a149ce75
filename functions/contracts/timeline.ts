// /api/timeline's answer: footage of one device as spans of continuous recording and the gaps between them.
// The playback server builds it, its page draws it and `shifu-rtsp export` copies what it lists: all three
// compile against this one schema, and export checks what a server sent with it.
import { z } from 'zod';

export const timelineSegmentSchema = z.object({
  file: z.string(),
  /** `/files/<device>/<file>`, with byte ranges. */
  url: z.string(),
  start: z.string(),
  end: z.string(),
  durationSeconds: z.number(),
  bytes: z.number(),
  sha256: z.string(),
  format: z.string(),
  mimeType: z.string(),
  codecs: z.object({ video: z.string().nullable(), audio: z.string().nullable() }),
});
export type TimelineSegment = z.infer<typeof timelineSegmentSchema>;

const periodSchema = z.object({ start: z.string(), end: z.string(), durationSeconds: z.number() });

export const spanSchema = periodSchema.extend({ segments: z.array(timelineSegmentSchema) });
export type Span = z.infer<typeof spanSchema>;

export const gapSchema = periodSchema;
export type Gap = z.infer<typeof gapSchema>;

export const timelineSchema = z.object({
  device: z.string(),
  start: z.string(),
  end: z.string(),
  /** The IANA zone the window was asked in (`tz`, UTC without it). */
  timeZone: z.string(),
  /** The local date the window is, in `timeZone`; null for a window that is not one day. */
  day: z.string().nullable(),
  spans: z.array(spanSchema),
  gaps: z.array(gapSchema),
});
export type Timeline = z.infer<typeof timelineSchema>;

/**
 * What a copier needs of a timeline: the files it lists, checked field by field. Derived from the schema above,
 * so it cannot drift; it asks for nothing else, so servers from before `timeZone` and `day` still answer it.
 */
export const timelineFilesSchema = z.object({
  spans: z.array(z.object({ segments: z.array(timelineSegmentSchema.pick({ file: true, start: true, end: true, bytes: true, sha256: true })) })),
});
