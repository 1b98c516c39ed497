import cluster from 'node:cluster';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { describeError } from '../metrics/describe-error.js';
import { renderExposition, type SliceSink } from '../core/exposition/render-exposition.js';
import { formatOf, negotiate, type RenderedMetrics, renderRegistry } from '../endpoint/render-metrics.js';
import { PROMETHEUS_OPTIONS } from '../prometheus.constants.js';
import type { ResolvedPrometheusOptions } from '../prometheus-options.js';
import { PrometheusService } from '../prometheus.service.js';
import {
  CLUSTER_METRICS_REQUEST,
  CLUSTER_METRICS_RESPONSE,
  CLUSTER_SCRAPE_REQUEST,
  CLUSTER_SCRAPE_RESPONSE,
  CLUSTER_WORKER_READY,
} from './cluster.constants.js';

interface ClusterMessage {
  type?: unknown;
  id?: number;
  contentType?: string;
  body?: string;
  error?: string;
}

interface PendingScrape {
  resolve(rendered: RenderedMetrics): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * The worker's side of `forRoot({ cluster: true })`: sends its registry to the primary when asked,
 * and asks the primary for the whole cluster's metrics when it is scraped itself.
 */
@Injectable()
export class ClusterWorker implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('PrometheusModule');
  private readonly pending = new Map<number, PendingScrape>();
  private nextId = 0;
  private active = false;

  constructor(
    @Inject(PROMETHEUS_OPTIONS) private readonly options: ResolvedPrometheusOptions,
    private readonly prometheus: PrometheusService,
  ) {}

  onModuleInit(): void {
    if (!this.options.cluster) return;
    // A forked child (jest's workers, PM2) has `process.send` too: only a cluster worker has a primary.
    if (!cluster.isWorker || typeof process.send !== 'function') {
      this.logger.warn('cluster: true, but this process is not a cluster worker: /metrics serves its own registry');
      return;
    }
    this.active = true;
    process.on('message', this.onMessage);
    process.send({ type: CLUSTER_WORKER_READY });
  }

  onApplicationShutdown(): void {
    if (!this.active) return;
    this.active = false;
    process.off('message', this.onMessage);
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error('the application is shutting down'));
      this.pending.delete(id);
    }
  }

  /**
   * What `render` gives, handed to `onSlice` a slice at a time: this process's registry is
   * rendered in slices; the primary's answer arrives in one message and is one slice.
   */
  async expose(accept: string | undefined, names: string[] | undefined, onSlice: SliceSink): Promise<void> {
    if (!this.active || !this.options.cluster) {
      return renderExposition(this.prometheus.registry, formatOf(negotiate(accept)), names, onSlice);
    }
    onSlice((await this.render(accept, names)).body);
  }

  /** The metrics of every worker, aggregated by the primary; this process's alone outside a cluster. */
  render(accept: string | undefined, names?: string[]): Promise<RenderedMetrics> {
    const cluster = this.options.cluster;
    if (!this.active || !cluster) return renderRegistry(this.prometheus.registry, accept, names);
    const id = ++this.nextId;
    // The primary waits up to timeoutMs for the workers (this one asks it to); give it that and a margin.
    const timeoutMs = cluster.timeoutMs;
    const wait = timeoutMs + 1000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new Error(
            `the cluster primary did not answer within ${wait} ms (did it call PrometheusCluster.setupPrimary()?)`,
          ),
        );
      }, wait);
      this.pending.set(id, { resolve, reject, timer });
      process.send?.({ type: CLUSTER_SCRAPE_REQUEST, id, accept, names, timeoutMs }, undefined, undefined, error => {
        if (!error) return;
        clearTimeout(timer);
        this.pending.delete(id);
        reject(error);
      });
    });
  }

  private readonly onMessage = (message: ClusterMessage): void => {
    if (message?.type === CLUSTER_METRICS_REQUEST) {
      this.prometheus.registry.getMetricsAsJSON().then(
        metrics => {
          // The primary may have disconnected meanwhile: a send without a callback would then throw.
          if (process.connected)
            process.send?.(
              { type: CLUSTER_METRICS_RESPONSE, id: message.id, metrics },
              undefined,
              undefined,
              () => undefined,
            );
        },
        (error: unknown) =>
          this.logger.warn(`could not collect metrics for the cluster primary: ${describeError(error)}`),
      );
    } else if (message?.type === CLUSTER_SCRAPE_RESPONSE && typeof message.id === 'number') {
      const p = this.pending.get(message.id);
      if (!p) return;
      this.pending.delete(message.id);
      clearTimeout(p.timer);
      if (message.error !== undefined) p.reject(new Error(message.error));
      else p.resolve({ contentType: message.contentType ?? '', body: message.body ?? '' });
    }
  };
}
