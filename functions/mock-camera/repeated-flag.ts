// Lets a list option be given as a repeated flag (`--stream a --stream b`): the shared parser keeps only the last one.
import type { Command } from '../lib/index.js';

/** Folds every `--flag X` / `--flag=X` into one `--flag=X,Y` at the first one's place. */
export function joinRepeatedFlag(argv: readonly string[], flag: string): string[] {
  const long = `--${flag}`;
  const values: string[] = [];
  const out: string[] = [];
  let at = -1;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    let value: string | undefined;
    if (arg.startsWith(`${long}=`)) value = arg.slice(long.length + 1);
    else if (arg === long && i + 1 < argv.length && !(argv[i + 1] as string).startsWith('--')) value = argv[(i += 1)];
    if (value === undefined) {
      out.push(arg);
      continue;
    }
    if (at < 0) at = out.length;
    values.push(value);
  }
  if (at >= 0) out.splice(at, 0, `${long}=${values.join(',')}`);
  return out;
}

export function withRepeatedFlag(command: Command, flag: string): Command {
  return {
    name: command.name,
    summary: command.summary,
    help: () => command.help(),
    execute: (argv, env) => command.execute(joinRepeatedFlag(argv, flag), env),
  };
}
