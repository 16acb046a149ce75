// The playback pod finds each device's live view from the EdgeDevices of its namespace, as its own
// ServiceAccount with only the Role of storage/playback-rbac.yaml: it sees EdgeDevices come, change and go,
// and may read nothing else; a namespace it may not read is an error, never an empty grid.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../functions/lib/index.js';
import type { LiveDirectory } from '../../functions/playback/index.js';
import { edgeDeviceLiveDirectory } from '../../functions/playback/live-edgedevices.js';
import { applyYaml, createEdgeDevice, createNamespace, expectHttpError, kubeConfig, serviceAccountKubeConfig, type ServiceAccountIdentity } from './harness/index.js';

const ns = createNamespace('playback-live');
const other = createNamespace('playback-live-other');
const log = createLogger('test', 'silent');
const EDGEDEVICES = { group: 'shifu.edgenesis.io', version: 'v1alpha1', plural: 'edgedevices' };
let sa: ServiceAccountIdentity;
let directory: LiveDirectory;

/** RBAC and the watch reach their state a moment later: waits for `check` to hold. */
async function eventually(check: () => void, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const listed = (): Array<[string, string]> => directory.cameras().map((c) => [c.device, c.base.href]);

beforeAll(async () => {
  await applyYaml(await readFile(path.resolve(import.meta.dirname, '../../storage/playback-rbac.yaml'), 'utf8'), { namespace: ns.name });
  await createEdgeDevice(ns.name, 'cam1', { rtspPath: '/Streaming/Channels/101' });
  await createEdgeDevice(ns.name, 'cam2', { rtspPath: '/Streaming/Channels/101', liveSubstreamPath: '/Streaming/Channels/102' });
  sa = await serviceAccountKubeConfig(ns.name, 'shifu-rtsp-playback');
  // The RoleBinding reaches the authorizer through an informer: the first list may still be refused.
  for (let tries = 0; ; tries += 1) {
    try {
      await sa.kubeConfig.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ ...EDGEDEVICES, namespace: ns.name });
      break;
    } catch (err) {
      if (tries > 150) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  directory = await edgeDeviceLiveDirectory(sa.kubeConfig, ns.name, log);
});

afterAll(async () => {
  await directory?.close();
});

describe('the live grid from EdgeDevices, with the Role of storage/', () => {
  it("lists each EdgeDevice as its forwarder Service's live port, the sub-stream when it names one", () => {
    expect(listed()).toEqual([
      ['cam1', `http://deviceshifu-cam1.${ns.name}.svc.cluster.local:8889/Streaming/Channels/101`],
      ['cam2', `http://deviceshifu-cam2.${ns.name}.svc.cluster.local:8889/Streaming/Channels/102`],
    ]);
  });

  it('follows EdgeDevices added, changed and deleted, without asking again', async () => {
    await createEdgeDevice(ns.name, 'cam3', { rtspPath: '/cam/realmonitor?channel=1&subtype=0' });
    await eventually(() => expect(listed().map(([d]) => d)).toEqual(['cam1', 'cam2', 'cam3']));
    expect(directory.camera('cam3').base.search).toBe('?channel=1&subtype=0');
    await createEdgeDevice(ns.name, 'cam1', { rtspPath: '/Streaming/Channels/101', liveSubstreamPath: '/Streaming/Channels/103' });
    await eventually(() => expect(directory.camera('cam1').base.pathname).toBe('/Streaming/Channels/103'));
    await kubeConfig().makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({ ...EDGEDEVICES, namespace: ns.name, name: 'cam2' });
    await eventually(() => expect(listed().map(([d]) => d)).toEqual(['cam1', 'cam3']));
    expect(() => directory.camera('cam2')).toThrow(/device: cam2 has no live view/);
  });

  it('may read nothing else: no Secrets, no EdgeDevice of another namespace, no writes', async () => {
    const core = sa.kubeConfig.makeApiClient(CoreV1Api);
    const custom = sa.kubeConfig.makeApiClient(CustomObjectsApi);
    expect(await expectHttpError(() => core.listNamespacedSecret({ namespace: ns.name }))).toBe(403);
    expect(await expectHttpError(() => custom.listNamespacedCustomObject({ ...EDGEDEVICES, namespace: other.name }))).toBe(403);
    expect(await expectHttpError(() => custom.deleteNamespacedCustomObject({ ...EDGEDEVICES, namespace: ns.name, name: 'cam1' }))).toBe(403);
  });

  it('answers 503 naming the namespace and the Role for a namespace it may not read, never an empty list', async () => {
    await createEdgeDevice(other.name, 'cam9', { rtspPath: '/s' });
    const refused = await edgeDeviceLiveDirectory(sa.kubeConfig, other.name, log);
    try {
      expect(() => refused.cameras()).toThrow(new RegExp(`live: cannot read the EdgeDevices of ${other.name} .*shifu-rtsp-playback-live`));
      let status: number | undefined;
      try {
        refused.cameras();
      } catch (err) {
        status = (err as { statusCode?: number }).statusCode;
      }
      expect(status).toBe(503);
    } finally {
      await refused.close();
    }
  });
});
