type RequestHook<A, B> = (first: A, second: B, done: (error?: unknown) => void) => unknown;

/** What Nest's Express and Fastify adapters (11.1+) offer to run code at the start of each request. */
export interface RequestHookHost<A, B> {
  setOnRequestHook?(hook: RequestHook<A, B>): void;
  onRequestHook?: RequestHook<A, B>;
}

/**
 * Whether the adapter has a request hook slot.
 *
 * Relies on: `setOnRequestHook(hook)` and the `onRequestHook` property of Nest's ExpressAdapter
 * and FastifyAdapter: not documented; present since @nestjs/platform-express and
 * @nestjs/platform-fastify 11.1, absent in 10.x and 11.0.x (the module falls back, see
 * express-router.ts and fastify-server.ts). Nest runs the hook first of all on Express (its first
 * middleware) and as the first `onRequest` hook on Fastify.
 */
export function hasRequestHookSlot(adapter: { setOnRequestHook?: unknown }): boolean {
  return typeof adapter.setOnRequestHook === 'function';
}

/**
 * Runs `start` first in the adapter's request hook, keeping a hook that is already set. Returns
 * false when the adapter has no request hook (NestJS 10 and 11.0).
 *
 * Relies on: see `hasRequestHookSlot`; also that `onRequestHook` holds the hook set before (to
 * chain it). Breaks: test/http-metrics (durations, body-parser 400s on Express), test/compat
 * and its self-check test (a deleted slot).
 */
export function startInRequestHook<A, B>(
  adapter: RequestHookHost<A, B>,
  start: (first: A, second: B) => void,
): boolean {
  if (!hasRequestHookSlot(adapter) || adapter.setOnRequestHook === undefined) return false;
  const previous = adapter.onRequestHook;
  adapter.setOnRequestHook(
    previous
      ? function (this: unknown, first, second, done) {
          start(first, second);
          return previous.call(this, first, second, done);
        }
      : (first, second, done) => {
          start(first, second);
          done();
        },
  );
  return true;
}
