// One camera stream as RTP for WebRTC viewers: an ffmpeg that reads the forwarder's own RTSP port on loopback
// (one more client of the shared camera session) and sends each track, copied, to a UDP port of ours on
// loopback; every WebRTC viewer of the stream is fed from there. No transcoding: H.264 and G.711 are WebRTC codecs.
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { HttpError, toolEnv, type Logger } from '../lib/index.js';
import { videoArguments, videoInputArguments, type VideoPlan } from './video-plan.js';
import { CameraInput, cameraFailure, inputFailure, type CameraLogin } from './camera-input.js';
import { firstMedia } from './first-media.js';
import { RtpFanout, type RtpSubscriber } from './rtp-fanout.js';
import { G711Joiner } from './g711-joiner.js';

export type { RtpSubscriber } from './rtp-fanout.js';

/** What ffmpeg's SDP says the tracks are. */
export interface RtpCodecs {
  /** `H264`, `H265`…, as in the rtpmap. */
  readonly video: string | undefined;
  /** The audio WebRTC takes: G.711 as the camera sends it, or Opus encoded from another codec; undefined for none. */
  readonly audio: 'PCMU' | 'PCMA' | 'OPUS' | undefined;
  /** Audio in another codec (AAC's `MPEG4-GENERIC`), which the source encodes to Opus. */
  readonly otherAudio?: string;
}

/** How the audio goes to WebRTC: copied (G.711), or encoded once to Opus for every viewer of the stream (AAC). */
export type AudioPlan = 'copy' | 'opus';

export interface RtpSourceOptions {
  readonly key: string;
  readonly source: string;
  readonly ffmpeg: string;
  readonly login?: CameraLogin;
  /** Copy or encode H.264 (`?height=`); an H.265 camera is encoded whatever was asked. */
  readonly video: VideoPlan;
  readonly log: Logger;
  readonly onEnd: (source: RtpSource) => void;
}

const FIRST_PACKET_TIMEOUT_MS = 20_000;
/** Once the last viewer left, the source waits this long for another before it stops ffmpeg. */
const LINGER_MS = 5_000;
const RESTART_DELAY_MS = 1_000;
/** Under the usual path MTU with SRTP's overhead, as browsers send. */
const PACKET_SIZE = 1200;
/** The SDP comes in one write or a few at once; this long without more, it is whole. */
const SDP_SETTLE_MS = 100;
/** At most this many packets wait for the SDP (its settling takes 100 ms: a few dozen at most). */
const EARLY_PACKETS = 2048;

/** ffmpeg's arguments: each track to its own RTP output; SPS/PPS written before every keyframe (WebRTC has no sprop). */
export function rtpArguments(input: string, video: VideoPlan, videoPort: number, audioPort: number | undefined, audio: AudioPlan = 'copy'): string[] {
  const args = [
    '-hide_banner', '-nostdin', '-loglevel', 'error',
    '-rtsp_transport', 'tcp', '-timeout', '10000000',
    ...videoInputArguments(video),
    '-i', input,
    '-map', '0:v:0', ...videoArguments(video), '-bsf:v', 'dump_extra=freq=keyframe',
    '-f', 'rtp', '-sdp_file', 'pipe:3', `rtp://127.0.0.1:${videoPort}?pkt_size=${PACKET_SIZE}`,
  ];
  // Opus as browsers take it: 48 kHz, 20 ms frames, the low-delay mode.
  const audioCodec = audio === 'opus' ? ['-c:a', 'libopus', '-ar', '48000', '-ac', '2', '-b:a', '64k', '-application', 'lowdelay', '-frame_duration', '20'] : ['-c:a', 'copy'];
  if (audioPort !== undefined) args.push('-map', '0:a:0', ...audioCodec, '-f', 'rtp', `rtp://127.0.0.1:${audioPort}?pkt_size=${PACKET_SIZE}`);
  return args;
}

