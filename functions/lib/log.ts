import { pino, type Logger } from 'pino';
import { redact, redactDeep } from './redact.js';

export type { Logger };

/** Structured JSON logs on stdout, one line per event, credentials masked before they are written. */
export function createLogger(component: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { component },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      log: (record) => redactDeep(record),
    },
    hooks: {
      logMethod(args, method) {
        // The message string is formatted outside `formatters.log`, so it is masked here.
        const masked = args.map((a: unknown) => (typeof a === 'string' ? redact(a) : a)) as Parameters<typeof method>;
        method.apply(this, masked);
      },
    },
  });
}
