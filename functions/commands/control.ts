// `shifu-rtsp control`: the record control functions served over HTTP by Fastify.
import { createLogger, defineCommand, onShutdown, startHttpServer, type FastifyInstance } from '../lib/index.js';
import { createControlHandlers, singleValues, type ControlHandler, type ControlRequest, checkControlConfig, controlOptions, createBackend } from '../control/index.js';

/** Every path except /health and /ready goes to the `control` router, exactly as under functions-framework. */
function registerRoutes(app: FastifyInstance, control: ControlHandler): void {
  app.get('/health', async () => ({ ok: true }));
  app.get('/ready', async () => ({ ready: true }));
  app.all('/*', async (req, reply) => {
    const request: ControlRequest = {
      method: req.method,
      path: new URL(req.url, 'http://control.invalid').pathname,
      query: singleValues(req.query),
      headers: singleValues(req.headers, true),
      body: req.body,
    };
    const response = await control(request);
    void reply.status(response.status).headers(response.headers ?? {});
    return reply.send(response.body);
  });
}

export const controlCommand = defineCommand({
  name: 'control',
  summary: 'serve the record-on / record-off / status functions over HTTP, with recorders as local processes or Deployments',
  details: [
    'HTTP: POST /record/on {device, url?, path?, credentialsSecret?, segmentSeconds?, format?, audio?, storagePath?,',
    '      pvc?, nodeSelector?, tolerations?}; POST /record/off {device} [?wait=true]; GET /record/status[?device=D];',
    '      GET /health, GET /ready. The same handlers run on Knative through functions-framework',
    '      (FUNCTION_TARGET=control|recordOn|recordOff|recordStatus, source dist/functions/control/functions.js).',
    'SIGTERM: local recorders are switched off (their last segment closed), then the command exits 0.',
  ].join('\n'),
  options: controlOptions,
  check: checkControlConfig,
  async run(config, ctx) {
    const log = createLogger('control');
    const backend = createBackend(config, ctx.env, log);
    const handlers = createControlHandlers(backend, { log, ...(config.token !== undefined ? { token: config.token } : {}) });
    const app = await startHttpServer({ listen: config.port, log }, (server) => registerRoutes(server, handlers.control));
    log.info({ backend: backend.kind, listen: app.server.address(), auth: config.token !== undefined, sources: ctx.sources }, 'control listening');
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
