import { Inject, Injectable, Logger } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { INTERCEPTORS_METADATA, METHOD_METADATA, type InstanceWrapper } from '../compat/nest-constants.js';
import type { Counter, Gauge, Histogram } from 'prom-client';
import { declarationsNamed, declarationsOf, type MetricDeclaration } from '../decorators/metric-declarations.js';
import type { CounterDecoratorOptions } from '../interfaces/index.js';
import { annotation } from '../core/annotation.js';
import { markInProgressGauge } from '../core/in-progress-gauges.js';
import { findOrCreatePromMetric, type PromMetric } from '../core/prom-metrics.js';
import { CardinalityGuard } from '../core/cardinality-guard.js';
import { PrometheusRuntime } from '../runtime/prometheus-runtime.js';
import { PrometheusService } from '../runtime/prometheus.service.js';
import { PROMETHEUS_OPTIONS } from '../runtime/runtime.constants.js';
import type { ResolvedPrometheusOptions } from '../interfaces/resolved-options.interface.js';
import { bindMethodMetrics, instrumentMethod, type MetricsRef, metricsRefOf } from './instrument-method.js';
import type { MethodMetrics } from './method-call.js';
import { MethodMetric } from './method-metric.js';
import { requestContextInterceptor } from './request-context.interceptor.js';

type AnyMethod = (this: unknown, ...args: unknown[]) => unknown;

// Static label sets of a metric already started at 0, so a second app in the process does not reset them.
const started = annotation<Set<string>>('started-label-sets');

/**
 * Finds the methods that carry metric decorators, on controllers and providers, and replaces each
 * on its instance with a measured wrapper: once, at bootstrap. Controllers are instrumented before
 * Nest registers routes (see `PrometheusModule.configure`), providers at the latest in
 * `onModuleInit`. Calls from inside the class go through the wrapper too (`this.method()`).
 * Route handlers whose labels are functions get an interceptor that provides `ctx.request`;
 * others pay nothing per request beyond the metrics themselves.
 */
