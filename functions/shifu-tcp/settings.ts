import { isIP } from 'node:net';
import { z } from 'zod';
import { ConfigError, zHostPort, zPortRange, zPortRangeWhere, zSeconds, type ConfigOf, type HostPort, type PortRange } from '../lib/index.js';
import { recorderEnvValue } from '../contracts/index.js';
import type { EdgeDeviceForwarding, EdgeDeviceRef } from './edgedevice.js';

const zName = z
  .string()
  .trim()
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'expected a Kubernetes object name (lowercase letters, digits, - and .)')
  .optional();

/** `off`, or the HOST:PORT of the live port. */
const zLiveListen = z
  .string()
  .trim()
  .transform((value, ctx): HostPort | undefined => {
    if (value === 'off') return undefined;
    const parsed = zHostPort().safeParse(value);
    if (parsed.success) return parsed.data;
    ctx.addIssue({ code: 'custom', message: 'expected off or HOST:PORT with a port from 0 to 65535' });
    return z.NEVER;
  });

/** Origins allowed to call the live port from their pages: `https://host[:port]`, or `*`. */
const zOrigins = z
  .string()
  .trim()
  .transform((value, ctx): string[] => {
    const origins = value.split(',').map((o) => o.trim()).filter((o) => o !== '');
    for (const origin of origins) {
      if (origin === '*') continue;
      let parsed: URL | undefined;
      try {
        parsed = new URL(origin);
      } catch {
        parsed = undefined;
      }
      if (parsed === undefined || parsed.origin !== origin) {
        ctx.addIssue({ code: 'custom', message: `expected origins like https://viewer.example.com[:port], comma-separated, or *; got ${JSON.stringify(origin)}` });
        return z.NEVER;
      }
    }
    return origins;
  });

/** UDP ports for WebRTC's ICE: MIN-MAX with MIN below MAX (werift binds one port per connection and refuses MIN = MAX). */
const zIcePorts = zPortRangeWhere(({ min, max }) => min >= 1 && max <= 65535 && min < max, 'expected MIN-MAX UDP ports, 1 to 65535, MIN below MAX (e.g. 8189-8199)');

/** Host candidates to announce: IP addresses, comma-separated. */
const zAddresses = z
  .string()
  .trim()
  .transform((value, ctx): string[] => {
    const list = value.split(',').map((a) => a.trim()).filter((a) => a !== '');
    const bad = list.find((a) => isIP(a) === 0);
    if (bad !== undefined) {
      ctx.addIssue({ code: 'custom', message: `expected IP addresses, comma-separated; got ${JSON.stringify(bad)}` });
      return z.NEVER;
    }
    return list;
  });

/** STUN/TURN servers: `stun:host[:port]`, `turn:user:password@host[:port]`, comma-separated. */
const zIceServers = z
  .string()
  .trim()
  .transform((value, ctx): IceServer[] => {
    const out: IceServer[] = [];
    for (const raw of value.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
      const m = /^(stun|turns?):(?:([^:@]+):([^@]+)@)?([^@\s]+)$/.exec(raw);
      if (!m) {
        ctx.addIssue({ code: 'custom', message: 'expected stun:HOST[:PORT] or turn:USER:PASSWORD@HOST[:PORT], comma-separated' });
        return z.NEVER;
      }
      out.push({ urls: `${m[1]}:${m[4]}`, ...(m[2] !== undefined && m[3] !== undefined ? { username: m[2], credential: m[3] } : {}) });
    }
    return out;
  });

export interface IceServer {
  readonly urls: string;
  readonly username?: string;
  readonly credential?: string;
}

export const FORWARDER_MODES = ['auto', 'tcp', 'rtsp'] as const;
export type ForwarderMode = (typeof FORWARDER_MODES)[number];

