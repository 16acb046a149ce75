// The player page at /<path>/ and the scripts it loads: ours (page/player.ts, built for the browser by its own
// tsconfig.json, and the players' shared lib/page/players.ts) and hls.js from its npm package (only for HLS), all
// served by the live port itself.
import { fileURLToPath } from 'node:url';
import { hlsScript, playersScript, readPageAsset } from '../lib/index.js';

// Next to this module once built; from the sources (tests run them), the build's copy.
const PLAYER_CANDIDATES = [
  fileURLToPath(new URL('./page/player.js', import.meta.url)),
  fileURLToPath(new URL('../../dist/functions/live/page/player.js', import.meta.url)),
];

export const playerScript = (): Promise<Buffer> => readPageAsset('player.js', () => PLAYER_CANDIDATES);
export { hlsScript, playersScript };

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

/** The page for one camera path; `assets` is the relative way up to the live port's root (`../../`). */
export function playerPage(cameraPath: string, assets: string): string {
  const title = escapeHtml(decodeURI(cameraPath));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>live: ${title}</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 1rem 2rem; color: #222; }
  h1 { font-size: 1.2rem; }
  video { width: 100%; max-width: 1280px; background: #000; display: block; }
  #status { color: #555; }
</style>
</head>
<body>
<h1>${title}</h1>
<video autoplay muted playsinline controls></video>
<p id="status">connecting…</p>
<form id="token-form" hidden><label>Token <input id="access-token" type="password" autocomplete="current-password"></label> <button type="submit">Watch</button></form>
<script type="module" src="${assets}_live/player.js"></script>
</body>
</html>
`;
}
