// Footage as spans of continuous recording and the gaps between them.
import type { Gap, Span, Timeline, TimelineSegment } from '../contracts/index.js';
import type { Footage } from './library.js';

/** Segments closer than this are one span: a run's cuts meet exactly, a reconnect leaves seconds. */
export const SPAN_JOIN_MS = 2_000;

export type { Gap, Span, Timeline, TimelineSegment } from '../contracts/index.js';

/** The timeline of a window; the server adds the zone and the day it was asked in. */
export type TimelineSpans = Omit<Timeline, 'timeZone' | 'day'>;

const iso = (ms: number): string => new Date(ms).toISOString();
const seconds = (ms: number): number => Math.round(ms) / 1000;

function entry(device: string, f: Footage): TimelineSegment {
  return {
    file: f.name,
    url: `/files/${device}/${encodeURIComponent(f.name)}`,
    start: f.segment.startTime,
    end: f.segment.endTime,
    durationSeconds: f.segment.durationSeconds,
    bytes: f.segment.bytes,
    sha256: f.segment.sha256,
    format: f.segment.format,
    mimeType: f.segment.mimeType,
    codecs: { video: f.segment.video?.codec ?? null, audio: f.segment.audio?.codec ?? null },
  };
}

/** Spans of the segments that overlap [startMs, endMs), whole (not cut to the window), and the gaps between them. */
export function timelineOf(device: string, footage: readonly Footage[], startMs: number, endMs: number): TimelineSpans {
  const inWindow = footage.filter((f) => f.endMs > startMs && f.startMs < endMs);
  const groups: Footage[][] = [];
  for (const f of inWindow) {
    const group = groups.at(-1);
    const last = group?.at(-1);
    if (group && last && f.startMs - last.endMs <= SPAN_JOIN_MS) group.push(f);
    else groups.push([f]);
  }
  const spans: Span[] = groups.map((g) => {
    const s = g[0]!.startMs;
    const e = Math.max(...g.map((f) => f.endMs));
    return { start: iso(s), end: iso(e), durationSeconds: seconds(e - s), segments: g.map((f) => entry(device, f)) };
  });
  const gaps: Gap[] = [];
  for (let i = 1; i < spans.length; i++) {
    const s = Date.parse(spans[i - 1]!.end);
    const e = Date.parse(spans[i]!.start);
    gaps.push({ start: iso(s), end: iso(e), durationSeconds: seconds(e - s) });
  }
  return { device, start: iso(startMs), end: iso(endMs), spans, gaps };
}
