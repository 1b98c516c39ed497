// Node.js `http` behaviours that the default HTTP metrics rely on beyond its documented API. Each
// function says what it relies on, since which versions, and which test fails when it changes.
// `npm run test:matrix` runs those tests on Node.js 20, 22 and 24.
import type { ServerResponse } from 'node:http';

/**
 * The `Content-Length` a response was sent with, as a number: the header given in any form
 * (`setHeader()`, or an object or array of headers passed to `writeHead()`, which `getHeader()`
 * cannot see: how Fastify sends its replies), or the one Node added itself for a body sent in one
 * `end()`. `null` when the response was sent without one (chunked) or its headers were not sent;
 * `undefined` where Node keeps no such field. One field read, where `getHeader()` validates and
 * lowercases the name on every call.
 *
 * Relies on: Node's `OutgoingMessage` keeping `_contentLength`, `null` from its constructor and
 * set to the number in the `Content-Length` it sends when it stores the headers (for its
 * `strictContentLength` check). Node.js 20, 22 and 24. Breaks: node-http.spec.ts (the field is no
 * longer set; the sizes stay right where it is gone, by the `Content-Length` header instead).
 */
export function sentContentLength(res: ServerResponse): number | null | undefined {
  return (res as { _contentLength?: number | null })._contentLength;
}
