// What request handlers share across connections.
import type { Logger } from '../lib/index.js';
import type { AccessPolicy } from './access.js';
import type { PathTable } from './paths.js';
import type { UdpPortPool } from '../lib/index.js';

export interface ServerContext {
  readonly paths: PathTable;
  readonly ports: UdpPortPool;
  readonly access: AccessPolicy;
  readonly log: Logger;
  /** How long DESCRIBE waits for a known path's publisher before answering 503. */
  readonly describeWaitMs: number;
}
