import { describe, expect, it } from 'vitest';
import { describeRequestError, recordOffSchema, recordOnSchema, specFromRequest } from '../../functions/control/index.js';

function problem(body: unknown): string {
  const parsed = recordOnSchema.safeParse(body);
  if (parsed.success) throw new Error(`accepted ${JSON.stringify(body)}`);
  return describeRequestError(parsed.error);
}

describe('/record/on body: every mistake names its field', () => {
  it.each([
    [{}, /^device: required/],
    [{ device: 'Cam_1' }, /^device: expected a DNS-1123 label/],
    [{ device: 7 }, /^device: expected a string/],
    [{ device: 'cam1', segmentSeconds: 1 }, /^segmentSeconds: expected a whole number of seconds from 2 to 86400/],
    [{ device: 'cam1', segmentSeconds: '60' }, /^segmentSeconds: /],
    [{ device: 'cam1', segmentSeconds: 2.5 }, /^segmentSeconds: /],
    [{ device: 'cam1', format: 'avi' }, /^format: expected one of mp4/],
    [{ device: 'cam1', audio: 'loud' }, /^audio: expected one of/],
    [{ device: 'cam1', storagePath: '../etc' }, /^storagePath: must not contain \. or \.\./],
    [{ device: 'cam1', storagePath: '/abs' }, /^storagePath: expected a relative path/],
    [{ device: 'cam1', storagePath: 'a/../../b' }, /^storagePath: /],
    [{ device: 'cam1', url: 'http://cam/x' }, /^url: expected an rtsp:\/\/ URL/],
    [{ device: 'cam1', url: 'rtsp://admin:secret@cam:554/x' }, /^url: must not hold credentials/],
    [{ device: 'cam1', url: 'rtsp://cam/x', path: '/y' }, /^path: give either url or path/],
    [{ device: 'cam1', path: 'no-slash' }, /^path: expected a stream path starting with \//],
    [{ device: 'cam1', pvc: 'Bad_Name' }, /^pvc: expected a Kubernetes object name/],
    [{ device: 'cam1', credentialsSecret: '' }, /^credentialsSecret: /],
    [{ device: 'cam1', nodeSelector: { 'kubernetes.io/hostname': 'a b' } }, /^nodeSelector\.kubernetes\.io\/hostname: expected label values/],
    [{ device: 'cam1', tolerations: [{ operator: 'Maybe' }] }, /^tolerations\.0\.operator: expected Exists or Equal/],
    [{ device: 'cam1', segmentSecond: 60 }, /^segmentSecond: unknown field/],
    ['text', /^body: expected a JSON object/],
    [[], /^body: expected a JSON object/],
  ])('%j -> %s', (body, message) => {
    expect(problem(body)).toMatch(message);
  });

  it('accepts a full body and fills defaults', () => {
    const body = recordOnSchema.parse({
      device: 'front-door',
      url: 'rtsp://cam.example:8554/live',
      segmentSeconds: 600,
      format: 'mkv',
      audio: 'none',
      storagePath: 'site-a/',
      nodeSelector: { 'kubernetes.io/hostname': 'edge-1' },
      tolerations: [{ key: 'edge', operator: 'Exists', effect: 'NoSchedule' }],
    });
    expect(body.storagePath).toBe('site-a');
    const spec = specFromRequest(body, body.url ?? '');
    expect(spec).toMatchObject({ credentialsSecret: 'front-door-rtsp', pvc: 'front-door-pvc', segmentSeconds: 600, format: 'mkv' });
    expect(specFromRequest(recordOnSchema.parse({ device: 'cam1' }), 'rtsp://x:554/')).toMatchObject({
      segmentSeconds: 3600,
      format: 'mp4',
      audio: 'auto',
      storagePath: '',
      nodeSelector: {},
      tolerations: [],
    });
  });
});

describe('/record/off body', () => {
  it('needs a device and takes wait and timeoutSeconds', () => {
    expect(recordOffSchema.parse({ device: 'cam1', wait: true, timeoutSeconds: 30 })).toEqual({ device: 'cam1', wait: true, timeoutSeconds: 30 });
    const bad = recordOffSchema.safeParse({ device: 'cam1', timeoutSeconds: 0 });
    expect(bad.success).toBe(false);
    if (!bad.success) expect(describeRequestError(bad.error)).toMatch(/^timeoutSeconds: /);
  });
});
