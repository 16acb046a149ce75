// `shifu-rtsp control`: the record control functions served over node:http (the stack of all our servers).
import { createLogger, defineCommand, onShutdown, startJsonServer, type JsonRequest, type JsonResponse } from '../lib/index.js';
import { createControlHandlers, checkControlConfig, controlOptions, createBackend, type ControlHandler } from '../control/index.js';

/** Every path except /health and /ready goes to the `control` router, exactly as under functions-framework. */
function route(control: ControlHandler): (request: JsonRequest) => Promise<JsonResponse> {
  return async (request) => {
    if (request.method === 'GET' && request.path === '/health') return { status: 200, body: { ok: true } };
    if (request.method === 'GET' && request.path === '/ready') return { status: 200, body: { ready: true } };
    return control(request);
  };
}

export const controlCommand = defineCommand({
  name: 'control',
  summary: 'serve the record-on / record-off / status functions over HTTP, with recorders as local processes or Deployments',
  details: [
    'HTTP: POST /record/on {device, url?, path?, credentialsSecret?, segmentSeconds?, format?, audio?, storagePath?,',
    '      pvc?, nodeSelector?, tolerations?}; POST /record/off {device} [?wait=true]; GET /record/status[?device=D];',
    '      GET /health, GET /ready. Every POST sends Content-Type: application/json (415 otherwise), the',
    '      device of /record/off in the body. The same handlers run on Knative through functions-framework',
    '      (FUNCTION_TARGET=control|recordOn|recordOff|recordStatus, source dist/functions/control/functions.js).',
    'SIGTERM: local recorders are switched off (their last segment closed), then the command exits 0.',
  ].join('\n'),
  options: controlOptions,
  check: checkControlConfig,
  async run(config, ctx) {
    const log = createLogger('control');
    const backend = createBackend(config, ctx.env, log);
    const handlers = createControlHandlers(backend, { log, ...(config.token !== undefined ? { token: config.token } : {}) });
    const app = await startJsonServer({ listen: config.port, log }, route(handlers.control));
    log.info({ backend: backend.kind, listen: { address: config.port.host, port: app.port }, auth: config.token !== undefined, sources: ctx.sources }, 'control listening');
    await new Promise<void>((resolve) => {
      onShutdown(async () => {
        await app.close();
        await backend.close();
        resolve();
      }, log);
    });
    return 0;
  },
});
