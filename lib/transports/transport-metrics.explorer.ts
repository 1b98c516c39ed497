import { Inject, Injectable } from '@nestjs/common';
import { MetadataScanner, ModulesContainer } from '@nestjs/core';
import { CardinalityGuard } from '../cardinality/cardinality-guard.js';
import { INTERCEPTORS_METADATA } from '../compat/nest-constants.js';
import { MethodMetricsExplorer } from '../method-metrics/method-metrics.explorer.js';
import { MetricFactory } from '../metrics/metric-factory.js';
import { DO_NOT_TRACK_METADATA, PROMETHEUS_OPTIONS } from '../prometheus.constants.js';
import type { ResolvedPrometheusOptions, ResolvedTransportOptions } from '../prometheus-options.js';
import { PrometheusService } from '../prometheus.service.js';
import { countGuardRejections } from './guard-rejections.js';
import { TransportFamily } from './transport-family.js';
import { transportMetricsInterceptor } from './transport-metrics.interceptor.js';
import {
  GRAPHQL_RESOLVE_PROPERTY_METADATA,
  GRAPHQL_RESOLVER_TYPE_METADATA,
  GRAPHQL_ROOT_TYPES,
  RPC_HANDLER_TYPE_METADATA,
  WS_GATEWAY_METADATA,
  WS_MESSAGE_METADATA,
} from './transport.constants.js';

type Transport = 'rpc' | 'ws' | 'graphql';
type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

interface FoundHandler {
  transport: Transport;
  type: AnyFunction;
  method: AnyFunction;
}

// Gateways already given the connection hooks (shared by every app).
const hookedGateways = new WeakSet();

/**
 * Default metrics of microservice handlers, WebSocket gateways and GraphQL root fields. Nest binds
 * gateways before `configure()` and reads all three kinds of handler off class prototypes, so the
 * work is done when this provider is created: after Nest scanned every module, before `app.init()`.
 */
@Injectable()
export class TransportMetricsExplorer {
  /** Whether the app has GraphQL resolvers (its HTTP endpoint is then a known route). */
  readonly hasGraphql: boolean = false;

  constructor(
    modules: ModulesContainer,
    scanner: MetadataScanner,
    prometheus: PrometheusService,
    guard: CardinalityGuard,
    methods: MethodMetricsExplorer,
    @Inject(PROMETHEUS_OPTIONS) options: ResolvedPrometheusOptions,
  ) {
    if (!options.enabled) return;
    const found = findHandlers(modules, scanner);
    const has = (t: Transport) => found.some(h => h.transport === t);
    this.hasGraphql = has('graphql');
    const factory = new MetricFactory(prometheus.registry, guard, 'PrometheusModule (transport metrics)');
    const interceptor = transportMetricsInterceptor;
    interceptor.rpc = has('rpc') && options.rpc ? rpcFamily(factory, options.rpc) : undefined;
    interceptor.ws = has('ws') && options.ws ? wsFamily(factory, options.ws) : undefined;
    interceptor.graphql = has('graphql') && options.graphql ? graphqlFamily(factory, options.graphql) : undefined;
    // Guards run before interceptors: their rejections are counted at the guards.
    if (interceptor.rpc || interceptor.ws || interceptor.graphql) countGuardRejections();
    interceptor.wsConnections =
      interceptor.ws && options.ws
        ? {
            open: factory.gauge(`${options.ws.prefix}ws_connections`, 'WebSocket connections open now', ['gateway']),
            // Not `ws_connections_total`: in OpenMetrics that counter's family is `ws_connections`, the gauge's name.
            total: factory.counter(`${options.ws.prefix}ws_connections_opened_total`, 'WebSocket connections opened', [
              'gateway',
            ]),
          }
        : undefined;

    for (const handler of found) {
      if (!options[handler.transport]) continue;
      const untracked =
        Reflect.getMetadata(DO_NOT_TRACK_METADATA, handler.method) === true ||
        Reflect.getMetadata(DO_NOT_TRACK_METADATA, handler.type) === true;
      const existing = (Reflect.getMetadata(INTERCEPTORS_METADATA, handler.method) as unknown[] | undefined) ?? [];
      if (!untracked && !existing.includes(interceptor)) {
        // First: it measures the whole call, the user's interceptors included.
        Reflect.defineMetadata(INTERCEPTORS_METADATA, [interceptor, ...existing], handler.method);
      }
      if (handler.transport === 'ws' && options.ws) hookConnections(handler.type);
    }
    // After the interceptor metadata: the wrappers copy the methods' metadata.
    for (const type of new Set(found.map(h => h.type))) methods.instrumentPrototype(type);
  }
}

