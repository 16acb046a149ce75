// The bundle's entry (functions/bundle.ts): the CLI's way of running a command, for the per-camera commands
// alone, so the bundle holds the recorder's code and nothing of the other commands. cli.ts calls it.
import { leanCommand } from './commands/lean.js';
import { runCommand } from './commands/run.js';

/** As cli.ts's `main`, for a per-camera command (cli.ts sends no other here). */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [name = '', ...rest] = argv;
  const load = leanCommand(name);
  if (!load) throw new Error(`not a per-camera command: ${name}`);
  return runCommand(name, load, rest, env);
}
