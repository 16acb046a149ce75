import type { Command } from './lib/index.js';
import { recorderCommand } from './recorder/index.js';

/** Every `shifu-rtsp` command, in the order --help lists them. */
export function commands(): readonly Command[] {
  return [recorderCommand];
}
