import type { StatusPageOptions } from '../interfaces/index.js';
import type { ResolvedStatusPageOptions } from '../interfaces/resolved-options.interface.js';

/**
 * Defaults of `statusPage.refreshSeconds` and `statusPage.historyMinutes`.
 *
 * @example
 * ```ts
 * const points = (DEFAULT_STATUS_HISTORY_MINUTES * 60) / DEFAULT_STATUS_REFRESH_SECONDS; // 180
 * ```
 */
export const DEFAULT_STATUS_REFRESH_SECONDS = 5;
/** See {@link DEFAULT_STATUS_REFRESH_SECONDS}. */
export const DEFAULT_STATUS_HISTORY_MINUTES = 15;

/**
 * Checks `statusPage` and merges its defaults; `metricsPath` is the path the metrics are served at
 * (the app's, or the metrics port's), under which the page goes by default.
 *
 * @example
 * ```ts
 * resolveStatusPage(true, '/metrics', 'PrometheusModule options'); // { path: '/metrics/status', refreshSeconds: 5, historyMinutes: 15 }
 * resolveStatusPage(true, '/metrics', 'PrometheusModule options', false); // throws: nothing would serve it
 * ```
 */
export function resolveStatusPage(
  option: boolean | StatusPageOptions | undefined,
  metricsPath: string,
  where: string,
  served = true,
): ResolvedStatusPageOptions | false {
  if (option === undefined || option === false) return false;
  const name = `${where}.statusPage`;
  // Nothing would serve the page, and its timer would sample for no one.
  if (!served) {
    throw new Error(
      `${name} needs the metrics endpoint: with path: false, give a port (the page is served beside /metrics)`,
    );
  }
  if (option !== true && (typeof option !== 'object' || option === null || Array.isArray(option))) {
    throw new Error(`${name} must be a boolean or an object { path, refreshSeconds, historyMinutes }`);
  }
  const o: StatusPageOptions = option === true ? {} : option;
  for (const key of Object.keys(o)) {
    if (key !== 'path' && key !== 'refreshSeconds' && key !== 'historyMinutes') {
      throw new Error(`${name}: unknown option "${key}" (known: path, refreshSeconds, historyMinutes)`);
    }
  }
  let path = `${metricsPath === '/' ? '' : metricsPath}/status`;
  if (o.path !== undefined) {
    if (typeof o.path !== 'string' || o.path.trim() === '' || /[?#\s]/.test(o.path)) {
      throw new Error(
        `${name}.path must be a non-empty path without spaces, "?" or "#", not ${JSON.stringify(o.path)}`,
      );
    }
    path = (o.path.startsWith('/') ? o.path : `/${o.path}`).replace(/\/+$/, '');
    if (path === '') throw new Error(`${name}.path cannot be "/": the page's data lives at {path}.json`);
  }
  if (path === metricsPath) throw new Error(`${name}.path cannot be the metrics path (${metricsPath})`);
  return {
    path,
    refreshSeconds: wholeNumber(o.refreshSeconds, DEFAULT_STATUS_REFRESH_SECONDS, 1, 60, `${name}.refreshSeconds`),
    historyMinutes: wholeNumber(o.historyMinutes, DEFAULT_STATUS_HISTORY_MINUTES, 1, 120, `${name}.historyMinutes`),
  };
}

function wholeNumber(value: unknown, fallback: number, min: number, max: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(value)}`);
  }
  return value;
}
