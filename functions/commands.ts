import type { Command } from './lib/index.js';

/** Every `shifu-rtsp` command, in the order --help lists them. */
export function commands(): readonly Command[] {
  return [];
}
