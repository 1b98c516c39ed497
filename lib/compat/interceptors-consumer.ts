import type { ExecutionContext } from '@nestjs/common';
import { InterceptorsConsumer } from '@nestjs/core/interceptors/interceptors-consumer.js';

// `Symbol.for`: the same key in the ESM and the CommonJS build, should a process load both.
const HANDLER_INSTANCE = Symbol.for('nestjs-prom-metrics.handler-instance');
const EXPOSING = Symbol.for('nestjs-prom-metrics.exposes-handler-instance');

type CreateContext = ((args: unknown[], instance: object, callback: unknown) => ExecutionContext) & {
  [EXPOSING]?: true;
};

/**
 * Makes the instance whose handler an interceptor runs for readable from its `ExecutionContext`
 * (`handlerInstanceOf`), process-wide, once. Nest hands interceptors the handler's class and
 * method only, both shared by every app of the process; the instance tells which app's metrics a
 * microservice, gateway or GraphQL call belongs to.
 *
 * Relies on: `InterceptorsConsumer.prototype.createContext(args, instance, callback)` of
 * `@nestjs/core/interceptors/interceptors-consumer.js` building the context of every intercepted
 * call (called only for handlers that have interceptors; HTTP routes without any never reach it);
 * a deep import, not public API. Same shape in NestJS 10.4, 11.0, 11.2 and 12.5
 * (`npm run test:matrix`). Breaks: test/two-apps (each app counts its own transport calls).
 * Returns whether it is in place (the self-check warns when not).
 */
export function exposeHandlerInstances(): boolean {
  const prototype = InterceptorsConsumer.prototype as unknown as { createContext?: CreateContext };
  const original = prototype.createContext;
  if (typeof original !== 'function') return false;
  if (original[EXPOSING]) return true;
  const exposing: CreateContext = function (this: unknown, args, instance, callback) {
    const context = original.call(this, args, instance, callback);
    (context as unknown as Record<symbol, unknown>)[HANDLER_INSTANCE] = instance;
    return context;
  };
  exposing[EXPOSING] = true;
  prototype.createContext = exposing;
  return true;
}

/** The instance whose handler runs, when `exposeHandlerInstances()` is in place. */
export function handlerInstanceOf(context: ExecutionContext): object | undefined {
  return (context as unknown as Record<symbol, object | undefined>)[HANDLER_INSTANCE];
}
