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

/**
 * Measures message handlers, gateway handlers and GraphQL root fields. Nest reads interceptors
 * off the handler methods, which every app of the process shares, so there is one interceptor: it
 * records into the metrics of the app that bootstrapped last (set by `TransportMetricsExplorer`).
 * HTTP routes never get it: they keep Nest's interceptor-free fast path.
 */
export class TransportMetricsInterceptor implements NestInterceptor {
  rpc?: TransportFamily;
  ws?: TransportFamily;
  graphql?: TransportFamily;
  wsConnections?: WsConnectionMetrics;
  private readonly connections = new Map<string, { open: GaugeSeries; total: CounterSeries }>();

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const type = context.getType<string>();
    const family = type === 'rpc' ? this.rpc : type === 'ws' ? this.ws : type === 'graphql' ? this.graphql : undefined;
    if (family === undefined) return next.handle();
    const handler = context.getHandler();
    let series = family.cached(handler);
    if (series === undefined) series = family.resolve(handler, handlerLabels(type, handler, context.getClass()));
    return series === null ? next.handle() : measured(next.handle(), series);
  }

  /**
   * The series a handler's guard rejections count into (`null`: not measured), for
   * `countGuardRejections`: only handlers this interceptor measures (not `@DoNotTrack()`, not
   * excluded, not a GraphQL field resolver).
   */
  guardedSeries(type: 'rpc' | 'ws' | 'graphql', instance: object, handler: object): HandlerSeries | null {
    const family = this[type];
    if (family === undefined) return null;
    const series = family.cached(handler);
    if (series !== undefined) return series;
    const interceptors = Reflect.getMetadata(INTERCEPTORS_METADATA, handler) as unknown[] | undefined;
    if (interceptors?.includes(this) !== true) return family.skip(handler);
    return family.resolve(handler, handlerLabels(type, handler, instance.constructor));
  }

  /** A client connected to (`+1`) or disconnected from (`-1`) a gateway. */
  connection(gateway: string, change: 1 | -1): void {
    const metrics = this.wsConnections;
    if (metrics === undefined) return;
    let series = this.connections.get(gateway);
    if (series === undefined || series.open !== metrics.open.child([gateway])) {
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
