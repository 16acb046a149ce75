// Running one chosen command, shared by the CLI and its per-camera bundle (functions/lean.ts).
import type { Command } from '../lib/index.js';

const USAGE_EXIT = 2;

/** Loads and runs a command: its exit code, 2 for a configuration error (named on stderr), 1 for any other failure. */
export async function runCommand(name: string, load: () => Promise<Command>, args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  // lib loads here, not at the top: a command's V8 flags (set by cli.ts) must come before it.
  const { ConfigError, redact } = await import('../lib/index.js');
  try {
    const command = await load();
    return await command.execute(args, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`shifu-rtsp ${name}: ${redact(err.message)}\nRun \`shifu-rtsp ${name} --help\` for usage.\n`);
      return USAGE_EXIT;
    }
    process.stderr.write(`shifu-rtsp ${name}: ${redact(err instanceof Error ? err.message : String(err))}\n`);
    return 1;
  }
}
