import { Inject, Injectable, Logger } from '@nestjs/common';
import { MetadataScanner, ModuleRef, ModulesContainer } from '@nestjs/core';
import { CardinalityGuard } from '../core/cardinality-guard.js';
import { INTERCEPTORS_METADATA } from '../compat/nest-constants.js';
import { FamilyFactory } from '../core/family-factory.js';
import { DO_NOT_TRACK_METADATA } from '../decorators/decorator.constants.js';
import { PROMETHEUS_OPTIONS } from '../runtime/runtime.constants.js';
import type { ResolvedPrometheusOptions, ResolvedTransportOptions } from '../interfaces/resolved-options.interface.js';
import { PrometheusRuntime } from '../runtime/prometheus-runtime.js';
import { PrometheusService } from '../runtime/prometheus.service.js';
import { countGuardRejections } from './guard-rejections.js';
import { TransportFamily } from './transport-family.js';
import {
  bindTransportMetrics,
  TransportMetrics,
  transportMetricsInterceptor,
  transportMetricsOf,
} from './transport-metrics.interceptor.js';
import { exposeHandlerInstances } from '../compat/interceptors-consumer.js';
import {
  GRAPHQL_MODULE_OPTIONS,
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

// Marks a gateway prototype given the connection hooks (prototypes are shared by every app).
const HOOKED = Symbol.for('nestjs-prom-metrics.connection-hooks');

/**
 * Default metrics of microservice handlers, WebSocket gateways and GraphQL root fields. Nest binds
 * gateways before `configure()` and reads all three kinds of handler off class prototypes, so the
 * work is done when this provider is created: after Nest scanned every module, before `app.init()`.
 */
@Injectable()
export class TransportMetricsExplorer {
  constructor(
    modules: ModulesContainer,
    scanner: MetadataScanner,
    prometheus: PrometheusService,
    guard: CardinalityGuard,
    runtime: PrometheusRuntime,
    moduleRef: ModuleRef,
    @Inject(PROMETHEUS_OPTIONS) options: ResolvedPrometheusOptions,
  ) {
    if (!options.enabled) return;
    const found = findHandlers(modules, scanner);
    const has = (t: Transport) => found.some(h => h.transport === t);
    // The GraphQL driver serves its endpoint outside Nest's router: the HTTP metrics must know it.
    if (has('graphql')) runtime.addExternalRoute(graphqlPath(moduleRef));
    const factory = new FamilyFactory(prometheus.registry, guard, 'PrometheusModule (transport metrics)');
    const rpc = has('rpc') && options.rpc ? rpcFamily(factory, options.rpc) : undefined;
    const ws = has('ws') && options.ws ? wsFamily(factory, options.ws) : undefined;
    const graphql = has('graphql') && options.graphql ? graphqlFamily(factory, options.graphql) : undefined;
    const metrics = new TransportMetrics(
      rpc,
      ws,
      graphql,
      ws && options.ws
        ? {
            open: factory.gauge(`${options.ws.prefix}ws_connections`, 'WebSocket connections open now', ['gateway']),
            // Not `ws_connections_total`: in OpenMetrics that counter's family is `ws_connections`, the gauge's name.
            total: factory.counter(`${options.ws.prefix}ws_connections_opened_total`, 'WebSocket connections opened', [
              'gateway',
            ]),
          }
        : undefined,
    );
    const interceptor = transportMetricsInterceptor;
    if (rpc || ws || graphql) {
      // Guards run before interceptors: their rejections are counted at the guards.
      countGuardRejections();
      const handlerTypes = new Set(found.map(h => h.type));
      // Every instance exists by then; calls come later (after init, or listen for microservices).
      runtime.at('afterRoutes', 'transports: bind the handlers to this app', () => {
        if (!exposeHandlerInstances()) {
          new Logger('PrometheusModule').warn(
            'this NestJS version does not build interceptor contexts through InterceptorsConsumer.createContext: ' +
              'with two apps in one process, microservice, WebSocket and GraphQL calls are counted by the app ' +
              'that bootstrapped last. Please report it with your @nestjs/core version.',
          );
        }
        bindHandlers(modules, handlerTypes, metrics);
      });
    }

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
    // After the interceptor metadata: the wrappers of method decorators copy the methods' metadata.
    for (const type of new Set(found.map(h => h.type))) runtime.addHandlerClass(type);
  }
}

/** The GraphQL module's endpoint (its `path` option, `/graphql` by default). */
function graphqlPath(moduleRef: ModuleRef): string {
  let path: unknown;
  try {
    path = moduleRef.get<unknown, { path?: unknown } | undefined>(GRAPHQL_MODULE_OPTIONS, { strict: false })?.path;
  } catch {
    // No GraphQL module options: the driver's default path.
  }
  return typeof path === 'string' && path !== '' ? (path.startsWith('/') ? path : `/${path}`) : '/graphql';
}

function rpcFamily(factory: FamilyFactory, o: ResolvedTransportOptions): TransportFamily {
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
        o.nativeHistograms,
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
    // pattern, kind
    { excludeBy: 0, inProgressLabels: 1, exceptionLabels: 1 },
  );
}

function wsFamily(factory: FamilyFactory, o: ResolvedTransportOptions): TransportFamily {
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
        o.nativeHistograms,
      ),
    },
    o,
    // gateway, event
    { excludeBy: 1, inProgressLabels: 0, exceptionLabels: 0 },
  );
}

function graphqlFamily(factory: FamilyFactory, o: ResolvedTransportOptions): TransportFamily {
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
        o.nativeHistograms,
      ),
      exceptions: factory.counter(`${p}graphql_errors_total`, 'GraphQL root fields that failed, by error class', [
        'operation_type',
        'field',
        'exception',
      ]),
    },
    o,
    // operation_type, field
    { excludeBy: 1, inProgressLabels: 0, exceptionLabels: 2 },
  );
}

/** Counts a gateway's connections through the hooks Nest calls on it (adding them if it has none). */
function hookConnections(type: AnyFunction): void {
  const prototype = type.prototype as Record<string | symbol, unknown>;
  if (Object.prototype.hasOwnProperty.call(prototype, HOOKED)) return;
  Object.defineProperty(prototype, HOOKED, { value: true });
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
    transportMetricsOf(this as object, (this as object | undefined)?.constructor)?.connection(gateway, change);
    return own?.apply(this, args);
  };
  wrapped[UNCOUNTED] = own;
  return wrapped;
}

/**
 * Binds the app's metrics to the instances of its handler classes (static and transient ones), and
 * to the classes themselves for instances it cannot know (request-scoped, or when the handler
 * instance is not exposed: the app that bootstrapped last then counts them).
 */
function bindHandlers(modules: ModulesContainer, types: ReadonlySet<AnyFunction>, metrics: TransportMetrics): void {
  for (const type of types) bindTransportMetrics(type, metrics);
  for (const module of modules.values()) {
    for (const wrapper of [...module.controllers.values(), ...module.providers.values()]) {
      if (!types.has(wrapper.metatype as AnyFunction)) continue;
      const instances: unknown[] = wrapper.isTransient
        ? wrapper.getStaticTransientInstances().map(i => i?.instance)
        : [wrapper.instance];
      for (const instance of instances) {
        if (instance && typeof instance === 'object') bindTransportMetrics(instance, metrics);
      }
    }
  }
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
