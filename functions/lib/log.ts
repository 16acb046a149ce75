import { pino, type Logger } from 'pino';
import { redact, redactDeep } from './redact.js';

export type { Logger };

/**
 * Knative's runtime contract names the Service, Revision and Configuration in K_SERVICE, K_REVISION and
 * K_CONFIGURATION; every log line carries those that are set, so a line is traced to its revision.
 */
export function knativeLogFields(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [variable, field] of [['K_SERVICE', 'kService'], ['K_REVISION', 'kRevision'], ['K_CONFIGURATION', 'kConfiguration']] as const) {
    const value = env[variable];
    if (value) fields[field] = value;
  }
  return fields;
}

/** Structured JSON logs on stdout, one line per event, credentials masked before they are written. */
export function createLogger(component: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { component, ...knativeLogFields() },
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
