/**
 * A one-line description of anything thrown, for a log line. It never throws itself: user code
 * can throw values that cannot be turned into a string (`Object.create(null)`, an object whose
 * `message` getter or `toString` throws, a revoked Proxy), and a warning about a failure must not
 * become a second, fatal failure (in a response's `close` listener, a scrape, a timer).
 *
 * @example
 * try {
 *   callback();
 * } catch (error) {
 *   logger.warn(`http.observe threw: ${describeError(error)}`);
 * }
 */
export function describeError(err: unknown): string {
  try {
    if (err instanceof Error) {
      const message: unknown = err.message;
      return typeof message === 'string' && message !== '' ? message : String(err.name);
    }
    if (typeof err === 'object' && err !== null) {
      const message: unknown = (err as { message?: unknown }).message;
      if (typeof message === 'string') return message;
    }
    return String(err);
  } catch {
    // Whatever it is, it refuses to be described: say so rather than throw.
    return 'a value that cannot be described';
  }
}
