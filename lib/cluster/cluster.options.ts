import type { PrometheusModuleOptions } from '../interfaces/index.js';
import { DEFAULT_CLUSTER_TIMEOUT_MS } from './cluster.constants.js';

/** Checks `options.cluster`; `false` when the process serves its own registry only. */
export function resolveClusterOptions(cluster: PrometheusModuleOptions['cluster']): false | { timeoutMs: number } {
  if (cluster === undefined || cluster === false) return false;
  const timeoutMs = (cluster === true ? undefined : cluster.timeoutMs) ?? DEFAULT_CLUSTER_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new Error(`PrometheusModule options.cluster.timeoutMs must be a number > 0`);
  return { timeoutMs };
}
