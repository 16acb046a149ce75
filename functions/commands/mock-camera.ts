// `shifu-rtsp mock-camera`: the mock camera as a process.
import { readFileSync } from 'node:fs';
import { ConfigError, createLogger, defineCommand, onShutdown } from '../lib/index.js';
import { DEFAULT_STREAMS, mockCameraOptions, startMockCamera, STREAM_SPEC_GRAMMAR, withRepeatedFlag } from '../mock-camera/index.js';

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
