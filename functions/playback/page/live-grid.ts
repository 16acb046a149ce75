// The playback page's live grid: one tile per device, playing through this server's /live/<device>/ proxy
// (WHEP first, HLS through hls.js as the fallback), saying which way it plays and how far behind it is;
// "Camera offline" when the picture stops, and it starts again by itself. A click makes a tile large;
// "Back to recording" jumps the device's timeline to the moment on show.
import type HlsType from 'hls.js';
import { LIVE_HLS_CONFIG, loadHls, settles } from './players.js';

export interface LiveDevice {
  readonly device: string;
  /** `/live/<device>/`: the proxy's base for this device. */
  readonly live: string;
}

export interface LiveGridOptions {
  /** `webrtc` or `hls` alone (the page's `?live=`); null: WebRTC first, HLS when it fails. */
  readonly only: 'webrtc' | 'hls' | null;
  /** Jumps the device's timeline to a wall time; false when the page shows no recording of it. */
  backToRecording(device: string, ms: number): boolean;
}

/** No new picture for this long: the camera is offline (the tile says so and starts again). */
const STALL_MS = 6_000;
/** How long a first picture may take (the forwarder waits up to 20 s for a camera's first segment). */
const CONNECT_MS = 30_000;
const RETRY_MS = 2_000;
/** WebRTC must connect within this, or the tile falls back to HLS. */
const ICE_MS = 8_000;

type Mode = 'webrtc' | 'hls';

class LiveTile {
  readonly root = document.createElement('figure');
  private readonly video = document.createElement('video');
  private readonly status = document.createElement('span');
  private readonly back = document.createElement('button');
  private mode: Mode | null = null;
  /** Ends what plays now (a peer connection and its WHEP session, or hls.js). */
  private stop: () => void = () => undefined;
  private hls: HlsType | null = null;
  private pc: RTCPeerConnection | null = null;
  private latencyMs: number | null = null;
  private lastFrames = -1;
  private lastProgress = 0;
  private startedAt = 0;
  /** While offline: since when. Only a picture newer than that is live again (HLS keeps the last segments). */
  private offlineSince: number | null = null;
  private generation = 0;

  constructor(
    private readonly camera: LiveDevice,
    private readonly options: LiveGridOptions,
  ) {
    this.root.dataset.device = camera.device;
    this.root.dataset.state = 'connecting';
    this.video.muted = true;
    this.video.autoplay = true;
    this.video.playsInline = true;
    this.video.title = 'click for large';
    this.video.addEventListener('click', () => this.root.classList.toggle('large'));
    this.status.className = 'live-status';
    this.status.setAttribute('role', 'status');
    this.back.type = 'button';
    this.back.className = 'back-to-recording';
    this.back.textContent = 'Back to recording';
    this.back.addEventListener('click', () => {
      const at = Date.now() - (this.latencyMs ?? 0);
      if (!this.options.backToRecording(this.camera.device, at)) this.say(`${this.status.textContent ?? ''} (no recording of ${this.camera.device} here)`);
    });
    const caption = document.createElement('figcaption');
    const name = document.createElement('strong');
    name.textContent = this.camera.device;
    caption.append(name, this.status, this.back);
    this.root.append(this.video, caption);
    this.say('connecting…');
    setInterval(() => void this.watch(), 1_000);
    void this.start();
  }

  private say(text: string): void {
    this.status.textContent = text;
  }

  private async start(): Promise<void> {
    const generation = ++this.generation;
    this.startedAt = Date.now();
    this.lastProgress = Date.now();
    this.latencyMs = null;
    if (this.options.only !== 'hls') {
      const ok = await this.playWebRtc(generation).catch(() => false);
      if (generation !== this.generation) return;
      if (ok || this.options.only === 'webrtc') {
        if (!ok) this.offline('WebRTC failed');
        return;
      }
    }
    await this.playHls(generation).catch((err: unknown) => this.offline(err instanceof Error ? err.message : String(err)));
  }

