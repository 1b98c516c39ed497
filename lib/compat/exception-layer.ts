// How the module sees the exception a request ended with, without a global interceptor: these
// functions rely on how Nest's exception layer picks and calls exception filters, which is not
// Nest's public API. Each says what it relies on, since which versions, and which test fails when
// it changes. `npm run test:matrix` runs those tests on NestJS 10.4, 11.0, 11.x and 12.
import { HttpException, type ArgumentsHost, type Type } from '@nestjs/common';
import { ExceptionsHandler } from '@nestjs/core/exceptions/exceptions-handler.js';
import { FILTER_CATCH_EXCEPTIONS } from './nest-constants.js';

/**
 * The filters given to `app.useGlobalFilters()`.
 *
 * Relies on: `moduleRef.container.applicationConfig.getGlobalFilters()` (private members of
 * Nest's ModuleRef and NestContainer, NestJS 8 to 12). Breaks: test/faults (an exception that a
 * global filter instance answers loses its class in http_exceptions_total).
 */
export function globalExceptionFilters(moduleRef: object): unknown[] {
  const container = (moduleRef as { container?: { applicationConfig?: { getGlobalFilters?(): unknown[] } } }).container;
  const filters = container?.applicationConfig?.getGlobalFilters?.();
  return Array.isArray(filters) ? filters : [];
}

/** The adapter methods Nest's exception layer calls right after choosing a filter. */
export interface RepliesObserved<R> {
  isHeadersSent(response: R): boolean;
  reply(response: R, body: unknown, statusCode?: number): unknown;
}

/**
 * Calls `observe(response)` before the adapter's `isHeadersSent` and `reply`.
 *
 * Relies on: Nest's BaseExceptionFilter (and users' filters extending it) calling
 * `httpAdapter.isHeadersSent(response)` then `reply(response, ...)` synchronously right after
 * the filter was chosen (NestJS 8 to 12). Breaks: test/faults and test/http-metrics (the
 * `exception` label of http_exceptions_total).
 */
export function observeAdapterReplies<R>(adapter: RepliesObserved<R>, observe: (response: R) => void): void {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be called with .call() on its own object
  const { isHeadersSent, reply } = adapter;
  adapter.isHeadersSent = function (this: unknown, response) {
    observe(response);
    return isHeadersSent.call(this, response);
  };
  // Every response passes here: named parameters, not a rest array and a spread call.
  adapter.reply = function (this: unknown, response, body, statusCode) {
    observe(response);
    return reply.call(this, response, body, statusCode);
  };
}

/**
 * Whether Nest's exception layer, handed an exception, consults the given filter's `@Catch()`
 * types with `instanceof`, as the module's exception observer needs: runs Nest's own
 * `ExceptionsHandler` once, with that filter and an adapter that writes nothing. Returns a
 * description of what went wrong, or undefined when the observer saw the exception.
 *
 * Relies on: `ExceptionsHandler.setCustomFilters([{ exceptionMetatypes, func }])` and
 * `next(exception, host)` selecting the first filter whose types match with `instanceof`
 * (`selectExceptionFilterMetadata`, NestJS 8 to 12). Breaks: test/compat (the self-check tests).
 */
export function probeFilterSelection(filter: object, takeObserved: () => unknown): string | undefined {
  const types = Reflect.getMetadata(FILTER_CATCH_EXCEPTIONS, filter.constructor) as unknown;
  if (!Array.isArray(types) || types.length === 0) {
    return `@Catch() metadata "${FILTER_CATCH_EXCEPTIONS}" not found on the observer`;
  }
  takeObserved();
  const probe = new HttpException('nestjs-prom-metrics self-check', 418);
  // An adapter that writes nothing: the base filter answers the probe after no filter caught it.
  const silent = { isHeadersSent: () => true, reply: () => undefined, end: () => undefined, status: () => undefined };
  const args = [{}, {}, () => undefined];
  const host = {
    getArgs: () => args,
    getArgByIndex: (index: number) => args[index],
    getType: () => 'http',
    switchToHttp: () => ({ getRequest: () => args[0], getResponse: () => args[1], getNext: () => args[2] }),
    switchToRpc: () => ({ getData: () => undefined, getContext: () => undefined }),
    switchToWs: () => ({ getData: () => undefined, getClient: () => undefined, getPattern: () => '' }),
  } as unknown as ArgumentsHost;
  try {
    const handler = new ExceptionsHandler(silent as never);
    handler.setCustomFilters([{ exceptionMetatypes: types as Type[], func: () => undefined }]);
    handler.next(probe, host);
  } catch (error) {
    return `probing it threw: ${describeError(error)}`;
  }
  return takeObserved() === probe ? undefined : 'an exception reached no instanceof check of its @Catch() types';
}

function describeError(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return 'an error that cannot be described';
  }
}
