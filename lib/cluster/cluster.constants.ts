/** Worker to primary: scrape the cluster (`{ type, id, accept }`). */
export const CLUSTER_SCRAPE_REQUEST = 'nestjs-prom-metrics:scrape';
/** Primary to worker: the aggregated exposition (`{ type, id, contentType, body }` or `{ type, id, error }`). */
export const CLUSTER_SCRAPE_RESPONSE = 'nestjs-prom-metrics:scraped';
/** Primary to worker: send your registry (`{ type, id }`). */
export const CLUSTER_METRICS_REQUEST = 'nestjs-prom-metrics:collect';
/** Worker to primary: a registry as JSON (`{ type, id, metrics }`). */
export const CLUSTER_METRICS_RESPONSE = 'nestjs-prom-metrics:collected';

export const DEFAULT_CLUSTER_TIMEOUT_MS = 2000;
/** Worker to primary: the worker's module is ready to send its metrics (`{ type }`). */
export const CLUSTER_WORKER_READY = 'nestjs-prom-metrics:ready';
/** Worker to primary: gather the other workers' status page numbers (`{ type, id, timeoutMs }`). */
export const CLUSTER_STATUS_REQUEST = 'nestjs-prom-metrics:status';
/** Primary to worker: the other workers' snapshots (`{ type, id, statuses, expected }`). */
export const CLUSTER_STATUS_RESPONSE = 'nestjs-prom-metrics:statuses';
/** Primary to worker: send your status page's snapshot (`{ type, id }`). */
export const CLUSTER_STATUS_COLLECT = 'nestjs-prom-metrics:collect-status';
/** Worker to primary: a status snapshot (`{ type, id, status }`; no `status` when its page is off). */
export const CLUSTER_STATUS_COLLECTED = 'nestjs-prom-metrics:collected-status';