function rpcFamily(factory: MetricFactory, o: ResolvedTransportOptions): TransportFamily {
  const p = o.prefix;
  return new TransportFamily(
    {
      requests: factory.counter(
        `${p}rpc_requests_total`,
        'Microservice messages and events handled, by pattern and outcome',
        ['pattern', 'kind', 'outcome'],
      ),
      duration: factory.histogram(
        `${p}rpc_request_duration_seconds`,
        'Time to handle a microservice message or event, in seconds',
        ['pattern', 'kind', 'outcome'],
        o.buckets,
      ),
      inProgress: factory.gauge(`${p}rpc_requests_in_progress`, 'Microservice messages and events being handled now', [
        'pattern',
      ]),
      exceptions: factory.counter(`${p}rpc_exceptions_total`, 'Microservice handlers that failed, by error class', [
        'pattern',
        'exception',
      ]),
    },
    o,
    0,
    1,
    1,
  );
}

function wsFamily(factory: MetricFactory, o: ResolvedTransportOptions): TransportFamily {
  const p = o.prefix;
  return new TransportFamily(
    {
      requests: factory.counter(`${p}ws_messages_total`, 'WebSocket messages handled, by gateway, event and outcome', [
        'gateway',
        'event',
        'outcome',
      ]),
      duration: factory.histogram(
        `${p}ws_message_duration_seconds`,
        'Time to handle a WebSocket message, in seconds',
        ['gateway', 'event', 'outcome'],
        o.buckets,
      ),
    },
    o,
    1,
    0,
    0,
  );
}

function graphqlFamily(factory: MetricFactory, o: ResolvedTransportOptions): TransportFamily {
  const p = o.prefix;
  return new TransportFamily(
    {
      requests: factory.counter(
        `${p}graphql_requests_total`,
        'GraphQL root fields resolved, by operation type and outcome',
        ['operation_type', 'field', 'outcome'],
      ),
      duration: factory.histogram(
        `${p}graphql_request_duration_seconds`,
        'Time to resolve a GraphQL root field, in seconds',
        ['operation_type', 'field', 'outcome'],
        o.buckets,
      ),
      exceptions: factory.counter(`${p}graphql_errors_total`, 'GraphQL root fields that failed, by error class', [
        'operation_type',
        'field',
        'exception',
      ]),
    },
    o,
    1,
    0,
    2,
  );
}

/** Counts a gateway's connections through the hooks Nest calls on it (adding them if it has none). */
function hookConnections(type: AnyFunction): void {
  const prototype = type.prototype as Record<string, unknown>;
  if (hookedGateways.has(prototype)) return;
  hookedGateways.add(prototype);
  const gateway = type.name;
  prototype.handleConnection = counting(prototype.handleConnection, gateway, 1);
  prototype.handleDisconnect = counting(prototype.handleDisconnect, gateway, -1);
}

const UNCOUNTED = Symbol('nestjs-prom-metrics:uncounted');
type CountingHook = AnyFunction & { [UNCOUNTED]?: AnyFunction };

/**
 * A connection hook that counts, then calls the gateway's own. A subclass of a gateway that was
 * hooked already inherits a counting hook: it wraps the gateway's own hook, so each connection
 * counts once, under the subclass.
 */
function counting(hook: unknown, gateway: string, change: 1 | -1): CountingHook {
  const inherited = hook as CountingHook | undefined;
  const own = inherited !== undefined && UNCOUNTED in inherited ? inherited[UNCOUNTED] : inherited;
  const wrapped: CountingHook = function (this: unknown, ...args: unknown[]) {
    transportMetricsInterceptor.connection(gateway, change);
    return own?.apply(this, args);
  };
  wrapped[UNCOUNTED] = own;
  return wrapped;
}

/** Message handlers, gateway handlers and GraphQL root fields of every class Nest scanned. */
function findHandlers(modules: ModulesContainer, scanner: MetadataScanner): FoundHandler[] {
  const found: FoundHandler[] = [];
  const seen = new Set<unknown>();
  for (const module of modules.values()) {
    for (const wrapper of [...module.controllers.values(), ...module.providers.values()]) {
      const type = wrapper.metatype as unknown;
      if (typeof type !== 'function' || seen.has(type) || !type.prototype) continue;
      seen.add(type);
      const prototype = type.prototype as Record<string, unknown>;
      const isGateway = Reflect.getMetadata(WS_GATEWAY_METADATA, type) === true;
      for (const name of scanner.getAllMethodNames(prototype)) {
        const method = prototype[name];
        if (typeof method !== 'function') continue;
        const transport = transportOf(method, isGateway);
        if (transport) found.push({ transport, type: type as AnyFunction, method: method as AnyFunction });
      }
    }
  }
  return found;
}

function transportOf(method: object, isGateway: boolean): Transport | undefined {
  if (Reflect.getMetadata(RPC_HANDLER_TYPE_METADATA, method) !== undefined) return 'rpc';
  if (isGateway && Reflect.getMetadata(WS_MESSAGE_METADATA, method) !== undefined) return 'ws';
  const root = Reflect.getMetadata(GRAPHQL_RESOLVER_TYPE_METADATA, method) as unknown;
  if (
    typeof root === 'string' &&
    root in GRAPHQL_ROOT_TYPES &&
    Reflect.getMetadata(GRAPHQL_RESOLVE_PROPERTY_METADATA, method) !== true
  ) {
    return 'graphql';
  }
  return undefined;
}
