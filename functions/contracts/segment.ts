// A finished recording file and where it lives on the volume: the journal's segment record (journal.ts), the
// segment event's data, what playback and export list. The recorder writes it; the others only read it.

export interface Segment {
  /** Path relative to the storage root (`--out`), e.g. `cam1/cam1_20261124T100000Z.mp4`. */
  readonly file: string;
  readonly absolutePath: string;
  readonly device: string;
  /** Per device, increasing by one for every finished segment, across restarts. */
  readonly sequence: number;
  /** Wall clock at the cut that started it (the name's time); a run's first: end minus durationSeconds. */
  readonly startTime: string;
  /** Wall clock at the cut that ended it: the next segment's startTime. */
  readonly endTime: string;
  /** Media seconds, measured from the stream (segment list or ffprobe), not the clock: a camera clock that
   * runs fast or slow makes this differ from endTime - startTime. */
  readonly durationSeconds: number;
  readonly bytes: number;
  readonly sha256: string;
  readonly format: string;
  readonly mimeType: string;
  readonly video: { readonly codec: string; readonly width: number; readonly height: number; readonly fps: number | null } | null;
  readonly audio: { readonly codec: string; readonly transcodedFrom?: string } | null;
  /** Finished by crash recovery at start, not by ffmpeg. */
  readonly recovered: boolean;
  /** Seconds the stream was down right before this segment (0 when it follows the previous one). */
  readonly gapBeforeSeconds: number;
}
