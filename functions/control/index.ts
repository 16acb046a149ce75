// Record control: /record/on, /record/off and /record/status over a RecorderBackend (Deployments or child
// processes), served by `shifu-rtsp control` (node:http) and by functions-framework on Knative (functions.ts).
export { checkControlConfig, controlOptions, createBackend, type ControlConfig } from './options.js';
export {
  createControlHandlers,
  singleValues,
  type ControlHandler,
  type ControlHandlerOptions,
  type ControlHandlers,
  type ControlRequest,
  type ControlResponse,
} from './handlers.js';
export { FUNCTION_TARGETS, registerControlFunctions } from './functions-framework.js';
export type { BackendKind, RecorderBackend, RecorderInfo, StartResult, StopResult } from './backend.js';
export { KubernetesBackend, type KubernetesBackendOptions } from './kubernetes-backend.js';
export { LocalBackend, type LocalBackendOptions } from './local-backend.js';
export {
  APP_NAME,
  buildRecorderDeployment,
  LABEL,
  MANAGED_BY,
  RECORDER_COMPONENT,
  recorderDeploymentName,
  recorderLabelSelector,
  SETTINGS_ANNOTATION,
  specOfDeployment,
  TERMINATION_GRACE_SECONDS,
} from './deployment.js';
export { FAILURE_STATUS, type ControlFailure, type FailureCode, type Outcome } from './outcome.js';
export { specFromRequest, type RecorderSpec, type Toleration } from './recorder-spec.js';
export { describeRequestError, recordOffSchema, recordOnSchema, type RecordOffRequest, type RecordOnRequest } from './request.js';
export { ALLOW_LIST_KEYS, checkRecordOnAllowed } from './device-policy.js';
export { FORWARDER_SERVICE_PORT, forwarderServiceName, forwarderStreamUrl, STREAM_PATH_KEY, streamUrlFromEdgeDevice } from './stream-url.js';
