// A finished recording file and where it lives on the volume.

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

/** `20261124T100000Z`: UTC, sortable, safe in every file system. */
export function compactUtc(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Finished segment files of a device: `<device>_<UTC start>[_n].<ext>`, the whole name, so a name that passes is
 * a plain file name (no `/`, `..`): the recorder, playback and export (which joins a server's names to a local
 * folder) all judge names by this one rule.
 */
export function isSegmentFileName(device: string, name: string): boolean {
  const rest = name.startsWith(`${device}_`) ? name.slice(device.length + 1) : null;
  return rest !== null && /^\d{8}T\d{6}Z(?:_\d+)?\.(?:mp4|mkv|flv|ts)$/.test(rest);
}
