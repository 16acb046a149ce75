// The recording plan: which streams to keep and how, per container. Every rule lives in RECORDING_RULES
// (contracts/containers.ts, which playback cuts clips by too); tests read the same table, so a new container or
// codec is one row, not an if-chain.
import { RECORDING_RULES, type AudioMode, type ContainerFormat, type ContainerRule } from '../contracts/index.js';

export { AUDIO_MODES, CONTAINER_FORMATS, RECORDING_RULES, type AudioMode, type ContainerFormat, type ContainerRule } from '../contracts/index.js';

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
