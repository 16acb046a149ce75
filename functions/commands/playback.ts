// `shifu-rtsp playback`: the read-only playback server as a process.
import { bucketPrefix, checkAwsKeys } from '../archive/index.js';
import { CLIP_CONTAINERS } from '../contracts/index.js';
import { ConfigError, createLogger, defineCommand, locateFfmpeg, locateFfprobe, onShutdown, registerSecret } from '../lib/index.js';
import { defaultMaxCuts, openLiveDirectory, playbackOptions, startPlaybackServer } from '../playback/index.js';

export const playbackCommand = defineCommand({
  name: 'playback',
  summary: 'serve the volume read-only: timeline, clips cut by time, segment files with byte ranges, and a web page',
  details: [
    `Routes: GET / (page), /api/devices, /api/timeline?device&start&end, /api/clip?device&start&(duration|end)&format=${CLIP_CONTAINERS.join('|')},`,
    '/files/<device>/<file> (Range, ETag), /health, /metrics. The journals (<root>/.shifu-rtsp/<device>/segments.jsonl) are the index, read once and followed.',
    "With PLAYBACK_S3_BUCKET (and PLAYBACK_S3_ENDPOINT, _PREFIX...) the archive's bucket too, the volume's copy first; without PLAYBACK_ROOT the bucket alone.",
  ].join('\n'),
  options: playbackOptions,
  check(config) {
    if (config.s3Endpoint !== undefined && config.s3Bucket === undefined) throw new ConfigError('invalid PLAYBACK_S3_BUCKET: PLAYBACK_S3_ENDPOINT is set, but no bucket to read');
  },
  async run(config, ctx) {
    const bucket =
      config.s3Bucket === undefined
        ? undefined
        : { address: { endpoint: config.s3Endpoint, bucket: config.s3Bucket, region: config.s3Region, forcePathStyle: config.s3ForcePathStyle }, prefix: bucketPrefix(config.s3Prefix, ctx.env) };
    if (bucket) {
      checkAwsKeys(ctx.env);
      registerSecret(ctx.env.AWS_SECRET_ACCESS_KEY);
      registerSecret(ctx.env.AWS_ACCESS_KEY_ID);
    }
    // With a bucket and no PLAYBACK_ROOT: the bucket alone (a stateless pod, no volume).
    const root = config.root ?? (bucket ? undefined : '/data');
    if (config.token !== undefined) registerSecret(config.token);
    if (config.liveToken !== undefined) registerSecret(config.liveToken);
    const log = createLogger('playback');
    const directory = await openLiveDirectory({ urls: config.liveUrls, namespace: config.liveNamespace }, log);
    const maxCuts = config.maxCuts ?? defaultMaxCuts();
    const server = await startPlaybackServer(
      {
        root,
        bucket,
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
    log.info({ root: root ?? null, bucket: bucket ? { endpoint: bucket.address.endpoint ?? null, bucket: bucket.address.bucket, prefix: bucket.prefix } : null, listen: { address: config.listen.host, port: server.port }, token: config.token !== undefined, maxClipSeconds: config.maxClip, maxCuts, indexDir: config.indexDir ?? null, cacheDir: config.cacheDir ?? null, live: config.liveUrls !== undefined ? 'PLAYBACK_LIVE_URLS' : config.liveNamespace !== undefined ? `EdgeDevices of ${config.liveNamespace}` : null }, 'playback listening');
    await new Promise<void>((resolve) => {
      onShutdown(async () => {
        await server.close();
        resolve();
      }, log);
    });
    return 0;
  },
});
