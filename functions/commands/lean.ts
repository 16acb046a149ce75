// The commands that run one process per camera: lean V8, and run from the bundle (functions/lean.ts), which
// imports this file and nothing of the other commands.
import type { Command } from '../lib/index.js';

/**
 * No optimizing compilers (Maglev, TurboFan) and a new space that does not grow: about 15 MiB less RSS per
 * recorder (bench: 89 -> ~72 MiB) for a process whose hot work is native (ffmpeg, hashing). Not for the
 * forwarder: measured there, it saved 14 MiB but cost 2-4 points of CPU and doubled p99 added latency with
 * 100 streams of small chunks, where it is meant to match haproxy.
 * Then (issue 24, bench recorder-memory, 10 recorders): --optimize-for-size lets V8's memory reducer give
 * pages back once start-up is over (node PSS 28.2 -> 24.8 MiB a camera); with it, bytecode that ran once (config,
 * schemas) is dropped after one GC unused (--bytecode-old-age=1) and no baseline code is kept beside it
 * (--no-sparkplug): 24.8 -> 23.6 MiB. Node's CPU per camera stayed at 0.11-0.13 % of a core in both runs.
 * Every flag here is read when V8 decides to tier up, grow, flush or reduce, so setting them at run time takes effect.
 */
export const LEAN_V8_FLAGS: readonly string[] = [
  '--no-opt',
  '--no-maglev',
  '--semi-space-growth-factor=1',
  '--optimize-for-size',
  '--bytecode-old-age=1',
  '--no-sparkplug',
];

/**
 * glibc's malloc gives every thread that allocates an arena of its own (V8's compile and GC helpers, libuv's
 * pool), each holding touched pages of its own. One arena for the whole process: about 2 MiB less private memory a
 * recorder (issue 24: 17.8 -> 15.9 MiB, four windows), for a process whose threads seldom allocate at once.
 * glibc reads it only when the program starts, so cli.ts execs itself again with it (`leanExecEnv`), unless the
 * environment already says otherwise (an operator's own value wins).
 */
export const LEAN_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '1' };

/**
 * The environment a per-camera command should have been started with, when the current one lacks any of
 * LEAN_ENV's variables; null when it has them all (nothing to do).
 */
export function leanExecEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv | null {
  const missing = Object.entries(LEAN_ENV).filter(([name]) => env[name] === undefined);
  return missing.length === 0 ? null : { ...env, ...Object.fromEntries(missing) };
}

/** Each per-camera command's module, loaded only when chosen. */
export const LEAN_COMMANDS = {
  recorder: async (): Promise<Command> => (await import('./recorder.js')).recorderCommand,
} as const;

/** The loader of a per-camera command, or undefined for any other name. */
export const leanCommand = (name: string | undefined): (() => Promise<Command>) | undefined =>
  Object.entries(LEAN_COMMANDS).find(([n]) => n === name)?.[1];
