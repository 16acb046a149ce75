// A GStreamer camera and a recorder process that last as long as the current test: each is stopped after it (the
// recorder with SIGKILL, as a test that failed half-way may leave it in any state), through the file's scratch.
import { startGstCamera, type GstCamera } from '../fixtures/camera.js';
import type { Scratch } from '../../support/scratch.js';
import { startCli, type CliProcess } from './recorder-process.js';

export interface Scoped {
  camera(opts?: Parameters<typeof startGstCamera>[0]): Promise<GstCamera>;
  recorder(args: string[], env?: NodeJS.ProcessEnv): Promise<CliProcess>;
}

export function scopedTo(scratch: Scratch): Scoped {
  return {
    async camera(opts) {
      const cam = await startGstCamera(opts);
      scratch.defer(() => cam.stop());
      return cam;
    },
    async recorder(args, env = {}) {
      const proc = await startCli('recorder', args, env);
      scratch.defer(() => proc.stop('SIGKILL'));
      return proc;
    },
  };
}