/** The forwarder's settings: flags override environment variables, which override the EdgeDevice and defaults. */
export const forwarderOptions = {
  edgeDeviceName: {
    flag: 'edgedevice-name',
    env: ['EDGEDEVICE_NAME'],
    schema: zName,
    description: 'EdgeDevice to serve: its spec gives the device address and listen port, its status gets the phase',
  },
  edgeDeviceNamespace: {
    flag: 'edgedevice-namespace',
    env: ['EDGEDEVICE_NAMESPACE'],
    schema: zName,
    description: 'namespace of the EdgeDevice',
  },
  mode: {
    flag: 'mode',
    env: ['FORWARDER_MODE'],
    schema: z.enum(FORWARDER_MODES, { message: `expected one of ${FORWARDER_MODES.join(', ')}` }),
    default: 'auto',
    description:
      'auto: a connection starting with an RTSP request line gets RTSP mode, anything else goes byte for byte; tcp: always byte for byte; rtsp: always RTSP mode',
  },
  linger: {
    flag: 'linger',
    env: ['FORWARDER_LINGER'],
    schema: zSeconds(0, 3600),
    default: '10',
    description: 'RTSP mode: seconds a camera session stays open after its last client left',
  },
  rtpPorts: {
    flag: 'rtp-ports',
    env: ['FORWARDER_RTP_PORTS'],
    schema: zPortRange,
    default: '40000-40999',
    description: 'RTSP mode: UDP ports (MIN-MAX) for clients that take RTP over UDP, one even/odd pair per track',
  },
  liveListen: {
    flag: 'live-listen',
    env: ['LIVE_LISTEN'],
    schema: zLiveListen,
    default: 'off',
    description: 'HOST:PORT of live view in browsers (HLS and a player page per camera path), or off',
  },
  liveToken: {
    flag: 'live-token',
    env: ['LIVE_TOKEN'],
    schema: z.string().min(16, 'expected at least 16 characters').optional(),
    secret: true,
    description:
      'live view: bearer token its media and signalling require (or ?access_token= once on the page, then a cookie). Required when the camera credentials are set. Use the variable: flags show in ps',
  },
  liveMaxViewers: {
    flag: 'live-max-viewers',
    env: ['LIVE_MAX_VIEWERS'],
    schema: z.coerce
      .number({ message: 'expected a number of viewers' })
      .int('expected a whole number')
      .min(1, 'expected 1 to 10000 viewers')
      .max(10_000, 'expected 1 to 10000 viewers'),
    default: '50',
    description: 'live view: viewers per camera stream at once; more get 503',
  },
  liveAllowOrigin: {
    flag: 'live-allow-origin',
    env: ['LIVE_ALLOW_ORIGIN'],
    schema: zOrigins,
    default: '',
    description: 'live view: origins (comma-separated, or *) whose pages may call the live port (CORS); none by default: same origin only',
  },
  liveWebrtcUdpPorts: {
    flag: 'live-webrtc-udp-ports',
    env: ['LIVE_WEBRTC_UDP_PORTS'],
    schema: zIcePorts,
    default: '8189-8199',
    description: 'live view: UDP ports (MIN-MAX) WebRTC media uses, one per viewer connection; expose them on the Service',
  },
  liveWebrtcAddresses: {
    flag: 'live-webrtc-addresses',
    env: ['LIVE_WEBRTC_ADDRESSES'],
    schema: zAddresses,
    default: '',
    description: 'live view: IP addresses announced to browsers as WebRTC host candidates (a node or load balancer address); none: the addresses found',
  },
  liveIceServers: {
    flag: 'live-ice-servers',
    env: ['LIVE_ICE_SERVERS'],
    schema: zIceServers,
    default: '',
    secret: true,
    description: 'live view: STUN/TURN servers (stun:HOST:PORT, turn:USER:PASSWORD@HOST:PORT, comma-separated); none by default',
  },
  upstream: {
    flag: 'upstream',
    env: ['FORWARDER_UPSTREAM'],
    schema: zHostPort().optional(),
    description: "device HOST:PORT to forward to (overrides the EdgeDevice's spec.address)",
  },
  listen: {
    flag: 'listen',
    env: ['FORWARDER_LISTEN'],
    schema: zHostPort(),
    default: '0.0.0.0:8081',
    description: "HOST:PORT clients connect to (when unset: the EdgeDevice's TCPSetting.ListenPort, else 8081)",
  },
  healthListen: {
    flag: 'health-listen',
    env: ['FORWARDER_HEALTH_LISTEN'],
    schema: zHostPort(),
    default: '0.0.0.0:8080',
    description: 'HOST:PORT of /health, /ready and /metrics',
  },
  dialTimeout: {
    flag: 'dial-timeout',
    env: ['FORWARDER_DIAL_TIMEOUT'],
    schema: zSeconds(0.1, 3600),
    default: '5',
    description: 'seconds to wait for the device to accept a connection before closing the client',
  },
  idleTimeout: {
    flag: 'idle-timeout',
    env: ['FORWARDER_IDLE_TIMEOUT'],
    schema: zSeconds(0, 7 * 24 * 3600),
    // Twice RTSP's default session timeout (60 s): a paused viewer's keep-alives always come sooner.
    default: '120',
    description:
      'close a connection after this many seconds without a byte either way (RTSP mode: and no UDP session); 0: never. Raise it above a camera\'s session timeout if that is longer than 60 s',
  },
  maxConnections: {
    flag: 'max-connections',
    env: ['FORWARDER_MAX_CONNECTIONS'],
    schema: z.coerce
      .number({ message: 'expected a number of connections' })
      .int('expected a whole number')
      .min(1, 'expected 1 to 1000000 connections')
      .max(1_000_000, 'expected 1 to 1000000 connections'),
    default: '1024',
    description: 'client connections open at once; more are refused at once',
  },
  maxConnectionsPerClient: {
    flag: 'max-connections-per-client',
    env: ['FORWARDER_MAX_CONNECTIONS_PER_CLIENT'],
    schema: z.coerce
      .number({ message: 'expected a number of connections' })
      .int('expected a whole number')
      .min(1, 'expected 1 to 1000000 connections')
      .max(1_000_000, 'expected 1 to 1000000 connections'),
    default: '32',
    description: 'client connections open at once from one client address; more from it are refused at once',
  },
  drainTimeout: {
    flag: 'drain-timeout',
    env: ['FORWARDER_DRAIN_TIMEOUT'],
    schema: zSeconds(0, 3600),
    default: '15',
    description: 'on SIGTERM, seconds open connections may take to finish before they are cut',
  },
  probeInterval: {
    flag: 'probe-interval',
    env: ['FORWARDER_PROBE_INTERVAL'],
    schema: zSeconds(0.1, 3600),
    default: '5',
    description: 'seconds between TCP probes of the device (readiness, upstream_up, EdgeDevice phase)',
  },
} as const;

