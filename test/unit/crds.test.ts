// The CRDs written in test/crds (Shifu's EdgeDevice, Knative Eventing's Broker, Trigger, SinkBinding) stand
// for projects whose own CRDs cannot be fetched here, so they must agree with what the manifests and the code
// write: a manifest whose group, version or kind no CRD serves would pass nowhere but here.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadAll } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { EDGEDEVICE } from '../../functions/shifu-tcp/index.js';
import { repositoryCrdDir, yamlFiles } from '../crds/index.js';

const root = path.resolve(import.meta.dirname, '..', '..');

interface Served {
  group: string;
  version: string;
  kind: string;
  plural: string;
}

interface Crd {
  kind?: string;
  spec?: { group?: string; names?: { kind?: string; plural?: string }; versions?: { name?: string; served?: boolean }[] };
}

async function documents(file: string): Promise<unknown[]> {
  return loadAll(await readFile(file, 'utf8')).filter((d) => d !== null && d !== undefined);
}

async function servedByRepositoryCrds(): Promise<Served[]> {
  const served: Served[] = [];
  for (const file of await yamlFiles(repositoryCrdDir)) {
    for (const doc of (await documents(file)) as Crd[]) {
      if (doc.kind !== 'CustomResourceDefinition') continue;
      const { group, names, versions } = doc.spec ?? {};
      for (const v of versions ?? []) {
        if (v.served && group && names?.kind && names.plural && v.name) {
          served.push({ group, version: v.name, kind: names.kind, plural: names.plural });
        }
      }
    }
  }
  return served;
}

/** Every object in knative/ and storage/ whose group is one the repository's CRDs define. */
async function manifestObjects(groups: Set<string>): Promise<{ file: string; apiVersion: string; kind: string }[]> {
  const found: { file: string; apiVersion: string; kind: string }[] = [];
  for (const dir of ['knative', 'storage']) {
    for (const file of await yamlFiles(path.join(root, dir))) {
      for (const doc of await documents(file)) {
        const { apiVersion, kind } = doc as { apiVersion?: string; kind?: string };
        const group = apiVersion?.includes('/') ? apiVersion.split('/')[0] : '';
        if (apiVersion && kind && group && groups.has(group)) found.push({ file: path.relative(root, file), apiVersion, kind });
      }
    }
  }
  return found;
}

describe('the CRDs written in test/crds', () => {
  it('serve every group, version and kind the manifests in knative/ and storage/ write', async () => {
    const served = await servedByRepositoryCrds();
    expect(served.map((s) => s.kind).sort()).toEqual(['Broker', 'EdgeDevice', 'SinkBinding', 'Trigger']);
    const objects = await manifestObjects(new Set(served.map((s) => s.group)));
    expect(objects.map((o) => o.kind).sort()).toEqual(['Broker', 'EdgeDevice', 'SinkBinding', 'Trigger']);
    for (const o of objects) {
      const match = served.find((s) => `${s.group}/${s.version}` === o.apiVersion && s.kind === o.kind);
      expect(match, `${o.file}: ${o.apiVersion} ${o.kind} is served by no CRD under test/crds`).toBeDefined();
    }
  });

  it("serve the EdgeDevice group, version and plural the forwarder and control read", async () => {
    const served = await servedByRepositoryCrds();
    expect(served).toContainEqual({ group: EDGEDEVICE.group, version: EDGEDEVICE.version, kind: 'EdgeDevice', plural: EDGEDEVICE.plural });
  });

  it('name in each header the upstream release or commit whose API types they follow', async () => {
    for (const file of await yamlFiles(repositoryCrdDir)) {
      const header = (await readFile(file, 'utf8')).split('\n').filter((l) => l.startsWith('#')).join('\n');
      expect(header, path.relative(root, file)).toMatch(/knative-v\d+\.\d+\.\d+|commit [0-9a-f]{7,}/);
    }
  });
});
