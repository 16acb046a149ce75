import { createRequire } from 'node:module';

/**
 * node:http (and node:https on demand), loaded with require rather than import. An ESM import reads every
 * export, and the lazy `WebSocket` export loads Node's bundled undici (~3 MiB of RSS in a recorder) that a
 * plain HTTP server or client never uses; https adds TLS (~4 MiB) that an http:// sink does not need.
 * One recorder runs per camera, so that multiplies.
 */
const require = createRequire(import.meta.url);
export const http = require('node:http') as typeof import('node:http');

/** The request function for a URL's scheme (http: or https:). */
export function requestFor(url: URL): typeof http.request {
  if (url.protocol === 'https:') return (require('node:https') as typeof import('node:https')).request;
  return http.request;
}
