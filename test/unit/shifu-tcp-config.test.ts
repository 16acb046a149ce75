import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../functions/cli.js';
import { ConfigError, parseConfig } from '../../functions/lib/index.js';
import { forwarderCommand } from '../../functions/commands/forwarder.js';
import {
  cameraLoginFor,
  checkForwarderConfig,
  forwarderOptions,
  resolveSettings,
  type EdgeDeviceForwarding,
} from '../../functions/shifu-tcp/index.js';

function settingsFrom(argv: string[], env: NodeJS.ProcessEnv = {}, edgeDevice?: EdgeDeviceForwarding) {
  const { config, sources } = parseConfig(forwarderOptions, argv, env);
  checkForwarderConfig(config);
  return resolveSettings(config, sources.listen, edgeDevice);
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('forwarder configuration', () => {
  afterEach(() => vi.restoreAllMocks());

  it('uses the documented defaults', () => {
    const s = settingsFrom(['--upstream', 'camera.local:554']);
    expect(s).toEqual({
      mode: 'auto',
      lingerMs: 10_000,
      rtpPorts: { min: 40000, max: 40999 },
      liveListen: undefined,
      liveToken: undefined,
      liveMaxViewers: 50,
      liveAllowOrigins: [],
      liveWebRtc: { udpPorts: { min: 8189, max: 8199 }, addresses: [], iceServers: [] },
      upstream: { host: 'camera.local', port: 554 },
      listen: { host: '0.0.0.0', port: 8081 },
      healthListen: { host: '0.0.0.0', port: 8080 },
      dialTimeoutMs: 5000,
      idleTimeoutMs: 120_000,
      maxConnections: 1024,
      maxConnectionsPerClient: 32,
      drainTimeoutMs: 15000,
      probeIntervalMs: 5000,
      edgeDevice: undefined,
    });
  });

  it('reads every setting from its environment twin, and flags win over them', () => {
    const env = {
      FORWARDER_UPSTREAM: '10.0.0.5:554',
      FORWARDER_LISTEN: '127.0.0.1:9000',
      FORWARDER_HEALTH_LISTEN: ':9001',
      FORWARDER_DIAL_TIMEOUT: '2.5',
      FORWARDER_IDLE_TIMEOUT: '60',
      FORWARDER_MAX_CONNECTIONS: '10',
      FORWARDER_MAX_CONNECTIONS_PER_CLIENT: '4',
      FORWARDER_DRAIN_TIMEOUT: '3',
      FORWARDER_PROBE_INTERVAL: '0.5',
      FORWARDER_MODE: 'rtsp',
      FORWARDER_LINGER: '2.5',
      FORWARDER_RTP_PORTS: '50000-50099',
    };
    expect(settingsFrom([], env)).toMatchObject({
      mode: 'rtsp',
      lingerMs: 2500,
      rtpPorts: { min: 50000, max: 50099 },
      upstream: { host: '10.0.0.5', port: 554 },
      listen: { host: '127.0.0.1', port: 9000 },
      healthListen: { host: '0.0.0.0', port: 9001 },
      dialTimeoutMs: 2500,
      idleTimeoutMs: 60000,
      maxConnections: 10,
      maxConnectionsPerClient: 4,
      drainTimeoutMs: 3000,
      probeIntervalMs: 500,
    });
    expect(settingsFrom(['--upstream', '[fd00::5]:8554', '--max-connections', '5', '--max-connections-per-client', '2', '--idle-timeout', '0'], env)).toMatchObject({
      upstream: { host: 'fd00::5', port: 8554 },
      maxConnections: 5,
      maxConnectionsPerClient: 2,
      idleTimeoutMs: 0,
    });
  });

  it('takes address and ListenPort from the EdgeDevice unless flags or env say otherwise', () => {
    const edge: EdgeDeviceForwarding = { address: { host: '192.168.1.64', port: 554 }, listenPort: 9554 };
    const env = { EDGEDEVICE_NAME: 'cam-1', EDGEDEVICE_NAMESPACE: 'devices' };
    expect(settingsFrom([], env, edge)).toMatchObject({
      upstream: { host: '192.168.1.64', port: 554 },
      listen: { host: '0.0.0.0', port: 9554 },
      edgeDevice: { name: 'cam-1', namespace: 'devices' },
    });
    expect(
      settingsFrom(['--listen', '127.0.0.1:7000'], { ...env, FORWARDER_UPSTREAM: '127.0.0.1:8554' }, edge),
    ).toMatchObject({ upstream: { host: '127.0.0.1', port: 8554 }, listen: { host: '127.0.0.1', port: 7000 } });
    expect(settingsFrom([], { ...env, FORWARDER_LISTEN: ':7001' }, edge).listen).toEqual({ host: '0.0.0.0', port: 7001 });
  });

  it('refuses an EdgeDevice without address when no --upstream is given', () => {
    const env = { EDGEDEVICE_NAME: 'cam-1', EDGEDEVICE_NAMESPACE: 'devices' };
    expect(configError(() => settingsFrom([], env, { address: undefined, listenPort: 8081 }))).toMatch(/spec\.address/);
  });

  it.each([
    [['--upstream', 'camera'], '--upstream'],
    [['--upstream', 'camera:70000'], '--upstream'],
    [['--upstream', 'camera:0'], '--upstream'],
    [['--upstream', 'c:554', '--listen', 'nohost'], '--listen'],
    [['--upstream', 'c:554', '--health-listen', ':x'], '--health-listen'],
    [['--upstream', 'c:554', '--dial-timeout', 'soon'], '--dial-timeout'],
    [['--upstream', 'c:554', '--dial-timeout', '0'], '--dial-timeout'],
    [['--upstream', 'c:554', '--idle-timeout', '-1'], '--idle-timeout'],
    [['--upstream', 'c:554', '--max-connections', '0'], '--max-connections'],
    [['--upstream', 'c:554', '--max-connections', '1.5'], '--max-connections'],
    [['--upstream', 'c:554', '--max-connections-per-client', '0'], '--max-connections-per-client'],
    [['--upstream', 'c:554', '--drain-timeout', 'x'], '--drain-timeout'],
    [['--upstream', 'c:554', '--probe-interval', '0'], '--probe-interval'],
    [['--edgedevice-name', 'Cam_1', '--edgedevice-namespace', 'ns'], '--edgedevice-name'],
    [['--upstream', 'c:554', '--no-such-flag'], '--no-such-flag'],
  ])('names the flag at fault: %j', (argv, flag) => {
    expect(configError(() => settingsFrom(argv))).toContain(flag);
  });

  it('refuses an unknown mode and a bad RTP port range, naming the variable', () => {
    expect(configError(() => settingsFrom(['--upstream', 'c:554'], { FORWARDER_MODE: 'udp' }))).toMatch(/FORWARDER_MODE.*auto, tcp, rtsp|auto, tcp, rtsp.*FORWARDER_MODE/s);
    expect(configError(() => settingsFrom(['--upstream', 'c:554', '--rtp-ports', '40001-40002']))).toContain('--rtp-ports');
  });

  it('live view: off unless --live-listen / LIVE_LISTEN names HOST:PORT; a bad value names the variable', () => {
    expect(settingsFrom(['--upstream', 'c:554']).liveListen).toBeUndefined();
    expect(settingsFrom(['--upstream', 'c:554'], { LIVE_LISTEN: ':8889' }).liveListen).toEqual({ host: '0.0.0.0', port: 8889 });
    expect(settingsFrom(['--upstream', 'c:554', '--live-listen', 'off'], { LIVE_LISTEN: ':8889' }).liveListen).toBeUndefined();
    expect(configError(() => settingsFrom(['--upstream', 'c:554'], { LIVE_LISTEN: 'on' }))).toMatch(/LIVE_LISTEN.*off or HOST:PORT/s);
  });

  it('live view with the camera login (UserName, PasswordSecret) refuses to start without LIVE_TOKEN, naming it', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const login = { UserName: 'admin', PasswordSecret: 'cam-password-1' };
    expect(await main(['forwarder', '--upstream', 'c:554', '--live-listen', '127.0.0.1:0'], login)).toBe(2);
    const said = stderr.mock.calls.map((c) => String(c[0])).join('');
    expect(said).toMatch(/LIVE_TOKEN is required/);
    expect(said).not.toContain('cam-password-1');
    const config = (env: NodeJS.ProcessEnv) => parseConfig(forwarderOptions, ['--upstream', 'c:554'], env).config;
    expect(cameraLoginFor(config({ LIVE_LISTEN: ':8889', LIVE_TOKEN: 'a-token-of-16-chars!' }), login)).toEqual({ username: 'admin', password: 'cam-password-1' });
    // Live view off: RTSP mode never uses the login, so no token is needed.
    expect(cameraLoginFor(config({}), login)).toEqual({ username: 'admin', password: 'cam-password-1' });
    expect(cameraLoginFor(config({ LIVE_LISTEN: ':8889' }), {})).toBeUndefined();
    expect(configError(() => cameraLoginFor(config({}), { PasswordSecret: 'x' }))).toContain('UserName');
  });

  it('live view: LIVE_MAX_VIEWERS (50) and LIVE_ALLOW_ORIGIN (none) by default; bad values and a short LIVE_TOKEN name their variable', () => {
    const s = settingsFrom(['--upstream', 'c:554'], { LIVE_ALLOW_ORIGIN: 'https://a.example, http://b.example:8080' });
    expect(s.liveMaxViewers).toBe(50);
    expect(s.liveAllowOrigins).toEqual(['https://a.example', 'http://b.example:8080']);
    expect(settingsFrom(['--upstream', 'c:554']).liveAllowOrigins).toEqual([]);
    expect(configError(() => settingsFrom(['--upstream', 'c:554'], { LIVE_ALLOW_ORIGIN: 'https://a.example/path' }))).toContain('LIVE_ALLOW_ORIGIN');
    expect(configError(() => settingsFrom(['--upstream', 'c:554'], { LIVE_MAX_VIEWERS: '0' }))).toContain('LIVE_MAX_VIEWERS');
    const short = configError(() => settingsFrom(['--upstream', 'c:554'], { LIVE_TOKEN: 'short-secret' }));
    expect(short).toContain('LIVE_TOKEN');
    expect(short).not.toContain('short-secret');
  });

  it('WebRTC: LIVE_WEBRTC_UDP_PORTS, LIVE_WEBRTC_ADDRESSES and LIVE_ICE_SERVERS (none by default); bad values name their variable, never a TURN password', () => {
    const s = settingsFrom(['--upstream', 'c:554'], { LIVE_WEBRTC_UDP_PORTS: '30000-30010', LIVE_WEBRTC_ADDRESSES: '192.0.2.10, 2001:db8::1', LIVE_ICE_SERVERS: 'stun:stun.example:3478,turn:user:pw-secret@turn.example:3478' });
    expect(s.liveWebRtc).toEqual({
      udpPorts: { min: 30000, max: 30010 },
      addresses: ['192.0.2.10', '2001:db8::1'],
      iceServers: [{ urls: 'stun:stun.example:3478' }, { urls: 'turn:turn.example:3478', username: 'user', credential: 'pw-secret' }],
    });
    expect(settingsFrom(['--upstream', 'c:554']).liveWebRtc.iceServers).toEqual([]);
    expect(configError(() => settingsFrom(['--upstream', 'c:554'], { LIVE_WEBRTC_UDP_PORTS: '8189-8189' }))).toContain('LIVE_WEBRTC_UDP_PORTS');
    expect(configError(() => settingsFrom(['--upstream', 'c:554'], { LIVE_WEBRTC_ADDRESSES: 'node-1.example' }))).toContain('LIVE_WEBRTC_ADDRESSES');
    const bad = configError(() => settingsFrom(['--upstream', 'c:554'], { LIVE_ICE_SERVERS: 'http://user:pw-secret@x' }));
    expect(bad).toContain('LIVE_ICE_SERVERS');
    expect(bad).not.toContain('pw-secret');
  });

  it('names the environment variable and its flag twin when the value came from the environment', () => {
    const message = configError(() => settingsFrom([], { FORWARDER_UPSTREAM: 'c:554', FORWARDER_MAX_CONNECTIONS: 'lots' }));
    expect(message).toContain('FORWARDER_MAX_CONNECTIONS');
    expect(message).toContain('--max-connections');
  });

  it('needs a device: --upstream or an EdgeDevice, and a namespace with the EdgeDevice name', () => {
    expect(configError(() => settingsFrom([]))).toMatch(/--upstream.*EDGEDEVICE_NAME/);
    expect(configError(() => settingsFrom([], { EDGEDEVICE_NAME: 'cam-1' }))).toContain('EDGEDEVICE_NAMESPACE');
  });

  it('exits 2 through the CLI, naming the flag, before starting anything', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(await main(['forwarder', '--upstream', 'c:554', '--dial-timeout', 'never'], {})).toBe(2);
    expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toContain('--dial-timeout');
    expect(await main(['forwarder'], {})).toBe(2);
    await expect(forwarderCommand.execute(['--listen', 'x'], {})).rejects.toThrow(/--listen/);
  });

  it('documents every option with its environment twin in --help', () => {
    const help = forwarderCommand.help();
    for (const spec of Object.values(forwarderOptions)) {
      expect(help).toContain(`--${spec.flag}`);
      for (const name of spec.env) expect(help).toContain(name);
    }
  });
});
