import type { PrometheusContentType, RegistryContentType } from 'prom-client';
import type { DefaultMetricsOptions, PrometheusModuleOptions } from './interfaces/index.js';
import type { ASYNC_OPTIONS_TYPE, PrometheusModuleExtras } from './prometheus.module-definition.js';

// The type names of @willsoto/nestjs-prometheus, so that code written against it compiles unchanged.
// Their type parameter (the registry's content type) is accepted and has no effect here: the
// endpoint negotiates the format per scrape.

/**
 * The options of `PrometheusModule.register()` / `forRoot()`, under `@willsoto/nestjs-prometheus`'s name.
 *
 * @example
 * ```ts
 * const options: PrometheusOptions = { path: '/mymetrics', customMetricPrefix: 'app' };
 * PrometheusModule.register(options);
 * ```
 *
 * @public
 */
export type PrometheusOptions<_T extends RegistryContentType = PrometheusContentType> = PrometheusModuleOptions &
  PrometheusModuleExtras;

/**
 * The options of `PrometheusModule.registerAsync()` / `forRootAsync()`, under `@willsoto/nestjs-prometheus`'s name.
 *
 * @example
 * ```ts
 * const options: PrometheusAsyncOptions = { useFactory: () => ({ path: '/mymetrics' }) };
 * PrometheusModule.registerAsync(options);
 * ```
 *
 * @public
 */
export type PrometheusAsyncOptions<_T extends RegistryContentType = PrometheusContentType> = typeof ASYNC_OPTIONS_TYPE;

/**
 * A class that gives the options, for `registerAsync({ useClass })` or `useExisting`.
 *
 * @example
 * ```ts
 * @Injectable()
 * class MetricsConfig implements PrometheusOptionsFactory {
 *   createPrometheusOptions(): PrometheusOptions {
 *     return { path: '/mymetrics' };
 *   }
 * }
 * ```
 *
 * @public
 */
export interface PrometheusOptionsFactory<_T extends RegistryContentType = PrometheusContentType> {
  createPrometheusOptions(): PrometheusModuleOptions | Promise<PrometheusModuleOptions>;
}

/**
 * `defaultMetrics` option, under `@willsoto/nestjs-prometheus`'s name.
 *
 * @example
 * ```ts
 * const defaultMetrics: PrometheusDefaultMetrics = { enabled: false };
 * ```
 *
 * @public
 */
export type PrometheusDefaultMetrics<_T extends RegistryContentType = PrometheusContentType> = DefaultMetricsOptions;
