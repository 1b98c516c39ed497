import { handlerInstanceOf } from '../compat/interceptors-consumer.js';
import { INTERCEPTORS_METADATA } from '../compat/nest-constants.js';
import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import { Observable } from 'rxjs';
import type { CounterSeries, CounterFamily } from '../core/counter-family.js';
import type { GaugeSeries, GaugeFamily } from '../core/gauge-family.js';
import type { HandlerSeries } from './handler-series.js';
import type { TransportFamily } from './transport-family.js';
import {
  GRAPHQL_RESOLVER_NAME_METADATA,
  GRAPHQL_RESOLVER_TYPE_METADATA,
  GRAPHQL_ROOT_TYPES,
  RPC_EVENT_HANDLER,
  RPC_HANDLER_TYPE_METADATA,
  RPC_PATTERN_METADATA,
  WS_MESSAGE_METADATA,
} from './transport.constants.js';

export interface WsConnectionMetrics {
  open: GaugeFamily;
  total: CounterFamily;
}

export type TransportType = 'rpc' | 'ws' | 'graphql';

// `Symbol.for`: the same key in the ESM and the CommonJS build, should a process load both.
const TRANSPORT_METRICS = Symbol.for('nestjs-prom-metrics.transport-metrics');

/**
 * One app's transport metrics: the families of its transports and the series of its gateways'
 * connections. Bound to the app's handler instances (`bindTransportMetrics`), where the
 * process-wide interceptor finds them.
 */
export class TransportMetrics {
  private readonly connections = new Map<string, { open: GaugeSeries; total: CounterSeries }>();

  constructor(
    readonly rpc: TransportFamily | undefined,
    readonly ws: TransportFamily | undefined,
    readonly graphql: TransportFamily | undefined,
    private readonly wsConnections: WsConnectionMetrics | undefined,
  ) {}

  family(type: string): TransportFamily | undefined {
    return type === 'rpc' ? this.rpc : type === 'ws' ? this.ws : type === 'graphql' ? this.graphql : undefined;
  }

  /**
   * The series a handler's guard rejections count into (`null`: not measured), for
   * `countGuardRejections`: only handlers the interceptor measures (not `@DoNotTrack()`, not
   * excluded, not a GraphQL field resolver).
   */
  guardedSeries(type: TransportType, instance: object, handler: object): HandlerSeries | null {
    const family = this[type];
    if (family === undefined) return null;
    const series = family.cached(handler);
    if (series !== undefined) return series;
    const interceptors = Reflect.getMetadata(INTERCEPTORS_METADATA, handler) as unknown[] | undefined;
    if (interceptors?.includes(transportMetricsInterceptor) !== true) return family.skip(handler);
    return family.resolve(handler, handlerLabels(type, handler, instance.constructor));
  }

  /** A client connected to (`+1`) or disconnected from (`-1`) a gateway. */
  connection(gateway: string, change: 1 | -1): void {
    const metrics = this.wsConnections;
    if (metrics === undefined) return;
    let series = this.connections.get(gateway);
    if (series === undefined) {
      series = { open: metrics.open.child([gateway]), total: metrics.total.child([gateway]) };
      this.connections.set(gateway, series);
    }
    if (change === 1) {
      series.open.inc();
      series.total.inc();
    } else {
      series.open.dec();
    }
  }
}

/**
 * Makes `target` (a handler instance, or a handler class as the fallback for instances the app
 * does not know, such as request-scoped ones) record into `metrics`. A property of the target,
 * not a map at module scope: every app binds its own instances, and nothing outlives them.
 */
export function bindTransportMetrics(target: object, metrics: TransportMetrics): void {
  Object.defineProperty(target, TRANSPORT_METRICS, { value: metrics, configurable: true, writable: true });
}

/** The metrics of the app that `instance` (or else `type`) belongs to. */
export function transportMetricsOf(
  instance: object | undefined,
  type: object | undefined,
): TransportMetrics | undefined {
  return (
    (instance as Record<symbol, TransportMetrics | undefined> | undefined)?.[TRANSPORT_METRICS] ??
    (type as Record<symbol, TransportMetrics | undefined> | undefined)?.[TRANSPORT_METRICS]
  );
}

/**
 * Measures message handlers, gateway handlers and GraphQL root fields. Nest reads interceptors
 * off the handler methods, which every app of the process shares, so there is one interceptor and
 * it holds nothing: it records into the metrics of the app the handler's instance belongs to
 * (`handlerInstanceOf`, bound by each app's `TransportMetricsExplorer`). HTTP routes never get it:
 * they keep Nest's interceptor-free fast path.
 */
export class TransportMetricsInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const type = context.getType<string>();
    const family = transportMetricsOf(handlerInstanceOf(context), context.getClass())?.family(type);
    if (family === undefined) return next.handle();
    const handler = context.getHandler();
    let series = family.cached(handler);
    if (series === undefined) series = family.resolve(handler, handlerLabels(type, handler, context.getClass()));
    return series === null ? next.handle() : measured(next.handle(), series);
  }
}

export const transportMetricsInterceptor = new TransportMetricsInterceptor();

/** Each subscription is one call: it ends when the handler's result completes or errors, or is dropped. */
function measured(source: Observable<unknown>, series: HandlerSeries): Observable<unknown> {
  return new Observable(subscriber => {
    const start = series.start();
    let ended = false;
    const end = (failed: boolean, error?: unknown) => {
      if (ended) return;
      ended = true;
      series.end(start, failed, error);
    };
    const subscription = source.subscribe({
      next: value => subscriber.next(value),
      error: (error: unknown) => {
        end(true, error);
        subscriber.error(error);
      },
      complete: () => {
        end(false);
        subscriber.complete();
      },
    });
    return () => {
      subscription.unsubscribe();
      end(false);
    };
  });
}

function handlerLabels(type: string, handler: object, classRef: { name: string }): string[] {
  if (type === 'rpc') {
    const kind = Reflect.getMetadata(RPC_HANDLER_TYPE_METADATA, handler) === RPC_EVENT_HANDLER ? 'event' : 'message';
    return [patternLabel(Reflect.getMetadata(RPC_PATTERN_METADATA, handler)), kind];
  }
  if (type === 'ws') {
    return [classRef.name, String(Reflect.getMetadata(WS_MESSAGE_METADATA, handler))];
  }
  const root = GRAPHQL_ROOT_TYPES[String(Reflect.getMetadata(GRAPHQL_RESOLVER_TYPE_METADATA, handler))] ?? 'query';
  const name: unknown = Reflect.getMetadata(GRAPHQL_RESOLVER_NAME_METADATA, handler);
  return [root, typeof name === 'string' && name !== '' ? name : (handler as { name: string }).name];
}

/** The handler's declared pattern(s): a string as it is, an object as JSON with sorted keys. */
export function patternLabel(patterns: unknown): string {
  const list = Array.isArray(patterns) ? patterns : [patterns];
  return list.map(p => (typeof p === 'string' ? p : stableJson(p))).join(',');
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .map(k => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}
