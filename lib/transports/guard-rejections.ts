import { type TryActivate, wrapGuardActivation } from '../compat/guards-consumer.js';
import type { HandlerSeries } from './handler-series.js';

/** Nest's guard runner, as `tryActivate` sees itself. */
type GuardsConsumer = ThisParameterType<TryActivate>;
import { transportMetricsOf } from './transport-metrics.interceptor.js';

/**
 * What Nest's context creators throw, out of our sight, when `tryActivate` resolves `false`: a
 * stand-in of the same class name per transport, for the `exception` label (the real classes live
 * in the optional transport packages, which the module never imports).
 */
const REFUSALS: Record<string, object> = {
  rpc: standIn('RpcException'),
  ws: standIn('WsException'),
  graphql: standIn('ForbiddenException'),
};

/**
 * Counts the calls of measured transport handlers that their guards turn away. Nest runs guards
 * before interceptors, so `TransportMetricsInterceptor` never sees these calls; every guard of every
 * context type runs through the one `GuardsConsumer.prototype.tryActivate` (only for handlers that
 * have guards). It is wrapped once per process: HTTP routes keep the original, behind one string
 * comparison, and stay interceptor-free; a measured rpc, ws or GraphQL handler's rejections count
 * as errors with the exception's class, as HTTP counts a 403. Calls its guards let through are
 * measured by the interceptor as before.
 *
 * @example
 * ```ts
 * // In TransportMetricsExplorer, once the app has transport metrics:
 * countGuardRejections();
 * ```
 */
export function countGuardRejections(): void {
  wrapGuardActivation(
    'nestjs-prom-metrics.guard-rejections',
    original =>
      function (this: GuardsConsumer, guards, args, instance, callback, type) {
        if (type !== 'rpc' && type !== 'ws' && type !== 'graphql') {
          return original.call(this, guards, args, instance, callback, type);
        }
        const series = seriesOf(type, instance, callback);
        return series === null
          ? original.call(this, guards, args, instance, callback, type)
          : activateMeasured(this, original, series, guards, args, instance, callback, type);
      },
  );
}

async function activateMeasured(
  consumer: GuardsConsumer,
  original: TryActivate,
  series: HandlerSeries,
  guards: unknown[],
  args: unknown[],
  instance: object,
  callback: (...args: unknown[]) => unknown,
  type: string,
): Promise<boolean> {
  const start = performance.now();
  let allowed: boolean;
  try {
    allowed = await original.call(consumer, guards, args, instance, callback, type);
  } catch (error) {
    count(series, start, error);
    throw error;
  }
  if (!allowed) count(series, start, REFUSALS[type]);
  return allowed;
}

// Counting must never change what Nest gets from the guards: their own exception, or `false`.

function seriesOf(type: 'rpc' | 'ws' | 'graphql', instance: object, callback: object): HandlerSeries | null {
  try {
    return transportMetricsOf(instance, instance.constructor)?.guardedSeries(type, instance, callback) ?? null;
  } catch {
    return null;
  }
}

function count(series: HandlerSeries, start: number, error: unknown): void {
  try {
    series.rejected(start, error);
  } catch {
    // Not counted: the call goes on as it would without metrics.
  }
}

/** An instance of an empty class called `name`. */
function standIn(name: string): object {
  // eslint-disable-next-line @typescript-eslint/no-extraneous-class -- only its name is read
  const type = { [name]: class {} }[name];
  return new type();
}
