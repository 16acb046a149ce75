// The mock camera's settings: flags and environment variables.
import { z } from 'zod';
import { zHostPort, type OptionSpecs } from '../lib/index.js';
import { AUTH_SCHEMES, type AuthScheme } from './auth.js';
import { DEFAULT_RTP_PORT_RANGE } from './mock-camera.js';
import { DEFAULT_STREAMS, STREAM_SPEC_GRAMMAR, zStreamSpecs } from './stream-spec.js';
import { zPortRange } from '../lib/index.js';

export const mockCameraOptions = {
  listen: {
    flag: 'listen',
    env: ['MOCK_CAMERA_LISTEN'],
    schema: zHostPort(),
    default: '0.0.0.0:8554',
    description: 'RTSP address to listen on',
  },
  streams: {
    flag: 'stream',
    env: ['MOCK_CAMERA_STREAMS'],
    schema: zStreamSpecs,
    default: DEFAULT_STREAMS,
    description: `test-pattern path ${STREAM_SPEC_GRAMMAR}; repeat the flag or separate specs with commas; "none": publish-only`,
  },
  rtpPortRange: {
    flag: 'rtp-port-range',
    env: ['MOCK_CAMERA_RTP_PORT_RANGE'],
    schema: zPortRange,
    default: DEFAULT_RTP_PORT_RANGE,
    description: 'UDP ports for RTP/RTCP over UDP, one even/odd pair per track of a session',
  },
  user: {
    flag: 'user',
    env: ['MOCK_CAMERA_USER'],
    schema: z.string().min(1).regex(/^[^:]+$/, 'expected a user name without ":"').optional(),
    description: 'require this user (password: env MOCK_CAMERA_PASSWORD or --password-file); default: no auth',
  },
  passwordFile: {
    flag: 'password-file',
    env: ['MOCK_CAMERA_PASSWORD_FILE'],
    schema: z.string().min(1).optional(),
    description: 'file holding the password of --user (never pass passwords as flags)',
  },
  auth: {
    flag: 'auth',
    env: ['MOCK_CAMERA_AUTH'],
    schema: z.enum(AUTH_SCHEMES as unknown as [AuthScheme, ...AuthScheme[]]),
    default: 'both',
    description: `schemes offered with --user: ${AUTH_SCHEMES.join(' | ')} (Digest is MD5, RFC 2617)`,
  },
} satisfies OptionSpecs;
