import { isObservable, Observable } from 'rxjs';
import { MethodCall, type MethodMetrics } from './method-call.js';
import { requestContext } from './request-context.js';

type AnyMethod = (this: unknown, ...args: unknown[]) => unknown;

/**
 * The metrics a wrapper records into. A wrapper on a prototype is shared by every app of the
 * process: each app binds its own instances to its metrics (`bindMethodMetrics`), and `current`
 * (the app that instrumented the prototype last) serves instances no app knows (request-scoped).
 */
export interface MetricsRef {
  current: MethodMetrics;
}

// `Symbol.for`: the same keys in the ESM and the CommonJS build, should a process load both.
const REF = Symbol.for('nestjs-prom-metrics.metrics-ref');
const BOUND = Symbol.for('nestjs-prom-metrics.method-metrics');

type Bindings = ReadonlyMap<MetricsRef, MethodMetrics>;

/** The metrics reference of a function `instrumentMethod` returned, if it is one. */
export function metricsRefOf(method: unknown): MetricsRef | undefined {
  return typeof method === 'function' ? (method as unknown as Record<symbol, MetricsRef | undefined>)[REF] : undefined;
}

/** Makes the prototype wrappers called on `instance` record into this app's `bindings`. */
export function bindMethodMetrics(instance: object, bindings: Bindings): void {
  Object.defineProperty(instance, BOUND, { value: bindings, configurable: true, writable: true });
}

function metricsFor(instance: unknown, ref: MetricsRef): MethodMetrics {
  if (typeof instance !== 'object' || instance === null) return ref.current;
  return (instance as Record<symbol, Bindings | undefined>)[BOUND]?.get(ref) ?? ref.current;
}

/**
 * Wraps a method so each call is measured until it ends: a return or a throw, a native Promise
 * that settles, or (per subscription) an Observable (not a Subject) that completes, errors or is unsubscribed.
 * Errors are re-thrown unchanged; `this` and arguments are passed through.
 */
export function instrumentMethod(original: AnyMethod, ref: MetricsRef, shared: boolean): AnyMethod {
  const wrapped = function (this: unknown, ...args: unknown[]): unknown {
    const request = requestContext.getStore();
    // A wrapper on an instance is that instance's app's; one on a prototype asks the instance.
    const metrics = shared ? metricsFor(this, ref) : ref.current;
    const call = new MethodCall(this, args, request, metrics);
    let result: unknown;
    try {
      result = original.apply(this, args);
    } catch (error) {
      call.fail(error);
      throw error;
    }
    if (result instanceof Promise) {
      return result.then(
        (value: unknown) => {
          call.succeed(value);
          return value;
        },
        (error: unknown) => {
          call.fail(error);
          throw error;
        },
      );
    }
    // An Observable is measured per subscription; a Subject is state the caller keeps using
    // (`next`, `value`), so it is returned as it is and the call ends here.
    if (isObservable(result) && typeof (result as { next?: unknown }).next !== 'function') {
      call.handOver();
      return measureSubscriptions(result, this, args, request, metrics);
    }
    call.succeed(result);
    return result;
  };
  // Nest and other libraries read route, guard and documentation metadata off the method.
  for (const key of Reflect.getMetadataKeys(original)) {
    Reflect.defineMetadata(key, Reflect.getMetadata(key, original), wrapped);
  }
  Object.defineProperty(wrapped, 'name', { value: original.name, configurable: true });
  Object.defineProperty(wrapped, 'length', { value: original.length, configurable: true });
  Object.defineProperty(wrapped, REF, { value: ref });
  return wrapped;
}

function measureSubscriptions(
  source: Observable<unknown>,
  instance: unknown,
  args: unknown[],
  request: unknown,
  metrics: MethodMetrics,
): Observable<unknown> {
  return new Observable(subscriber => {
    const call = new MethodCall(instance, args, request, metrics);
    let last: unknown;
    const subscription = source.subscribe({
      next: value => {
        last = value;
        subscriber.next(value);
      },
      error: (error: unknown) => {
        call.fail(error);
        subscriber.error(error);
      },
      complete: () => {
        call.succeed(last);
        subscriber.complete();
      },
    });
    return () => {
      subscription.unsubscribe();
      call.succeed(last);
    };
  });
}
