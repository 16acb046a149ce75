// The recorder's own API in Kubernetes: a token per Deployment, and a NetworkPolicy in front of it.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppsV1Api, CoreV1Api, type KubernetesObject } from '@kubernetes/client-node';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { createControlHandlers, KubernetesBackend, type ControlHandlers } from '../../functions/control/index.js';
import { applyYaml, createNamespace, kubeConfig, parseManifests, serviceAccountKubeConfig } from './harness/index.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const log = pino({ level: 'silent' });
const ns = createNamespace('recorder-api');
let control: ControlHandlers;

/** A NetworkPolicy as YAML spells it (client-node's type renames `from`). */
interface NetworkPolicyYaml extends KubernetesObject {
  spec?: {
    podSelector?: { matchLabels?: Record<string, string> };
    policyTypes?: string[];
    ingress?: Array<{ from?: Array<Record<string, unknown>>; ports?: unknown[] }>;
  };
}

beforeAll(async () => {
  const rbac = parseManifests(await readFile(path.join(repo, 'knative/control-rbac.yaml'), 'utf8')).map((o) => {
    const copy = structuredClone(o) as KubernetesObject & { subjects?: Array<{ namespace?: string }> };
    copy.metadata = { ...copy.metadata, namespace: ns.name };
    for (const subject of copy.subjects ?? []) subject.namespace = ns.name;
    return copy;
  });
  await applyYaml(rbac);
  const sa = await serviceAccountKubeConfig(ns.name, 'shifu-rtsp-control');
  control = createControlHandlers(new KubernetesBackend({ kubeConfig: sa.kubeConfig, namespace: ns.name, image: 'shifu-rtsp:test', log, stopTimeoutSeconds: 2, pollMs: 100 }), { log });
  for (const device of ['t1', 't2']) {
    await kubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespacedPersistentVolumeClaim({
        namespace: ns.name,
        body: { metadata: { name: `${device}-pvc` }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'slow' } },
      });
  }
});

describe('the recorder API in Kubernetes', () => {
  it('gives every recorder Deployment a token of its own for /record/*, kept out of the settings', async () => {
    const tokens: string[] = [];
    for (const device of ['t1', 't2']) {
      const res = await control.control({ method: 'POST', path: '/record/on', query: {}, headers: {}, body: { device, url: 'rtsp://cam.example:554/live' } });
      expect(res.status).toBe(201);
      const d = await kubeConfig().makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: ns.name, name: `${device}-recorder` });
      const token = d.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === 'RECORDER_API_TOKEN')?.value ?? '';
      expect(token.length).toBeGreaterThanOrEqual(32);
      expect(JSON.stringify(d.metadata?.annotations ?? {})).not.toContain(token);
      expect(JSON.stringify(res.body)).not.toContain(token);
      tokens.push(token);
    }
    expect(tokens[0]).not.toBe(tokens[1]);
  });

  it('ships a NetworkPolicy that lets only control and Prometheus reach recorder pods, on their API port', async () => {
    const kustomization = await readFile(path.join(repo, 'knative/kustomization.yaml'), 'utf8');
    expect(kustomization).toMatch(/^\s+- recorder-networkpolicy\.yaml$/m);
    const [policy] = parseManifests(await readFile(path.join(repo, 'knative/recorder-networkpolicy.yaml'), 'utf8')) as NetworkPolicyYaml[];
    expect(policy?.kind).toBe('NetworkPolicy');
    expect(policy?.spec?.podSelector?.matchLabels).toEqual({ 'app.kubernetes.io/component': 'recorder' });
    expect(policy?.spec?.policyTypes).toEqual(['Ingress']);
    const from = (policy?.spec?.ingress ?? []).flatMap((rule) => rule.from ?? []);
    expect(from).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ podSelector: { matchLabels: { 'app.kubernetes.io/component': 'control' } } }),
        expect.objectContaining({ namespaceSelector: expect.anything() }),
      ]),
    );
    for (const rule of policy?.spec?.ingress ?? []) expect(rule.ports).toEqual([{ protocol: 'TCP', port: 8080 }]);
    const copy = { ...policy, metadata: { ...policy!.metadata, namespace: ns.name } } as KubernetesObject;
    await applyYaml(copy, { mode: 'create', fieldValidation: 'Strict' });
  });
});
