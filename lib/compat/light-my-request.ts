import type { ServerResponse } from 'node:http';

/**
 * Whether a response was written by Fastify's `inject()` (light-my-request), whose socket of its
 * own drains only after the response's `close`: there `writableFinished` never holds, so an
 * injected response that ended was sent whole, not aborted.
 *
 * Relies on: light-my-request marking its Response. Version 6 (Fastify 5: NestJS 11 and 12) sets
 * `isLightMyRequest = true`; version 5 (Fastify 4: NestJS 10) sets no such flag but always gives
 * the response its own `_lightMyRequest` state object (version 6 only does so for stream
 * payloads). Neither is documented. Breaks: test/fastify-inject (every status counted as 499) on
 * the line whose light-my-request changed, in `npm run test:matrix`.
 */
export function isInjectedResponse(res: ServerResponse): boolean {
  const marked = res as { isLightMyRequest?: unknown; _lightMyRequest?: unknown };
  return (
    marked.isLightMyRequest === true || (typeof marked._lightMyRequest === 'object' && marked._lightMyRequest !== null)
  );
}
