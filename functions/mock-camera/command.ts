import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, createLogger, defineCommand, onShutdown, zHostPort, type OptionSpecs } from '../lib/index.js';
import { AUTH_SCHEMES, type AuthScheme } from './auth.js';
import { DEFAULT_RTP_PORT_RANGE, startMockCamera } from './mock-camera.js';
import { withRepeatedFlag } from './repeated-flag.js';
import { DEFAULT_STREAMS, STREAM_SPEC_GRAMMAR, zStreamSpecs } from './stream-spec.js';
import { zPortRange } from '../lib/index.js';

export const mockCameraOptions = {
  listen: {
    flag: 'listen',
    env: ['MOCK_CAMERA_LISTEN'],
    schema: zHostPort(),
    default: '0.0.0.0:8554',
    description: 'RTSP address to listen on',
  },
  streams: {
    flag: 'stream',
    env: ['MOCK_CAMERA_STREAMS'],
    schema: zStreamSpecs,
    default: DEFAULT_STREAMS,
    description: `test-pattern path ${STREAM_SPEC_GRAMMAR}; repeat the flag or separate specs with commas; "none": publish-only`,
  },
  rtpPortRange: {
    flag: 'rtp-port-range',
    env: ['MOCK_CAMERA_RTP_PORT_RANGE'],
    schema: zPortRange,
    default: DEFAULT_RTP_PORT_RANGE,
    description: 'UDP ports for RTP/RTCP over UDP, one even/odd pair per track of a session',
  },
  user: {
    flag: 'user',
    env: ['MOCK_CAMERA_USER'],
    schema: z.string().min(1).regex(/^[^:]+$/, 'expected a user name without ":"').optional(),
    description: 'require this user (password: env MOCK_CAMERA_PASSWORD or --password-file); default: no auth',
  },
  passwordFile: {
    flag: 'password-file',
    env: ['MOCK_CAMERA_PASSWORD_FILE'],
    schema: z.string().min(1).optional(),
    description: 'file holding the password of --user (never pass passwords as flags)',
  },
  auth: {
    flag: 'auth',
    env: ['MOCK_CAMERA_AUTH'],
    schema: z.enum(AUTH_SCHEMES as unknown as [AuthScheme, ...AuthScheme[]]),
    default: 'both',
    description: `schemes offered with --user: ${AUTH_SCHEMES.join(' | ')} (Digest is MD5, RFC 2617)`,
  },
} satisfies OptionSpecs;

const DETAILS = [
  `Stream spec ${STREAM_SPEC_GRAMMAR} (empty fields take the defaults):`,
  '  VIDEO h264 | h265 (default h264)     WxH  even sizes, default 640x360',
  '  FPS   1-60 (default 25)              GOP  keyframe interval in frames, default 2 x FPS',
  '  AUDIO pcma | pcmu | aac | none (default pcma; G.711 is 8 kHz mono)',
  '  e.g. --stream /Streaming/Channels/101:h264:1280x720:25:50:pcma --stream /cam2:h265::15',
  `  default: ${DEFAULT_STREAMS} (like a Hikvision main and sub stream)`,
  '',
  'Each test pattern is an ffmpeg process (testsrc2 + a beeping tone) publishing into the server; it is',
  'restarted with backoff if it exits. Any other path can be published with ANNOUNCE/RECORD, e.g.',
  '  ffmpeg -re -i clip.mp4 -c copy -f rtsp rtsp://127.0.0.1:8554/mypath',
  'and played from the same URL while the publisher is connected.',
  '',
  'Methods: OPTIONS DESCRIBE ANNOUNCE SETUP PLAY PAUSE RECORD TEARDOWN GET_PARAMETER.',
  'Transports: RTP interleaved in the RTSP TCP connection, or RTP over UDP (unicast).',
  'Play: rtsp://HOST:8554/Streaming/Channels/101 (VLC, ffplay, ffmpeg, GStreamer).',
  '',
  'Exit codes: 0 stopped by SIGTERM/SIGINT, 1 runtime failure (e.g. port in use), 2 configuration error.',
].join('\n');

const command = defineCommand({
  name: 'mock-camera',
  summary: 'an RTSP camera without hardware: ffmpeg test patterns (H.264/H.265 + G.711/AAC), publish and play',
  details: DETAILS,
  options: mockCameraOptions,
  async run(config, ctx) {
    let password = ctx.env.MOCK_CAMERA_PASSWORD || undefined;
    if (config.passwordFile) {
      try {
        password = readFileSync(config.passwordFile, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        throw new ConfigError(`invalid --password-file: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
    if (config.user !== undefined && !password) {
      throw new ConfigError('--user needs a password: set MOCK_CAMERA_PASSWORD or --password-file');
    }
    if (config.user === undefined && password) {
      throw new ConfigError('a password is set (MOCK_CAMERA_PASSWORD or --password-file) but no --user');
    }
    const log = createLogger('mock-camera');
    const camera = await startMockCamera({
      listen: config.listen,
      streams: config.streams,
      rtpPortRange: config.rtpPortRange,
      auth: config.user !== undefined && password ? { user: config.user, password, scheme: config.auth } : undefined,
      log,
    });
    log.info({ urls: camera.paths.map((p) => camera.url(p)) }, 'ready');
    await new Promise<void>((resolve) => {
      onShutdown(async () => {
        await camera.close();
        resolve();
      }, log);
    });
    return 0;
  },
});

/** `shifu-rtsp mock-camera`; `--stream` may be repeated. */
export const mockCameraCommand = withRepeatedFlag(command, 'stream');
