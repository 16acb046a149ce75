// The recording plan: which streams to keep and how, per container. Every rule lives in RECORDING_RULES;
// tests read the same table, so a new container or codec is one row, not an if-chain.

export type ContainerFormat = 'mp4' | 'mkv' | 'flv' | 'ts';
export type AudioMode = 'auto' | 'copy' | 'aac' | 'none';

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
export const AUDIO_MODES: readonly AudioMode[] = ['auto', 'copy', 'aac', 'none'];

/** What the camera sends, as far as the plan cares. */
export interface StreamInfo {
  readonly video: {
    readonly index: number;
    readonly codec: string;
    readonly width: number;
    readonly height: number;
    readonly fps: number | null;
  } | null;
  readonly audio: {
    readonly index: number;
    readonly codec: string;
    readonly sampleRate: number;
    readonly channels: number;
  } | null;
}

export type AudioAction =
  | { readonly kind: 'copy'; readonly codec: string }
  | { readonly kind: 'transcode'; readonly from: string; readonly to: 'aac'; readonly bitrate: number }
  | { readonly kind: 'drop'; readonly reason: string };

export interface RecordingPlan {
  readonly format: ContainerFormat;
  readonly rule: ContainerRule;
  readonly video: { readonly index: number; readonly codec: string; readonly tag?: string };
  readonly audio: AudioAction & { readonly index?: number };
  readonly stream: StreamInfo;
}

/** A camera/container combination that cannot work: refused once, with codec and container named. */
export class PlanRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanRefusedError';
  }
}

/** AAC needs about 3 bits per sample per channel for speech-grade G.711 sources; more only wastes space. */
function aacBitrate(sampleRate: number, channels: number): number {
  return Math.max(16_000, Math.min(128_000, Math.round(sampleRate * channels * 3)));
}

/** Chooses per stream: copy video (tagged where needed), copy or transcode audio, or refuse with a reason. */
export function planRecording(stream: StreamInfo, format: ContainerFormat, audioMode: AudioMode): RecordingPlan {
  const rule = RECORDING_RULES[format];
  if (!stream.video) throw new PlanRefusedError('the camera stream has no video track');
  const video = rule.video[stream.video.codec];
  if (!video) {
    const note = rule.notes?.[stream.video.codec];
    throw new PlanRefusedError(
      `video codec ${stream.video.codec} cannot be recorded into ${format}` +
        (note ? `: ${note}` : ` (${format} holds ${Object.keys(rule.video).join(', ')})`),
    );
  }
  const base = { format, rule, stream, video: { index: stream.video.index, codec: stream.video.codec, ...video } };
  const audio = stream.audio;
  if (!audio || audioMode === 'none') {
    return { ...base, audio: { kind: 'drop', reason: audio ? 'audio disabled (--audio none)' : 'camera sends no audio' } };
  }
  const fits = rule.audio.includes(audio.codec);
  const transcode = {
    kind: 'transcode',
    from: audio.codec,
    to: 'aac',
    bitrate: aacBitrate(audio.sampleRate, audio.channels),
    index: audio.index,
  } as const;
  switch (audioMode) {
    case 'copy':
      if (!fits) {
        throw new PlanRefusedError(
          `audio codec ${audio.codec} cannot be copied into ${format} (it holds ${rule.audio.join(', ')}); use --audio auto or aac`,
        );
      }
      return { ...base, audio: { kind: 'copy', codec: audio.codec, index: audio.index } };
    case 'aac':
      return audio.codec === 'aac'
        ? { ...base, audio: { kind: 'copy', codec: 'aac', index: audio.index } }
        : { ...base, audio: transcode };
    case 'auto':
      return fits ? { ...base, audio: { kind: 'copy', codec: audio.codec, index: audio.index } } : { ...base, audio: transcode };
  }
}
