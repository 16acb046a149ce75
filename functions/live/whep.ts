// WebRTC viewers (WHEP, draft-ietf-wish-whep): each POSTed offer gets a werift peer connection whose tracks are
// fed, packet for packet, from the camera stream's RTP source. werift does ICE, DTLS and SRTP; we write none.
import { randomBytes } from 'node:crypto';
import { MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters, type RTCIceServer, type RTCPeerConnectionConfig, type RTCRtpSender, type RtpPacket } from 'werift';
import { HttpError, type Logger, type PortRange } from '../lib/index.js';
import type { RtpCodecs, RtpSource, RtpSubscriber } from './rtp-source.js';
import { importSrtpKeys } from './srtp-keys.js';

export interface WebRtcSettings {
  /** LIVE_WEBRTC_UDP_PORTS: the UDP ports ICE binds (a Service exposes them). */
  readonly udpPorts: PortRange;
  /** LIVE_WEBRTC_ADDRESSES: the host candidates announced, in place of the ones gathered; empty: those gathered. */
  readonly addresses: readonly string[];
  /** LIVE_ICE_SERVERS: STUN/TURN; none by default (werift's own default is a public STUN server). */
  readonly iceServers: readonly RTCIceServer[];
}

/** Largest offer read (WHEP bodies are a few KiB); more is 413. */
export const MAX_OFFER_BYTES = 64 * 1024;
/** Gathering host candidates takes milliseconds; this bounds a stuck one. */
const GATHER_TIMEOUT_MS = 5_000;
/** A viewer whose connection has not come up (or went away) within this is closed. */
const CONNECT_TIMEOUT_MS = 30_000;
/** werift's sender logs a failed send itself; a packet that could not go is lost, as UDP's are. */
const ignore = (): undefined => undefined;

const H264 = () =>
  new RTCRtpCodecParameters({
    mimeType: 'video/H264',
    clockRate: 90000,
    rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }],
    // Level asymmetry: the browser decodes whatever profile and level the camera sends.
    parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
  });
const G711 = (name: 'PCMU' | 'PCMA') => new RTCRtpCodecParameters({ mimeType: `audio/${name}`, clockRate: 8000, channels: 1, payloadType: name === 'PCMU' ? 0 : 8 });
const OPUS = () => new RTCRtpCodecParameters({ mimeType: 'audio/OPUS', clockRate: 48000, channels: 2 });
const audioCodec = (name: 'PCMU' | 'PCMA' | 'OPUS'): RTCRtpCodecParameters => (name === 'OPUS' ? OPUS() : G711(name));

/**
 * werift's configuration for one viewer. `iceServers` is always given: werift's own default is a public STUN
 * server, which must never be asked unasked. An announced address that is local narrows gathering to it.
 */
export function peerConfig(settings: WebRtcSettings, audio: RtpCodecs['audio']): RTCPeerConnectionConfig {
  const local = settings.addresses.find((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a));
  return {
    iceServers: [...settings.iceServers],
    icePortRange: [settings.udpPorts.min, settings.udpPorts.max],
    ...(local ? { iceInterfaceAddresses: { udp4: local } } : {}),
    codecs: { video: [H264()], audio: audio ? [audioCodec(audio)] : [] },
  };
}

/** The media sections of an offer and the codec names each lists. */
function offeredCodecs(sdp: string): { video: string[] | undefined; audio: string[] | undefined } {
  const out: { video: string[] | undefined; audio: string[] | undefined } = { video: undefined, audio: undefined };
  let kind: 'video' | 'audio' | undefined;
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('m=')) {
      const k = line.slice(2).split(' ')[0];
      kind = k === 'video' || k === 'audio' ? k : undefined;
      if (kind) out[kind] ??= [];
    } else if (kind && line.startsWith('a=rtpmap:')) {
      const name = /^a=rtpmap:\d+\s+([^/\s]+)/.exec(line)?.[1]?.toUpperCase();
      if (name) out[kind]!.push(name);
    }
  }
  return out;
}

/**
 * 400 naming why an offer cannot be served, decided before any camera session opens: not SDP, no video, or no
 * H.264 (what live view always sends: an H.265 camera is encoded to it).
 */
export function checkOffer(sdp: string): void {
  if (!/^v=0/.test(sdp.trimStart())) throw new HttpError(400, 'offer: not an SDP offer (no v=0 line)', 'bad_offer');
  const offered = offeredCodecs(sdp);
  if (offered.video === undefined) throw new HttpError(400, 'offer: no video (m=video) section; live view always sends video', 'no_video');
  if (!offered.video.includes('H264')) {
    throw new HttpError(400, `offer: no codec in common: live view sends H264, the offer has ${[...new Set(offered.video)].join(', ') || 'no video codec'}`, 'no_common_codec');
  }
}

/** What the camera's stream gives this offer: 400 when its video is not H.264 (a codec live view does not encode), and whether audio goes too. */
export function matchOffer(sdp: string, camera: RtpCodecs): { audio: boolean } {
  if (camera.video !== 'H264') throw new HttpError(400, `offer: no codec in common: the camera sends ${camera.video ?? 'no video'}, which live view passes to WebRTC only as H264 (use HLS)`, 'no_common_codec');
  const offered = offeredCodecs(sdp);
  return { audio: camera.audio !== undefined && offered.audio !== undefined && offered.audio.includes(camera.audio) };
}

