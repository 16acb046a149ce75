// `shifu-rtsp playback`: the read-only playback server as a process.
import { createLogger, defineCommand, locateFfmpeg, locateFfprobe, onShutdown, registerSecret } from '../lib/index.js';
import { defaultMaxCuts, openLiveDirectory, playbackOptions, startPlaybackServer } from '../playback/index.js';

export const playbackCommand = defineCommand({
  name: 'playback',
  summary: 'serve the volume read-only: timeline, clips cut by time, segment files with byte ranges, and a web page',
  details: [
    'Routes: GET / (page), /api/devices, /api/timeline?device&start&end, /api/clip?device&start&(duration|end)&format=mp4|mkv|ts,',
    '/files/<device>/<file> (Range, ETag), /health, /metrics. The journals (<root>/.shifu-rtsp/<device>/segments.jsonl) are the index, read once and followed.',
  ].join('\n'),
  options: playbackOptions,
  async run(config, ctx) {
    if (config.token !== undefined) registerSecret(config.token);
    if (config.liveToken !== undefined) registerSecret(config.liveToken);
    const log = createLogger('playback');
    const directory = await openLiveDirectory({ urls: config.liveUrls, namespace: config.liveNamespace }, log);
    const maxCuts = config.maxCuts ?? defaultMaxCuts();
    const server = await startPlaybackServer(
      {
        root: config.root,
        listen: config.listen,
        token: config.token,
        tokenSecret: config.tokenSecret,
        maxClipSeconds: config.maxClip,
        ffmpeg: locateFfmpeg(ctx.env),
        ffprobe: locateFfprobe(ctx.env),
        maxCuts,
        indexDir: config.indexDir,
        cacheDir: config.cacheDir,
        live: { directory, token: config.liveToken },
      },
      log,
    );
    log.info({ root: config.root, listen: { address: config.listen.host, port: server.port }, token: config.token !== undefined, maxClipSeconds: config.maxClip, maxCuts, indexDir: config.indexDir ?? null, cacheDir: config.cacheDir ?? null, live: config.liveUrls !== undefined ? 'PLAYBACK_LIVE_URLS' : config.liveNamespace !== undefined ? `EdgeDevices of ${config.liveNamespace}` : null }, 'playback listening');
    await new Promise<void>((resolve) => {
      onShutdown(async () => {
        await server.close();
        resolve();
      }, log);
    });
    return 0;
  },
});