export type ForwarderConfig = ConfigOf<typeof forwarderOptions>;

/** Everything the forwarder runs with, resolved from flags, environment, EdgeDevice and defaults. */
export interface ForwarderSettings {
  readonly mode: ForwarderMode;
  readonly lingerMs: number;
  readonly rtpPorts: PortRange;
  /** The live port; undefined when live view is off. */
  readonly liveListen: HostPort | undefined;
  readonly liveToken: string | undefined;
  readonly liveMaxViewers: number;
  readonly liveAllowOrigins: readonly string[];
  readonly liveWebRtc: { readonly udpPorts: PortRange; readonly addresses: readonly string[]; readonly iceServers: readonly IceServer[] };
  readonly upstream: HostPort;
  readonly listen: HostPort;
  readonly healthListen: HostPort;
  readonly dialTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerClient: number;
  readonly drainTimeoutMs: number;
  readonly probeIntervalMs: number;
  readonly edgeDevice: EdgeDeviceRef | undefined;
}

/** Rules across settings, checked before anything starts. */
export function checkForwarderConfig(config: ForwarderConfig): void {
  if (config.edgeDeviceName !== undefined && config.edgeDeviceNamespace === undefined) {
    throw new ConfigError('EDGEDEVICE_NAMESPACE (flag --edgedevice-namespace) is required with EDGEDEVICE_NAME');
  }
  if (config.edgeDeviceName === undefined && config.upstream === undefined) {
    throw new ConfigError(
      'no device to forward to: set --upstream HOST:PORT (env FORWARDER_UPSTREAM) or EDGEDEVICE_NAME + EDGEDEVICE_NAMESPACE',
    );
  }
}