/** The codecs of ffmpeg's RTP outputs, from the SDP it writes. */
export function codecsOf(sdp: string): RtpCodecs {
  let kind = '';
  let video: string | undefined;
  let audio: RtpCodecs['audio'];
  let otherAudio: string | undefined;
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('m=')) {
      kind = line.slice(2).split(' ')[0] ?? '';
      // Static payload types carry no rtpmap: 0 is PCMU, 8 is PCMA (RFC 3551).
      const pt = line.split(' ')[3];
      if (kind === 'audio' && pt === '0') audio = 'PCMU';
      if (kind === 'audio' && pt === '8') audio = 'PCMA';
    } else if (line.startsWith('a=rtpmap:')) {
      const name = /^a=rtpmap:\d+\s+([^/\s]+)/.exec(line)?.[1]?.toUpperCase();
      if (kind === 'video') video ??= name;
      if (kind === 'audio' && (name === 'PCMU' || name === 'PCMA' || name === 'OPUS')) audio = name;
      else if (kind === 'audio' && name !== undefined) otherAudio ??= name;
    }
  }
  return otherAudio === undefined || audio !== undefined ? { video, audio } : { video, audio, otherAudio };
}

export class RtpSource {
  private child: ChildProcess | undefined;
  /** The viewers, and where each starts. */
  private readonly fanout = new RtpFanout();
  /** G.711 audio in joined packets, half as many (g711-joiner.ts); Opus frames go as they come. */
  private readonly g711 = new G711Joiner((packet) => this.fanout.audio(packet));
  private codecs: RtpCodecs | undefined;
  private failure: HttpError | undefined;
  private ended = false;
  private withAudio = true;
  private videoPlan: VideoPlan;
  /** The run was stopped on purpose to start again encoding (its camera turned out to send H.265). */
  /** What the next run encodes that this one copied (null: no restart for that). */
  private restartToEncode: string | null = null;
  private audioPlan: AudioPlan = 'copy';
  private readonly input: CameraInput;
  private lingerTimer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  /** Packets that came before the SDP said the codec (the run's first keyframe among them), for the GOP kept. */
  private early: Buffer[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor(
    private readonly options: RtpSourceOptions,
    private readonly videoSocket: dgram.Socket,
    private readonly audioSocket: dgram.Socket,
  ) {
    this.input = new CameraInput(options.source, options.login, options.key, options.log);
    this.videoPlan = options.video;
    videoSocket.on('message', (packet) => this.video(packet));
    audioSocket.on('message', (packet) => this.audio(packet));
    void this.run();
  }

  static async open(options: RtpSourceOptions): Promise<RtpSource> {
    const bind = async (): Promise<dgram.Socket> => {
      const socket = dgram.createSocket('udp4');
      socket.bind(0, '127.0.0.1');
      await once(socket, 'listening');
      return socket;
    };
    return new RtpSource(options, await bind(), await bind());
  }

  get key(): string {
    return this.options.key;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  get viewerCount(): number {
    return this.fanout.size;
  }

  /** The tracks' codecs, once ffmpeg has said; rejects with the camera's failure or after the first-packet timeout. */
  async ready(): Promise<RtpCodecs> {
    return firstMedia(this.options.key, this.waiters, FIRST_PACKET_TIMEOUT_MS, () => ({ media: this.codecs, failure: this.failure, ended: this.ended }));
  }

  /** Adds a viewer; it gets video from the next keyframe on, or from the last one when it `rejoin`s. */
  subscribe(subscriber: RtpSubscriber): void {
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    this.fanout.add(subscriber);
  }

  /** The viewer's connection is up: it starts at once from the last keyframe kept (RtpFanout.rejoin). */
  rejoin(subscriber: RtpSubscriber): void {
    this.fanout.rejoin(subscriber);
  }

  unsubscribe(subscriber: RtpSubscriber): void {
    if (!this.fanout.delete(subscriber) || this.fanout.size > 0 || this.ended) return;
    this.lingerTimer = setTimeout(() => this.close('no viewer left'), LINGER_MS);
    this.lingerTimer.unref();
  }

  close(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.lingerTimer);
    clearTimeout(this.restartTimer);
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 2_000).unref();
    }
    this.input.close();
    this.videoSocket.close();
    this.audioSocket.close();
    this.options.log.info({ stream: this.options.key, reason }, 'live rtp source closed');
    this.options.onEnd(this);
    for (const wake of [...this.waiters]) wake();
  }

  private video(packet: Buffer): void {
    if (!this.fanout.started) {
      if (this.codecs === undefined && this.early.length < EARLY_PACKETS) this.early.push(packet);
      return;
    }
    this.fanout.video(packet);
  }

  private audio(packet: Buffer): void {
    const audio = this.codecs?.audio;
    if (audio === 'PCMU' || audio === 'PCMA') this.g711.push(packet);
    else if (audio !== undefined) this.fanout.audio(packet);
  }

  private async run(): Promise<void> {
    let input: string;
    try {
      input = await this.input.url();
    } catch (err) {
      this.failure = inputFailure(err);
      this.close('camera failed');
      return;
    }
    if (this.ended) return;
    const args = rtpArguments(input, this.videoPlan, this.videoSocket.address().port, this.withAudio ? this.audioSocket.address().port : undefined, this.audioPlan);
    // A run stopped to encode leaves packets in a codec this run does not send.
    this.early = [];
    const child = spawn(this.options.ffmpeg, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe'], env: toolEnv() });
    this.child = child;
    this.input.admit(child.pid);
    let stderr = '';
    let sdp = '';
    let started = false;
    child.stderr?.on('data', (b: Buffer) => {
      stderr = (stderr + b.toString()).slice(-4000);
    });
    // ffmpeg writes the SDP of its outputs once, at the start, and keeps the pipe open: read it when it stops coming.
    let settle: NodeJS.Timeout | undefined;
    child.stdio[3]?.on('data', (b: Buffer) => {
      sdp += b.toString();
      clearTimeout(settle);
      if (!sdp.includes('m=video')) return;
      settle = setTimeout(() => {
        if (started || this.ended) return;
        const codecs = codecsOf(sdp);
        const encodeVideo = codecs.video === 'H265' && !this.videoPlan.transcode;
        const encodeAudio = codecs.otherAudio !== undefined && this.audioPlan === 'copy';
        if (encodeVideo || encodeAudio) {
          // No browser decodes H.265 over WebRTC, nor takes AAC: start again, encoding H.264 and Opus once for
          // every viewer of the stream.
          if (encodeVideo) this.videoPlan = { ...this.videoPlan, transcode: true };
          if (encodeAudio) this.audioPlan = 'opus';
          this.restartToEncode = encodeVideo && encodeAudio ? 'H.264 and Opus' : encodeVideo ? 'H.264' : 'Opus';
          child.kill('SIGKILL');
          return;
        }
        started = true;
        this.codecs = codecs;
        const codec = this.codecs.video === 'H264' ? 'h264' : this.codecs.video === 'H265' ? 'h265' : undefined;
        this.fanout.start(codec);
        const early = this.early;
        this.early = [];
        for (const packet of early) this.video(packet);
        for (const wake of [...this.waiters]) wake();
      }, SDP_SETTLE_MS);
    });
    child.on('error', (err) => {
      stderr += `\n${err.message}`;
    });
    child.on('close', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.ended) return;
      if (this.restartToEncode !== null) {
        this.options.log.info({ stream: this.options.key, encoding: this.restartToEncode }, 'live rtp source: encoding what WebRTC takes');
        this.restartToEncode = null;
        void this.run();
        return;
      }
      if (!started && this.withAudio && /does not contain any stream|matches no streams/.test(stderr)) {
        // A camera without audio: the audio output had nothing to carry. Again, video only.
        this.withAudio = false;
        void this.run();
        return;
      }
      if (!started) {
        this.failure = cameraFailure(stderr, this.options.key);
        this.close('camera failed');
        return;
      }
      this.options.log.warn({ stream: this.options.key, code, signal }, 'live rtp source input ended; restarting');
      // Viewers rejoin at the next keyframe of the new run.
      this.fanout.restart();
      this.restartTimer = setTimeout(() => void this.run(), RESTART_DELAY_MS);
      this.restartTimer.unref();
    });
  }
}
