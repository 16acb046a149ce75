import { customMetadataOf, edgeDeviceName, FORWARDER_SERVICE_PORT, forwarderServiceName, parseEdgeDevice, PROTOCOL_TCP, STREAM_PATH_KEY } from '../contracts/index.js';
import { fail, succeed, type Outcome } from './outcome.js';

export { FORWARDER_SERVICE_PORT, forwarderServiceName, STREAM_PATH_KEY } from '../contracts/index.js';

/** `rtsp://deviceshifu-<device>.<ns>.svc.cluster.local:554<path>`: the camera, reached through deviceShifu-TCP. */
export function forwarderStreamUrl(device: string, namespace: string, path: string): string {
  const clean = path.startsWith('/') ? path : `/${path}`;
  return `rtsp://${forwarderServiceName(device)}.${namespace}.svc.cluster.local:${FORWARDER_SERVICE_PORT}${clean}`;
}

/**
 * The default stream URL of a device from its EdgeDevice: protocol must be TCP (deviceShifu-TCP forwards it),
 * the path comes from the request or `spec.customMetadata.rtspPath`, else `/`.
 */
export function streamUrlFromEdgeDevice(edgeDevice: unknown, device: string, namespace: string, requestPath: string | undefined): Outcome<string> {
  const ref = { name: device, namespace };
  const where = edgeDeviceName(ref);
  if (forwarderServiceName(device).length > 63) {
    return fail('bad_request', `device: at most 51 characters when the url comes from the EdgeDevice (Service ${forwarderServiceName(device)} would be too long); give url`);
  }
  const parsed = parseEdgeDevice(ref, edgeDevice);
  if (!parsed.ok) return fail('edgedevice_invalid', `${parsed.message}; or give url`);
  const protocol = parsed.device.spec?.protocol;
  if (protocol !== PROTOCOL_TCP) {
    return fail(
      'edgedevice_invalid',
      `${where} has spec.protocol ${protocol === undefined ? 'unset' : JSON.stringify(protocol)}; the recorder reaches cameras through deviceShifu-TCP, which needs protocol "TCP" (see knative/edgedevice.yaml), or give url`,
    );
  }
  const path = requestPath ?? customMetadataOf(parsed.device, STREAM_PATH_KEY) ?? '/';
  if (/\s|@|#/.test(path)) {
    return fail('edgedevice_invalid', `${where} has spec.customMetadata.${STREAM_PATH_KEY} ${JSON.stringify(path)}, which is not a stream path such as /Streaming/Channels/101`);
  }
  return succeed(forwarderStreamUrl(device, namespace, path));
}
