// The live player page's script, compiled for the browser: WebRTC first (WHEP to ./whep), HLS as the fallback
// (hls.js over MSE, or the browser's own HLS where there is no MSE). `?via=hls` or `?via=webrtc` picks one.
// It says which way it plays, and retries by itself when the camera goes away.
import { LIVE_HLS_CONFIG, loadHls, settles } from './players.js';

/** hls.js beside this script (the live port's `_live/`), loaded only for HLS: WebRTC never waits for it. */
const HLS_SCRIPT = new URL('hls.min.js', import.meta.url).href;

const RETRY_MS = 2_000;
/** How long WebRTC may take to connect before the page falls back to HLS. */
const CONNECT_MS = 8_000;

const video = document.querySelector('video');
const status = document.getElementById('status');
const params = new URLSearchParams(location.search);
const via = params.get('via');
params.delete('via');
// The camera's own query (a Dahua channel) rides on the page's URL and goes on the live URLs.
const query = params.size === 0 ? '' : `?${params.toString()}`;

function say(text: string): void {
  if (status) status.textContent = text;
}

function playing(mode: 'webrtc' | 'hls'): void {
  document.body.dataset.playing = mode;
  say(`live (${mode === 'webrtc' ? 'WebRTC' : 'HLS'})`);
}

/** The port wants LIVE_TOKEN: a form sends it once in the URL, and the port keeps it in an HttpOnly cookie. */
function askForLiveToken(): void {
  say('this live port needs its token (LIVE_TOKEN)');
  document.body.dataset.needsToken = 'true';
  const form = document.getElementById('token-form');
  if (!(form instanceof HTMLFormElement)) return;
  form.hidden = false;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const input = document.getElementById('access-token');
    if (!(input instanceof HTMLInputElement) || input.value === '') return;
    const next = new URLSearchParams(location.search);
    next.set('access_token', input.value);
    location.search = next.toString();
  });
}

/** WHEP: an offer with every candidate in it (no trickle), the answer, then media. 'token' when the port wants one. */
async function playWebRtc(target: HTMLVideoElement): Promise<boolean | 'token'> {
  if (typeof RTCPeerConnection === 'undefined') return false;
  const pc = new RTCPeerConnection();
  // For whoever inspects the page (its statistics: codecs, packets): tests do.
  Object.assign(window, { livePeer: pc });
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  const stream = new MediaStream();
  pc.addEventListener('track', (event) => {
    stream.addTrack(event.track);
    target.srcObject = stream;
  });
  performance.mark('live:start');
  await pc.setLocalDescription(await pc.createOffer());
  await settles(pc, (p) => p.iceGatheringState === 'complete', 'icegatheringstatechange', 2_000);
  performance.mark('live:gathered');
  const res = await fetch(`whep${query}`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: pc.localDescription?.sdp ?? '' });
  if (res.status === 401) {
    pc.close();
    return 'token';
  }
  if (res.status !== 201) {
    say(`WebRTC refused (${res.status}): ${await res.text()}`);
    pc.close();
    return false;
  }
  const resource = res.headers.get('location');
  // The session's URL, for whoever wants to end it (DELETE): the page on leaving, a test.
  document.body.dataset.whep = resource ?? '';
  const end = (): void => {
    pc.close();
    if (resource) void fetch(resource, { method: 'DELETE', keepalive: true }).catch(() => undefined);
  };
  const answer = await res.text();
  performance.mark('live:answered');
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  if (!(await settles(pc, (p) => p.connectionState === 'connected', 'connectionstatechange', CONNECT_MS))) {
    end();
    return false;
  }
  performance.mark('live:connected');
  // The first picture's time, for whoever measures the page (the live bench does).
  target.requestVideoFrameCallback(() => performance.mark('live:frame'));
  target.addEventListener('playing', () => playing('webrtc'), { once: true });
  void target.play().catch(() => undefined);
  window.addEventListener('pagehide', end);
  pc.addEventListener('connectionstatechange', () => {
    if (pc.connectionState !== 'failed' && pc.connectionState !== 'closed') return;
    say('camera offline; retrying');
    document.body.dataset.playing = '';
    end();
    setTimeout(() => void start(target), RETRY_MS);
  });
  return true;
}

async function playHls(target: HTMLVideoElement): Promise<void> {
  const source = `index.m3u8${query}`;
  target.requestVideoFrameCallback(() => performance.mark('live:frame'));
  target.addEventListener('playing', () => playing('hls'), { once: true });
  const Hls = await loadHls(HLS_SCRIPT);
  if (Hls?.isSupported()) {
    const run = (): void => {
      const hls = new Hls(LIVE_HLS_CONFIG);
      hls.on(Hls.Events.ERROR, (_event, data) => {
        if (!data.fatal) return;
        hls.destroy();
        if (data.response?.code === 401) return askForLiveToken();
        say(`camera offline (${data.details}); retrying`);
        document.body.dataset.playing = '';
        setTimeout(run, RETRY_MS);
      });
      hls.loadSource(source);
      hls.attachMedia(target);
      void target.play().catch(() => undefined);
    };
    run();
  } else if (target.canPlayType('application/vnd.apple.mpegurl') !== '') {
    target.src = source;
    void target.play().catch(() => undefined);
  } else {
    say('this browser plays neither WebRTC nor HLS');
  }
}

async function start(target: HTMLVideoElement): Promise<void> {
  target.muted = true;
  if (via !== 'hls') {
    const webrtc = await playWebRtc(target).catch(() => false as const);
    if (webrtc === 'token') return askForLiveToken();
    if (webrtc || via === 'webrtc') return;
    target.srcObject = null;
  }
  await playHls(target);
}

if (video) void start(video);
