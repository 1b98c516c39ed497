import { DEFAULT_METRICS_HOST, DEFAULT_METRICS_PATH } from '../core/core.constants.js';
import { DEFAULT_MAX_CONCURRENT_SCRAPES } from '../core/exposition/shared-scrapes.js';
import { normalizePath } from '../core/option-checks.js';
import type { PrometheusModuleOptions } from '../interfaces/index.js';
import type { ResolvedServerOptions } from '../interfaces/resolved-options.interface.js';

const WHERE = 'PrometheusModule options';

/**
 * Whether the app's own port serves the metrics, from the options as given (`forRoot()` decides
 * with it whether to declare the endpoint's controller, before the options are resolved).
 */
export function servesOnAppPort(options: PrometheusModuleOptions): boolean {
  return (
    options.enabled !== false && options.path !== false && (options.port === undefined || options.path !== undefined)
  );
}

/**
 * Where the app's own port serves the metrics: `path` (default `/metrics`), or `false`. With a
 * metrics port of its own (`port`), the app's port serves them too only if a path is given.
 */
export function resolveEndpointPath(
  options: PrometheusModuleOptions,
  server: ResolvedServerOptions | undefined,
): string | false {
  const appPath = server && options.path === undefined ? false : options.path;
  return appPath === false ? false : normalizePath(appPath ?? DEFAULT_METRICS_PATH, `${WHERE}.path`);
}

/** The metrics server of its own (`port`, `host`), if any. */
export function resolveMetricsServer(options: PrometheusModuleOptions): ResolvedServerOptions | undefined {
  if (options.port === undefined) {
    if (options.host !== undefined) throw new Error(`${WHERE}.host needs a port (the metrics server's)`);
    return undefined;
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new Error(`${WHERE}.port must be a whole number from 0 to 65535, not ${JSON.stringify(options.port)}`);
  }
  if (options.host !== undefined && (typeof options.host !== 'string' || options.host === '')) {
    throw new Error(`${WHERE}.host must be a non-empty string`);
  }
  const path =
    options.path === undefined || options.path === false
      ? DEFAULT_METRICS_PATH
      : normalizePath(options.path, `${WHERE}.path`);
  // Loopback unless told otherwise: the metrics server has no guards, so exposing it is a choice.
  return { port: options.port, host: options.host ?? DEFAULT_METRICS_HOST, path };
}

export function resolveMaxConcurrentScrapes(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_CONCURRENT_SCRAPES;
  if (typeof value !== 'number' || !(value >= 1) || (Number.isFinite(value) && !Number.isInteger(value))) {
    throw new Error(
      `${WHERE}.maxConcurrentScrapes must be a whole number >= 1 (or Infinity: no limit), not ${JSON.stringify(value)}`,
    );
  }
  return value;
}
