import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

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
