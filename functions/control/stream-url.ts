import { forwarderServiceName, STREAM_PATH_KEY } from '../shifu-tcp/index.js';
import { fail, succeed, type Outcome } from './outcome.js';

export { forwarderServiceName, STREAM_PATH_KEY };

/** The forwarder Service listens on the RTSP port and sends it on to the EdgeDevice's TCPSetting.ListenPort. */
export const FORWARDER_SERVICE_PORT = 554;

/** `rtsp://deviceshifu-<device>.<ns>.svc.cluster.local:554<path>`: the camera, reached through deviceShifu-TCP. */
export function forwarderStreamUrl(device: string, namespace: string, path: string): string {
  const clean = path.startsWith('/') ? path : `/${path}`;
  return `rtsp://${forwarderServiceName(device)}.${namespace}.svc.cluster.local:${FORWARDER_SERVICE_PORT}${clean}`;
}

/** A JSON object's fields, or undefined for anything else (an EdgeDevice is read without a schema here). */
export function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/**
 * The default stream URL of a device from its EdgeDevice: protocol must be TCP (deviceShifu-TCP forwards it),
 * the path comes from the request or `spec.customMetadata.rtspPath`, else `/`.
 */
export function streamUrlFromEdgeDevice(edgeDevice: unknown, device: string, namespace: string, requestPath: string | undefined): Outcome<string> {
  const where = `EdgeDevice ${namespace}/${device}`;
  if (forwarderServiceName(device).length > 63) {
    return fail('bad_request', `device: at most 51 characters when the url comes from the EdgeDevice (Service ${forwarderServiceName(device)} would be too long); give url`);
  }
  const spec = record(record(edgeDevice)?.['spec']);
  const protocol = spec?.['protocol'];
  if (protocol !== 'TCP') {
    return fail(
      'edgedevice_invalid',
      `${where} has spec.protocol ${protocol === undefined ? 'unset' : JSON.stringify(protocol)}; the recorder reaches cameras through deviceShifu-TCP, which needs protocol "TCP" (see knative/edgedevice.yaml), or give url`,
    );
  }
  const fromMetadata = record(spec?.['customMetadata'])?.[STREAM_PATH_KEY];
  const path = requestPath ?? (typeof fromMetadata === 'string' && fromMetadata.trim() !== '' ? fromMetadata.trim() : '/');
  if (/\s|@|#/.test(path)) {
    return fail('edgedevice_invalid', `${where} has spec.customMetadata.${STREAM_PATH_KEY} ${JSON.stringify(path)}, which is not a stream path such as /Streaming/Channels/101`);
  }
  return succeed(forwarderStreamUrl(device, namespace, path));
}
