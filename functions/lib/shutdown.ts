import type { Logger } from 'pino';

export type ShutdownHandler = (signal: NodeJS.Signals) => Promise<void> | void;

/**
 * Runs `handler` once on the first SIGTERM or SIGINT, then exits with `exitCode`.
 * A second signal exits at once, so an impatient Ctrl-C never hangs a terminal.
 */
export function onShutdown(handler: ShutdownHandler, log?: Logger, exitCode = 0): () => void {
  let stopping = false;
  const listener = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log?.warn({ signal }, 'second signal, exiting now');
      process.exit(130);
    }
    stopping = true;
    log?.info({ signal }, 'stopping');
    Promise.resolve()
      .then(() => handler(signal))
      .then(
        () => process.exit(exitCode),
        (err: unknown) => {
          log?.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', listener);
  process.on('SIGINT', listener);
  return () => {
    process.off('SIGTERM', listener);
    process.off('SIGINT', listener);
  };
}
