import { z } from 'zod';
import { DNS_1123_LABEL } from '../lib/index.js';
import { AUDIO_MODES, CONTAINER_FORMATS, parseCameraAddress, zSize, type AudioMode, type ContainerFormat } from '../contracts/index.js';

// The bodies of /record/on and /record/off: strict (an unknown field is a typo, not something to ignore).

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** A string rule whose message tells "missing" apart from "wrong type". */
function text(required: string) {
  return z.string({ error: (issue) => (issue.input === undefined ? required : 'expected a string') });
}

export const zDevice = text('required: the device (EdgeDevice) name').regex(
  DNS_1123_LABEL,
  'expected a DNS-1123 label: lowercase letters, digits and -, at most 63, starting and ending with a letter or digit',
);

const zObjectName = z
  .string({ error: 'expected a string' })
  .max(253, 'expected at most 253 characters')
  .regex(DNS_SUBDOMAIN, 'expected a Kubernetes object name: lowercase letters, digits, - and .');

const zStreamUrl = z
  .string({ error: 'expected a string' })
  .trim()
  .min(1, 'expected rtsp://host[:port]/path')
  .superRefine((value, ctx) => {
    try {
      const camera = parseCameraAddress(value);
      // The URL is stored in the Deployment in plain text, so credentials never go in it.
      if (camera.username !== undefined || camera.password !== undefined) {
        ctx.addIssue({
          code: 'custom',
          message: 'must not hold credentials: store them in the Secret named by credentialsSecret (keys username, password)',
        });
      }
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });

const zStreamPath = z
  .string({ error: 'expected a string' })
  .max(1024, 'expected at most 1024 characters')
  .regex(/^\/[^\s@#]*$/, 'expected a stream path starting with /, e.g. /Streaming/Channels/101');

/** Relative folder under the volume: no absolute path, no `..`, nothing a shell or URL would mangle. */
const zStoragePath = z
  .string({ error: 'expected a string' })
  .max(200, 'expected at most 200 characters')
  .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*\/?$|^$/, 'expected a relative path of letters, digits, . _ - and /')
  .refine((p) => !p.split('/').some((part) => part === '..' || part === '.'), 'must not contain . or .. segments')
  .transform((p) => p.replace(/\/$/, ''));

const zSegmentSeconds = z
  .number({ error: 'expected a whole number of seconds from 2 to 86400' })
  .int('expected a whole number of seconds from 2 to 86400')
  .min(2, 'expected a whole number of seconds from 2 to 86400')
  .max(86_400, 'expected a whole number of seconds from 2 to 86400');

const zRetainHours = z
  .number({ error: 'expected hours from 0 (keep) to 87600' })
  .min(0, 'expected hours from 0 (keep) to 87600')
  .max(87_600, 'expected hours from 0 (keep) to 87600');

/** Bytes as a number, or a size such as 500M, 10G or 10Gi; 0: no byte limit (not even the PVC default). */
const zRetainBytes = z.union([z.number().int().min(0), zSize], { error: 'expected bytes: a whole number, or a size such as 500M, 10G or 10Gi' });

const zFormat = z.enum(CONTAINER_FORMATS as [ContainerFormat, ...ContainerFormat[]], {
  error: `expected one of ${CONTAINER_FORMATS.join(', ')}`,
});
const zAudio = z.enum(AUDIO_MODES as [AudioMode, ...AudioMode[]], { error: `expected one of ${AUDIO_MODES.join(', ')}` });

const zLabelKey = z.string().refine((key) => {
  const slash = key.lastIndexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  return LABEL_NAME.test(name) && (prefix === undefined || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix)));
}, 'expected label keys such as kubernetes.io/hostname');

const zNodeSelector = z.record(
  zLabelKey,
  z
    .string({ error: 'expected label values as strings' })
    .max(63, 'expected label values of at most 63 characters')
    .regex(LABEL_VALUE, 'expected label values of letters, digits, - _ .'),
  { error: 'expected an object of label: value' },
);

const zToleration = z.strictObject({
  key: z.string().max(316).optional(),
  operator: z.enum(['Exists', 'Equal'], { error: 'expected Exists or Equal' }).optional(),
  value: z.string().max(63).optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute'], { error: 'expected NoSchedule, PreferNoSchedule or NoExecute' }).optional(),
  tolerationSeconds: z.number().int().min(0).optional(),
});

export const recordOnSchema = z.strictObject(
  {
    device: zDevice,
    url: zStreamUrl.optional(),
    path: zStreamPath.optional(),
    credentialsSecret: zObjectName.optional(),
    segmentSeconds: zSegmentSeconds.optional(),
    format: zFormat.optional(),
    audio: zAudio.optional(),
    storagePath: zStoragePath.optional(),
    pvc: zObjectName.optional(),
    retainHours: zRetainHours.optional(),
    retainBytes: zRetainBytes.optional(),
    nodeSelector: zNodeSelector.optional(),
    tolerations: z.array(zToleration, { error: 'expected a list of tolerations' }).max(20, 'expected at most 20 tolerations').optional(),
    archive: z.boolean({ error: 'expected true or false' }).optional(),
  },
  { error: (issue) => (issue.code === 'invalid_type' ? 'expected a JSON object' : undefined) },
).superRefine((body, ctx) => {
  if (body.url !== undefined && body.path !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['path'], message: 'give either url or path, not both (path completes the default url)' });
  }
});

export type RecordOnRequest = z.output<typeof recordOnSchema>;

export const recordOffSchema = z.strictObject(
  {
    device: zDevice,
    wait: z.boolean({ error: 'expected true or false' }).optional(),
    timeoutSeconds: z.number({ error: 'expected seconds from 1 to 600' }).int().min(1, 'expected seconds from 1 to 600').max(600, 'expected seconds from 1 to 600').optional(),
  },
  { error: (issue) => (issue.code === 'invalid_type' ? 'expected a JSON object' : undefined) },
);

export type RecordOffRequest = z.output<typeof recordOffSchema>;

export const statusQuerySchema = z.strictObject({ device: zDevice.optional() });

/** `field: rule` for each issue, so a 4xx names what to fix; unknown fields are named too. */
export function describeRequestError(err: z.ZodError): string {
  return err.issues
    .map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        return `${issue.keys.join(', ')}: unknown field${issue.keys.length > 1 ? 's' : ''}`;
      }
      return `${issue.path.length > 0 ? issue.path.join('.') : 'body'}: ${issue.message}`;
    })
    .join('; ');
}
