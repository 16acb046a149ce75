import { describe, expect, it } from 'vitest';
import { ConfigError, createLogger } from '../../functions/lib/index.js';
import {
  forwardingFromEdgeDevice,
  PhaseReporter,
  type EdgeDevicePhase,
  type PhaseSink,
} from '../../functions/shifu-tcp/index.js';

const ref = { name: 'cam-1', namespace: 'devices' };
const edgeDevice = (spec: Record<string, unknown>): unknown => ({
  apiVersion: 'shifu.edgenesis.io/v1alpha1',
  kind: 'EdgeDevice',
  metadata: { name: 'cam-1', namespace: 'devices' },
  spec,
});

function refusal(object: unknown): string {
  try {
    forwardingFromEdgeDevice(ref, object);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('EdgeDevice to forwarding settings', () => {
  it('reads spec.address and TCPSetting.ListenPort (a string in the CRD)', () => {
    const spec = {
      address: '192.168.1.64:554',
      protocol: 'TCP',
      protocolSettings: { TCPSetting: { ListenPort: '9554', NetworkType: 'tcp' } },
    };
    expect(forwardingFromEdgeDevice(ref, edgeDevice(spec))).toEqual({
      address: { host: '192.168.1.64', port: 554 },
      listenPort: 9554,
    });
  });

  it('uses the default ListenPort 8081 when protocolSettings or TCPSetting is missing', () => {
    expect(forwardingFromEdgeDevice(ref, edgeDevice({ address: 'cam:554', protocol: 'TCP' })).listenPort).toBe(8081);
    expect(
      forwardingFromEdgeDevice(ref, edgeDevice({ address: 'cam:554', protocol: 'TCP', protocolSettings: {} })).listenPort,
    ).toBe(8081);
    expect(
      forwardingFromEdgeDevice(ref, edgeDevice({ address: 'cam:554', protocol: 'TCP', protocolSettings: { TCPSetting: {} } }))
        .listenPort,
    ).toBe(8081);
  });

  it('accepts an EdgeDevice without address (the --upstream flag then gives it)', () => {
    expect(forwardingFromEdgeDevice(ref, edgeDevice({ protocol: 'TCP' })).address).toBeUndefined();
  });

  it('refuses any protocol but TCP with a message naming the EdgeDevice and the field', () => {
    const message = refusal(edgeDevice({ address: 'cam:554', protocol: 'HTTP' }));
    expect(message).toContain('EdgeDevice devices/cam-1');
    expect(message).toContain('spec.protocol is "HTTP"');
    expect(message).toContain('"TCP"');
    expect(refusal(edgeDevice({ address: 'cam:554' }))).toContain('spec.protocol is not set');
    expect(refusal(edgeDevice({ address: 'cam:554', protocol: 'tcp' }))).toContain('spec.protocol is "tcp"');
  });

  it('refuses a NetworkType other than tcp, a bad address and a bad ListenPort', () => {
    expect(
      refusal(edgeDevice({ address: 'cam:554', protocol: 'TCP', protocolSettings: { TCPSetting: { NetworkType: 'udp' } } })),
    ).toContain('NetworkType');
    expect(refusal(edgeDevice({ address: 'cam', protocol: 'TCP' }))).toContain('spec.address "cam"');
    expect(refusal(edgeDevice({ address: 'cam:0', protocol: 'TCP' }))).toContain('spec.address');
    expect(
      refusal(edgeDevice({ address: 'cam:554', protocol: 'TCP', protocolSettings: { TCPSetting: { ListenPort: 'http' } } })),
    ).toContain('ListenPort "http"');
    expect(
      refusal(edgeDevice({ address: 'cam:554', protocol: 'TCP', protocolSettings: { TCPSetting: { ListenPort: '70000' } } })),
    ).toContain('ListenPort');
  });
});

/** A sink that records writes and fails while `down` is true. */
class FakeSink implements PhaseSink {
  readonly written: EdgeDevicePhase[] = [];
  down = false;
  async writePhase(phase: EdgeDevicePhase): Promise<void> {
    await new Promise((r) => setTimeout(r, 5));
    if (this.down) throw new Error('connect ECONNREFUSED 10.96.0.1:443');
    this.written.push(phase);
  }
}

describe('EdgeDevice phase', () => {
  const log = createLogger('test', 'silent');

  it('writes only when the phase changes', async () => {
    const sink = new FakeSink();
    const reporter = new PhaseReporter(sink, log);
    for (const phase of ['Pending', 'Running', 'Running', 'Running', 'Failed', 'Failed', 'Running'] as const) {
      reporter.report(phase);
      await reporter.settled();
    }
    expect(sink.written).toEqual(['Pending', 'Running', 'Failed', 'Running']);
  });

  it('catches up with a phase reported while a write was under way', async () => {
    const sink = new FakeSink();
    const reporter = new PhaseReporter(sink, log);
    reporter.report('Pending');
    reporter.report('Running');
    await reporter.settled();
    await new Promise((r) => setTimeout(r, 30));
    expect(sink.written).toEqual(['Pending', 'Running']);
  });

  it('never throws when the API is unreachable and retries at the next report', async () => {
    const sink = new FakeSink();
    const reporter = new PhaseReporter(sink, log);
    sink.down = true;
    reporter.report('Pending');
    await reporter.settled();
    reporter.report('Running');
    await reporter.settled();
    expect(sink.written).toEqual([]);
    sink.down = false;
    reporter.report('Running');
    await reporter.settled();
    expect(sink.written).toEqual(['Running']);
  });
});
