// Shifu's EdgeDevice as shifu-rtsp reads it: the forwarder (its camera address and listen port), control (the
// stream path a recorder records) and playback (where a device's forwarder is). One schema, one set of errors
// naming the field at fault.
import { z } from 'zod';

/** Shifu's EdgeDevice custom resource (test/crds/shifu/edgedevices.yaml). */
export const EDGEDEVICE = { group: 'shifu.edgenesis.io', version: 'v1alpha1', plural: 'edgedevices' } as const;

/** `status.edgedevicephase` values, as Shifu's deviceShifu writes them. */
export type EdgeDevicePhase = 'Pending' | 'Running' | 'Failed' | 'Unknown';

export interface EdgeDeviceRef {
  readonly name: string;
  readonly namespace: string;
}

/** The only protocol the forwarder (deviceShifu-TCP) forwards. */
export const PROTOCOL_TCP = 'TCP';
/** `spec.customMetadata` key that holds the camera's stream path. */
export const STREAM_PATH_KEY = 'rtspPath';
/** The forwarder Service listens on the RTSP port and sends it on to the EdgeDevice's TCPSetting.ListenPort. */
export const FORWARDER_SERVICE_PORT = 554;

/** `deviceshifu-<device>`: the forwarder's Deployment and Service (knative/forwarder.yaml). */
export function forwarderServiceName(device: string): string {
  return `deviceshifu-${device}`;
}

// Only the fields we read; everything else in the object is ignored.
export const edgeDeviceSchema = z.object({
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
      // Shifu's type is map[string]string; a value of another type is read as absent.
      customMetadata: z.record(z.string(), z.unknown()).nullish(),
    })
    .optional(),
});
export type EdgeDevice = z.infer<typeof edgeDeviceSchema>;

/** `EdgeDevice <namespace>/<name>`: how every message names the object. */
export function edgeDeviceName(ref: EdgeDeviceRef): string {
  return `EdgeDevice ${ref.namespace}/${ref.name}`;
}

/** The object read with the schema, or the message naming the field at fault. */
export function parseEdgeDevice(ref: EdgeDeviceRef, object: unknown): { readonly ok: true; readonly device: EdgeDevice } | { readonly ok: false; readonly message: string } {
  const parsed = edgeDeviceSchema.safeParse(object);
  if (parsed.success) return { ok: true, device: parsed.data };
  const issue = parsed.error.issues[0];
  return { ok: false, message: `${edgeDeviceName(ref)}: ${issue?.path.join('.') || 'object'}: ${issue?.message ?? 'unexpected shape'}` };
}

/** A string value of `spec.customMetadata`, trimmed; undefined when absent, blank or not a string. */
export function customMetadataOf(device: EdgeDevice, key: string): string | undefined {
  const value = device.spec?.customMetadata?.[key];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}
