// The live player page's script, compiled for the browser: HLS through hls.js (MSE), or the browser's own
// HLS where there is no MSE (Safari on older iPhones). It retries by itself when the camera goes away.
import type HlsType from 'hls.js';

// hls.min.js is loaded before this script, as a classic script: it defines the global.
declare const Hls: typeof HlsType;

const RETRY_MS = 2_000;

const video = document.querySelector('video');
const status = document.getElementById('status');

function say(text: string): void {
  if (status) status.textContent = text;
}

/** The port wants LIVE_TOKEN: a form sends it once in the URL, and the port keeps it in an HttpOnly cookie. */
function askForToken(): void {
  say('this live port needs its token (LIVE_TOKEN)');
  document.body.dataset.needsToken = 'true';
  const form = document.getElementById('token-form');
  if (!(form instanceof HTMLFormElement)) return;
  form.hidden = false;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const input = document.getElementById('access-token');
    if (!(input instanceof HTMLInputElement) || input.value === '') return;
    const query = new URLSearchParams(location.search);
    query.set('access_token', input.value);
    location.search = query.toString();
  });
}

function play(target: HTMLVideoElement): void {
  // The camera's own query (a Dahua channel) rides on the page's URL and goes on the playlist's.
  const source = `index.m3u8${location.search}`;
  target.muted = true;
  target.addEventListener('playing', () => {
    document.body.dataset.playing = 'hls';
    say('live (HLS)');
  });
  if (typeof Hls !== 'undefined' && Hls.isSupported()) {
    const start = (): void => {
      const hls = new Hls({ liveSyncDurationCount: 1, liveMaxLatencyDurationCount: 4, backBufferLength: 10 });
      hls.on(Hls.Events.ERROR, (_event, data) => {
        if (!data.fatal) return;
        if (data.response?.code === 401) {
          hls.destroy();
          askForToken();
          return;
        }
        say(`camera offline (${data.details}); retrying`);
        document.body.dataset.playing = '';
        hls.destroy();
        setTimeout(start, RETRY_MS);
      });
      hls.loadSource(source);
      hls.attachMedia(target);
      void target.play().catch(() => undefined);
    };
    start();
  } else if (target.canPlayType('application/vnd.apple.mpegurl') !== '') {
    target.src = source;
    void target.play().catch(() => undefined);
  } else {
    say('this browser plays neither HLS nor Media Source Extensions');
  }
}

if (video) play(video);
