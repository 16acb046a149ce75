import { edgeDeviceName, parseEdgeDevice, PROTOCOL_TCP, type EdgeDeviceRef } from '../contracts/index.js';
import { ConfigError, type HostPort } from '../lib/index.js';

export { EDGEDEVICE, type EdgeDevicePhase, type EdgeDeviceRef } from '../contracts/index.js';

/** What the forwarder takes from an EdgeDevice. */
export interface EdgeDeviceForwarding {
  readonly address: HostPort | undefined;
  readonly listenPort: number;
}

/** Shifu's TCPSetting.ListenPort default (a string in the CRD). */
export const DEFAULT_LISTEN_PORT = 8081;

/** Reads the forwarding settings from an EdgeDevice object; a ConfigError names the field at fault. */
export function forwardingFromEdgeDevice(ref: EdgeDeviceRef, object: unknown): EdgeDeviceForwarding {
  const where = edgeDeviceName(ref);
  const parsed = parseEdgeDevice(ref, object);
  if (!parsed.ok) throw new ConfigError(parsed.message);
  const spec = parsed.device.spec ?? {};
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
