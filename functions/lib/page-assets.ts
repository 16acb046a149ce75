// Files our web pages load, read once from the build or a package: the live port's and the playback page's
// scripts, and hls.js (both pages play HLS through it).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

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
