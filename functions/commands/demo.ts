// `shifu-rtsp demo`: the whole system on this machine.
import path from 'node:path';
import { z } from 'zod';
import { createLogger, defineCommand, DNS_1123_LABEL, onShutdown, zPort, zSeconds, type OptionSpecs } from '../lib/index.js';
import { startDemo } from '../demo/index.js';

const zPortOrZero = z.coerce.number({ message: 'expected a port number' }).int().min(0).max(65535);

export const demoOptions = {
  out: { flag: 'out', env: ['DEMO_OUT'], schema: z.string().min(1), default: './recordings', description: 'where the recordings go' },
  device: {
    flag: 'device',
    env: ['DEMO_DEVICE'],
    schema: z.string().regex(DNS_1123_LABEL, 'expected a DNS-1123 label'),
    default: 'demo-cam',
    description: 'device name (folder and file-name prefix)',
  },
  segmentSeconds: {
    flag: 'segment-seconds',
    env: ['DEMO_SEGMENT_SECONDS'],
    schema: zSeconds(2, 3600).transform(Math.round),
    default: '10',
    description: 'segment length',
  },
  rtspPort: { flag: 'rtsp-port', env: ['DEMO_RTSP_PORT'], schema: zPort, default: '8554', description: 'forwarder port: the URL for VLC' },
  controlPort: { flag: 'control-port', env: ['DEMO_CONTROL_PORT'], schema: zPort, default: '8080', description: 'record-on / record-off functions' },
  cameraPort: { flag: 'camera-port', env: ['DEMO_CAMERA_PORT'], schema: zPortOrZero, default: '0', description: 'mock camera port (0: any free one)' },
  sinkPort: { flag: 'sink-port', env: ['DEMO_SINK_PORT'], schema: zPortOrZero, default: '0', description: 'CloudEvents sink port (0: any free one)' },
} satisfies OptionSpecs;

export const demoCommand = defineCommand({
  name: 'demo',
  summary: 'the whole system on this machine: mock camera, forwarder, record control, recorder and a printing event sink',
  details: 'Ctrl-C stops every part in order and leaves every file playable.',
  options: demoOptions,
  async run(config) {
    // Parts log to files under <out>/.demo-logs; the terminal shows the demo's own lines and the events.
    const log = createLogger('demo', process.env.LOG_LEVEL ?? 'warn');
    const demo = await startDemo(config, log);
    const out = path.resolve(config.out);
    const on = `curl -X POST ${demo.controlUrl}/record/on -H 'content-type: application/json' -d '{"device":"${config.device}","url":"${demo.vlcUrl}","segmentSeconds":${config.segmentSeconds}}'`;
    const off = `curl -X POST '${demo.controlUrl}/record/off?wait=true' -H 'content-type: application/json' -d '{"device":"${config.device}"}'`;
    process.stdout.write(
      [
        '',
        'shifu-rtsp demo is running: mock camera -> forwarder -> recorder -> files + CloudEvents',
        '',
        `  watch (VLC, ffplay):  ${demo.vlcUrl}`,
        `  recordings:           ${path.join(out, config.device)}/  (${config.segmentSeconds} s segments)`,
        `  logs:                 ${path.join(out, '.demo-logs')}/`,
        `  status:               curl ${demo.controlUrl}/record/status?device=${config.device}`,
        `  record off:           ${off}`,
        `  record on:            ${on}`,
        '',
        'Segment events print below as they arrive. Ctrl-C stops everything cleanly.',
        '',
      ].join('\n'),
    );
    await new Promise<void>((resolve) => {
      onShutdown(async () => {
        process.stdout.write('\nstopping: closing the last segment...\n');
        await demo.stop();
        process.stdout.write(`stopped. Recordings are in ${path.join(out, config.device)}/\n`);
        resolve();
      });
    });
    return 0;
  },
});
