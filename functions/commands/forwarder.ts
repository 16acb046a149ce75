// `shifu-rtsp forwarder`: deviceShifu-TCP as a process (settings, EdgeDevice, forwarder, shutdown).
import { ConfigError, createLogger, defineCommand, locateFfmpeg, onShutdown, registerSecret, type Command, type Logger } from '../lib/index.js';
import { forwardingFromEdgeDevice, type EdgeDeviceForwarding, type EdgeDeviceApi, startForwarder, openEdgeDeviceApi, cameraLoginFor, checkForwarderConfig, edgeDeviceRef, forwarderOptions, resolveSettings } from '../shifu-tcp/index.js';

/** Start-up reads of the EdgeDevice: the API server may still be coming up beside us. */
const READ_ATTEMPTS = 5;

export const forwarderCommand: Command = defineCommand({
  name: 'forwarder',
  summary: "deviceShifu-TCP: forward every byte between clients and an EdgeDevice's address (e.g. a camera's RTSP port)",
  details: [
    'Endpoints on --health-listen: GET /health (process alive), GET /ready (200 while the device accepts TCP),',
    'GET /metrics (Prometheus). With an EdgeDevice, status.edgedevicephase follows the device probe:',
    'Pending at start, then Running or Failed.',
    '',
    'Exit codes: 0 stopped by SIGTERM/SIGINT, 1 runtime failure, 2 configuration error.',
  ].join('\n'),
  options: forwarderOptions,
  check: checkForwarderConfig,
  async run(config, ctx) {
    const log = createLogger('forwarder');
    registerSecret(config.liveToken);
    for (const server of config.liveIceServers) registerSecret(server.credential);
    const cameraLogin = cameraLoginFor(config, ctx.env);
    registerSecret(cameraLogin?.password);
    const ref = edgeDeviceRef(config);
    const api = ref ? await openEdgeDeviceApi(ref, ctx.env) : undefined;
    const fromEdgeDevice = api ? await readForwarding(api, log) : undefined;
    const settings = resolveSettings(config, ctx.sources.listen ?? 'default', fromEdgeDevice);
    // Live view runs ffmpeg: a missing one stops the start, naming FFMPEG_PATH.
    const ffmpeg = settings.liveListen ? locateFfmpeg(ctx.env) : undefined;
    const forwarder = await startForwarder(settings, {
      log,
      ...(api ? { phaseSink: api } : {}),
      ...(ffmpeg ? { ffmpeg } : {}),
      ...(cameraLogin ? { cameraLogin } : {}),
    });
    const stopped = new Promise<void>((resolve) => {
      onShutdown(async () => {
        await forwarder.stop();
        resolve();
      }, log);
    });
    await stopped;
    return 0;
  },
});

async function readForwarding(api: EdgeDeviceApi, log: Logger): Promise<EdgeDeviceForwarding> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return forwardingFromEdgeDevice(api.ref, await api.read());
    } catch (err) {
      const status = api.statusOf(err);
      // Only an unreachable or failing server is worth waiting for; 4xx and bad specs will not fix themselves.
      const transient = status === undefined ? !(err instanceof ConfigError) : status >= 500;
      if (!transient || attempt >= READ_ATTEMPTS) {
        if (status !== undefined && status !== 404) {
          throw new Error(`cannot read EdgeDevice ${api.ref.namespace}/${api.ref.name}: HTTP ${status}`, { cause: err });
        }
        throw err;
      }
      const delayMs = 500 * 2 ** (attempt - 1);
      log.warn({ err, attempt, delayMs }, 'cannot read the EdgeDevice yet; retrying');
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
