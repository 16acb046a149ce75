#!/usr/bin/env node
import { existsSync, realpathSync } from 'node:fs';
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';
import { COMMANDS, type CommandEntry } from './commands/index.js';
import { leanCommand, leanExecEnv } from './commands/lean.js';
import { runCommand } from './commands/run.js';

const USAGE_EXIT = 2;

function usage(list: readonly CommandEntry[]): string {
  const width = Math.max(...list.map((c) => c.name.length)) + 2;
  return [
    'Usage: shifu-rtsp <command> [options]',
    '',
    'deviceShifu-RTSP: reach IP cameras through a TCP forwarder and record them to segmented files.',
    '',
    'Commands:',
    ...list.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Run `shifu-rtsp <command> --help` for the options of one command.',
  ].join('\n');
}

/** Runs the CLI and resolves with the process exit code: 0 ok, 1 runtime failure, 2 usage or configuration error. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const list = COMMANDS;
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage(list)}\n`);
    return name === undefined ? USAGE_EXIT : 0;
  }
  const entry = list.find((c) => c.name === name);
  if (!entry) {
    process.stderr.write(`shifu-rtsp: unknown command "${name}". Commands: ${list.map((c) => c.name).join(', ')}\n`);
    return USAGE_EXIT;
  }
  return runCommand(name, () => entry.load(), rest, env);
}

// Run only as the program, not when tests import `main`.
const invoked = process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
if (invoked) {
  // A per-camera command runs under LEAN_ENV, which glibc reads only at exec: the same process becomes itself again
  // with it (same pid, arguments and stdio, before anything runs), once, and not where Node lacks execve.
  const leanEnv = leanCommand(process.argv[2]) ? leanExecEnv(process.env) : null;
  if (leanEnv && typeof process.execve === 'function') process.execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], leanEnv);
  // Only for the process itself: tests that call main() in their worker keep their V8 as it is.
  for (const flag of COMMANDS.find((c) => c.name === process.argv[2])?.v8Flags ?? []) v8.setFlagsFromString(flag);
  // A command that runs one process per camera runs from the bundle `npm run build` makes (functions/bundle.ts),
  // about 4 MiB less a process; its own `main`, so the classes it checks (ConfigError) are the bundle's too.
  const bundle = new URL('./lean/lean.js', import.meta.url);
  const run: typeof main = leanCommand(process.argv[2]) && existsSync(bundle) ? ((await import(bundle.href)) as { main: typeof main }).main : main;
  run(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    async (err: unknown) => {
      const { redact } = await import('./lib/index.js');
      process.stderr.write(`shifu-rtsp: ${redact(String(err))}\n`);
      process.exitCode = 1;
    },
  );
}
