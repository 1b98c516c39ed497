import { Logger } from '@nestjs/common';
import { Counter, type Registry } from 'prom-client';
import { annotation } from './annotation.js';
import { describeError } from './describe-error.js';
import { COLLECTING_METHODS, onMetricsListed } from '../compat/prom-client.js';

/** Counts the collections (`collect` callbacks) that failed, by metric name. */
export const COLLECT_ERRORS_METRIC = 'prometheus_collect_errors_total';

type Snapshot = { name: string; help: string; type: string; values: unknown[]; aggregator?: string };
interface CollectedMetric {
  name: string;
  help: string;
  type: string;
  aggregator?: string;
  get(): Promise<Snapshot>;
  /** prom-client's histograms render the text format through this one instead of `get()`. */
  getForPromString?(): Promise<Snapshot>;
}

interface GuardState {
  /** Metrics whose failure was logged already: a broken collector must not flood the logs. */
  readonly reported: Set<string>;
  /** Collections of the current scrape still running, which the error counter waits for. */
  readonly inFlight: Set<Promise<unknown>>;
}

const guarded = annotation<GuardState>('collect-guard');
const wrapped = annotation<true>('collect-guarded-metric');
const logger = new Logger('PrometheusModule');

/**
 * Makes every collection of the registry's metrics fail alone: a metric whose `collect` (or `get`)
 * throws renders with no samples, the failure is logged once per metric and counted in
 * `prometheus_collect_errors_total{metric}`, and the other metrics are still served. prom-client
 * itself rejects the whole scrape (`Promise.all`) when one metric fails.
 *
 * Installed once per registry: `getMetricsAsArray()`, which `metrics()` and `getMetricsAsJSON()`
 * (the app's endpoint, the metrics port, a cluster worker, the Pushgateway, a user's own
 * `register.metrics()`) all go through, wraps each metric it hands out, once.
 *
 * @example
 * ```ts
 * guardCollectors(register);
 * new Gauge({ name: 'broken', help: 'h', collect() { throw new Error('down') } });
 * await register.metrics(); // served, without samples of `broken`
 * ```
 */
export function guardCollectors(registry: Registry): void {
  if (guarded.has(registry)) return;
  const state: GuardState = { reported: new Set(), inFlight: new Set() };
  guarded.set(registry, state);
  onMetricsListed(registry, metric => {
    if (!wrapped.has(metric)) guardMetric(metric as unknown as CollectedMetric, registry, state);
  });
}

/**
 * The counter of failed collections, in the registry. Its own `collect` waits for the collections of
 * the scrape that are still running, so that a scrape already counts the failures it saw.
 */
export function ensureCollectErrorsCounter(registry: Registry): void {
  if (registry.getSingleMetric(COLLECT_ERRORS_METRIC)) return;
  const state = guarded.get(registry);
  registry.registerMetric(
    new Counter({
      name: COLLECT_ERRORS_METRIC,
      help: 'Collections of a metric (its collect callback) that failed; the metric was served without samples',
      labelNames: ['metric'],
      registers: [],
      async collect() {
        if (!state) return;
        // prom-client starts every metric's collection in one synchronous loop: one turn later,
        // all of this scrape's collections are in the set.
        await Promise.resolve();
        if (state.inFlight.size > 0) await Promise.allSettled([...state.inFlight]);
      },
    }),
  );
}

function guardMetric(metric: CollectedMetric, registry: Registry, state: GuardState): void {
  wrapped.set(metric, true);
  // The error counter waits for the others: it must not wait for itself.
  if (metric.name === COLLECT_ERRORS_METRIC) return;
  for (const method of COLLECTING_METHODS) {
    // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be called with .call() on its own object
    const collect = metric[method];
    if (typeof collect !== 'function') continue;
    metric[method] = function guardedCollect(this: CollectedMetric) {
      return collectSafely(this, collect, registry, state);
    };
  }
}

function collectSafely(
  metric: CollectedMetric,
  collect: () => Promise<Snapshot>,
  registry: Registry,
  state: GuardState,
): Promise<Snapshot> {
  let pending: Promise<Snapshot>;
  try {
    // `this` stays the metric: prom-client calls `collect` with `this` bound to it.
    pending = Promise.resolve(collect.call(metric));
  } catch (error) {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- re-rejects exactly what collect threw
    pending = Promise.reject(error);
  }
  const result = pending.then(undefined, (error: unknown) => failed(metric, error, registry, state));
  state.inFlight.add(result);
  void result.finally(() => state.inFlight.delete(result));
  return result;
}

function failed(metric: CollectedMetric, error: unknown, registry: Registry, state: GuardState): Snapshot {
  const name = typeof metric.name === 'string' ? metric.name : 'unknown';
  try {
    if (!state.reported.has(name)) {
      state.reported.add(name);
      logger.error(
        `collecting metric "${name}" failed (${describeError(error)}); it is served without samples ` +
          `until it succeeds, and counted in ${COLLECT_ERRORS_METRIC}. Further failures of it are not logged.`,
      );
    }
    const counter = registry.getSingleMetric(COLLECT_ERRORS_METRIC);
    if (counter instanceof Counter) counter.inc({ metric: name });
  } catch {
    // Reporting must never break the scrape.
  }
  return { name, help: metric.help, type: metric.type, values: [], aggregator: metric.aggregator };
}
