// Segment names and times follow the wall clock, not the camera's: camera clocks drift. A watch test (e2e-watch, beside
// the e2e tier): it records for 110 s, nearly idle, to let a 1 % drift show.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useScratch } from '../support/scratch.js';
import { scopedTo } from './support/scoped.js';
import { journalOf } from '../support/journal.js';
import type { Segment } from '../../functions/recorder/index.js';

interface Status {
  state: string;
  lastSegment: Segment | null;
}

const scratch = useScratch('shifu-clock-');
const { camera, recorder } = scopedTo(scratch);

const SEGMENT_SECONDS = 10;
/** Long enough for a 1 % drift to move a stream-time name past a second (1 % of 100 s). */
const RECORD_MS = 110_000;

/** `cam_20261203T070010Z.mp4` -> the UTC second in its name. */
function nameTime(file: string): number {
  const m = /_(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z(?:_\d+)?\.\w+$/.exec(file);
  if (!m) throw new Error(`not a segment name: ${file}`);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

describe('recorder: wall-clock names with drifting camera clocks', () => {
  it('keeps clock-aligned names on the boundaries with a camera 1 % fast and one 1 % slow, reporting media duration apart', async () => {
    // A keyframe every 0.2 s: a cut lands at most that long after its boundary.
    const cams = await Promise.all([1.01, 0.99].map((clockRate) => camera({ video: 'h264', audio: 'none', gop: 5, fps: 25, clockRate })));
    const outs = cams.map((_c, i) => path.join(scratch.dir, `drift-${i}`));
    // The default mode: cuts aligned to the clock (no --no-align-to-clock).
    const recs = await Promise.all(
      cams.map((cam, i) => recorder(['--url', cam.url, '--out', outs[i]!, '--device', 'cam', '--segment-seconds', String(SEGMENT_SECONDS)])),
    );
    await Promise.all(recs.map((rec) => rec.waitFor<Status>('/record/status', (s) => s.state === 'recording', 30_000)));
    await new Promise((r) => setTimeout(r, RECORD_MS));
    for (const rec of recs) expect(await rec.stop('SIGTERM')).toBe(0);

    for (const [i, rate] of [1.01, 0.99].entries()) {
      const segments = await journalOf(outs[i]!, 'cam');
      // The first starts when ffmpeg does and the last when it was stopped: the others start on a boundary.
      const middle = segments.slice(1, -1);
      expect(middle.length, `camera at ${rate}`).toBeGreaterThanOrEqual(9);
      for (const s of middle) {
        expect(nameTime(s.file) % (SEGMENT_SECONDS * 1000), `${s.file} (camera at ${rate})`).toBe(0);
        const start = Date.parse(s.startTime);
        expect(start - nameTime(s.file), `${s.file} startTime ${s.startTime}`).toBeGreaterThanOrEqual(0);
        expect(start - nameTime(s.file), `${s.file} startTime ${s.startTime}`).toBeLessThan(1000);
      }
      for (let k = 1; k < segments.length; k++) expect(segments[k]!.startTime).toBe(segments[k - 1]!.endTime);
      // Media duration stays the camera's: 1 % more (fast) or less (slow) than the wall time it covers.
      const media = middle.reduce((sum, s) => sum + s.durationSeconds, 0);
      const wall = middle.reduce((sum, s) => sum + (Date.parse(s.endTime) - Date.parse(s.startTime)) / 1000, 0);
      if (rate > 1) expect(media - wall, `media ${media} s over wall ${wall} s`).toBeGreaterThan(0.4);
      else expect(wall - media, `media ${media} s over wall ${wall} s`).toBeGreaterThan(0.4);
    }
  }, 240_000);
});
