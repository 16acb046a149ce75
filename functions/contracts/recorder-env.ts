// The recorder's environment: the variables control sets on each recorder it creates (a Deployment, or a child
// process in local mode) and the recorder reads. UPPER_SNAKE names are canonical; the seed design's names
// (`RTSPServerAddress`, `UserName`, `PasswordSecret`, `FileSavePath`) stay aliases that keep working, read after
// the canonical one.
import { z } from 'zod';

/** Every name of each setting, canonical first. */
export const RECORDER_ENV = {
  url: ['RTSP_URL', 'RTSPServerAddress'],
  username: ['CAMERA_USERNAME', 'UserName'],
  password: ['CAMERA_PASSWORD', 'PasswordSecret'],
  out: ['RECORD_ROOT', 'FileSavePath'],
  device: ['DEVICE_NAME', 'EDGEDEVICE_NAME'],
  segmentSeconds: ['SEGMENT_SECONDS'],
  format: ['RECORD_FORMAT'],
  audio: ['RECORD_AUDIO'],
  passwordFile: ['PASSWORD_FILE'],
  retainHours: ['RETAIN_HOURS'],
  retainBytes: ['RETAIN_BYTES'],
  minFreePercent: ['MIN_FREE_PERCENT'],
  httpListen: ['HTTP_LISTEN'],
  idle: ['RECORD_IDLE'],
  apiToken: ['RECORDER_API_TOKEN'],
} as const satisfies Record<string, readonly [string, ...string[]]>;

export type RecorderEnvSetting = keyof typeof RECORDER_ENV;

/** The canonical name of a setting: what control writes. */
export function recorderEnvName(setting: RecorderEnvSetting): string {
  return RECORDER_ENV[setting][0];
}

/** The first non-empty value among a setting's names, canonical first. */
export function recorderEnvValue(env: NodeJS.ProcessEnv, setting: RecorderEnvSetting): string | undefined {
  for (const name of RECORDER_ENV[setting]) {
    const value = env[name];
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}

/** The names a camera password may come in: a parent never passes them on to a child that needs none. */
export const PASSWORD_ENV_NAMES: readonly string[] = RECORDER_ENV.password;

/** Free-space floor by default, in percent of the volume: the recorder's default, and what control sets. */
export const DEFAULT_MIN_FREE_PERCENT = 15;

export type AudioMode = 'auto' | 'copy' | 'aac' | 'none';
/** RECORD_AUDIO's values. */
export const AUDIO_MODES: readonly AudioMode[] = ['auto', 'copy', 'aac', 'none'];

const UNITS: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, ki: 2 ** 10, mi: 2 ** 20, gi: 2 ** 30, ti: 2 ** 40 };

/** Sizes as people write them: `500000000`, `500M`, `10Gi`, `2T`. */
export const zSize = z
  .string()
  .trim()
  .transform((value, ctx) => {
    const m = /^(\d+(?:\.\d+)?)\s*([kmgt]i?)?b?$/i.exec(value);
    const factor = UNITS[(m?.[2] ?? '').toLowerCase()];
    if (!m || factor === undefined) {
      ctx.addIssue({ code: 'custom', message: 'expected a size such as 500M, 10G or 10Gi (0: no limit)' });
      return z.NEVER;
    }
    return Math.round(Number(m[1]) * factor);
  });
