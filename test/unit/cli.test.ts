import { describe, expect, it } from 'vitest';
import { main } from '../../functions/cli.js';
import { captureOutput } from '../support/output.js';

const output = captureOutput();

describe('shifu-rtsp CLI', () => {
  it('lists the commands on --help and exits 0', async () => {
    expect(await main(['--help'])).toBe(0);
    expect(output.stdout).toContain('recorder');
  });

  it('fails with exit code 2 on an unknown command, naming it', async () => {
    expect(await main(['recordr'])).toBe(2);
    expect(output.stderr).toContain('unknown command "recordr"');
  });

  it('prints every recorder flag with its environment twin', async () => {
    expect(await main(['recorder', '--help'], {})).toBe(0);
    for (const text of ['--url', 'RTSPServerAddress', '--out', 'FileSavePath', 'UserName', 'PasswordSecret', '--segment-seconds']) {
      expect(output.stdout).toContain(text);
    }
  });
});

describe('recorder configuration errors exit 2 and name the setting', () => {
  const url = ['--url', 'rtsp://127.0.0.1:1/x'];
  it.each([
    [[], {}, '--url'],
    [['--url', 'http://cam/x'], {}, '--url'],
    [[...url, '--segment-seconds', 'abc'], {}, '--segment-seconds'],
    [[...url, '--segment-seconds', '1'], {}, '--segment-seconds'],
    [[...url, '--format', 'avi'], {}, '--format'],
    [[...url, '--audio', 'mp3'], {}, '--audio'],
    [[...url, '--transport', 'sctp'], {}, '--transport'],
    [[...url, '--http-listen', 'nowhere'], {}, '--http-listen'],
    [[...url, '--device', 'Bad_Name'], {}, '--device'],
    [[...url, '--retain-bytes', '10X'], {}, '--retain-bytes'],
    [[...url, '--retain-hours', '-1'], {}, '--retain-hours'],
    [[...url, '--min-free-percent', '200'], {}, '--min-free-percent'],
    [[...url, '--watchdog-seconds', '0'], {}, '--watchdog-seconds'],
    [[...url, '--password-file', '/nonexistent/pw'], {}, '--password-file'],
    [[...url, '--bogus'], {}, '--bogus'],
    [[], { RTSPServerAddress: 'ftp://x' }, 'RTSPServerAddress'],
    [url, { SEGMENT_SECONDS: 'soon' }, 'SEGMENT_SECONDS'],
    [url, { ALIGN_TO_CLOCK: 'maybe' }, 'ALIGN_TO_CLOCK'],
    [url, { RECORD_FORMAT: 'avi' }, 'RECORD_FORMAT'],
  ])('%j %j -> %s', async (argv, env, name) => {
    expect(await main(['recorder', ...argv], env)).toBe(2);
    expect(output.stderr).toContain(name);
  });

  it('never echoes the password in an error about the URL', async () => {
    expect(await main(['recorder', '--url', 'ftp://admin:Pa55word@cam/x'], {})).toBe(2);
    expect(output.stderr).toContain('--url');
    expect(output.stderr).not.toContain('Pa55word');
  });
});

describe('command list', () => {
  it('lists each command with the summary its module defines', async () => {
    const { COMMANDS } = await import('../../functions/commands/index.js');
    for (const entry of COMMANDS) {
      const command = await entry.load();
      expect(command.name).toBe(entry.name);
      expect(command.summary).toBe(entry.summary);
    }
  });
});

describe('per-camera commands start under one malloc arena', () => {
  it('asks for MALLOC_ARENA_MAX=1 when it is unset, and keeps an operator\'s own value', async () => {
    const { leanExecEnv } = await import('../../functions/commands/lean.js');
    expect(leanExecEnv({ PATH: '/bin' })).toEqual({ PATH: '/bin', MALLOC_ARENA_MAX: '1' });
    expect(leanExecEnv({ PATH: '/bin', MALLOC_ARENA_MAX: '4' })).toBeNull();
  });
});