/**
 * The offer as werift reads it: without the bandwidth-estimation feedback (`goog-remb`, `transport-cc`) it offers.
 * werift's answer repeats the offer's `rtcp-fb` lines whatever its codecs say, and Chromium then sends REMB
 * several times a second, which werift decrypts and keeps for nothing: we cannot change an H.264 camera's bitrate.
 * NACK (werift resends a lost packet from its history) and PLI stay.
 */
export function withoutBandwidthFeedback(offer: string): string {
  return offer
    .split(/\r?\n/)
    .filter((line) => !/^a=rtcp-fb:\S+ (goog-remb|transport-cc)\s*$/.test(line))
    .join('\r\n');
}

/** The answer's host candidates replaced by the announced addresses, on the port ICE bound. */
export function announce(sdp: string, addresses: readonly string[]): string {
  if (addresses.length === 0) return sdp;
  const lines = sdp.split('\r\n');
  const out: string[] = [];
  for (const line of lines) {
    const m = /^a=candidate:(\S+) (\d+) udp (\d+) (\S+) (\d+) typ host(.*)$/i.exec(line);
    if (!m) {
      if (!line.startsWith('a=candidate:')) out.push(line);
      continue;
    }
    if (out.some((l) => l.startsWith('a=candidate:') && l.includes(` ${m[5]} typ host`))) continue;
    addresses.forEach((address, i) => out.push(`a=candidate:${m[1]}${i} ${m[2]} udp ${Number(m[3]) - i} ${address} ${m[5]} typ host${m[6] ?? ''}`));
  }
  return out.join('\r\n');
}

export class WhepSession implements RtpSubscriber {
  readonly id = randomBytes(12).toString('hex');
  private readonly videoTrack = new MediaStreamTrack({ kind: 'video' });
  private readonly audioTrack = new MediaStreamTrack({ kind: 'audio' });
  /**
   * The senders the packets go to, straight: a track's writeRtp would parse each packet again for every viewer,
   * copy it twice more and pass it through two events and their promises (measured: test/bench/live-load.ts).
   */
  private readonly videoSenders: RTCRtpSender[] = [];
  private readonly audioSenders: RTCRtpSender[] = [];
  private connected = false;
  private closed = false;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    readonly key: string,
    private readonly pc: RTCPeerConnection,
    private readonly source: RtpSource,
    private readonly log: Logger,
    private readonly onClose: (session: WhepSession) => void,
  ) {
    pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') {
        this.connected = true;
        for (const transport of pc.dtlsTransports) importSrtpKeys(transport);
        source.rejoin(this);
      } else if (state === 'failed' || state === 'closed') this.close(`connection ${state}`);
    });
    this.timer = setTimeout(() => {
      if (!this.connected) this.close('no connection');
    }, CONNECT_TIMEOUT_MS);
    this.timer.unref();
    // Held from the start, so the source stays open while the connection comes up (and closes after, if it never does).
    source.subscribe(this);
  }

  /** Answers `offer` for a viewer of `source`: the answer SDP (with its candidates) and the session. */
  static async answer(offer: string, key: string, source: RtpSource, settings: WebRtcSettings, log: Logger, onClose: (s: WhepSession) => void): Promise<{ session: WhepSession; answer: string }> {
    const codecs = await source.ready();
    const { audio } = matchOffer(offer, codecs);
    const pc = new RTCPeerConnection(peerConfig(settings, audio ? codecs.audio : undefined));
    const session = new WhepSession(key, pc, source, log, onClose);
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: withoutBandwidthFeedback(offer) });
      for (const transceiver of pc.getTransceivers()) {
        const track = transceiver.kind === 'video' ? session.videoTrack : transceiver.kind === 'audio' && audio ? session.audioTrack : undefined;
        transceiver.setDirection(track ? 'sendonly' : 'inactive');
        if (!track) continue;
        await transceiver.sender.replaceTrack(track);
        (track === session.videoTrack ? session.videoSenders : session.audioSenders).push(transceiver.sender);
      }
      const gathered = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, GATHER_TIMEOUT_MS);
        pc.iceGatheringStateChange.subscribe((state) => {
          if (state === 'complete') {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      // The DTLS server picks the SRTP profile. As the answerer werift would be the client (a=setup:active), and
      // Chromium, the server, picks AES-CM + HMAC-SHA1 (two node:crypto objects per packet for werift). As the
      // server (a=setup:passive, which an answer may choose: RFC 8842) werift picks AES-GCM, its first choice,
      // whenever the browser offers it, else AES-CM: half the SRTP CPU a packet (README, "Measured").
      for (const transport of pc.dtlsTransports) transport.role = 'server';
      await pc.setLocalDescription(await pc.createAnswer());
      if (pc.iceGatheringState !== 'complete') await gathered;
      const sdp = pc.localDescription?.sdp;
      if (!sdp) throw new Error('werift made no answer');
      return { session, answer: announce(sdp, settings.addresses) };
    } catch (err) {
      session.close('offer failed');
      if (err instanceof HttpError) throw err;
      throw new HttpError(400, `offer: ${err instanceof Error ? err.message : String(err)}`, 'bad_offer');
    }
  }

  video(packet: RtpPacket): void {
    if (this.connected) for (const sender of this.videoSenders) sender.sendRtp(packet).catch(ignore);
  }

  audio(packet: RtpPacket): void {
    if (this.connected) for (const sender of this.audioSenders) sender.sendRtp(packet).catch(ignore);
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.source.unsubscribe(this);
    void this.pc.close().catch(() => undefined);
    this.log.info({ stream: this.key, session: this.id, reason }, 'whep session closed');
    this.onClose(this);
  }
}
