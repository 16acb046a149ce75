// The forwarder's manifest serves live view: its variables, the container's ports and the Service's agree.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadAll } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/lib/index.js';
import { forwarderOptions } from '../../functions/shifu-tcp/index.js';

interface Port {
  name: string;
  port?: number;
  containerPort?: number;
  targetPort?: number | string;
  protocol: string;
}
interface Doc {
  kind: string;
  spec: { ports?: Port[]; template?: { spec: { containers: Array<{ env: Array<{ name: string; value?: string }>; ports: Port[]; resources: { limits: { cpu: string } } }> } } };
}

const docs = loadAll(readFileSync(path.resolve(import.meta.dirname, '../../knative/forwarder.yaml'), 'utf8')) as Doc[];

describe('knative/forwarder.yaml and live view', () => {
  it('turns live view on, and exposes its HTTP port and every WebRTC UDP port on the container and the Service', () => {
    const container = docs.find((d) => d.kind === 'Deployment')!.spec.template!.spec.containers[0]!;
    const env = Object.fromEntries(container.env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
    const { config } = parseConfig(forwarderOptions, [], { FORWARDER_UPSTREAM: 'c:554', ...env });
    expect(config.liveListen).toEqual({ host: '0.0.0.0', port: 8889 });
    const udp = config.liveWebrtcUdpPorts;
    const wanted = Array.from({ length: udp.max - udp.min + 1 }, (_, i) => udp.min + i);
    const containerUdp = container.ports.filter((p) => p.protocol === 'UDP').map((p) => p.containerPort);
    expect(containerUdp).toEqual(wanted);
    expect(container.ports).toContainEqual({ name: 'live', containerPort: 8889, protocol: 'TCP' });
    const service = docs.find((d) => d.kind === 'Service')!.spec.ports!;
    expect(service[0]?.name).toBe('rtsp');
    expect(service).toContainEqual({ name: 'live', port: 8889, targetPort: 'live', protocol: 'TCP' });
    expect(service.filter((p) => p.protocol === 'UDP').map((p) => [p.port, p.targetPort])).toEqual(wanted.map((p) => [p, p]));
    // Room for an H.265 camera's encoder.
    expect(Number(container.resources.limits.cpu)).toBeGreaterThanOrEqual(2);
  });
});
