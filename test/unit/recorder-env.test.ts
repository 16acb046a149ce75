// The recorder's variables: UPPER_SNAKE names are canonical, the seed design's names keep working.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/lib/index.js';
import { recorderOptions } from '../../functions/recorder/index.js';
import { cameraLoginFor } from '../../functions/shifu-tcp/index.js';
import { recorderEnvValue } from '../../functions/contracts/index.js';

const parse = (env: NodeJS.ProcessEnv) => parseConfig(recorderOptions, [], env);

describe("the recorder's environment", () => {
  it('reads the canonical names', () => {
    const { config, sources } = parse({ RTSP_URL: 'cam:554/a', CAMERA_USERNAME: 'admin', RECORD_ROOT: '/footage' });
    expect(config.url).toBe('cam:554/a');
    expect(config.username).toBe('admin');
    expect(config.out).toBe('/footage');
    expect(sources.url).toBe('RTSP_URL');
  });

  it("still reads the seed design's names (RTSPServerAddress, UserName, FileSavePath, PasswordSecret)", () => {
    const { config, sources } = parse({ RTSPServerAddress: 'cam:554/b', UserName: 'op', FileSavePath: '/old' });
    expect([config.url, config.username, config.out]).toEqual(['cam:554/b', 'op', '/old']);
    expect(sources.out).toBe('FileSavePath');
    expect(recorderEnvValue({ PasswordSecret: 'pw-seed' }, 'password')).toBe('pw-seed');
  });

  it('prefers the canonical name when both are set', () => {
    const { config } = parse({ RTSP_URL: 'new:554/x', RTSPServerAddress: 'old:554/x' });
    expect(config.url).toBe('new:554/x');
    expect(recorderEnvValue({ CAMERA_PASSWORD: 'new-pw', PasswordSecret: 'old-pw' }, 'password')).toBe('new-pw');
  });

  it("gives live view the camera login under either name", () => {
    const on = { liveListen: { host: '127.0.0.1', port: 8889 }, liveToken: 'a-live-token-of-16+' } as const;
    expect(cameraLoginFor(on, { CAMERA_USERNAME: 'admin', CAMERA_PASSWORD: 'pw' })).toEqual({ username: 'admin', password: 'pw' });
    expect(cameraLoginFor(on, { UserName: 'admin', PasswordSecret: 'pw' })).toEqual({ username: 'admin', password: 'pw' });
  });
});
