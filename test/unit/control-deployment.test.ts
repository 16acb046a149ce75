import { describe, expect, it } from 'vitest';
import {
  buildRecorderDeployment,
  recordOnSchema,
  specFromRequest,
  specOfDeployment,
  streamUrlFromEdgeDevice,
  type RecorderSpec,
} from '../../functions/control/index.js';

const spec: RecorderSpec = specFromRequest(
  recordOnSchema.parse({ device: 'cam1', segmentSeconds: 300, storagePath: 'site-a', tolerations: [{ key: 'edge', operator: 'Exists' }] }),
  'rtsp://deviceshifu-cam1.deviceshifu.svc.cluster.local:554/Streaming/Channels/101',
);
const deployment = buildRecorderDeployment(spec, { namespace: 'deviceshifu', image: 'registry.example/shifu-rtsp:1.0.0' });
const pod = deployment.spec?.template.spec;
const container = pod?.containers[0];
const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e]));

describe('the recorder Deployment', () => {
  it('runs one writer per volume: one replica, Recreate', () => {
    expect(deployment.metadata?.name).toBe('cam1-recorder');
    expect(deployment.spec?.replicas).toBe(1);
    expect(deployment.spec?.strategy?.type).toBe('Recreate');
  });

  it('carries the labels the SinkBinding selects, and the selector is per device', () => {
    const labels = deployment.spec?.template.metadata?.labels;
    expect(labels).toMatchObject({ 'app.kubernetes.io/component': 'recorder', 'shifu-rtsp/device': 'cam1', 'app.kubernetes.io/name': 'shifu-rtsp' });
    expect(deployment.spec?.selector.matchLabels).toEqual({
      'app.kubernetes.io/name': 'shifu-rtsp',
      'app.kubernetes.io/component': 'recorder',
      'shifu-rtsp/device': 'cam1',
    });
  });

  it('takes the camera credentials from the Secret, optional, never as plain values', () => {
    expect(env['CAMERA_USERNAME']?.valueFrom?.secretKeyRef).toEqual({ name: 'cam1-rtsp', key: 'username', optional: true });
    expect(env['CAMERA_PASSWORD']?.valueFrom?.secretKeyRef).toEqual({ name: 'cam1-rtsp', key: 'password', optional: true });
    expect(env['CAMERA_USERNAME']?.value).toBeUndefined();
    expect(env['CAMERA_PASSWORD']?.value).toBeUndefined();
  });

  it('records to /data/<storagePath> on the PVC, with the requested settings', () => {
    expect(env['RTSP_URL']?.value).toBe(spec.url);
    expect(env['RECORD_ROOT']?.value).toBe('/data/site-a');
    expect(env['DEVICE_NAME']?.value).toBe('cam1');
    expect(env['SEGMENT_SECONDS']?.value).toBe('300');
    expect(env['RECORD_FORMAT']?.value).toBe('mp4');
    expect(container?.volumeMounts).toContainEqual({ name: 'data', mountPath: '/data' });
    expect(pod?.volumes).toContainEqual({ name: 'data', persistentVolumeClaim: { claimName: 'cam1-pvc' } });
    expect(container?.command).toEqual(['shifu-rtsp']);
    expect(container?.args).toEqual(['recorder']);
    expect(container?.image).toBe('registry.example/shifu-rtsp:1.0.0');
  });

  it('is locked down: non-root, read-only root, no capabilities, RuntimeDefault seccomp, /tmp as emptyDir', () => {
    expect(pod?.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container?.securityContext).toEqual({
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container?.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
    expect(pod?.volumes?.find((v) => v.name === 'tmp')?.emptyDir).toBeDefined();
    expect(pod?.automountServiceAccountToken).toBe(false);
  });

  it('has requests, limits, probes and time to close the last segment', () => {
    expect(container?.resources?.requests).toMatchObject({ cpu: '100m', memory: '128Mi' });
    expect(container?.resources?.limits).toMatchObject({ cpu: '1', memory: '512Mi' });
    expect(container?.livenessProbe?.httpGet?.path).toBe('/health');
    expect(container?.readinessProbe?.httpGet?.path).toBe('/ready');
    expect(container?.startupProbe?.httpGet?.path).toBe('/health');
    expect(pod?.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30);
    expect(pod?.tolerations).toEqual([{ key: 'edge', operator: 'Exists' }]);
    expect(pod?.nodeSelector).toBeUndefined();
  });

  it('remembers its settings for the next /record/on to compare', () => {
    expect(specOfDeployment(deployment)).toEqual(spec);
    expect(specOfDeployment({ metadata: { name: 'x' } })).toBeUndefined();
  });
});

describe('the default stream URL comes from the EdgeDevice, through the forwarder Service', () => {
  const edgeDevice = (spec: Record<string, unknown>): unknown => ({ apiVersion: 'shifu.edgenesis.io/v1alpha1', kind: 'EdgeDevice', spec });

  it('uses spec.customMetadata.rtspPath and the Service port 554', () => {
    const url = streamUrlFromEdgeDevice(edgeDevice({ protocol: 'TCP', customMetadata: { rtspPath: '/Streaming/Channels/101' } }), 'cam1', 'deviceshifu', undefined);
    expect(url).toEqual({ ok: true, value: 'rtsp://deviceshifu-cam1.deviceshifu.svc.cluster.local:554/Streaming/Channels/101' });
  });

  it('lets the request path win, and falls back to /', () => {
    expect(streamUrlFromEdgeDevice(edgeDevice({ protocol: 'TCP', customMetadata: { rtspPath: '/a' } }), 'cam1', 'ns', '/b')).toMatchObject({ value: expect.stringMatching(/:554\/b$/) });
    expect(streamUrlFromEdgeDevice(edgeDevice({ protocol: 'TCP' }), 'cam1', 'ns', undefined)).toMatchObject({ value: expect.stringMatching(/:554\/$/) });
  });

  it('refuses an EdgeDevice that is not TCP', () => {
    const out = streamUrlFromEdgeDevice(edgeDevice({ protocol: 'HTTP' }), 'cam1', 'ns', undefined);
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.failure).toMatchObject({ code: 'edgedevice_invalid', message: expect.stringContaining('protocol "TCP"') });
  });
});
