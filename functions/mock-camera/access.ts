// Who may do what: the configured camera account for clients, a per-start account for the built-in publishers.
import { Authenticator, type Account } from './auth.js';
import { header, type RtspRequest, type RtspResponse } from '../lib/index.js';

export type Role = 'client' | 'publisher';

export class AccessPolicy {
  constructor(
    private readonly authenticator: Authenticator,
    /** The camera account; undefined: clients need no credentials. */
    private readonly client: Account | undefined,
    /** The test-pattern publishers' account: only it may publish the configured paths. */
    private readonly publisher: Account,
  ) {}

  get clientAuthRequired(): boolean {
    return this.client !== undefined;
  }

  allows(request: RtspRequest, role: Role): boolean {
    if (role === 'client' && this.client === undefined) return true;
    const accounts = role === 'client' && this.client ? [this.client, this.publisher] : [this.publisher];
    return this.authenticator.verify(request.method, header(request, 'authorization'), accounts) !== undefined;
  }

  /** The 401 that tells the client which schemes to retry with. */
  challenge(): RtspResponse {
    return { status: 401, headers: this.authenticator.challenges().map((c) => ['WWW-Authenticate', c] as const) };
  }
}
