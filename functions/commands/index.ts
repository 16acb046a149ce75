// The CLI's command table. Command wiring lives here, outside the modules: a module's index is its API.
import type { Command } from '../lib/index.js';
import { LEAN_COMMANDS, LEAN_V8_FLAGS } from './lean.js';

/** A command as --help lists it; its module loads only when chosen, so a forwarder never pays for client-node. */
export interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  /**
   * V8 flags set before the command's modules load, for long-lived processes that run one per camera
   * and spend their time waiting: there, memory is the cost that multiplies, not JIT speed.
   */
  readonly v8Flags?: readonly string[];
  load(): Promise<Command>;
}

/** Every `shifu-rtsp` command, in the order --help lists them (a unit test checks the summaries match). */
export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'forwarder',
    summary: "deviceShifu-TCP: forward every byte between clients and an EdgeDevice's address (e.g. a camera's RTSP port)",
    load: async () => (await import('./forwarder.js')).forwarderCommand,
  },
  {
    name: 'recorder',
    summary: 'record one camera into segment files, with an HTTP API to switch recording on and off',
    v8Flags: LEAN_V8_FLAGS,
    load: LEAN_COMMANDS.recorder,
  },
  {
    name: 'control',
    summary: 'serve the record-on / record-off / status functions over HTTP, with recorders as local processes or Deployments',
    load: async () => (await import('./control.js')).controlCommand,
  },
  {
    name: 'export',
    summary: "copy recorded footage out of the cluster from the export pod's playback server (whole segments, checked and resumable, or one clip by time)",
    load: async () => (await import('./export.js')).exportCommand,
  },
  {
    name: 'playback',
    summary: 'serve the volume read-only: timeline, clips cut by time, segment files with byte ranges, and a web page',
    load: async () => (await import('./playback.js')).playbackCommand,
  },
  {
    name: 'mock-camera',
    summary: 'an RTSP camera without hardware: ffmpeg test patterns (H.264/H.265 + G.711/AAC), publish and play',
    load: async () => (await import('./mock-camera.js')).mockCameraCommand,
  },
  {
    name: 'demo',
    summary: 'the whole system on this machine: mock camera, forwarder, record control, recorder and a printing event sink',
    load: async () => (await import('./demo.js')).demoCommand,
  },
];
