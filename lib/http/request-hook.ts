type RequestHook<A, B> = (first: A, second: B, done: (error?: unknown) => void) => unknown;

/** What Nest's Express and Fastify adapters (11.1+) offer to run code at the start of each request. */
export interface RequestHookHost<A, B> {
  setOnRequestHook?(hook: RequestHook<A, B>): void;
  onRequestHook?: RequestHook<A, B>;
}

/**
 * Runs `start` first in the adapter's request hook, keeping a hook that is already set. Returns
 * false when the adapter has no request hook (NestJS 11.0).
 */
export function startInRequestHook<A, B>(
  adapter: RequestHookHost<A, B>,
  start: (first: A, second: B) => void,
): boolean {
  if (typeof adapter.setOnRequestHook !== 'function') return false;
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
