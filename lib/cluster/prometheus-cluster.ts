import type { Cluster, Worker } from 'node:cluster';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import { describeError } from '../core/describe-error.js';
import { AggregatorRegistry } from 'prom-client';
import { close, createMetricsHttpServer, listen, serverUrl } from '../core/exposition/metrics-http-server.js';
import { type MetricsJson, type RenderedMetrics } from '../core/exposition/render-metrics.js';
import {
  acceptsProtobuf,
  encodeMetricFamilies,
  type JsonMetricFamily,
  PROTOBUF_CONTENT_TYPE,
  type RenderedExposition,
} from '../core/exposition/protobuf.js';
import { addNativeHistograms } from './native-aggregation.js';
import { DEFAULT_MAX_CONCURRENT_SCRAPES, SharedScrapes } from '../core/exposition/shared-scrapes.js';
import { DEFAULT_METRICS_HOST, DEFAULT_METRICS_PATH } from '../core/core.constants.js';
import { renderCollected, type ChunkSink } from '../core/exposition/render-exposition.js';
import { formatOf, negotiate } from '../core/exposition/render-metrics.js';
import { aggregateInSlices } from './aggregate-metrics.js';
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
  DEFAULT_CLUSTER_TIMEOUT_MS,
} from './cluster.constants.js';

/**
 * Options of `PrometheusCluster.setupPrimary()`: a metrics server of the primary's own, and how long to wait for workers.
 *
 * @example
 * ```ts
 * await PrometheusCluster.setupPrimary({ port: 9464, host: '0.0.0.0', timeoutMs: 2000 });
 * ```
 * @public
 */
export interface ClusterPrimaryOptions {
  /** Also serve the aggregated metrics on this port from the primary (`0`: any free port). */
  port?: number;
  /** Interface of that server. Default `127.0.0.1` (loopback only); `'0.0.0.0'` exposes it. */
  host?: string;
  /** Path of that server's endpoint. Default `/metrics`. */
  path?: string;
  /** How long to wait for each worker's metrics; a slower worker is left out of that scrape. Default 2000 ms. */
  timeoutMs?: number;
  /**
   * Most distinct renderings in progress at once on that server; concurrent scrapes of the same
   * format share one, and a scrape past the limit is answered `503` with `Retry-After: 1`. Default 2.
   */
  maxConcurrentScrapes?: number;
}

interface WorkerMessage {
  type?: unknown;
  id?: number;
  accept?: string;
  names?: string[];
  timeoutMs?: number;
  metrics?: MetricsJson;
  /** A worker's status page snapshot (opaque here: the asking worker's status page merges it). */
  status?: unknown;
}

interface PendingCollect {
  results: unknown[];
  /** Ids of the workers yet to answer. */
  waiting: Set<number>;
  timeoutMs: number;
  timer: NodeJS.Timeout;
  /** What a late worker is left out of, for the warning. */
  leftOutOf: string;
  resolve(results: unknown[]): void;
}

/**
 * The workers' registries (`getMetricsAsJSON()` of each) combined as prom-client's
 * `AggregatorRegistry` combines them, rendered in the format `accept` asks for; both in slices,
 * yielding to the event loop every few milliseconds.
 *
 * @example
 * const rendered = await renderAggregate([await a.getMetricsAsJSON(), await b.getMetricsAsJSON()], undefined);
 */
export async function renderAggregate(
  collected: MetricsJson[],
  accept: string | undefined,
  names?: string[],
): Promise<RenderedMetrics> {
  const contentType = negotiate(accept);
  // Slices kept as bytes until the end: as strings, the megabytes of text rendered so far were
  // copied by every young-generation GC of the rendering (one per slice or two).
  const chunks: Buffer[] = [];
  const onSlice = (slice: string | Buffer) =>
    chunks.push(typeof slice === 'string' ? Buffer.from(slice, 'utf8') : slice);
  await renderCollected(await aggregateInSlices(collected), formatOf(contentType), names, onSlice);
  return { contentType, body: Buffer.concat(chunks).toString('utf8') };
}

/** Most one "did not send their metrics" warning per this many milliseconds. */
const LATE_WARNING_INTERVAL_MS = 60_000;

/**
 * The primary's side of a `node:cluster` app: aggregates the workers' registries (counters and
 * histograms summed, gauges by each metric's prom-client aggregator) when a worker is scraped,
 * and optionally serves them on a port of its own. Call `PrometheusCluster.setupPrimary()` in the
 * primary before forking; workers use `PrometheusModule.forRoot({ cluster: true })`.
 *
 * @example
 * ```ts
 * if (cluster.isPrimary) {
 *   await PrometheusCluster.setupPrimary({ port: 9464 });
 *   for (let i = 0; i < 4; i++) cluster.fork();
 * }
 * ```
 * @public
 */
export class PrometheusCluster {
  private readonly logger = new Logger('PrometheusCluster');
  private server?: Server;
  private nextId = 0;
  /** Collects waiting for workers' metrics, by the id their replies carry. */
  private readonly pending = new Map<number, PendingCollect>();
  private lastLateWarning = -Infinity;
  private lateSinceWarning = 0;
  // Workers whose module said it is ready: a worker still booting is not asked (it cannot answer).
  private readonly ready = new Set<number>();

