import { type CanActivate, ConfigurableModuleBuilder, type Type } from '@nestjs/common';
import type { PrometheusModuleOptions } from './interfaces/index.js';

/**
 * Options read when the module is defined, before any provider exists: Nest only instantiates
 * guard classes it finds on controllers while scanning modules, so guards (and decorators that
 * set metadata for the app's global guards) cannot come from an async factory.
 *
 * @example
 * ```ts
 * PrometheusModule.forRootAsync({ guards: [MetricsAuthGuard], useFactory: () => ({ path: '/metrics' }) });
 * ```
 * @public
 */
export interface PrometheusModuleExtras {
  /** Registers the module globally. Default `true`. */
  isGlobal?: boolean;
  /** Guards on the metrics endpoint (classes or instances), as `@UseGuards()` takes them. */
  guards?: (CanActivate | Type<CanActivate>)[];
  /**
   * Class decorators applied to the metrics controller, e.g. `[Public()]` so that the app's global
   * authentication guard lets scrapes through.
   */
  endpointDecorators?: ClassDecorator[];
  /**
   * Registers the module globally: `@willsoto/nestjs-prometheus`'s name of `isGlobal`
   * (`isGlobal` wins when both are given).
   */
  global?: boolean;
  /**
   * A controller class to serve the metrics instead of the module's own, usually a subclass of
   * `PrometheusController` with guards or Swagger decorators (as in `@willsoto/nestjs-prometheus`).
   * The module routes it at `path`, and leaves it out of the HTTP metrics and Swagger documents.
   */
  controller?: Type<unknown>;
}

const definition = new ConfigurableModuleBuilder<PrometheusModuleOptions>()
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createPrometheusOptions')
  // Every extra is listed so that Nest leaves it out of the options the module reads.
  .setExtras<PrometheusModuleExtras>(
    { isGlobal: undefined, global: undefined, guards: undefined, endpointDecorators: undefined, controller: undefined },
    (definition, extras) => ({
      ...definition,
      global: extras.isGlobal ?? extras.global ?? true,
    }),
  )
  .build();

export const { ConfigurableModuleClass, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } = definition;

/**
 * Injection token of the options as given to `forRoot()` (or returned by the `forRootAsync()`
 * factory), before defaults are merged; `PROMETHEUS_OPTIONS` gives them resolved.
 *
 * @example
 * ```ts
 * constructor(@Inject(PROMETHEUS_MODULE_OPTIONS) private readonly options: PrometheusModuleOptions) {}
 * ```
 * @public
 */
export const PROMETHEUS_MODULE_OPTIONS: string | symbol = definition.MODULE_OPTIONS_TOKEN;