/** The camera login live view signs its requests with. */
export interface CameraLogin {
  readonly username: string;
  readonly password: string;
}

/**
 * The camera login from the variables the recorder reads (`CAMERA_USERNAME`, `CAMERA_PASSWORD`, or the seed's
 * `UserName`, `PasswordSecret`: the device's Secret by
 * secretKeyRef), never a flag. Only live view uses it (RTSP mode passes each client's own login), so with live
 * view on it must come with LIVE_TOKEN: otherwise any browser that reaches the port would watch as that login.
 */
export function cameraLoginFor(config: Pick<ForwarderConfig, 'liveListen' | 'liveToken'>, env: NodeJS.ProcessEnv): CameraLogin | undefined {
  const username = recorderEnvValue(env, 'username');
  const password = recorderEnvValue(env, 'password');
  if (username === undefined && password === undefined) return undefined;
  if (username === undefined) throw new ConfigError('CAMERA_USERNAME (or UserName) is required with CAMERA_PASSWORD (or PasswordSecret): the camera login live view uses');
  if (config.liveListen !== undefined && config.liveToken === undefined) {
    throw new ConfigError(
      'LIVE_TOKEN is required: live view (LIVE_LISTEN) is on and the camera login (CAMERA_USERNAME, CAMERA_PASSWORD) is set, so without a token any browser reaching the live port would watch the camera',
    );
  }
  return { username, password: password ?? '' };
}

export function edgeDeviceRef(config: ForwarderConfig): EdgeDeviceRef | undefined {
  return config.edgeDeviceName !== undefined && config.edgeDeviceNamespace !== undefined
    ? { name: config.edgeDeviceName, namespace: config.edgeDeviceNamespace }
    : undefined;
}

/**
 * Merges flags/env with what the EdgeDevice says. `listenSource` is where --listen came from:
 * only an explicit flag or variable beats the EdgeDevice's ListenPort.
 */
export function resolveSettings(
  config: ForwarderConfig,
  listenSource: string,
  edgeDevice: EdgeDeviceForwarding | undefined,
): ForwarderSettings {
  const upstream = config.upstream ?? edgeDevice?.address;
  if (upstream === undefined) {
    throw new ConfigError(
      'the EdgeDevice has no spec.address and no --upstream (env FORWARDER_UPSTREAM) is set: nowhere to forward to',
    );
  }
  if (upstream.port === 0) throw new ConfigError('invalid --upstream: the device port cannot be 0');
  const listen =
    listenSource === 'default' && edgeDevice !== undefined
      ? { host: config.listen.host, port: edgeDevice.listenPort }
      : config.listen;
  return {
    mode: config.mode,
    lingerMs: Math.round(config.linger * 1000),
    rtpPorts: config.rtpPorts,
    liveListen: config.liveListen,
    liveToken: config.liveToken,
    liveMaxViewers: config.liveMaxViewers,
    liveAllowOrigins: config.liveAllowOrigin,
    liveWebRtc: { udpPorts: config.liveWebrtcUdpPorts, addresses: config.liveWebrtcAddresses, iceServers: config.liveIceServers },
    upstream,
    listen,
    healthListen: config.healthListen,
    dialTimeoutMs: Math.round(config.dialTimeout * 1000),
    idleTimeoutMs: Math.round(config.idleTimeout * 1000),
    maxConnections: config.maxConnections,
    maxConnectionsPerClient: config.maxConnectionsPerClient,
    drainTimeoutMs: Math.round(config.drainTimeout * 1000),
    probeIntervalMs: Math.round(config.probeInterval * 1000),
    edgeDevice: edgeDeviceRef(config),
  };
}
