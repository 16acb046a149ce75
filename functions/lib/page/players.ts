// What the players of our two browser pages share: the forwarder's live page (functions/live/page/player.ts) and
// the playback page (its live grid, functions/playback/page/live-grid.ts, and its recordings' HLS player). Each
// page build compiles this file through its tsconfig's rootDirs, as if it sat beside that page's scripts, and each
// server serves it beside them (`./players.js`), so the relative import holds behind any path prefix. Browser
// code: DOM types, no Node.
import type HlsType from 'hls.js';

declare global {
  interface Window {
    /** hls.min.js defines it once loaded. */
    Hls?: typeof HlsType;
  }
}

/**
 * Resolves once `want(pc)` holds (true), or with false when `ms` pass first or the connection fails. The pages
 * wait on it for ICE gathering to complete (WHEP without trickle sends every candidate in the offer) and for the
 * connection to come up.
 */
export function settles(pc: RTCPeerConnection, want: (pc: RTCPeerConnection) => boolean, event: 'icegatheringstatechange' | 'connectionstatechange', ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (want(pc)) return resolve(true);
    const timer = setTimeout(() => resolve(want(pc)), ms);
    pc.addEventListener(event, () => {
      if (want(pc) || pc.connectionState === 'failed') {
        clearTimeout(timer);
        resolve(want(pc));
      }
    });
  });
}

let hlsLoading: Promise<typeof HlsType | null> | undefined;

/**
 * hls.js (400 KiB) from `src` as a classic script, loaded once and only when a player needs it (a WebRTC viewer
 * never waits for it); null when it cannot be loaded (the browser's own HLS may still play).
 */
export function loadHls(src: string): Promise<typeof HlsType | null> {
  if (window.Hls) return Promise.resolve(window.Hls);
  hlsLoading ??= new Promise((resolve) => {
    const script = document.createElement('script');
    script.src = src;
    script.onload = () => resolve(window.Hls ?? null);
    script.onerror = () => {
      hlsLoading = undefined;
      resolve(null);
    };
    document.head.append(script);
  });
  return hlsLoading;
}

/**
 * hls.js's settings for a live camera (both pages). Low-latency mode, and no liveSyncDuration(Count): a value of
 * ours would override the playlist's PART-HOLD-BACK (three LL-HLS parts, under a second) with whole segments (a
 * GOP each); nor liveMaxLatencyDuration(Count), which hls.js refuses without them. Behind the target (after a
 * stall) it plays up to 1.25x until it is back. Each stall raises hls.js's target latency until the next
 * manifest load (at most by the playlist's target duration, a GOP), by 1 s by default: one hiccup at start-up
 * (the machine busy for a moment) would keep a viewer a second further behind, 2.7 s instead of 1.7 s
 * glass-to-glass, for as long as it watches. A part's worth per stall (0.3 s: the live port's PART_TARGET_SECONDS,
 * functions/live/hls-window.ts, which this page cannot import) keeps the back-off without giving the second away.
 */
export const LIVE_HLS_CONFIG = { lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.25, backBufferLength: 10, liveSyncOnStallIncrease: 0.3 } as const;
