// Segments from the playback server in the export pod: `/api/timeline` lists them, `/files/<device>/<file>` sends
// each, with `Range` and `If-Range` for a partial copy.
import { timelineFilesSchema } from '../contracts/index.js';
import type { ExportItem } from './resume.js';
import { ExportError, type OpenedSegment, type SegmentSource, type TimeWindow } from './segments.js';
import { bodyText, failureOf, type FootageSource } from './source.js';

const SHA256 = /^[0-9a-f]{64}$/;

/** The device's finished segments that overlap the window, oldest first, as the playback server lists them. */
async function survey(source: FootageSource, device: string, window: TimeWindow): Promise<ExportItem[]> {
  const query = new URLSearchParams({
    device,
    start: (window.since ?? new Date(0)).toISOString(),
    // Without --until: everything up to now and a day on (clocks differ).
    end: (window.until ?? new Date(Date.now() + 86_400_000)).toISOString(),
  });
  const res = await source.get(`/api/timeline?${query}`);
  if (res.statusCode !== 200) {
    const why = await failureOf(res);
    // The playback server's own 404 names the parameter; an API server's or a proxy's does not.
    if (res.statusCode === 404 && why.includes('device: ')) throw new ExportError('device_missing', `${source.description} has no recordings of ${device} (${why}); check --device`);
    const hint = res.statusCode === 401 || res.statusCode === 403 ? ' (the pod proxy needs "get" on pods/proxy; a playback server with PLAYBACK_TOKEN needs --token)' : '';
    throw new ExportError('timeline_failed', `timeline from ${source.description} failed: ${why}${hint}`);
  }
  const body = await bodyText(res, 64 << 20);
  let answer: unknown;
  try {
    answer = JSON.parse(body);
  } catch {
    throw new ExportError('timeline_failed', `timeline from ${source.description} is not JSON (${body.slice(0, 80)})`);
  }
  const parsed = timelineFilesSchema.safeParse(answer);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ExportError('timeline_failed', `timeline from ${source.description} is not a playback timeline: ${issue?.path.join('.') || 'answer'}: ${issue?.message ?? 'unexpected shape'}`);
  }
  return parsed.data.spans.flatMap((span) =>
    span.segments.map((s) => ({
      name: s.file,
      bytes: s.bytes,
      ...(SHA256.test(s.sha256) ? { sha256: s.sha256 } : {}),
      start: new Date(s.start),
      end: new Date(s.end),
    })),
  );
}

/** The playback server's segments: its timeline in one answer, each file with HTTP ranges. */
export function serverSegments(source: FootageSource): SegmentSource {
  return {
    description: source.description,
    async *batches(device, window) {
      yield await survey(source, device, window);
    },
    async open(device, item, offset): Promise<OpenedSegment> {
      const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-`, ...(item.sha256 ? { 'if-range': `"${item.sha256}"` } : {}) } : {};
      let res;
      try {
        res = await source.get(`/files/${encodeURIComponent(device)}/${encodeURIComponent(item.name)}`, headers);
      } catch (err) {
        return { kind: 'failed', detail: (err as Error).message, final: false };
      }
      if (res.statusCode === 404) return { kind: 'gone', detail: `gone from the volume (retention deleted it meanwhile?): ${await failureOf(res)}` };
      // 200 to a range request: the server's file is not the one the partial came from; start over.
      const from = res.statusCode === 206 ? offset : res.statusCode === 200 ? 0 : null;
      if (from === null) return { kind: 'failed', detail: await failureOf(res), final: (res.statusCode ?? 0) < 500 };
      const length = Number(res.headers['content-length']);
      const lastModified = Date.parse(res.headers['last-modified'] ?? '');
      return { kind: 'body', body: res, from, bytes: Number.isFinite(length) ? length : null, lastModifiedMs: Number.isFinite(lastModified) ? lastModified : null };
    },
  };
}