  private constructor(
    private readonly cluster: Cluster,
    private readonly timeoutMs: number,
  ) {
    // Permanent listeners, one of each, whatever the number of scrapes in progress.
    cluster.on('message', this.onMessage);
    cluster.on('exit', this.onExit);
    cluster.on('disconnect', this.onGone);
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
    const maxConcurrentScrapes = options.maxConcurrentScrapes ?? DEFAULT_MAX_CONCURRENT_SCRAPES;
    if (
      !(maxConcurrentScrapes >= 1) ||
      (Number.isFinite(maxConcurrentScrapes) && !Number.isInteger(maxConcurrentScrapes))
    ) {
      throw new Error(
        `PrometheusCluster.setupPrimary(): maxConcurrentScrapes must be a whole number >= 1, not ${String(maxConcurrentScrapes)}`,
      );
    }
    const primary = new PrometheusCluster(cluster, timeoutMs);
    if (options.port !== undefined) {
      const path = options.path ?? DEFAULT_METRICS_PATH;
      const scrapes = new SharedScrapes(maxConcurrentScrapes);
      const render = (accept: string | undefined, names: string[] | undefined, onSlice: ChunkSink) =>
        primary.expose(accept, names, onSlice);
      primary.server = createMetricsHttpServer(
        path,
        (accept, encoding, names) => scrapes.respond(accept, encoding, names, render),
        error => primary.logger.error(`scrape failed: ${describeError(error)}`),
      );
      await listen(
        primary.server,
        options.port,
        options.host ?? DEFAULT_METRICS_HOST,
        'PrometheusCluster metrics server',
      );
      primary.logger.log(`metrics server listening on ${serverUrl(primary.server, path)}`);
    }
    return primary;
  }

  /** Where the primary's metrics server listens, if it has one. */
  address(): AddressInfo | undefined {
    const address = this.server?.address();
    return address && typeof address === 'object' ? address : undefined;
  }

  /** The workers' metrics, aggregated, in the text format `accept` asks for. */
  async metrics(accept?: string, names?: string[], timeoutMs = this.timeoutMs): Promise<RenderedMetrics> {
    return renderAggregate(await this.collect(timeoutMs), accept, names);
  }

  /** The workers' metrics, aggregated, handed to `onSlice` a slice at a time. */
  private async expose(accept: string | undefined, names: string[] | undefined, onSlice: ChunkSink): Promise<void> {
    if (acceptsProtobuf(accept)) {
      onSlice((await this.render(accept, names, this.timeoutMs)).body);
      return;
    }
    const aggregate = await aggregateInSlices(await this.collect(this.timeoutMs));
    await renderCollected(aggregate, formatOf(negotiate(accept)), names, onSlice);
  }

  /**
   * What a scrape gets: as `metrics()`, or the protobuf exposition (a `Buffer` body) with the
   * workers' native histograms summed when `accept` asks for it.
   */
  private async render(accept: string | undefined, names: string[] | undefined, timeoutMs: number) {
    if (!acceptsProtobuf(accept)) return this.metrics(accept, names, timeoutMs);
    const collected = await this.collect(timeoutMs);
    const families = await AggregatorRegistry.aggregate(collected).getMetricsAsJSON();
    addNativeHistograms(families, collected);
    const rendered: RenderedExposition = {
      contentType: PROTOBUF_CONTENT_TYPE,
      body: encodeMetricFamilies(families as unknown as JsonMetricFamily[], names),
    };
    return rendered;
  }

  async close(): Promise<void> {
    this.cluster.off('message', this.onMessage);
    this.cluster.off('exit', this.onExit);
    this.cluster.off('disconnect', this.onGone);
    // Scrapes waiting for workers get what has arrived so far.
    for (const id of [...this.pending.keys()]) this.finish(id);
    if (this.server) await close(this.server);
  }

  /** Workers whose module is ready and that are connected: those a collect asks. */
  private readyWorkers(): Worker[] {
    return Object.values(this.cluster.workers ?? {}).filter(
      (w): w is Worker => !!w && this.ready.has(w.id) && w.isConnected(),
    );
  }

  /** Asks every connected worker for its registry; a worker that exits or is late is left out. */
  private collect(timeoutMs: number): Promise<MetricsJson[]> {
    return this.gather(this.readyWorkers(), CLUSTER_METRICS_REQUEST, timeoutMs, 'this scrape') as Promise<
      MetricsJson[]
    >;
  }

  /**
   * Sends `type` to `workers` and resolves with their answers, those that came within `timeoutMs`;
   * a worker that exits or is late is left out.
   */
  private gather(workers: Worker[], type: string, timeoutMs: number, leftOutOf: string): Promise<unknown[]> {
    if (workers.length === 0) return Promise.resolve([]);
    const id = ++this.nextId;
    return new Promise(resolve => {
      const collect: PendingCollect = {
        results: [],
        waiting: new Set(workers.map(w => w.id)),
        timeoutMs,
        leftOutOf,
        resolve,
        timer: setTimeout(() => this.finish(id), timeoutMs),
      };
      this.pending.set(id, collect);
      for (const worker of workers) {
        try {
          worker.send({ type, id }, undefined, error => {
            if (error) this.leaveOut(id, worker.id);
          });
        } catch {
          this.leaveOut(id, worker.id);
        }
      }
    });
  }

