// What a /record/on may point a recorder at, in Kubernetes. A recorder logs in to its url with the password of
// its credentialsSecret and fills its pvc, so a caller who chose those freely could send one camera's password
// to any host, or another device's volume into retention. By default a record-on uses only its device's own:
// the Secret `<device>-rtsp`, the claim `<device>-pvc`, and the device's deviceShifu forwarder (any path). More
// needs the operator's allow-list in the device's EdgeDevice, which callers of control cannot write.
import { fail, succeed, type Outcome } from './outcome.js';
import { defaultCredentialsSecret, defaultPvc } from './recorder-spec.js';
import type { RecordOnRequest } from './request.js';
import { customMetadataOf, edgeDeviceSchema, FORWARDER_SERVICE_PORT, forwarderServiceName, parseCameraAddress } from '../contracts/index.js';

/** `spec.customMetadata` keys of the EdgeDevice: comma-separated lists the operator allows besides the defaults. */
export const ALLOW_LIST_KEYS = {
  /** Stream URLs (`rtsp://host[:port][/path-prefix]`): a requested url matches one with the same host and port whose path it starts with. */
  url: 'allowedStreamUrls',
  /** Secret names a record-on may give as credentialsSecret. */
  credentialsSecret: 'allowedCredentialsSecrets',
  /** PersistentVolumeClaim names a record-on may give as pvc. */
  pvc: 'allowedPvcs',
} as const;

function allowList(edgeDevice: unknown, key: string): string[] {
  // An EdgeDevice of another shape allows nothing beyond the defaults.
  const parsed = edgeDeviceSchema.safeParse(edgeDevice);
  const raw = parsed.success ? customMetadataOf(parsed.data, key) : undefined;
  return raw === undefined ? [] : raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

interface Endpoint {
  host: string;
  port: number;
  path: string;
}

function endpoint(url: string): Endpoint | undefined {
  try {
    const camera = parseCameraAddress(url);
    return { host: camera.host.toLowerCase(), port: camera.port, path: new URL(camera.displayUrl).pathname || '/' };
  } catch {
    return undefined;
  }
}

/** The device's own forwarder, by its Service's short or full name in this namespace. */
function isOwnForwarder(url: Endpoint, device: string, namespace: string): boolean {
  const service = forwarderServiceName(device);
  const names = [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
  return url.port === FORWARDER_SERVICE_PORT && names.includes(url.host);
}

function urlAllowed(url: Endpoint, allowed: readonly string[]): boolean {
  return allowed.some((entry) => {
    const e = endpoint(entry);
    return e !== undefined && e.host === url.host && e.port === url.port && url.path.startsWith(e.path);
  });
}

/** 403 naming the first field that uses what is not the device's own and not allowed by its EdgeDevice. */
export function checkRecordOnAllowed(request: RecordOnRequest, edgeDevice: unknown, namespace: string): Outcome<void> {
  const where = `EdgeDevice ${namespace}/${request.device} spec.customMetadata`;
  if (request.url !== undefined) {
    const url = endpoint(request.url);
    if (!url || (!isOwnForwarder(url, request.device, namespace) && !urlAllowed(url, allowList(edgeDevice, ALLOW_LIST_KEYS.url)))) {
      return fail(
        'forbidden',
        `url: ${request.device} records through its own forwarder (rtsp://${forwarderServiceName(request.device)}:${FORWARDER_SERVICE_PORT}/...) unless ${where}.${ALLOW_LIST_KEYS.url} lists this camera`,
      );
    }
  }
  const named: Array<['credentialsSecret' | 'pvc', string | undefined, string]> = [
    ['credentialsSecret', request.credentialsSecret, defaultCredentialsSecret(request.device)],
    ['pvc', request.pvc, defaultPvc(request.device)],
  ];
  for (const [field, asked, own] of named) {
    if (asked === undefined || asked === own) continue;
    if (!allowList(edgeDevice, ALLOW_LIST_KEYS[field]).includes(asked)) {
      return fail('forbidden', `${field}: ${request.device} uses ${own} unless ${where}.${ALLOW_LIST_KEYS[field]} lists ${asked}`);
    }
  }
  return succeed(undefined);
}
