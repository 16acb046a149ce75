// Core object lifecycle against the real apiserver: create, duplicate create (409), delete, 404.
import { AppsV1Api, type V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { createNamespace, expectHttpError, kubeConfig } from './harness/index.js';

const ns = createNamespace('deployment');

function deployment(name: string): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: { app: name } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'deviceshifu-rtsp', image: 'example.invalid/deviceshifu-rtsp:test', ports: [{ containerPort: 8554 }] }] },
      },
    },
  };
}

describe('Deployment lifecycle', () => {
  it('creates, refuses a duplicate with 409, deletes, then reads and deletes get 404', async () => {
    const apps = kubeConfig().makeApiClient(AppsV1Api);
    const name = 'deviceshifu-rtsp';

    const created = await apps.createNamespacedDeployment({ namespace: ns.name, body: deployment(name) });
    expect(created.metadata?.uid).toBeTruthy();
    expect(created.metadata?.namespace).toBe(ns.name);
    // Defaulting ran on the server.
    expect(created.spec?.strategy?.type).toBe('RollingUpdate');

    const read = await apps.readNamespacedDeployment({ namespace: ns.name, name });
    expect(read.metadata?.uid).toBe(created.metadata?.uid);
    expect(read.spec?.template.spec?.containers[0]?.image).toBe('example.invalid/deviceshifu-rtsp:test');

    expect(await expectHttpError(() => apps.createNamespacedDeployment({ namespace: ns.name, body: deployment(name) }))).toBe(409);

    await apps.deleteNamespacedDeployment({ namespace: ns.name, name });
    expect(await expectHttpError(() => apps.readNamespacedDeployment({ namespace: ns.name, name }))).toBe(404);
    expect(await expectHttpError(() => apps.deleteNamespacedDeployment({ namespace: ns.name, name }))).toBe(404);
  });
});
