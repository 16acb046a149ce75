// Files our web pages load, read once from the build or a package: the live port's and the playback page's
// scripts, and hls.js (both pages play HLS through it).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const cache = new Map<string, Promise<Buffer>>();

/** The first of `files` that can be read, read once and kept; an error naming them all when none can. */
export function readPageAsset(name: string, files: () => readonly string[]): Promise<Buffer> {
  let bytes = cache.get(name);
  if (bytes === undefined) {
    bytes = (async () => {
      for (const file of files()) {
        const read = await readFile(file).catch(() => null);
        if (read !== null) return read;
      }
      cache.delete(name);
      throw new Error(`${name} is missing (${files().join(', ')}): run npm ci and npm run build`);
    })();
    cache.set(name, bytes);
  }
  return bytes;
}

/** hls.js from its npm package, for a page's classic `<script>` (it defines the global `Hls`). */
export const hlsScript = (): Promise<Buffer> => readPageAsset('hls.min.js', () => [createRequire(import.meta.url).resolve('hls.js/dist/hls.min.js')]);

/**
 * lib/page/players.ts built for the browser (by either page's build): what both pages' players share. Each server
 * serves it beside that page's scripts, as `players.js`.
 */
export const playersScript = (): Promise<Buffer> =>
  readPageAsset('players.js', () => [
    // Next to this module once built; from the sources (tests run them), the build's copy.
    fileURLToPath(new URL('./page/players.js', import.meta.url)),
    fileURLToPath(new URL('../../dist/functions/lib/page/players.js', import.meta.url)),
  ]);
