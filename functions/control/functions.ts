// functions-framework entry point (FUNCTION_SOURCE=dist/functions/control/functions.js): registers the targets
// control, recordOn, recordOff and recordStatus, configured from the environment like `shifu-rtsp control`.
// The backend is kubernetes unless CONTROL_BACKEND says otherwise.
import { createLogger, parseConfig } from '../lib/index.js';
import { registerControlFunctions } from './functions-framework.js';
import { createControlHandlers, type ControlHandlers } from './handlers.js';
import { checkControlConfig, controlOptions, createBackend } from './options.js';

const options = { ...controlOptions, backend: { ...controlOptions.backend, default: 'kubernetes' } };
// Parsed at load, so a bad setting stops the revision at start-up instead of failing every request.
const config = parseConfig(options, [], process.env).config;
checkControlConfig(config);

let handlers: ControlHandlers | undefined;

registerControlFunctions(async () => {
  if (!handlers) {
    const log = createLogger('control');
    handlers = createControlHandlers(createBackend(config, process.env, log), {
      log,
      ...(config.token !== undefined ? { token: config.token } : {}),
    });
  }
  return handlers;
});
