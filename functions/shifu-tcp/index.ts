// deviceShifu-TCP: the public face of the forwarder module.
export { startForwarder, type Forwarder, type ForwarderDeps } from './forwarder.js';
export {
  cameraLoginFor,
  checkForwarderConfig,
  edgeDeviceRef,
  forwarderOptions,
  resolveSettings,
  type CameraLogin,
  type ForwarderConfig,
  type ForwarderSettings,
} from './settings.js';
export {
  DEFAULT_LISTEN_PORT,
  EDGEDEVICE,
  forwardingFromEdgeDevice,
  type EdgeDeviceForwarding,
  type EdgeDevicePhase,
  type EdgeDeviceRef,
} from './edgedevice.js';
export type { EdgeDeviceApi } from './edgedevice-api.js';
export { openEdgeDeviceApi } from './kube.js';
export { PhaseReporter, type PhaseSink } from './phase.js';
export type { ForwardingTotals } from './listener.js';
export type { CloseReason, RelayEnd } from './relay.js';
