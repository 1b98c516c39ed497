import { Catch, type ExceptionFilter } from '@nestjs/common';

/**
 * Nest hands every exception of a route (from guards, pipes, interceptors, the handler) to the
 * route's exception filters, and picks the first whose `@Catch()` types match with `instanceof`.
 * This type never matches; asking it records the exception, which the adapter's next
 * `isHeadersSent(response)` or `reply(response, ...)` (called right after, synchronously, by Nest's
 * exception layer or a filter) ties to that response. No cost at all on requests that succeed.
 */
// eslint-disable-next-line @typescript-eslint/no-extraneous-class -- only its `instanceof` behaviour is used
class ObservedException {
  static [Symbol.hasInstance](exception: unknown): boolean {
    pending = exception;
    if (!clearScheduled) {
      clearScheduled = true;
      queueMicrotask(clear);
    }
    return false;
  }
}

let pending: unknown;
let clearScheduled = false;
function clear(): void {
  pending = undefined;
  clearScheduled = false;
}

/** The exception Nest's exception layer is handling right now, if any (taken once). */
export function takeObservedException(): unknown {
  const exception = pending;
  pending = undefined;
  return exception;
}

/** A filter that never catches: it only lets the module see exceptions (see `ObservedException`). */
@Catch(ObservedException)
export class ExceptionObserver implements ExceptionFilter {
  catch(): void {}
}

export const exceptionObserver = new ExceptionObserver();