  /** WHEP through the proxy: the offer with every candidate (no trickle), the answer, then media over UDP. */
  private async playWebRtc(generation: number): Promise<boolean> {
    if (typeof RTCPeerConnection === 'undefined') return false;
    const pc = new RTCPeerConnection();
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    const stream = new MediaStream();
    pc.addEventListener('track', (event) => {
      stream.addTrack(event.track);
      this.video.srcObject = stream;
    });
    await pc.setLocalDescription(await pc.createOffer());
    await settles(pc, (p) => p.iceGatheringState === 'complete', 'icegatheringstatechange', 2_000);
    const res = await fetch(`${this.camera.live}whep`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: pc.localDescription?.sdp ?? '' });
    if (res.status !== 201) {
      pc.close();
      return false;
    }
    const resource = res.headers.get('location');
    const end = (): void => {
      pc.close();
      if (resource) void fetch(resource, { method: 'DELETE', keepalive: true }).catch(() => undefined);
    };
    await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
    if (!(await settles(pc, (p) => p.connectionState === 'connected', 'connectionstatechange', ICE_MS)) || generation !== this.generation) {
      end();
      return false;
    }
    this.pc = pc;
    this.mode = 'webrtc';
    this.stop = () => {
      this.pc = null;
      end();
    };
    window.addEventListener('pagehide', end);
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'failed' || pc.connectionState === 'closed' || pc.connectionState === 'disconnected') this.offline('connection lost');
    });
    void this.video.play().catch(() => undefined);
    return true;
  }

  private async playHls(generation: number): Promise<void> {
    this.video.srcObject = null;
    const source = `${this.camera.live}index.m3u8`;
    const Hls = await loadHls('/hls.min.js');
    if (generation !== this.generation) return;
    if (!Hls?.isSupported()) {
      if (this.video.canPlayType('application/vnd.apple.mpegurl') === '') throw new Error('this browser plays neither WebRTC nor HLS');
      this.mode = 'hls';
      this.video.src = source;
      this.stop = () => this.video.removeAttribute('src');
      void this.video.play().catch(() => undefined);
      return;
    }
    const hls = new Hls(LIVE_HLS_CONFIG);
    this.hls = hls;
    this.mode = 'hls';
    this.stop = () => {
      this.hls = null;
      hls.destroy();
    };
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (data.fatal) this.offline(data.response?.code ? `HTTP ${data.response.code}` : data.details);
    });
    hls.loadSource(source);
    hls.attachMedia(this.video);
    void this.video.play().catch(() => undefined);
  }

  /** Says "Camera offline" and starts again in a moment (the proxy answers 502/504 until the camera is back). */
  private offline(reason: string): void {
    this.offlineSince ??= Date.now();
    this.root.dataset.state = 'offline';
    this.root.dataset.playing = '';
    this.root.title = reason;
    this.say('Camera offline; retrying');
    this.stop();
    this.stop = () => undefined;
    this.mode = null;
    const generation = ++this.generation;
    setTimeout(() => {
      if (generation === this.generation) void this.start();
    }, RETRY_MS);
  }

  /** Once a second: is the picture moving, how far behind is it, and is it new. */
  private async watch(): Promise<void> {
    const now = Date.now();
    if (this.mode === null) return;
    // Decoded frames, not currentTime: a WebRTC stream's clock runs on when its frames stop.
    const frames = this.video.getVideoPlaybackQuality().totalVideoFrames;
    if (frames !== this.lastFrames) {
      this.lastFrames = frames;
      this.lastProgress = now;
    }
    const played = this.video.readyState >= 2 && now - this.lastProgress < 2_000;
    this.latencyMs = this.mode === 'hls' ? this.hlsLatency(now) : await this.webRtcLatency();
    // HLS keeps the last segments of a camera that went away: what plays must be newer than the outage.
    const fresh = this.mode !== 'hls' || this.offlineSince === null || (this.hls?.playingDate?.getTime() ?? now) > this.offlineSince;
    if (played && fresh) {
      this.offlineSince = null;
      this.root.dataset.state = 'playing';
      this.root.dataset.playing = this.mode;
      this.root.dataset.latencyMs = this.latencyMs === null ? '' : String(Math.round(this.latencyMs));
      const behind = this.latencyMs === null ? '' : ` · ${(this.latencyMs / 1000).toFixed(1)} s behind`;
      this.say(`${this.mode === 'webrtc' ? 'WebRTC' : 'HLS'}${behind}`);
      return;
    }
    const waited = now - (this.root.dataset.state === 'playing' ? this.lastProgress : this.startedAt);
    if (waited > (this.root.dataset.state === 'playing' ? STALL_MS : CONNECT_MS)) this.offline('no picture');
    else if (this.offlineSince !== null && now - this.lastProgress > STALL_MS) this.offline('no new picture');
  }

  /** Wall time now less the wall time of the frame on show (EXT-X-PROGRAM-DATE-TIME). */
  private hlsLatency(now: number): number | null {
    const date = this.hls?.playingDate;
    return date ? Math.max(0, now - date.getTime()) : null;
  }

  /** The receiver's jitter buffer delay plus half the round trip: how long a frame takes from the forwarder. */
  private async webRtcLatency(): Promise<number | null> {
    const pc = this.pc;
    if (!pc) return null;
    let buffer: number | null = null;
    let rtt = 0;
    (await pc.getStats()).forEach((r: Record<string, unknown>) => {
      if (r['type'] === 'inbound-rtp' && r['kind'] === 'video' && typeof r['jitterBufferDelay'] === 'number' && typeof r['jitterBufferEmittedCount'] === 'number' && r['jitterBufferEmittedCount'] > 0) {
        buffer = (r['jitterBufferDelay'] / r['jitterBufferEmittedCount']) * 1000;
      }
      if (r['type'] === 'candidate-pair' && r['nominated'] === true && typeof r['currentRoundTripTime'] === 'number') rtt = r['currentRoundTripTime'] * 1000;
    });
    return buffer === null ? null : buffer + rtt / 2;
  }
}

/** Fills the grid with a tile per device; the section stays hidden when there is none. */
export function showLiveGrid(section: HTMLElement, grid: HTMLElement, devices: readonly LiveDevice[], options: LiveGridOptions): void {
  if (devices.length === 0) return;
  const tiles = devices.map((d) => new LiveTile(d, options));
  grid.replaceChildren(...tiles.map((t) => t.root));
  section.hidden = false;
}
