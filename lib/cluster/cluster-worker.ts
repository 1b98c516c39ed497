import cluster from 'node:cluster';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { describeError } from '../core/describe-error.js';
import type { ExpositionSource } from '../core/exposition/exposition-source.js';
import { renderExposition, type ChunkSink } from '../core/exposition/render-exposition.js';
import { formatOf, negotiate, renderRegistry } from '../core/exposition/render-metrics.js';
import { acceptsProtobuf, type RenderedExposition, renderProtobuf } from '../core/exposition/protobuf.js';
import { PrometheusRuntime } from '../runtime/prometheus-runtime.js';
import { PROMETHEUS_OPTIONS } from '../runtime/runtime.constants.js';
import type { ResolvedPrometheusOptions } from '../interfaces/resolved-options.interface.js';
import { PrometheusService } from '../runtime/prometheus.service.js';
import type { PeerStatuses, StatusSource } from '../runtime/status-source.js';
import {
  CLUSTER_METRICS_REQUEST,
  CLUSTER_METRICS_RESPONSE,
  CLUSTER_SCRAPE_REQUEST,
  CLUSTER_SCRAPE_RESPONSE,
  CLUSTER_STATUS_COLLECT,
  CLUSTER_STATUS_COLLECTED,
  CLUSTER_STATUS_REQUEST,
  CLUSTER_STATUS_RESPONSE,
  CLUSTER_WORKER_READY,
} from './cluster.constants.js';

interface ClusterMessage {
  type?: unknown;
  id?: number;
  contentType?: string;
  body?: string;
  /** A binary body (the protobuf exposition), base64-encoded. */
  bodyBase64?: string;
  error?: string;
  statuses?: unknown[];
  expected?: number;
}

interface Pending<T> {
  resolve(answer: T): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * The worker's side of `forRoot({ cluster: true })`: sends its registry to the primary when asked,
 * and asks the primary for the whole cluster's metrics when it is scraped itself (the app's
 * exposition source). Outside a cluster worker it serves the process's own registry. With the
 * status page on, the same for the page's numbers: it sends its snapshot when asked, and gathers
 * the other workers' for its own page (the app's status source).
 */
@Injectable()
export class ClusterWorker implements ExpositionSource, StatusSource {
  private readonly logger = new Logger('PrometheusModule');
  private readonly pending = new Map<number, Pending<RenderedExposition>>();
  private readonly pendingStatuses = new Map<number, Pending<PeerStatuses>>();
  private nextId = 0;
  private active = false;

  constructor(
    @Inject(PROMETHEUS_OPTIONS) private readonly options: ResolvedPrometheusOptions,
    private readonly prometheus: PrometheusService,
    private readonly runtime: PrometheusRuntime,
  ) {
    runtime.at('afterRoutes', 'cluster: connect to the primary', () => this.connect());
    runtime.at('shutdown', 'cluster: disconnect from the primary', () => this.disconnect());
  }

  private connect(): void {
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

  private disconnect(): void {
    if (!this.active) return;
    this.active = false;
    process.off('message', this.onMessage);
    for (const pending of [this.pending, this.pendingStatuses] as Map<number, Pending<unknown>>[]) {
      for (const [id, p] of pending) {
        clearTimeout(p.timer);
        p.reject(new Error('the application is shutting down'));
        pending.delete(id);
      }
    }
  }

  /**
   * The status page's numbers of the other workers, gathered by the primary (`undefined` outside
   * a cluster worker); rejects when the primary does not answer.
   */
  peers(): Promise<PeerStatuses | undefined> {
    const cluster = this.options.cluster;
    if (!this.active || !cluster) return Promise.resolve(undefined);
    return this.ask(this.pendingStatuses, { type: CLUSTER_STATUS_REQUEST, timeoutMs: cluster.timeoutMs });
  }

  /** Sends `message` (with a new id) to the primary and waits for the answer that carries the id. */
  private ask<T>(
    pending: Map<number, Pending<T>>,
    message: { type: string; timeoutMs: number; [field: string]: unknown },
  ): Promise<T> {
    const id = ++this.nextId;
    // The primary waits up to timeoutMs for the workers (this one asks it to); give it that and a margin.
    const wait = message.timeoutMs + 1000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(
          new Error(
            `the cluster primary did not answer within ${wait} ms (did it call PrometheusCluster.setupPrimary()?)`,
          ),
        );
      }, wait);
      pending.set(id, { resolve, reject, timer });
      process.send?.({ ...message, id }, undefined, undefined, error => {
        if (!error) return;
        clearTimeout(timer);
        pending.delete(id);
        reject(error);
      });
    });
  }

  /**
   * What `render` gives, handed to `onSlice` a slice at a time: this process's registry is
   * rendered in slices; the primary's answer arrives in one message and is one slice.
   */
  async expose(accept: string | undefined, names: string[] | undefined, onSlice: ChunkSink): Promise<void> {
    if (!this.active || !this.options.cluster) {
      if (acceptsProtobuf(accept)) {
        onSlice((await renderProtobuf(this.prometheus.registry, names)).body);
        return;
      }
      return renderExposition(this.prometheus.registry, formatOf(negotiate(accept)), names, onSlice);
    }
    onSlice((await this.render(accept, names)).body);
  }

  /** The metrics of every worker, aggregated by the primary; this process's alone outside a cluster. */
  render(accept: string | undefined, names?: string[]): Promise<RenderedExposition> {
    const cluster = this.options.cluster;
    if (!this.active || !cluster) {
      // Only a scraper that asks for protobuf gets it: the text formats stay as they were.
      if (acceptsProtobuf(accept)) return renderProtobuf(this.prometheus.registry, names);
      return renderRegistry(this.prometheus.registry, accept, names);
    }
    return this.ask(this.pending, { type: CLUSTER_SCRAPE_REQUEST, accept, names, timeoutMs: cluster.timeoutMs });
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
    } else if (message?.type === CLUSTER_STATUS_COLLECT) {
      // A page that is off answers with no snapshot: the primary need not wait for it.
      this.runtime.statusSnapshot().then(
        status => {
          if (process.connected)
            process.send?.(
              { type: CLUSTER_STATUS_COLLECTED, id: message.id, status },
              undefined,
              undefined,
              () => undefined,
            );
        },
        (error: unknown) =>
          this.logger.warn(`could not read the status page's numbers for the cluster: ${describeError(error)}`),
      );
    } else if (message?.type === CLUSTER_STATUS_RESPONSE && typeof message.id === 'number') {
      this.settle(this.pendingStatuses, message.id, message, answer => ({
        statuses: Array.isArray(answer.statuses) ? answer.statuses : [],
        expected: typeof answer.expected === 'number' ? answer.expected : 1,
      }));
    } else if (message?.type === CLUSTER_SCRAPE_RESPONSE && typeof message.id === 'number') {
      this.settle(this.pending, message.id, message, answer => ({
        contentType: answer.contentType ?? '',
        body: typeof answer.bodyBase64 === 'string' ? Buffer.from(answer.bodyBase64, 'base64') : (answer.body ?? ''),
      }));
    }
  };

  /** Ends the request `id` with the primary's answer (or its error), if it is still waiting. */
  private settle<T>(
    pending: Map<number, Pending<T>>,
    id: number,
    message: ClusterMessage,
    answer: (message: ClusterMessage) => T,
  ): void {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    clearTimeout(p.timer);
    if (message.error !== undefined) p.reject(new Error(message.error));
    else p.resolve(answer(message));
  }
}
