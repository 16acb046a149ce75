// What each container holds and how ffmpeg writes it: the recorder plans recordings by it, playback cuts clips by
// it, and the volume's file names take their extensions from it.

export type ContainerFormat = 'mp4' | 'mkv' | 'flv' | 'ts';

export interface ContainerRule {
  /** ffmpeg muxer name. */
  readonly muxer: string;
  readonly extension: string;
  readonly mimeType: string;
  /** Video codecs (ffprobe names) the container holds, with the codec tag to force, if any. */
  readonly video: Readonly<Record<string, { readonly tag?: string }>>;
  /** Audio codecs (ffprobe names) the container holds as they are. */
  readonly audio: readonly string[];
  /** Options for the per-segment muxer (`-segment_format_options`). */
  readonly muxerOptions: readonly string[];
  /** Why a codec is missing, for refusals that help (keyed by codec). */
  readonly notes?: Readonly<Record<string, string>>;
}

export const RECORDING_RULES: Readonly<Record<ContainerFormat, ContainerRule>> = {
  mp4: {
    muxer: 'mp4',
    extension: 'mp4',
    mimeType: 'video/mp4',
    // hvc1 (parameter sets in the sample entry) is what Apple players require for H.265.
    video: { h264: {}, hevc: { tag: 'hvc1' } },
    audio: ['aac', 'mp3', 'opus'],
    // Fragments of <= 1 s, flushed as written: a crash or power loss costs about a second, never the file.
    muxerOptions: ['movflags=+frag_keyframe+empty_moov+default_base_moof', 'frag_duration=1000000', 'flush_packets=1'],
  },
  mkv: {
    muxer: 'matroska',
    extension: 'mkv',
    mimeType: 'video/x-matroska',
    video: { h264: {}, hevc: {} },
    audio: ['aac', 'mp3', 'opus', 'pcm_alaw', 'pcm_mulaw'],
    // Clusters of <= 1 s, flushed as written, for the same crash budget as MP4.
    muxerOptions: ['cluster_time_limit=1000', 'flush_packets=1'],
  },
  flv: {
    muxer: 'flv',
    extension: 'flv',
    mimeType: 'video/x-flv',
    video: { h264: {} },
    audio: ['aac', 'mp3', 'pcm_alaw', 'pcm_mulaw'],
    muxerOptions: ['flush_packets=1'],
    notes: { hevc: 'FLV has no H.265 in ffmpeg 5.1 (use mp4, mkv or ts)' },
  },
  ts: {
    muxer: 'mpegts',
    extension: 'ts',
    mimeType: 'video/mp2t',
    video: { h264: {}, hevc: {} },
    // MPEG-TS has no G.711 stream type: ffmpeg writes it as opaque data that no player decodes.
    audio: ['aac', 'mp3', 'ac3'],
    muxerOptions: ['flush_packets=1'],
  },
};

export const CONTAINER_FORMATS = Object.keys(RECORDING_RULES) as ContainerFormat[];

/** The containers a clip is cut into (`/api/clip?format=`, `export --format`, the page's choice): FLV takes no H.265. */
export const CLIP_CONTAINERS = ['mp4', 'mkv', 'ts'] as const satisfies readonly ContainerFormat[];
export type ClipFormat = (typeof CLIP_CONTAINERS)[number];
