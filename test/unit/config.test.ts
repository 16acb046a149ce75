import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, defineCommand, parseConfig, zHostPort, zSeconds, type OptionSpecs } from '../../functions/lib/index.js';

const specs = {
  listen: { flag: 'listen', env: ['LISTEN'], schema: zHostPort(), default: '0.0.0.0:8080', description: 'listen' },
  segmentSeconds: {
    flag: 'segment-seconds',
    env: ['SEGMENT_SECONDS'],
    schema: zSeconds(1, 86400),
    default: '3600',
    description: 'segment length',
  },
  idle: { flag: 'idle', env: ['IDLE'], kind: 'boolean', schema: z.boolean(), default: false, description: 'idle' },
  password: { flag: 'password', env: ['PasswordSecret'], schema: z.string().min(8).optional(), secret: true, description: 'pw' },
} satisfies OptionSpecs;

describe('configuration: flags override env, env overrides defaults', () => {
  it('uses defaults when nothing is given', () => {
    const { config, sources } = parseConfig(specs, [], {});
    expect(config.listen).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(config.segmentSeconds).toBe(3600);
    expect(config.idle).toBe(false);
    expect(sources.segmentSeconds).toBe('default');
  });

  it('takes the environment over defaults and flags over the environment', () => {
    const env = { SEGMENT_SECONDS: '60', LISTEN: '127.0.0.1:9000', IDLE: 'yes' };
    const fromEnv = parseConfig(specs, [], env);
    expect(fromEnv.config.segmentSeconds).toBe(60);
    expect(fromEnv.config.idle).toBe(true);
    const fromFlag = parseConfig(specs, ['--segment-seconds', '10', '--no-idle', '--listen', ':7000'], env);
    expect(fromFlag.config.segmentSeconds).toBe(10);
    expect(fromFlag.config.idle).toBe(false);
    expect(fromFlag.config.listen).toEqual({ host: '0.0.0.0', port: 7000 });
    expect(fromFlag.sources.segmentSeconds).toBe('--segment-seconds');
  });

  it.each([
    [['--segment-seconds', 'abc'], {}, '--segment-seconds'],
    [['--segment-seconds', '0'], {}, '--segment-seconds'],
    [['--listen', 'nohost'], {}, '--listen'],
    [['--listen', 'h:70000'], {}, '--listen'],
    [[], { SEGMENT_SECONDS: '-5' }, 'SEGMENT_SECONDS'],
    [[], { LISTEN: 'x:y' }, 'LISTEN'],
    [[], { IDLE: 'maybe' }, 'IDLE'],
    [['--bogus'], {}, '--bogus'],
  ])('rejects %j %j naming %s', (argv, env, name) => {
    expect(() => parseConfig(specs, argv, env)).toThrow(ConfigError);
    expect(() => parseConfig(specs, argv, env)).toThrow(name);
  });

  it('never echoes a secret value in its error', () => {
    try {
      parseConfig(specs, [], { PasswordSecret: 'short' });
      expect.unreachable('short password accepted');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toContain('PasswordSecret');
      expect((err as Error).message).not.toContain('short');
    }
  });
});

describe('command help', () => {
  it('lists every flag with its environment twin and default', () => {
    const command = defineCommand({ name: 'sample', summary: 'a sample', options: specs, run: async () => 0 });
    const help = command.help();
    expect(help).toContain('--segment-seconds <value>');
    expect(help).toContain('env SEGMENT_SECONDS');
    expect(help).toContain('[default: 3600]');
    expect(help).toContain('--[no-]idle');
    expect(help).toContain('env PasswordSecret');
  });
});
