// The ffmpeg command that encodes a test pattern and publishes it into the server (ANNOUNCE/RECORD over TCP).
import type { AudioCodec, TestPattern } from './stream-spec.js';

const AUDIO: Record<Exclude<AudioCodec, 'none'>, { codec: string; rate: number; extra: string[] }> = {
  // G.711 is 8 kHz mono by definition; it is what most IP cameras send.
  pcma: { codec: 'pcm_alaw', rate: 8000, extra: [] },
  pcmu: { codec: 'pcm_mulaw', rate: 8000, extra: [] },
  aac: { codec: 'aac', rate: 16000, extra: ['-b:a', '32k'] },
};

/** ffmpeg arguments for one pattern, publishing to `target` (rtsp://publisher:token@127.0.0.1:port/path). */
export function testPatternArguments(p: TestPattern, target: string): string[] {
  const args = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error'];
  args.push('-re', '-f', 'lavfi', '-i', `testsrc2=size=${p.width}x${p.height}:rate=${p.fps}`);
  if (p.audio !== 'none') args.push('-re', '-f', 'lavfi', '-i', `sine=frequency=440:beep_factor=4:sample_rate=${AUDIO[p.audio].rate}`);
  args.push('-map', '0:v');
  if (p.audio !== 'none') args.push('-map', '1:a');
  args.push('-pix_fmt', 'yuv420p', '-g', String(p.gop), '-keyint_min', String(p.gop), '-sc_threshold', '0', '-bf', '0');
  if (p.video === 'h264') args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency');
  else {
    args.push('-c:v', 'libx265', '-preset', 'ultrafast', '-tune', 'zerolatency');
    args.push('-x265-params', `log-level=error:keyint=${p.gop}:min-keyint=${p.gop}:scenecut=0:bframes=0`);
  }
  // Parameter sets in every keyframe, as cameras send them: players may join at any keyframe.
  args.push('-bsf:v', 'dump_extra=freq=keyframe');
  if (p.audio !== 'none') {
    const a = AUDIO[p.audio];
    args.push('-c:a', a.codec, '-ar', String(a.rate), '-ac', '1', ...a.extra);
  }
  args.push('-f', 'rtsp', '-rtsp_transport', 'tcp', target);
  return args;
}
