// The Shifu EdgeDevice CRD from test/crds/shifu is served by the real apiserver: an EdgeDevice
// round-trips through CustomObjectsApi, and Strict field validation rejects unknown fields.
import { CustomObjectsApi } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ApplyError, applyYaml, createNamespace, expectHttpError, httpStatus, isKubernetesObject, kubeConfig } from './harness/index.js';

const GROUP = 'shifu.edgenesis.io';
const VERSION = 'v1alpha1';
const PLURAL = 'edgedevices';

const ns = createNamespace('edgedevice');

interface EdgeDeviceSpec {
  sku: string;
  connection: string;
  address: string;
  protocol: string;
}

function specOf(obj: unknown): Record<string, unknown> {
  if (isKubernetesObject(obj) && 'spec' in obj && typeof obj.spec === 'object' && obj.spec !== null) {
    return obj.spec as Record<string, unknown>;
  }
  throw new Error(`not an object with a spec: ${JSON.stringify(obj)}`);
}

describe('EdgeDevice CRD (shifu.edgenesis.io/v1alpha1)', () => {
  it('creates a sample EdgeDevice and reads it back with equal fields', async () => {
    const api = kubeConfig().makeApiClient(CustomObjectsApi);
    const spec: EdgeDeviceSpec = { sku: 'rtsp-camera-sku', connection: 'Ethernet', address: '127.0.0.1:8554', protocol: 'TCP' };
    const body = {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'EdgeDevice',
      metadata: { name: 'edgedevice-rtsp-camera', namespace: ns.name },
      spec,
    };
    const created: unknown = await api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL, body });
    expect(isKubernetesObject(created) && created.metadata?.uid).toBeTruthy();

    const read: unknown = await api.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns.name,
      plural: PLURAL,
      name: 'edgedevice-rtsp-camera',
    });
    expect(isKubernetesObject(read)).toBe(true);
    if (!isKubernetesObject(read)) return;
    expect(read.kind).toBe('EdgeDevice');
    expect(read.apiVersion).toBe(`${GROUP}/${VERSION}`);
    expect(read.metadata?.namespace).toBe(ns.name);
    expect(specOf(read)).toEqual(spec);

    // A second create of the same name is a conflict on the real server.
    expect(await expectHttpError(() => api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL, body }))).toBe(409);
  });

  it('the server sees manifests verbatim: Strict rejects an unknown spec field, Ignore prunes it', async () => {
    const manifest = `
apiVersion: ${GROUP}/${VERSION}
kind: EdgeDevice
metadata:
  name: edgedevice-typo
spec:
  sku: rtsp-camera-sku
  connection: Ethernet
  adress: 127.0.0.1:8554
  protocol: TCP
`;
    // create + Strict: the apiserver's strict decoder names the field.
    const created = await applyYaml(manifest, { namespace: ns.name, mode: 'create' }).catch((e: unknown) => e);
    expect(created).toBeInstanceOf(ApplyError);
    expect(httpStatus(created)).toBe(400);
    expect(String(created)).toContain('unknown field "spec.adress"');

    // Server-side apply refuses fields outside the schema in any validation mode.
    const applied = await applyYaml(manifest, { namespace: ns.name }).catch((e: unknown) => e);
    expect(applied).toBeInstanceOf(ApplyError);
    expect(httpStatus(applied)).toBeGreaterThanOrEqual(400);
    expect(String(applied)).toContain('.spec.adress: field not declared in schema');

    // Nothing was stored by the refused requests.
    const api = kubeConfig().makeApiClient(CustomObjectsApi);
    const get = { group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL, name: 'edgedevice-typo' };
    expect(await expectHttpError(() => api.getNamespacedCustomObject(get))).toBe(404);

    // create + Ignore: stored, with the unknown field pruned by the structural schema.
    const [stored] = await applyYaml(manifest, { namespace: ns.name, mode: 'create', fieldValidation: 'Ignore' });
    expect(stored?.metadata?.namespace).toBe(ns.name);
    expect(specOf(stored)).toEqual({ sku: 'rtsp-camera-sku', connection: 'Ethernet', protocol: 'TCP' });
    expect(specOf(await api.getNamespacedCustomObject(get))).toEqual({ sku: 'rtsp-camera-sku', connection: 'Ethernet', protocol: 'TCP' });
  });

  it('applyYaml is idempotent (server-side apply) for a valid manifest', async () => {
    const manifest = {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'EdgeDevice',
      metadata: { name: 'edgedevice-applied', namespace: ns.name },
      spec: { sku: 'sku-1', connection: 'Ethernet', address: '127.0.0.1:8554', protocol: 'TCP' },
    };
    const [first] = await applyYaml(manifest);
    const [second] = await applyYaml(manifest);
    expect(second?.metadata?.uid).toBe(first?.metadata?.uid);
    expect(specOf(second)).toEqual(manifest.spec);
  });
});
