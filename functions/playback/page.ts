// The web page at `/`: one HTML document; its script is page/app.ts, compiled for the browser (DOM types).
import { fileURLToPath } from 'node:url';
import { hlsScript, playersScript, readPageAsset } from '../lib/index.js';

/** The page's other modules (app.js imports them), by route: each a file of page/, compiled. */
export const PAGE_MODULES: Readonly<Record<string, string>> = {
  '/hls-player.js': 'hls-player.js',
  '/thumbnail.js': 'thumbnail.js',
  '/live-grid.js': 'live-grid.js',
  // All cameras on one axis, and several played together.
  '/multi-timeline.js': 'multi-timeline.js',
  '/sync-play.js': 'sync-play.js',
};
/** What the players of this page and the forwarder's live page share (lib/page/players.ts), beside the modules. */
export const PLAYERS_SCRIPT_ROUTE = '/players.js';
/** hls.js, served from its npm package (a classic script: it sets the global `Hls`). */
export const HLS_SCRIPT_ROUTE = '/hls.min.js';
export { hlsScript, playersScript };

// Next to this module once built (dist/functions/playback/page/app.js); from the sources (tests run
// them), the build's copy.
const candidates = (file: string): string[] => [
  fileURLToPath(new URL(`./page/${file}`, import.meta.url)),
  fileURLToPath(new URL(`../../dist/functions/playback/page/${file}`, import.meta.url)),
];

/** A compiled page script (app.js by default), read once. */
export function pageScript(file = 'app.js'): Promise<Buffer> {
  return readPageAsset(`playback ${file}`, () => candidates(file));
}

/** The tab's icon: a camera over a timeline bar, drawn inline (no file on disk, no request that can fail). */
export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">
<rect x="3" y="7" width="18" height="13" rx="2" fill="#14c"/><path d="M21 11l8-4v13l-8-4z" fill="#14c"/>
<rect x="2" y="24" width="28" height="5" rx="1" fill="#ddd"/><rect x="6" y="24" width="12" height="5" fill="#3a8"/>
</svg>
`;

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Recorded footage · shifu-rtsp</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<style>
  body { font: 14px system-ui, sans-serif; margin: 1rem 2rem; color: #222; }
  @media (max-width: 600px) { body { margin: .5rem .6rem; } }
  select { max-width: 100%; }
  .device h2 a { color: inherit; }
  .device[aria-busy="true"] .bar { opacity: .5; }
  .loading { color: #555; font-style: italic; }
  .loading:empty { display: none; }
  .bar:focus-visible, button:focus-visible, a:focus-visible, select:focus-visible, input:focus-visible { outline: 3px solid #14c; outline-offset: 2px; }
  .bar .cursor { position: absolute; top: -6px; bottom: -6px; width: 0; border-left: 2px dashed #222; pointer-events: none; }
  h1 { font-size: 1.3rem; }
  .device { margin: 1.5rem 0; }
  .device h2 { font-size: 1.1rem; margin: 0 0 .3rem; }
  .summary { color: #555; margin-bottom: .4rem; }
  .bar { position: relative; height: 34px; background: #eee; border: 1px solid #bbb; cursor: crosshair; }
  .bar .span { position: absolute; top: 0; bottom: 0; background: #3a8; min-width: 2px; }
  .bar .gap { position: absolute; top: 0; bottom: 0; background: repeating-linear-gradient(45deg, #d55 0 3px, #fbb 3px 6px); min-width: 2px; }
  .bar .mark { position: absolute; top: -4px; bottom: -4px; width: 2px; background: #14c; }
  .ticks { position: relative; height: 1.2rem; font-size: 11px; color: #666; overflow: hidden; }
  .ticks span { position: absolute; transform: translateX(-50%); }
  .controls { margin: .5rem 0; display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; }
  .controls button, .controls select, .controls input, .controls a { min-height: 2rem; }
  video { width: 100%; max-width: 960px; background: #000; display: block; margin-top: .5rem; }
  .notice { background: #fff4d6; border: 1px solid #e0b44c; padding: .4rem .6rem; margin: .4rem 0; }
  .notice:empty { display: none; }
  code { background: #f3f3f3; padding: 0 .2rem; }
  #live-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(320px, 100%), 1fr)); gap: .6rem; }
  #live-grid figure { margin: 0; border: 1px solid #bbb; background: #111; color: #eee; }
  #live-grid figure.large { grid-column: 1 / -1; }
  #live-grid video { margin: 0; max-width: none; cursor: zoom-in; aspect-ratio: 16 / 9; }
  #live-grid figure.large video { cursor: zoom-out; }
  #live-grid figcaption { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; padding: .3rem .5rem; }
  #live-grid figure[data-state="offline"] .live-status { color: #f88; font-weight: bold; }
  .all-cameras .axis { display: grid; gap: 4px; }
  .all-cameras .axis:focus-visible { outline: 3px solid #14c; outline-offset: 2px; }
  .camera-row { display: flex; align-items: center; gap: .5rem; flex-wrap: wrap; }
  .camera-row label { flex: 0 0 9rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .camera-row .bar { flex: 1 1 12rem; min-width: 0; height: 26px; }
  .camera-row .bar .empty { position: absolute; left: .4rem; top: .3rem; color: #666; font-size: 12px; }
  .all-cameras .ticks { margin-left: 9.5rem; }
  @media (max-width: 600px) { .camera-row label { flex-basis: 100%; } .all-cameras .ticks { margin-left: 0; } }
  .sync-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 300px), 1fr)); gap: .5rem; margin-top: .5rem; }
  .sync-tile { margin: 0; min-width: 0; }
  .sync-tile video { width: 100%; margin: 0; }
  .sync-tile figcaption { font-size: 12px; color: #555; }
</style>
</head>
<body>
<h1>Recorded footage</h1>
<div class="toolbar"><label for="zone">Time zone</label> <select id="zone"></select></div>
<p id="status" class="loading" role="status">Loading devices…</p>
<section id="live" hidden><h2>Live</h2><div id="live-grid"></div></section>
<div id="devices"></div>
<script type="module" src="app.js"></script>
</body>
</html>
`;
