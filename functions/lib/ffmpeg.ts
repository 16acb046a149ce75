import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ConfigError } from './config.js';

/** ffmpeg was not found anywhere we look; the message names every place and how to fix it. */
export class ToolNotFoundError extends Error {
  constructor(tool: 'ffmpeg' | 'ffprobe', tried: readonly string[]) {
    super(
      `${tool} not found. Tried: ${tried.join('; ')}. ` +
        `Install it (Debian/Ubuntu: apt-get install ffmpeg; macOS: brew install ffmpeg) ` +
        `or set ${tool === 'ffmpeg' ? 'FFMPEG_PATH' : 'FFPROBE_PATH'} to the binary.`,
    );
    this.name = 'ToolNotFoundError';
  }
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, envPath: string | undefined): string | undefined {
  for (const dir of (envPath ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** ffmpeg-static is optional: its install downloads a binary, which fails on closed networks. */
function ffmpegStaticBinary(): string | undefined {
  try {
    const required: unknown = createRequire(import.meta.url)('ffmpeg-static');
    return typeof required === 'string' && isExecutable(required) ? required : undefined;
  } catch {
    return undefined;
  }
}

/** `FFMPEG_PATH`, then ffmpeg-static's binary, then `ffmpeg` on PATH. */
export function locateFfmpeg(env: NodeJS.ProcessEnv = process.env): string {
  const tried: string[] = [];
  const fromEnv = env.FFMPEG_PATH;
  if (fromEnv) {
    if (isExecutable(fromEnv)) return fromEnv;
    tried.push(`FFMPEG_PATH=${fromEnv} (not executable)`);
  } else tried.push('FFMPEG_PATH (unset)');
  const bundled = ffmpegStaticBinary();
  if (bundled) return bundled;
  tried.push('ffmpeg-static (not installed)');
  const found = onPath('ffmpeg', env.PATH);
  if (found) return found;
  tried.push('ffmpeg on PATH');
  throw new ToolNotFoundError('ffmpeg', tried);
}

/** `FFPROBE_PATH`, then an ffprobe beside the chosen ffmpeg, then `ffprobe` on PATH. */
export function locateFfprobe(env: NodeJS.ProcessEnv = process.env): string {
  const tried: string[] = [];
  const fromEnv = env.FFPROBE_PATH;
  if (fromEnv) {
    if (isExecutable(fromEnv)) return fromEnv;
    tried.push(`FFPROBE_PATH=${fromEnv} (not executable)`);
  } else tried.push('FFPROBE_PATH (unset)');
  try {
    const sibling = path.join(path.dirname(locateFfmpeg(env)), 'ffprobe');
    if (isExecutable(sibling)) return sibling;
    tried.push(`${sibling} (beside ffmpeg)`);
  } catch {
    tried.push('beside ffmpeg (no ffmpeg)');
  }
  const found = onPath('ffprobe', env.PATH);
  if (found) return found;
  tried.push('ffprobe on PATH');
  throw new ToolNotFoundError('ffprobe', tried);
}

/** `ffmpeg version 5.1.9-0+deb12u1`, `ffprobe version n4.4.2`, `ffmpeg version 7.1`: major, minor, text. */
export function parseFfmpegVersion(output: string): { major: number; minor: number; text: string } | null {
  const m = /^\S+ version n?(\d+)\.(\d+)(\S*)/m.exec(output);
  return m ? { major: Number(m[1]), minor: Number(m[2]), text: `${m[1]}.${m[2]}${m[3] ?? ''}` } : null;
}

/**
 * Refuses (ConfigError: exit 2) an ffmpeg or ffprobe before 5.0, where RTSP `-timeout` means "wait for an
 * incoming connection" (listen mode), so the recorder would never connect to a camera. A version it cannot
 * read (a git build prints `N-123-g...`) is taken as new.
 */
export function requireFfmpeg5(tool: 'ffmpeg' | 'ffprobe', binary: string): void {
  let output: string;
  try {
    output = execFileSync(binary, ['-version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new ConfigError(`${tool} at ${binary} does not run (${(err as Error).message.split('\n')[0]}); set ${tool === 'ffmpeg' ? 'FFMPEG_PATH' : 'FFPROBE_PATH'} to a working one`);
  }
  const version = parseFfmpegVersion(output);
  if (version !== null && version.major < 5) {
    throw new ConfigError(
      `${tool} ${version.text} at ${binary} is too old: before 5.0, RTSP -timeout means "listen", so it would never ` +
        `connect to a camera. Install ${tool} 5.0 or later (Debian 12, Ubuntu 24.04) or set ${tool === 'ffmpeg' ? 'FFMPEG_PATH' : 'FFPROBE_PATH'} to one.`,
    );
  }
}

/**
 * What ffmpeg and ffprobe children get of our environment: just what they use. Not the rest of it: the
 * recorder's environment holds the camera password (PasswordSecret) and its API token, and an ffmpeg has no
 * need of either (it is handed no credentials at all; see the recorder's camera relay).
 */
const TOOL_ENV = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_ALL', 'LD_LIBRARY_PATH', 'FONTCONFIG_PATH', 'FONTCONFIG_FILE'];

export function toolEnv(extra: Readonly<Record<string, string>> = {}, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const name of TOOL_ENV) if (env[name] !== undefined) out[name] = env[name];
  return { ...out, ...extra };
}
