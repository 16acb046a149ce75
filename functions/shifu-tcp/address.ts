import type { HostPort } from '../lib/index.js';

/** `host:port`, with IPv6 hosts in brackets so the port stays unambiguous. */
export function formatAddress({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
