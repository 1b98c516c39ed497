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
