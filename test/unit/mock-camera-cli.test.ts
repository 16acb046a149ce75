import { describe, expect, it } from 'vitest';
import { main } from '../../functions/cli.js';
import { captureOutput } from '../support/output.js';
import { parseConfig } from '../../functions/lib/index.js';
import { mockCameraOptions } from '../../functions/mock-camera/index.js';

const output = captureOutput();

describe('shifu-rtsp mock-camera settings', () => {
  it('has Hikvision-like defaults: two channels on 0.0.0.0:8554, no auth', () => {
    const { config } = parseConfig(mockCameraOptions, [], {});
    expect(config.listen).toEqual({ host: '0.0.0.0', port: 8554 });
    expect(config.streams.map((s) => s.path)).toEqual(['/Streaming/Channels/101', '/Streaming/Channels/102']);
    expect(config.rtpPortRange).toEqual({ min: 30000, max: 30999 });
    expect(config.user).toBeUndefined();
    expect(config.auth).toBe('both');
  });

  it('takes flags over environment variables', () => {
    const env = { MOCK_CAMERA_LISTEN: '127.0.0.1:9000', MOCK_CAMERA_STREAMS: '/env', MOCK_CAMERA_AUTH: 'basic' };
    expect(parseConfig(mockCameraOptions, [], env).config).toMatchObject({ listen: { port: 9000 }, auth: 'basic', streams: [{ path: '/env' }] });
    expect(parseConfig(mockCameraOptions, ['--listen', ':9001', '--stream', '/flag'], env).config).toMatchObject({
      listen: { host: '0.0.0.0', port: 9001 },
      streams: [{ path: '/flag' }],
    });
  });

  it('documents the stream spec, publishing and exit codes in --help', async () => {
    expect(await main(['mock-camera', '--help'], {})).toBe(0);
    for (const text of ['PATH[:VIDEO[:WxH[:FPS[:GOP[:AUDIO]]]]]', 'MOCK_CAMERA_PASSWORD', '-f rtsp rtsp://', 'Exit codes']) expect(output.stdout).toContain(text);
  });

  it.each([
    [['--stream', 'cam'], {}, '--stream'],
    [['--stream', '/a', '--stream', '/a'], {}, 'twice'],
    [['--listen', 'nowhere'], {}, '--listen'],
    [['--rtp-port-range', '1-2'], {}, '--rtp-port-range'],
    [['--auth', 'ntlm'], {}, '--auth'],
    [['--user', 'admin'], {}, 'needs a password'],
    [['--user', 'admin', '--password-file', '/nonexistent/pw'], {}, '--password-file'],
    [[], { MOCK_CAMERA_PASSWORD: 'secret' }, 'no --user'],
  ] as const)('exits 2 on %j %j', async (argv, env, message) => {
    expect(await main(['mock-camera', ...argv], env)).toBe(2);
    expect(output.stderr).toContain(message);
    expect(output.stderr).not.toContain('secret');
  });
});
