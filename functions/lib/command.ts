import { ConfigError, formatOptions, parseConfig, type ConfigOf, type OptionSpecs } from './config.js';

export interface CommandContext {
  readonly env: NodeJS.ProcessEnv;
  /** Where each setting came from, for the start-up log line. */
  readonly sources: Readonly<Record<string, string>>;
}

export interface CommandDefinition<T extends OptionSpecs> {
  readonly name: string;
  readonly summary: string;
  /** Extra paragraphs for --help (examples, exit codes). */
  readonly details?: string;
  readonly options: T;
  /** Rules across settings; throw ConfigError naming the settings. */
  readonly check?: (config: ConfigOf<T>) => void;
  /** Resolves with the exit code once the command is done (long-running commands resolve on shutdown). */
  readonly run: (config: ConfigOf<T>, ctx: CommandContext) => Promise<number | void>;
}

/** A command with its types erased, as the CLI registry holds it. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  help(): string;
  /** Parses and validates `argv` + `env` (ConfigError on a mistake), then runs. */
  execute(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number>;
}

export function defineCommand<T extends OptionSpecs>(def: CommandDefinition<T>): Command {
  const help = (): string =>
    [
      `Usage: shifu-rtsp ${def.name} [options]`,
      '',
      def.summary,
      '',
      'Options (flags override environment variables, which override defaults):',
      formatOptions(def.options),
      '  -h, --help  show this help',
      ...(def.details ? ['', def.details] : []),
    ].join('\n');
  return {
    name: def.name,
    summary: def.summary,
    help,
    async execute(argv, env) {
      const parsed = parseConfig(def.options, argv, env);
      if (parsed.help) {
        process.stdout.write(`${help()}\n`);
        return 0;
      }
      def.check?.(parsed.config);
      const code = await def.run(parsed.config, { env, sources: parsed.sources });
      return code ?? 0;
    },
  };
}

export { ConfigError };