  /** A worker will not answer collect `id` (it exited, disconnected, or could not be asked). */
  private leaveOut(id: number, workerId: number): void {
    const collect = this.pending.get(id);
    if (collect?.waiting.delete(workerId) && collect.waiting.size === 0) this.finish(id);
  }

  private finish(id: number): void {
    const collect = this.pending.get(id);
    if (!collect) return;
    this.pending.delete(id);
    clearTimeout(collect.timer);
    if (collect.waiting.size > 0) this.reportLate(collect.waiting.size, collect.timeoutMs, collect.leftOutOf);
    collect.resolve(collect.results);
  }

  /**
   * At most one warning a minute: with a worker stuck, every scrape (many at once, under a
   * hostile or busy scraper) would print one.
   */
  private reportLate(workers: number, timeoutMs: number, leftOutOf: string): void {
    const now = Date.now();
    if (now - this.lastLateWarning < LATE_WARNING_INTERVAL_MS) {
      this.lateSinceWarning++;
      return;
    }
    const suppressed =
      this.lateSinceWarning > 0
        ? ` (${this.lateSinceWarning} more scrape(s) left workers out since the last warning)`
        : '';
    this.lastLateWarning = now;
    this.lateSinceWarning = 0;
    this.logger.warn(
      `${workers} worker(s) did not send their metrics within ${timeoutMs} ms: left out of ${leftOutOf}${suppressed}`,
    );
  }

  /**
   * A worker's status page asks for the others' numbers: the primary relays them as they come (it
   * does not read them: the asking worker merges them), with how many workers there are.
   */
  private answerStatus(asker: Worker, message: WorkerMessage): void {
    const timeoutMs =
      typeof message.timeoutMs === 'number' && message.timeoutMs > 0
        ? Math.min(message.timeoutMs, this.timeoutMs)
        : this.timeoutMs;
    const workers = this.readyWorkers();
    const others = workers.filter(w => w.id !== asker.id);
    // The asker counts itself (it may be asking before its ready message arrived).
    const expected = others.length + 1;
    void this.gather(others, CLUSTER_STATUS_COLLECT, timeoutMs, 'a status page view').then(statuses => {
      if (asker.isConnected()) {
        asker.send({ type: CLUSTER_STATUS_RESPONSE, id: message.id, statuses, expected }, undefined, () => undefined);
      }
    });
  }

  private readonly onGone = (worker: Worker): void => {
    for (const id of [...this.pending.keys()]) this.leaveOut(id, worker.id);
  };

  private readonly onExit = (worker: Worker): void => {
    this.ready.delete(worker.id);
    this.onGone(worker);
  };

  private readonly onMessage = (worker: Worker, message: WorkerMessage): void => {
    if (message?.type === CLUSTER_METRICS_RESPONSE || message?.type === CLUSTER_STATUS_COLLECTED) {
      // One listener for every pending collect: the reply names its collect by id.
      const collect = typeof message.id === 'number' ? this.pending.get(message.id) : undefined;
      if (!collect?.waiting.delete(worker.id)) return;
      if (message.type === CLUSTER_METRICS_RESPONSE && Array.isArray(message.metrics)) {
        collect.results.push(message.metrics);
      }
      // A worker whose page is off answers without a snapshot: it is not counted as answered.
      if (message.type === CLUSTER_STATUS_COLLECTED && typeof message.status === 'object' && message.status !== null) {
        collect.results.push(message.status);
      }
      if (collect.waiting.size === 0) this.finish(message.id as number);
      return;
    }
    if (message?.type === CLUSTER_WORKER_READY) this.ready.add(worker.id);
    if (message?.type === CLUSTER_STATUS_REQUEST) {
      this.answerStatus(worker, message);
      return;
    }
    if (message?.type !== CLUSTER_SCRAPE_REQUEST) return;
    const reply = (answer: object) => {
      if (worker.isConnected())
        worker.send({ type: CLUSTER_SCRAPE_RESPONSE, id: message.id, ...answer }, undefined, () => undefined);
    };
    const timeoutMs =
      typeof message.timeoutMs === 'number' && message.timeoutMs > 0
        ? Math.min(message.timeoutMs, this.timeoutMs)
        : this.timeoutMs;
    this.render(message.accept, Array.isArray(message.names) ? message.names : undefined, timeoutMs).then(
      // IPC messages are JSON: a binary body travels as base64.
      rendered =>
        reply(
          typeof rendered.body === 'string'
            ? rendered
            : { contentType: rendered.contentType, bodyBase64: rendered.body.toString('base64') },
        ),
      (error: unknown) =>
        reply({ error: `the cluster primary could not aggregate the metrics: ${describeError(error)}` }),
    );
  };
}