@Injectable()
export class MethodMetricsExplorer {
  private readonly logger = new Logger('PrometheusModule');
  private readonly instrumented = new WeakSet();
  /** This app's metrics of the wrappers on prototypes (shared by every app), per prototype. */
  private readonly prototypeBindings = new Map<object, Map<MetricsRef, MethodMetrics>>();
  private readonly instanceBindings = new WeakMap<object, Map<MetricsRef, MethodMetrics>>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly prometheus: PrometheusService,
    private readonly cardinality: CardinalityGuard,
    @Inject(PROMETHEUS_OPTIONS) private readonly options: ResolvedPrometheusOptions,
    runtime: PrometheusRuntime,
  ) {
    // Controllers before Nest registers the routes, which capture the handler methods.
    runtime.at('beforeRoutes', 'methods: instrument decorated methods', () => this.explore());
    runtime.onHandlerClass(type => this.instrumentPrototype(type));
    runtime.at('afterRoutes', 'methods: bind instances of shared classes to this app', () => this.bindInstances());
  }

  private explore(): void {
    // `enabled: false`: decorated methods stay as they are.
    if (!this.options.enabled) return;
    for (const wrapper of this.discovery.getControllers()) this.instrumentWrapper(wrapper, true);
    for (const wrapper of this.discovery.getProviders()) this.instrumentWrapper(wrapper, false);
  }

  /**
   * The metric decorators declare under `name`, for `@InjectMetric(name)`. Declarations are
   * collected when classes are defined, so every app of the process sees those of other apps'
   * classes: the declaration of a class of this app wins; otherwise a name declared one way only
   * is created, and a name declared several ways by classes outside the app is left out.
   */
  declaredMetric(name: string): PromMetric | undefined {
    const candidates = declarationsNamed(name);
    const inApp = this.appClasses();
    const own = candidates.find(d => d.owner !== undefined && inApp.has(d.owner));
    if (own) return this.methodMetric(own, own.declaredAt ?? name).metric;
    const shapes = new Set(candidates.map(d => JSON.stringify([d.type, Object.keys(d.options.labels ?? {}).sort()])));
    if (shapes.size !== 1) return undefined;
    try {
      return this.methodMetric(candidates[0], candidates[0].declaredAt ?? name).metric;
    } catch {
      // Declared by a class outside this app, and invalid: that app reports it.
      return undefined;
    }
  }

  /** The classes of this app's controllers and providers (as declared, or of their instances). */
  private appClasses(): Set<unknown> {
    const classes = new Set<unknown>();
    for (const wrapper of [...this.discovery.getControllers(), ...this.discovery.getProviders()]) {
      if (typeof wrapper.metatype === 'function') classes.add(wrapper.metatype);
      const instance = wrapper.instance as object | undefined;
      if (instance && typeof instance === 'object') classes.add(instance.constructor);
    }
    return classes;
  }

  /**
   * Instruments a class's decorated methods on its prototype, before any instance exists: for
   * handlers that Nest reads off the prototype (WebSocket gateways, GraphQL resolvers, microservice
   * handlers), some of them before `configure()`.
   */
  instrumentPrototype(type: unknown): void {
    if (!this.options.enabled || typeof type !== 'function') return;
    const prototype = type.prototype as Record<string, unknown> | undefined;
    if (!prototype || this.instrumented.has(prototype)) return;
    this.instrumented.add(prototype);
    this.instrumentMethods(prototype, prototype, false);
  }

  private instrumentWrapper(wrapper: InstanceWrapper, isController: boolean): void {
    if (wrapper.isTransient) {
      // Each consumer of a transient provider gets its own instance.
      for (const perContext of wrapper.getStaticTransientInstances()) {
        if (perContext?.instance) this.instrumentInstance(wrapper, perContext.instance, isController);
      }
    } else if (wrapper.isDependencyTreeStatic()) {
      this.instrumentInstance(wrapper, wrapper.instance, isController);
    } else {
      const type: unknown = wrapper.metatype;
      const prototype =
        typeof type === 'function' ? (type.prototype as Record<string, unknown> | undefined) : undefined;
      if (!prototype || this.instrumented.has(prototype)) return;
      this.instrumented.add(prototype);
      // Created per request: the class's prototype is instrumented; an app that bootstraps later
      // points the same wrappers at its own registry.
      this.instrumentMethods(prototype, prototype, isController);
    }
  }

  private instrumentInstance(wrapper: InstanceWrapper, target: unknown, isController: boolean): void {
    const instance = target as Record<string, unknown> | undefined;
    if (!instance || typeof instance !== 'object' || !wrapper.isDependencyTreeStatic()) return;
    if (this.instrumented.has(instance)) return;
    this.instrumented.add(instance);
    const prototype = Object.getPrototypeOf(instance) as Record<string, unknown> | null;
    if (!prototype || prototype === Object.prototype) return;
    this.instrumentMethods(instance, prototype, isController);
  }

  /** Replaces each decorated method found from `prototype` with its measured wrapper on `holder`. */
  private instrumentMethods(
    holder: Record<string, unknown>,
    prototype: Record<string, unknown>,
    isController: boolean,
  ): void {
    const type = prototype.constructor as { name?: string } | undefined;
    const className = type?.name ?? 'anonymous';
    const classDeclarations = isController ? declarationsOf(type) : [];
    for (const name of this.scanner.getAllMethodNames(prototype)) {
      // The instance's own copy, if the HTTP metrics gave it one (see prepareRoutes).
      const method = holder[name];
      if (typeof method !== 'function') continue;
      const own = declarationsOf(method);
      const isRoute = isController && Reflect.getMetadata(METHOD_METADATA, method) !== undefined;
      const declarations = isRoute ? [...own, ...classDeclarations] : own;
      if (declarations.length === 0) continue;
      const where = `${className}.${name}`;
      const metrics = declarations.map(d => this.methodMetric(d, where));
      const current = {
        gauges: metrics.filter(m => m.type === 'gauge'),
        finals: metrics.filter(m => m.type !== 'gauge'),
      };
      const onPrototype = holder === prototype;
      const ref = metricsRefOf(method);
      if (ref) {
        // A prototype's wrapper that another app made (or this one, for a subclass): this app's
        // instances record into this app's metrics; others into the last app's.
        if (onPrototype) {
          ref.current = current;
          this.bindPrototype(prototype, ref, current);
        } else {
          this.bindInstance(holder, ref, current);
        }
        continue;
      }
      const newRef = { current };
      const wrapped = instrumentMethod(method as AnyMethod, newRef, onPrototype);
      if (onPrototype) this.bindPrototype(prototype, newRef, current);
      holder[name] = wrapped;
      if (isRoute && metrics.some(m => !m.isStatic)) {
        // Label functions of a route handler may read `ctx.request`.
        const interceptors = (Reflect.getMetadata(INTERCEPTORS_METADATA, wrapped) as unknown[] | undefined) ?? [];
        Reflect.defineMetadata(INTERCEPTORS_METADATA, [...interceptors, requestContextInterceptor], wrapped);
      }
    }
  }

  /** This app's metrics of a prototype's wrappers, bound to its instances after the routes. */
  private bindPrototype(prototype: object, ref: MetricsRef, metrics: MethodMetrics): void {
    let bindings = this.prototypeBindings.get(prototype);
    if (!bindings) this.prototypeBindings.set(prototype, (bindings = new Map<MetricsRef, MethodMetrics>()));
    bindings.set(ref, metrics);
  }

  private bindInstance(instance: object, ref: MetricsRef, metrics: MethodMetrics): void {
    let bindings = this.instanceBindings.get(instance);
    if (!bindings) {
      this.instanceBindings.set(instance, (bindings = new Map<MetricsRef, MethodMetrics>()));
      bindMethodMetrics(instance, bindings);
    }
    bindings.set(ref, metrics);
  }

  /** Every instance exists: this app's instances of prototype-instrumented classes get its metrics. */
  private bindInstances(): void {
    if (this.prototypeBindings.size === 0) return;
    for (const wrapper of [...this.discovery.getControllers(), ...this.discovery.getProviders()]) {
      const instances = wrapper.isTransient
        ? wrapper.getStaticTransientInstances().map(i => i?.instance as unknown)
        : wrapper.isDependencyTreeStatic()
          ? [wrapper.instance as unknown]
          : [];
      for (const instance of instances) {
        if (!instance || typeof instance !== 'object') continue;
        const bindings = this.prototypeBindings.get(Object.getPrototypeOf(instance) as object);
        if (bindings) for (const [ref, metrics] of bindings) this.bindInstance(instance, ref, metrics);
      }
    }
  }

  private methodMetric(declaration: MetricDeclaration, method: string): MethodMetric {
    const kind = declaration.type;
    const decorator = `@${kind[0].toUpperCase()}${kind.slice(1)}`;
    const where = `${decorator} on ${method}`;
    const { labels = {}, on, ...config } = declaration.options as CounterDecoratorOptions;
    if (typeof labels !== 'object' || labels === null) throw new Error(`${where}: "labels" must be an object`);
    if (on !== undefined && !['always', 'error', 'success'].includes(on)) {
      throw new Error(`${where}: "on" must be 'always', 'error' or 'success', not "${String(on)}"`);
    }
    // Fixed labels first: the order a call's labels have (see MethodMetric.labels), in which
    // prom-client writes them, and in which a native histogram (our family) writes its own.
    const names = Object.keys(labels);
    const labelNames = [
      ...names.filter(n => typeof labels[n] !== 'function'),
      ...names.filter(n => typeof labels[n] === 'function'),
    ];
    const metric = findOrCreatePromMetric(this.prometheus.registry, kind, { ...config, labelNames }, where);
    const methodMetric = new MethodMetric(kind, metric, labels, on ?? 'always', where, this.logger, this.cardinality);
    if (kind === 'gauge') markInProgressGauge(metric);
    const fixed = methodMetric.fixedLabels;
    if (fixed && kind !== 'summary') startAtZero(methodMetric, fixed);
    return methodMetric;
  }
}

/** A series whose labels are all known is visible at 0 before the first call. */
function startAtZero(m: MethodMetric, labels: Record<string, string | number>): void {
  const key = JSON.stringify(Object.entries(labels).sort());
  const done = started.get(m.metric) ?? started.set(m.metric, new Set());
  if (done.has(key)) return;
  done.add(key);
  if (m.type === 'counter') (m.metric as Counter).inc(labels, 0);
  else if (m.type === 'gauge') (m.metric as Gauge).inc(labels, 0);
  else (m.metric as Histogram).zero(labels);
}
