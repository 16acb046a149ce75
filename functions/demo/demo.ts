import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { SEGMENT_ARCHIVED_TYPE, SEGMENT_FINISHED_TYPE, startLocalSink, type AnnouncedEvent, type LocalSink } from '../events/index.js';
import { freeLoopbackPort, locateFfmpeg, locateFfprobe, type Logger } from '../lib/index.js';
import { startMockCamera, type MockCamera } from '../mock-camera/index.js';
import { startChild, waitHealthy, type DemoChild } from './children.js';

export interface DemoSettings {
  readonly out: string;
  readonly device: string;
  readonly segmentSeconds: number;
  readonly rtspPort: number;
  readonly controlPort: number;
  readonly cameraPort: number;
  readonly sinkPort: number;
}

export interface RunningDemo {
  readonly vlcUrl: string;
  readonly controlUrl: string;
  stop(): Promise<void>;
}

const CAMERA_PATH = '/Streaming/Channels/101';
/** Looks like a Hikvision main stream: H.264 with G.711 A-law audio. */
// GOP of 1 s: probes and cuts wait for a keyframe, so the demo's first segment comes sooner.
const CAMERA_STREAM = `${CAMERA_PATH}:h264:640x360:25:25:pcma`;

function printEvent(event: AnnouncedEvent): void {
  const e = event.event;
  if (event.type === SEGMENT_FINISHED_TYPE) {
    const d = event.data;
    const audio = d.audio ? ` + ${d.audio.codec}${d.audio.transcodedFrom ? ` (from ${d.audio.transcodedFrom})` : ''}` : '';
    process.stdout.write(
      `event ${e.type}  #${d.sequence} ${d.file}  ${d.durationSeconds.toFixed(1)} s  ${(d.bytes / 1e6).toFixed(2)} MB  ` +
        `${d.video?.codec ?? '?'}${audio}${d.recovered ? '  recovered' : ''}\n`,
    );
  } else if (event.type === SEGMENT_ARCHIVED_TYPE) {
    process.stdout.write(`event ${e.type}  ${event.data.file} -> s3://${event.data.bucket}/${event.data.key}\n`);
  } else {
    process.stdout.write(`event ${e.type}  ${event.data.change}: ${event.data.state}\n`);
  }
}

/**
 * The whole system on one machine: mock camera -> forwarder -> recorder (started by the control functions on the
 * local backend) -> segments in `out`, each announced to a local CloudEvents sink that prints it.
 */
export async function startDemo(s: DemoSettings, log: Logger): Promise<RunningDemo> {
  // Fail first, and clearly, when ffmpeg is missing: every part needs it.
  locateFfmpeg();
  locateFfprobe();
  const out = path.resolve(s.out);
  const logs = path.join(out, '.demo-logs');
  await mkdir(logs, { recursive: true });
  const children: DemoChild[] = [];
  let camera: MockCamera | null = null;
  let sink: LocalSink | null = null;
  const stopAll = async (): Promise<void> => {
    for (const child of [...children].reverse()) await child.stop();
    await sink?.close();
    await camera?.close();
  };
  try {
    camera = await startMockCamera({
      listen: { host: '127.0.0.1', port: s.cameraPort },
      streams: CAMERA_STREAM,
      log: log.child({ part: 'mock-camera' }),
    });
    sink = await startLocalSink({ host: '127.0.0.1', port: s.sinkPort, onEvent: printEvent });
    const env = { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' };

    const forwarderHealth = await freeLoopbackPort();
    const forwarderLog = path.join(logs, 'forwarder.log');
    const forwarder = startChild(
      'forwarder',
      ['forwarder', '--upstream', `127.0.0.1:${camera.port}`, '--listen', `0.0.0.0:${s.rtspPort}`, '--health-listen', `127.0.0.1:${forwarderHealth}`],
      env,
      forwarderLog,
    );
    children.push(forwarder);
    await waitHealthy(forwarder, `http://127.0.0.1:${forwarderHealth}/ready`, forwarderLog);

    const controlLog = path.join(logs, 'control.log');
    const control = startChild(
      'control',
      ['control', '--backend', 'local', '--port', `127.0.0.1:${s.controlPort}`, '--data-dir', out],
      // The local backend passes K_SINK down to every recorder it starts.
      { ...env, K_SINK: sink.url },
      controlLog,
    );
    children.push(control);
    const controlUrl = `http://127.0.0.1:${s.controlPort}`;
    await waitHealthy(control, `${controlUrl}/health`, controlLog);

    const streamUrl = `rtsp://127.0.0.1:${s.rtspPort}${CAMERA_PATH}`;
    const body = { device: s.device, url: streamUrl, segmentSeconds: s.segmentSeconds };
    const res = await fetch(`${controlUrl}/record/on`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`record-on answered ${res.status}: ${await res.text()}`);

    return {
      vlcUrl: streamUrl,
      controlUrl,
      async stop() {
        // Ordered: the recorder closes its last segment while camera and forwarder still run.
        await fetch(`${controlUrl}/record/off?wait=true`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ device: s.device }),
        }).catch(() => undefined);
        await stopAll();
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

export const DEMO_CAMERA_PATH = CAMERA_PATH;
