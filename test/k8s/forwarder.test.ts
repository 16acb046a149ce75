// deviceShifu-TCP against a real kube-apiserver: configuration from an EdgeDevice, refusal of
// non-TCP devices, and status.edgedevicephase following the device (Pending -> Running -> Failed).
import { CustomObjectsApi, Watch } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import {
  connect,
  echo,
  getJson,
  listenTcp,
  readAll,
  spawnForwarder,
  waitFor,
  type ForwarderProcess,
  type TestServer,
} from '../e2e/forwarder-support.js';
import { freeLoopbackPort } from '../../functions/lib/index.js';
import { createNamespace, k8sEnvironment, kubeConfig } from './harness/index.js';

const EDGEDEVICE = { group: 'shifu.edgenesis.io', version: 'v1alpha1', plural: 'edgedevices' } as const;
const ns = createNamespace('forwarder');

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function createEdgeDevice(name: string, spec: Record<string, unknown>): Promise<void> {
  await kubeConfig()
    .makeApiClient(CustomObjectsApi)
    .createNamespacedCustomObject({
      ...EDGEDEVICE,
      namespace: ns.name,
      body: { apiVersion: 'shifu.edgenesis.io/v1alpha1', kind: 'EdgeDevice', metadata: { name }, spec },
    });
}

function phaseOf(object: unknown): string | undefined {
  const status = (object as { status?: { edgedevicephase?: unknown } } | undefined)?.status;
  return typeof status?.edgedevicephase === 'string' ? status.edgedevicephase : undefined;
}

async function storedPhase(name: string): Promise<string | undefined> {
  const object: unknown = await kubeConfig()
    .makeApiClient(CustomObjectsApi)
    .getNamespacedCustomObject({ ...EDGEDEVICE, namespace: ns.name, name });
  return phaseOf(object);
}

/** Every phase the API server reports for the EdgeDevice, in order, from now on. */
async function watchPhases(name: string): Promise<string[]> {
  const phases: string[] = [];
  const controller = await new Watch(kubeConfig()).watch(
    `/apis/${EDGEDEVICE.group}/${EDGEDEVICE.version}/namespaces/${ns.name}/${EDGEDEVICE.plural}`,
    { fieldSelector: `metadata.name=${name}` },
    (_type: string, object: unknown) => {
      const phase = phaseOf(object);
      if (phase !== undefined && phases.at(-1) !== phase) phases.push(phase);
    },
    () => undefined,
  );
  cleanup.push(async () => controller.abort());
  return phases;
}

const freePort = freeLoopbackPort;

function forwarderFor(name: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): ForwarderProcess {
  const p = spawnForwarder(['--health-listen', '127.0.0.1:0', ...args], {
    EDGEDEVICE_NAME: name,
    EDGEDEVICE_NAMESPACE: ns.name,
    KUBECONFIG: k8sEnvironment().kubeconfigPath,
    ...env,
  });
  cleanup.push(() => p.stop('SIGKILL'));
  return p;
}

async function echoDevice(): Promise<TestServer> {
  const device = await listenTcp(echo);
  cleanup.push(() => device.close());
  return device;
}

describe('forwarder with an EdgeDevice', () => {
  it('takes the device address and the listen port from the EdgeDevice', async () => {
    const device = await echoDevice();
    const listenPort = await freePort();
    await createEdgeDevice('camera-config', {
      sku: 'mock-camera',
      connection: 'Ethernet',
      address: `127.0.0.1:${device.address.port}`,
      protocol: 'TCP',
      protocolSettings: { TCPSetting: { ListenPort: String(listenPort), NetworkType: 'tcp' } },
    });
    const forwarder = forwarderFor('camera-config');
    const { listen } = await forwarder.ready();
    expect(listen.port).toBe(listenPort);
    const client = await connect({ host: '127.0.0.1', port: listenPort });
    const back = readAll(client);
    client.end('through the EdgeDevice');
    expect((await back).data.toString()).toBe('through the EdgeDevice');
    expect(forwarder.lines.find((l) => l.msg === 'forwarding')).toMatchObject({
      upstream: `127.0.0.1:${device.address.port}`,
      edgeDevice: `${ns.name}/camera-config`,
    });
  });

  it('refuses an EdgeDevice whose protocol is not TCP, saying why, with exit code 2', async () => {
    await createEdgeDevice('camera-http', { address: '127.0.0.1:8554', protocol: 'HTTP' });
    const forwarder = forwarderFor('camera-http', ['--listen', '127.0.0.1:0']);
    expect(await forwarder.exited).toBe(2);
    expect(forwarder.stderr()).toContain(`EdgeDevice ${ns.name}/camera-http: spec.protocol is "HTTP"`);
    expect(forwarder.stderr()).toContain('only EdgeDevices with protocol "TCP"');
    expect(forwarder.lines.some((l) => l.msg === 'forwarding')).toBe(false);
  });

  it('refuses an EdgeDevice that does not exist, with exit code 2', async () => {
    const forwarder = forwarderFor('no-such-camera', ['--listen', '127.0.0.1:0']);
    expect(await forwarder.exited).toBe(2);
    expect(forwarder.stderr()).toContain(`EdgeDevice ${ns.name}/no-such-camera not found`);
  });

  it('writes status.edgedevicephase: Pending, Running while the device listens, Failed once it stops', async () => {
    const device = await echoDevice();
    // No protocolSettings at all: the defaults apply (the listen address is overridden for the test).
    await createEdgeDevice('camera-phase', { address: `127.0.0.1:${device.address.port}`, protocol: 'TCP' });
    const phases = await watchPhases('camera-phase');
    const forwarder = forwarderFor('camera-phase', ['--probe-interval', '0.2'], { FORWARDER_LISTEN: '127.0.0.1:0' });
    const { health } = await forwarder.ready();

    await waitFor('phase Running', () => phases.includes('Running'));
    expect(phases.slice(0, 2)).toEqual(['Pending', 'Running']);
    expect((await getJson(health, '/ready')).status).toBe(200);

    await device.close();
    await waitFor('phase Failed', () => phases.at(-1) === 'Failed');
    expect(phases).toEqual(['Pending', 'Running', 'Failed']);
    expect(await storedPhase('camera-phase')).toBe('Failed');
    expect((await getJson(health, '/ready')).status).toBe(503);

    // Written only on change: more failed probes write nothing more.
    await new Promise((r) => setTimeout(r, 1000));
    expect(forwarder.lines.filter((l) => l.msg === 'edgedevice phase written').map((l) => l.phase)).toEqual([
      'Pending',
      'Running',
      'Failed',
    ]);
  });
});
