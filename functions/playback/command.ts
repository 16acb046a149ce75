import { z } from 'zod';
import { createLogger, defineCommand, locateFfmpeg, locateFfprobe, onShutdown, registerSecret, zHostPort, type OptionSpecs } from '../lib/index.js';
import { zDuration } from './duration.js';
import { startPlaybackServer } from './server.js';

export const playbackOptions = {
  root: {
    flag: 'root',
    env: ['PLAYBACK_ROOT', 'FileSavePath'],
    schema: z.string().min(1),
    default: '/data',
    description: "storage root to serve (the recorders' --out); only read, never written",
  },
  listen: {
    flag: 'listen',
    env: ['PLAYBACK_LISTEN'],
    schema: zHostPort(),
    default: '0.0.0.0:9996',
    description: 'address for the API, the files and the page',
  },
  token: {
    flag: 'token',
    env: ['PLAYBACK_TOKEN'],
    schema: z.string().min(16, 'expected at least 16 characters').optional(),
    secret: true,
    description: 'bearer token every route but /, /app.js and /health requires (prefer the variable: flags show in ps)',
  },
  maxClip: {
    flag: 'max-clip',
    env: ['PLAYBACK_MAX_CLIP'],
    schema: zDuration,
    default: '6h',
    description: 'longest clip /api/clip cuts (e.g. 6h, 90m, 3600)',
  },
} satisfies OptionSpecs;

export const playbackCommand = defineCommand({
  name: 'playback',
  summary: 'serve the volume read-only: timeline, clips cut by time, segment files with byte ranges, and a web page',
  details: [
    'Routes: GET / (page), /api/devices, /api/timeline?device&start&end, /api/clip?device&start&(duration|end)&format=mp4|mkv|ts,',
    '/files/<device>/<file> (Range, ETag), /health, /metrics. The journals (<root>/.shifu-rtsp/<device>/segments.jsonl) are the index.',
  ].join('\n'),
  options: playbackOptions,
  async run(config, ctx) {
    if (config.token !== undefined) registerSecret(config.token);
    const log = createLogger('playback');
    const server = await startPlaybackServer(
      {
        root: config.root,
        listen: config.listen,
        token: config.token,
        maxClipSeconds: config.maxClip,
        ffmpeg: locateFfmpeg(ctx.env),
        ffprobe: locateFfprobe(ctx.env),
      },
      log,
    );
    log.info({ root: config.root, listen: { address: config.listen.host, port: server.port }, token: config.token !== undefined, maxClipSeconds: config.maxClip }, 'playback listening');
    await new Promise<void>((resolve) => {
      onShutdown(async () => {
        await server.close();
        resolve();
      }, log);
    });
    return 0;
  },
});
