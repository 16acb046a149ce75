import { startLiveServer, type LiveServer } from '../live/index.js';
import {
  createMetricsRegistry,
  locateFfmpeg,
  startProbeServer,
  type ProbeServer,
  type HostPort,
  type Logger,
} from '../lib/index.js';
import { formatAddress } from './address.js';
import { healthRoutes, type Readiness } from './health.js';
import { ForwardingListener, type ForwardingTotals } from './listener.js';
import { registerForwarderMetrics } from './metrics.js';
import { PhaseReporter, type PhaseSink } from './phase.js';
import type { CameraLogin, ForwarderSettings } from './settings.js';
import { UpstreamProbe } from './upstream-probe.js';

/** Bytes per read from the device and socket high-water mark: large reads mean few callbacks per second. */
const BUFFER_SIZE = 256 * 1024;
const KEEPALIVE_DELAY_MS = 30_000;
/** A status write stuck on an unreachable API must not hold up the exit. */
const PHASE_FLUSH_LIMIT_MS = 2_000;

export interface ForwarderDeps {
  readonly log: Logger;
  /** Where the EdgeDevice phase is written; absent when no EdgeDevice is named. */
  readonly phaseSink?: PhaseSink;
  /** The ffmpeg live view runs (found on start when live view is on and none is given). */
  readonly ffmpeg?: string;
  /** The camera login live view uses (UserName, PasswordSecret); RTSP mode never does. */
  readonly cameraLogin?: CameraLogin;
}

/** A running deviceShifu-TCP: the forwarded port, its health server, the device probe and the phase writer. */
export interface Forwarder {
  /** The forwarded address clients connect to (the real port when started on port 0). */
  readonly address: HostPort;
  readonly healthAddress: HostPort;
  /** The live port, when live view is on. */
  readonly liveAddress: HostPort | undefined;
  totals(): ForwardingTotals;
  /** Stops accepting, drains open connections up to the drain timeout, then closes everything. */
  stop(): Promise<void>;
}

/** Where live view reaches the forwarder's own RTSP port: a wildcard listen address means loopback. */
function loopbackOf(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

export async function startForwarder(settings: ForwarderSettings, deps: ForwarderDeps): Promise<Forwarder> {
  const { log } = deps;
  const upstream = formatAddress(settings.upstream);
  const reporter = deps.phaseSink ? new PhaseReporter(deps.phaseSink, log) : undefined;
  // Like deviceShifu: Pending until the first probe says otherwise.
  reporter?.report('Pending');

  const listener = await ForwardingListener.open({
    listen: settings.listen,
    upstream: settings.upstream,
    dialTimeoutMs: settings.dialTimeoutMs,
    idleTimeoutMs: settings.idleTimeoutMs,
    maxConnections: settings.maxConnections,
    maxConnectionsPerClient: settings.maxConnectionsPerClient,
    mode: settings.mode,
    lingerMs: settings.lingerMs,
    rtpPorts: settings.rtpPorts,
    bufferSize: BUFFER_SIZE,
    keepAliveDelayMs: KEEPALIVE_DELAY_MS,
    log,
  });

  let upstreamUp: boolean | undefined;
  let draining = false;
  const readiness = (): Readiness => {
    if (draining) return { ready: false, reason: 'draining' };
    if (upstreamUp === undefined) return { ready: false, reason: 'device not probed yet' };
    return upstreamUp ? { ready: true } : { ready: false, reason: 'device unreachable' };
  };

  const registry = createMetricsRegistry('forwarder_');
  registerForwarderMetrics(registry, { totals: () => listener.totals(), upstreamUp: () => upstreamUp === true });
  let health: ProbeServer;
  try {
    health = await startProbeServer({ listen: settings.healthListen, log, metrics: registry }, { get: healthRoutes(readiness, upstream) });
  } catch (err) {
    await listener.drain(0);
    throw err;
  }

  let live: LiveServer | undefined;
  if (settings.liveListen) {
    try {
      live = await startLiveServer(
        { listen: settings.liveListen, token: settings.liveToken, maxViewers: settings.liveMaxViewers, allowOrigins: settings.liveAllowOrigins, webrtc: settings.liveWebRtc },
        {
          log,
          ffmpeg: deps.ffmpeg ?? locateFfmpeg(),
          rtspOrigin: `rtsp://${formatAddress({ host: loopbackOf(listener.address.host), port: listener.address.port })}`,
          ...(deps.cameraLogin ? { login: deps.cameraLogin } : {}),
        },
      );
    } catch (err) {
      await listener.drain(0);
      await health.close();
      throw err;
    }
  }

  const probe = new UpstreamProbe({
    target: settings.upstream,
    intervalMs: settings.probeIntervalMs,
    timeoutMs: settings.dialTimeoutMs,
    onResult: (up, error) => {
      if (up !== upstreamUp) {
        if (up) log.info({ upstream }, 'device reachable');
        else log.warn({ upstream, error }, 'device unreachable');
      }
      upstreamUp = up;
      reporter?.report(up ? 'Running' : 'Failed');
    },
  });
  probe.start();

  const address = listener.address;
  const healthAddress = { host: settings.healthListen.host, port: health.port };
  const liveAddress = live && settings.liveListen ? { host: settings.liveListen.host, port: live.port } : undefined;
  log.info(
    {
      listen: formatAddress(address),
      upstream,
      health: formatAddress(healthAddress),
      live: liveAddress ? formatAddress(liveAddress) : null,
      edgeDevice: settings.edgeDevice ? `${settings.edgeDevice.namespace}/${settings.edgeDevice.name}` : null,
      maxConnections: settings.maxConnections,
      maxConnectionsPerClient: settings.maxConnectionsPerClient,
      idleTimeoutMs: settings.idleTimeoutMs,
      mode: settings.mode,
    },
    'forwarding',
  );

  let stopping: Promise<void> | undefined;
  return {
    address,
    healthAddress,
    liveAddress,
    totals: () => listener.totals(),
    stop: () => {
      stopping ??= (async () => {
        draining = true;
        await probe.stop();
        // Live viewers are cut first: their ffmpeg is an RTSP client the drain would otherwise wait for.
        await live?.close();
        const { cut } = await listener.drain(settings.drainTimeoutMs);
        if (cut > 0) log.warn({ cut }, 'drain timeout: open connections cut');
        await Promise.race([reporter?.settled(), new Promise((r) => setTimeout(r, PHASE_FLUSH_LIMIT_MS).unref())]);
        await health.close();
        log.info({ totals: listener.totals() }, 'stopped');
      })();
      return stopping;
    },
  };
}
