import { parseArgs, type ParseArgsOptionDescriptor } from 'node:util';
import { z } from 'zod';

/** One setting of a command: a flag, its environment-variable twins and its rule. */
export interface OptionSpec<S extends z.ZodType = z.ZodType> {
  /** Long flag name without the leading dashes, e.g. `segment-seconds`. */
  readonly flag: string;
  /** Environment variables read when the flag is absent, first set one wins. */
  readonly env?: readonly string[];
  /** `boolean` options are switches: `--idle`, `--no-idle`, env `true|false|1|0|yes|no`. */
  readonly kind?: 'string' | 'boolean';
  readonly schema: S;
  /** Raw default, parsed by the schema like any other input and shown in --help. */
  readonly default?: string | boolean;
  readonly description: string;
  /** The value is never echoed (help shows only whether it is set). */
  readonly secret?: boolean;
}

export type OptionSpecs = Record<string, OptionSpec>;
export type ConfigOf<T extends OptionSpecs> = { [K in keyof T]: z.output<T[K]['schema']> };

/** A configuration mistake: the process must stop before doing anything, with exit code 2. */
export class ConfigError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface ParsedConfig<T extends OptionSpecs> {
  readonly config: ConfigOf<T>;
  readonly help: boolean;
  /** Where each value came from: `--flag`, the variable name, or `default`. */
  readonly sources: { readonly [K in keyof T]: string };
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off', '']);

/** Flags override the environment, the environment overrides defaults; every value passes its zod rule once. */
export function parseConfig<T extends OptionSpecs>(
  specs: T,
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): ParsedConfig<T> {
  const options: Record<string, ParseArgsOptionDescriptor> = { help: { type: 'boolean', short: 'h' } };
  for (const spec of Object.values(specs)) options[spec.flag] = { type: spec.kind ?? 'string' };

  let values: Record<string, string | boolean | undefined>;
  try {
    const parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false, allowNegative: true });
    values = parsed.values as Record<string, string | boolean | undefined>;
  } catch (err) {
    throw new ConfigError((err as Error).message.replace(/\. To specify a positional.*$/s, ''));
  }
  if (values.help === true) return { config: {} as ConfigOf<T>, help: true, sources: {} as ParsedConfig<T>['sources'] };

  const config: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  for (const [key, spec] of Object.entries(specs)) {
    let raw: string | boolean | undefined = values[spec.flag];
    let source = `--${spec.flag}`;
    if (raw === undefined) {
      const name = spec.env?.find((n) => env[n] !== undefined && env[n] !== '');
      if (name !== undefined) {
        source = name;
        raw = spec.kind === 'boolean' ? envBoolean(name, env[name] ?? '') : env[name];
      }
    }
    if (raw === undefined) {
      raw = spec.default;
      source = 'default';
    }
    const result = spec.schema.safeParse(raw);
    if (!result.success) {
      const issue = result.error.issues[0];
      const what = source === 'default' ? `--${spec.flag}` : source;
      const shown = spec.secret || raw === undefined ? '' : ` (got ${JSON.stringify(raw)})`;
      throw new ConfigError(`invalid ${what}${twins(spec, source)}: ${issue?.message ?? 'invalid value'}${shown}`);
    }
    config[key] = result.data;
    sources[key] = source;
  }
  return { config: config as ConfigOf<T>, help: false, sources: sources as ParsedConfig<T>['sources'] };
}

/** A value from the environment also names its flag twin, so the user finds both. */
function twins(spec: OptionSpec, source: string): string {
  return source === 'default' || source.startsWith('--') ? '' : ` (flag --${spec.flag})`;
}

function envBoolean(name: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new ConfigError(`invalid ${name}: expected true or false (got ${JSON.stringify(value)})`);
}

/** The --help text: every flag with its environment twins and default. */
export function formatOptions(specs: OptionSpecs): string {
  const rows = Object.values(specs).map((spec) => {
    const flag = spec.kind === 'boolean' ? `--[no-]${spec.flag}` : `--${spec.flag} <value>`;
    const env = spec.env && spec.env.length > 0 ? `env ${spec.env.join(', ')}` : 'no env';
    const def =
      spec.default === undefined ? '' : spec.secret ? ' [default: set]' : ` [default: ${String(spec.default)}]`;
    return { flag, text: `${spec.description} (${env})${def}` };
  });
  const width = Math.max(...rows.map((r) => r.flag.length), 10) + 2;
  return rows.map((r) => `  ${r.flag.padEnd(width)}${r.text}`).join('\n');
}

// Rules several commands share; each message says what a good value looks like.

export const zPort = z.coerce
  .number({ message: 'expected a port number' })
  .int('expected a whole number')
  .min(1, 'expected a port from 1 to 65535')
  .max(65535, 'expected a port from 1 to 65535');

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** `host:port`, `[v6]:port` or `:port` (all interfaces); port 0 asks the OS for a free one. */
export function zHostPort(defaultHost = '0.0.0.0') {
  return z
    .string()
    .trim()
    .transform((value, ctx): HostPort => {
      const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(value);
      const port = m ? Number(m[3]) : NaN;
      if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
        ctx.addIssue({ code: 'custom', message: 'expected HOST:PORT with a port from 0 to 65535' });
        return z.NEVER;
      }
      return { host: m[1] ?? (m[2] || defaultHost), port };
    });
}

/** Positive whole seconds, e.g. a segment length or timeout. */
export function zSeconds(min = 1, max = 7 * 24 * 3600) {
  return z.coerce
    .number({ message: 'expected a number of seconds' })
    .refine((n) => Number.isFinite(n), 'expected a number of seconds')
    .refine((n) => n >= min && n <= max, `expected seconds from ${min} to ${max}`);
}

export const zBool = z.boolean();
