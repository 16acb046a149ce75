import { describe, expect, it } from 'vitest';
import { ALLOW_LIST_KEYS, checkControlConfig, checkRecordOnAllowed, controlOptions, recordOnSchema } from '../../functions/control/index.js';
import { parseConfig } from '../../functions/lib/index.js';

const NS = 'deviceshifu';
const edgeDevice = (customMetadata: Record<string, string> = {}): unknown => ({ spec: { protocol: 'TCP', address: '10.0.0.1:554', customMetadata } });
const check = (body: Record<string, unknown>, ed: unknown = edgeDevice()) => checkRecordOnAllowed(recordOnSchema.parse({ device: 'cam1', ...body }), ed, NS);

describe("what a record-on may use in Kubernetes: the device's own, or what its EdgeDevice allows", () => {
  it("allows the device's own Secret, claim and forwarder (short or full name, any path)", () => {
    expect(check({}).ok).toBe(true);
    expect(check({ credentialsSecret: 'cam1-rtsp', pvc: 'cam1-pvc' }).ok).toBe(true);
    for (const host of ['deviceshifu-cam1', `deviceshifu-cam1.${NS}`, `deviceshifu-cam1.${NS}.svc`, `deviceshifu-cam1.${NS}.svc.cluster.local`]) {
      expect(check({ url: `rtsp://${host}:554/Streaming/Channels/102` }).ok, host).toBe(true);
    }
  });

  it('refuses any other camera, Secret or claim with 403 naming the field', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ url: 'rtsp://attacker.example/a' }, 'url'],
      [{ url: 'rtsp://deviceshifu-cam2:554/x' }, 'url'],
      [{ url: 'rtsp://deviceshifu-cam1:8554/x' }, 'url'],
      [{ url: `rtsp://deviceshifu-cam1.other-ns.svc.cluster.local:554/x` }, 'url'],
      [{ credentialsSecret: 'camera2-rtsp' }, 'credentialsSecret'],
      [{ pvc: 'camera2-pvc' }, 'pvc'],
    ];
    for (const [body, field] of cases) {
      const outcome = check(body);
      expect(outcome.ok, JSON.stringify(body)).toBe(false);
      if (!outcome.ok) {
        expect(outcome.failure.code).toBe('forbidden');
        expect(outcome.failure.message).toMatch(new RegExp(`^${field}: `));
      }
    }
  });

  it("allows what the EdgeDevice's spec.customMetadata lists, and nothing around it", () => {
    const ed = edgeDevice({
      [ALLOW_LIST_KEYS.url]: 'rtsp://10.0.0.20:554/Streaming/ , rtsp://cam-b.example',
      [ALLOW_LIST_KEYS.credentialsSecret]: 'site-a-cameras',
      [ALLOW_LIST_KEYS.pvc]: 'shared-pvc,archive-pvc',
    });
    expect(check({ url: 'rtsp://10.0.0.20/Streaming/Channels/101', credentialsSecret: 'site-a-cameras', pvc: 'archive-pvc' }, ed).ok).toBe(true);
    expect(check({ url: 'rtsp://cam-b.example:554/anything' }, ed).ok).toBe(true);
    expect(check({ url: 'rtsp://10.0.0.20:554/other' }, ed).ok).toBe(false);
    expect(check({ url: 'rtsp://10.0.0.21:554/Streaming/x' }, ed).ok).toBe(false);
    expect(check({ url: 'rtsp://cam-b.example:8554/x' }, ed).ok).toBe(false);
    expect(check({ credentialsSecret: 'site-a' }, ed).ok).toBe(false);
    expect(check({ pvc: 'shared' }, ed).ok).toBe(false);
  });
});

describe('control with the kubernetes backend', () => {
  const config = (env: Record<string, string>) => parseConfig(controlOptions, [], { CONTROL_BACKEND: 'kubernetes', RECORDER_IMAGE: 'img', ...env }).config;

  it('refuses to start without CONTROL_TOKEN, naming it', () => {
    expect(() => checkControlConfig(config({}))).toThrow(/CONTROL_TOKEN/);
    expect(() => checkControlConfig(config({ CONTROL_TOKEN: 'a-long-enough-token-123' }))).not.toThrow();
  });

  it('the local backend (the demo) still runs without one', () => {
    expect(() => checkControlConfig(parseConfig(controlOptions, [], {}).config)).not.toThrow();
  });
});
