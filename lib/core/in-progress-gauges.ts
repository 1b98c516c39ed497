import { annotation } from './annotation.js';

/**
 * Gauges that count work in flight (`@Gauge` decorators): zeroing one under running calls would
 * leave it negative when they end, so resets leave them alone.
 */
const inProgress = annotation<true>('in-progress-gauge');

/** Marks a gauge as counting work in flight. */
export function markInProgressGauge(metric: object): void {
  inProgress.set(metric, true);
}

/** Whether a gauge counts work in flight (and must not be reset). */
export function isInProgressGauge(metric: object): boolean {
  return inProgress.has(metric);
}
