import type { Cluster, Worker } from 'node:cluster';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import { AggregatorRegistry } from 'prom-client';
import { close, createMetricsHttpServer, listen } from '../endpoint/metrics-http-server.js';
import { type MetricsJson, type RenderedMetrics, renderRegistry } from '../endpoint/render-metrics.js';
import { scrapeResponse } from '../endpoint/scrape-response.js';
import { DEFAULT_METRICS_PATH } from '../prometheus.constants.js';
import {
  CLUSTER_METRICS_REQUEST,
  CLUSTER_METRICS_RESPONSE,
  CLUSTER_SCRAPE_REQUEST,
  CLUSTER_SCRAPE_RESPONSE,
  CLUSTER_WORKER_READY,
  DEFAULT_CLUSTER_TIMEOUT_MS,
} from './cluster.constants.js';

export interface ClusterPrimaryOptions {
  /** Also serve the aggregated metrics on this port from the primary (`0`: any free port). */
  port?: number;
  /** Interface of that server. Default: every interface. */
  host?: string;
  /** Path of that server's endpoint. Default `/metrics`. */
  path?: string;
  /** How long to wait for each worker's metrics; a slower worker is left out of that scrape. Default 2000 ms. */
  timeoutMs?: number;
}

interface WorkerMessage {
  type?: unknown;
  id?: number;
  accept?: string;
  names?: string[];
  timeoutMs?: number;
  metrics?: MetricsJson;
}

/**
 * The primary's side of a `node:cluster` app: aggregates the workers' registries (counters and
 * histograms summed, gauges by each metric's prom-client aggregator) when a worker is scraped,
 * and optionally serves them on a port of its own. Call `PrometheusCluster.setupPrimary()` in the
 * primary before forking; workers use `PrometheusModule.forRoot({ cluster: true })`.
 */
export class PrometheusCluster {
  private readonly logger = new Logger('PrometheusCluster');
  private server?: Server;
  private nextId = 0;
  // Workers whose module said it is ready: a worker still booting is not asked (it cannot answer).
  private readonly ready = new Set<number>();

  private constructor(
    private readonly cluster: Cluster,
    private readonly timeoutMs: number,
  ) {
    cluster.on('message', this.onMessage);
    cluster.on('exit', this.onExit);
  }

  static async setupPrimary(options: ClusterPrimaryOptions = {}): Promise<PrometheusCluster> {
    const cluster = (await import('node:cluster')).default;
    if (!cluster.isPrimary) throw new Error('PrometheusCluster.setupPrimary() must be called in the cluster primary');
    const timeoutMs = options.timeoutMs ?? DEFAULT_CLUSTER_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new Error(
        `PrometheusCluster.setupPrimary(): timeoutMs must be a positive number, not ${String(timeoutMs)}`,
      );
    }
    const primary = new PrometheusCluster(cluster, timeoutMs);
    if (options.port !== undefined) {
      const path = options.path ?? DEFAULT_METRICS_PATH;
      primary.server = createMetricsHttpServer(
        path,
        async (accept, encoding, names) => scrapeResponse(await primary.metrics(accept, names), encoding),
        error => primary.logger.error(`scrape failed: ${String(error)}`),
      );
      await listen(primary.server, options.port, options.host, 'PrometheusCluster metrics server');
    }
    return primary;
  }

  /** Where the primary's metrics server listens, if it has one. */
  address(): AddressInfo | undefined {
    const address = this.server?.address();
    return address && typeof address === 'object' ? address : undefined;
  }

  /** The workers' metrics, aggregated, in the format `accept` asks for. */
  async metrics(accept?: string, names?: string[], timeoutMs = this.timeoutMs): Promise<RenderedMetrics> {
    const collected = await this.collect(timeoutMs);
    return renderRegistry(AggregatorRegistry.aggregate(collected), accept, names);
  }

  async close(): Promise<void> {
    this.cluster.off('message', this.onMessage);
    this.cluster.off('exit', this.onExit);
    if (this.server) await close(this.server);
  }

  /** Asks every connected worker for its registry; a worker that exits or is late is left out. */
  private collect(timeoutMs: number): Promise<MetricsJson[]> {
    const cluster = this.cluster;
    const workers = Object.values(cluster.workers ?? {}).filter(
      (w): w is Worker => !!w && this.ready.has(w.id) && w.isConnected(),
    );
    const id = ++this.nextId;
    return new Promise(resolve => {
      const results: MetricsJson[] = [];
      const waiting = new Set(workers.map(w => w.id));
      const finish = () => {
        clearTimeout(timer);
        cluster.off('message', onMessage);
        cluster.off('exit', onGone);
        cluster.off('disconnect', onGone);
        if (waiting.size > 0) {
          this.logger.warn(
            `${waiting.size} worker(s) did not send their metrics within ${timeoutMs} ms: left out of this scrape`,
          );
        }
        resolve(results);
      };
      const onMessage = (worker: Worker, message: WorkerMessage) => {
        if (message?.type !== CLUSTER_METRICS_RESPONSE || message.id !== id || !waiting.delete(worker.id)) return;
        if (Array.isArray(message.metrics)) results.push(message.metrics);
        if (waiting.size === 0) finish();
      };
      const onGone = (worker: Worker) => {
        if (waiting.delete(worker.id) && waiting.size === 0) finish();
      };
      const timer = setTimeout(finish, timeoutMs);
      cluster.on('message', onMessage);
      cluster.on('exit', onGone);
      cluster.on('disconnect', onGone);
      if (waiting.size === 0) return finish();
      for (const worker of workers) {
        try {
          worker.send({ type: CLUSTER_METRICS_REQUEST, id }, undefined, error => {
            if (error) onGone(worker);
          });
        } catch {
          onGone(worker);
        }
      }
    });
  }

  private readonly onExit = (worker: Worker): void => {
    this.ready.delete(worker.id);
  };

  private readonly onMessage = (worker: Worker, message: WorkerMessage): void => {
    if (message?.type === CLUSTER_WORKER_READY) this.ready.add(worker.id);
    if (message?.type !== CLUSTER_SCRAPE_REQUEST) return;
    const reply = (answer: object) => {
      if (worker.isConnected())
        worker.send({ type: CLUSTER_SCRAPE_RESPONSE, id: message.id, ...answer }, undefined, () => undefined);
    };
    const timeoutMs =
      typeof message.timeoutMs === 'number' && message.timeoutMs > 0
        ? Math.min(message.timeoutMs, this.timeoutMs)
        : this.timeoutMs;
    this.metrics(message.accept, Array.isArray(message.names) ? message.names : undefined, timeoutMs).then(
      rendered => reply(rendered),
      (error: unknown) => reply({ error: `the cluster primary could not aggregate the metrics: ${String(error)}` }),
    );
  };
}
