import { z } from 'zod';
import { ConfigError, type HostPort } from '../lib/index.js';

/** Shifu's EdgeDevice custom resource (crds/shifu/edgedevices.yaml). */
export const EDGEDEVICE = { group: 'shifu.edgenesis.io', version: 'v1alpha1', plural: 'edgedevices' } as const;

/** The forwarder's Service (knative/forwarder.yaml): `deviceshifu-<device>`, as Shifu names a deviceShifu's. */
export function forwarderServiceName(device: string): string {
  return `deviceshifu-${device}`;
}

/** The forwarder Service's live view port (HLS, the page, WHEP signalling), as knative/forwarder.yaml sets it. */
export const LIVE_SERVICE_PORT = 8889;
/** `spec.customMetadata` key of the EdgeDevice that holds the camera's stream path. */
export const STREAM_PATH_KEY = 'rtspPath';
/** `spec.customMetadata` key of a smaller stream (a camera's H.264 sub-stream) live view uses instead. */
export const LIVE_SUBSTREAM_PATH_KEY = 'liveSubstreamPath';

/** `status.edgedevicephase` values, as Shifu's deviceShifu writes them. */
export type EdgeDevicePhase = 'Pending' | 'Running' | 'Failed' | 'Unknown';

export interface EdgeDeviceRef {
  readonly name: string;
  readonly namespace: string;
}

/** What the forwarder takes from an EdgeDevice. */
export interface EdgeDeviceForwarding {
  readonly address: HostPort | undefined;
  readonly listenPort: number;
}

/** Shifu's TCPSetting.ListenPort default (a string in the CRD). */
export const DEFAULT_LISTEN_PORT = 8081;
const PROTOCOL_TCP = 'TCP';

// Only the fields we read; everything else in the object is ignored.
const edgeDeviceSchema = z.object({
  spec: z
    .object({
      address: z.string().optional(),
      protocol: z.string().optional(),
      protocolSettings: z
        .object({
          TCPSetting: z
            .object({
              ListenPort: z.union([z.string(), z.number()]).optional(),
              NetworkType: z.string().optional(),
            })
            .nullish(),
        })
        .nullish(),
    })
    .optional(),
});

/** Reads the forwarding settings from an EdgeDevice object; a ConfigError names the field at fault. */
export function forwardingFromEdgeDevice(ref: EdgeDeviceRef, object: unknown): EdgeDeviceForwarding {
  const where = `EdgeDevice ${ref.namespace}/${ref.name}`;
  const parsed = edgeDeviceSchema.safeParse(object);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`${where}: ${issue?.path.join('.') ?? 'object'}: ${issue?.message ?? 'unexpected shape'}`);
  }
  const spec = parsed.data.spec ?? {};
  if (spec.protocol !== PROTOCOL_TCP) {
    const got = spec.protocol === undefined ? 'not set' : JSON.stringify(spec.protocol);
    throw new ConfigError(
      `${where}: spec.protocol is ${got}; deviceShifu-TCP forwards only EdgeDevices with protocol "TCP"`,
    );
  }
  const tcp = spec.protocolSettings?.TCPSetting ?? {};
  if (tcp.NetworkType !== undefined && tcp.NetworkType.toLowerCase() !== 'tcp') {
    throw new ConfigError(
      `${where}: spec.protocolSettings.TCPSetting.NetworkType is ${JSON.stringify(tcp.NetworkType)}; only "tcp" is supported`,
    );
  }
  return {
    address: spec.address === undefined || spec.address.trim() === '' ? undefined : parseAddress(where, spec.address),
    listenPort: tcp.ListenPort === undefined ? DEFAULT_LISTEN_PORT : parseListenPort(where, tcp.ListenPort),
  };
}

function parseAddress(where: string, address: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:[\]/]+)):(\d+)$/.exec(address.trim());
  const port = m ? Number(m[3]) : NaN;
  const host = m?.[1] ?? m?.[2];
  if (!m || host === undefined || port < 1 || port > 65535) {
    throw new ConfigError(`${where}: spec.address ${JSON.stringify(address)} is not HOST:PORT (e.g. 192.168.1.64:554)`);
  }
  return { host, port };
}

function parseListenPort(where: string, value: string | number): number {
  const port = typeof value === 'number' ? value : /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(
      `${where}: spec.protocolSettings.TCPSetting.ListenPort ${JSON.stringify(value)} is not a port from 1 to 65535`,
    );
  }
  return port;
}
