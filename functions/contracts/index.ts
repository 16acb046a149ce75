// Contracts: what one module writes and others read (the volume's layout and names, the journal, a segment, the
// recorder's environment and status, the EdgeDevice, the timeline). Each is a schema or a type with no
// implementation behind it, so a reader loads this floor and never the module that writes.
export * from './containers.js';
export * from './volume.js';
export * from './bucket.js';
export * from './segment.js';
export * from './journal.js';
export * from './camera.js';
export * from './recorder-env.js';
export * from './recorder-status.js';
export * from './edgedevice.js';
export * from './live-port.js';
export * from './timeline.js';
export * from './events.js';
export { parseJsonLines } from './json-lines.js';
