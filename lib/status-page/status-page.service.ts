import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { OVERFLOW_METRIC } from '../core/cardinality-guard.js';
import { describeError } from '../core/describe-error.js';
import { PROMETHEUS_OPTIONS } from '../runtime/runtime.constants.js';
import type { ResolvedPrometheusOptions } from '../interfaces/resolved-options.interface.js';
import { PrometheusRuntime } from '../runtime/prometheus-runtime.js';
import { PrometheusService } from '../runtime/prometheus.service.js';
import { STATUS_SOURCE, type StatusSource } from '../runtime/status-source.js';
import { basePathOf, statusAsset, statusHtml, statusJson, type StatusResponse } from './status-page-assets.js';
import { type RequestFamily, StatusHistory, type StatusSources, type StatusView } from './status-history.js';
import { isStatusSnapshot, mergeStatus, type StatusSnapshot } from './status-merge.js';

/**
 * Samples the registry for the status page (`statusPage`) on a timer, and answers the page, its
 * files and its data. With the page off (the default) it does nothing at all: no timer, no reads.
 * In a cluster worker (`cluster: true`) its data merges every worker's numbers, gathered through
 * the primary by the app's {@link StatusSource}.
 *
 * @example
 * ```ts
 * const view = await app.get(StatusPageService).view(); // with forRoot({ statusPage: true })
 * ```
 */
@Injectable()
export class StatusPageService {
  private readonly logger = new Logger('PrometheusModule');
  private history?: StatusHistory;
  private timer?: NodeJS.Timeout;
  private sampling = false;
  private failed = false;
  private peersFailed = false;
  private stopped = false;

  constructor(
    @Inject(PROMETHEUS_OPTIONS) private readonly options: ResolvedPrometheusOptions,
    private readonly prometheus: PrometheusService,
    private readonly runtime: PrometheusRuntime,
    @Inject(STATUS_SOURCE) private readonly source: StatusSource,
  ) {
    runtime.at('bootstrap', 'statusPage: start sampling the history', () => this.startSampling());
    runtime.at('shutdown', 'statusPage: stop sampling', () => this.stopSampling());
  }

  /** Whether the page is on, once the options are known. */
  get enabled(): boolean {
    return this.options.statusPage !== false;
  }

  /** Whether the app's port serves the page: where it serves the metrics (not with `port` alone). */
  get servedOnAppPort(): boolean {
    return this.enabled && this.options.path !== false;
  }

  private async startSampling(): Promise<void> {
    const page = this.options.statusPage;
    if (page === false || this.history) return;
    this.history = new StatusHistory(statusSources(this.options), page.refreshSeconds, page.historyMinutes);
    // Other cluster workers' pages ask for this one's numbers.
    this.runtime.provideStatusSnapshot(() => this.snapshot());
    // The first tick is the baseline of every rate: taken before the app serves a request.
    await this.tick();
    this.scheduleTick(page.refreshSeconds * 1000);
  }

  /**
   * The next tick on a multiple of `stepMs` of the wall clock: every worker of a cluster then ticks
   * at the same moments, and their history points add up tick by tick. At least half a step
   * ahead: a timer that fired a little early must not take the same boundary twice.
   */
  private scheduleTick(stepMs: number): void {
    if (this.stopped) return;
    const now = Date.now();
    const next = Math.ceil((now + stepMs / 2) / stepMs) * stepMs;
    this.timer = setTimeout(() => {
      void this.tick().finally(() => this.scheduleTick(stepMs));
    }, next - now);
    // The page's sampling never keeps a process alive that would otherwise exit.
    this.timer.unref();
  }

  private stopSampling(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Takes one sample now (the timer calls it); never rejects. */
  async tick(): Promise<void> {
    const history = this.history;
    // A slow collect must not pile samples up.
    if (!history || this.sampling) return;
    this.sampling = true;
    try {
      history.sample(await this.prometheus.registry.getMetricsAsJSON(), Date.now());
      this.failed = false;
    } catch (error) {
      // Once per failure streak: a broken collector would otherwise log every tick.
      if (!this.failed) this.logger.warn(`status page: sampling the metrics failed: ${describeError(error)}`);
      this.failed = true;
    } finally {
      this.sampling = false;
    }
  }

  /** This process's numbers for the page (what other cluster workers merge), or `undefined` when it is off. */
  async snapshot(): Promise<StatusSnapshot | undefined> {
    const history = this.history;
    if (!history) return undefined;
    return history.snapshot(await this.prometheus.registry.getMetricsAsJSON(), Date.now());
  }

  /**
   * The page's data (the shape of `{path}.json`), or `undefined` when the page is off: this
   * process's numbers merged with those of the other cluster workers that answered in time. When
   * the primary does not answer, this worker's alone (`workers.expected: null`), never an error.
   */
  async view(): Promise<StatusView | undefined> {
    if (!this.history) return undefined;
    // Asked first: the other workers read their registries while this one reads its own.
    const peers = this.source.peers().then(
      gathered => {
        this.peersFailed = false;
        return gathered;
      },
      (error: unknown) => {
        // Once per failure streak: the page asks every few seconds.
        if (!this.peersFailed) {
          this.logger.warn(`status page: the other cluster workers' numbers are missing: ${describeError(error)}`);
        }
        this.peersFailed = true;
        return null;
      },
    );
    const own = await this.snapshot();
    const gathered = await peers;
    if (!own) return undefined;
    if (gathered === undefined) return mergeStatus([own], 1);
    if (gathered === null) return mergeStatus([own], null);
    return mergeStatus([own, ...gathered.statuses.filter(isStatusSnapshot)], gathered.expected);
  }

  /** Bytes the history holds now (see the README's figures). */
  historyBytes(): number {
    return this.history?.bytes() ?? 0;
  }

  /** The page's HTML, asked for at `url` (which gives the base of its files, global prefix included). */
  page(url: string | undefined): StatusResponse | undefined {
    const page = this.options.statusPage;
    if (page === false) return undefined;
    return statusHtml(basePathOf(url, page.path), page.refreshSeconds);
  }

  /** One of the page's files, by name. */
  asset(name: string): StatusResponse | undefined {
    return this.enabled ? statusAsset(name) : undefined;
  }

  /** The page's data as a response; a failed read is a 503, never a thrown error. */
  async data(): Promise<StatusResponse | undefined> {
    try {
      const view = await this.view();
      return view && statusJson(view);
    } catch (error) {
      this.logger.error(`status page: reading the metrics failed: ${describeError(error)}`);
      return { status: 503, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: 'metrics unavailable\n' };
    }
  }

  /**
   * The page on the metrics server of `port`: answers `path`, `path.json` and `path/<file>`
   * (GET only) and returns `true`, or returns `false` for any other request.
   */
  readonly serveOnMetricsServer = (req: IncomingMessage, res: ServerResponse): boolean => {
    const page = this.options.statusPage;
    if (page === false) return false;
    const url = req.url ?? '/';
    const pathname = basePathOf(url, '/');
    const file = pathname.startsWith(`${page.path}/`) ? pathname.slice(page.path.length + 1) : undefined;
    if (pathname !== page.path && pathname !== `${page.path}.json` && (file === undefined || file.includes('/'))) {
      return false;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res
        .writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' })
        .end('Method Not Allowed\n');
      return true;
    }
    // A bare server's handler that throws would take the process down: every failure is a 500 here.
    new Promise<StatusResponse | undefined>(resolve =>
      resolve(pathname === page.path ? this.page(url) : file === undefined ? this.data() : this.asset(file)),
    ).then(
      response => {
        if (!response) {
          res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not Found\n');
          return;
        }
        res.writeHead(response.status, { ...response.headers, 'Content-Length': Buffer.byteLength(response.body) });
        res.end(req.method === 'HEAD' ? undefined : response.body);
      },
      (error: unknown) => {
        this.logger.error(`status page: ${describeError(error)}`);
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('Internal Server Error\n');
      },
    );
    return true;
  };
}

/**
 * Where the page reads each family: the names the options give the module's own metrics.
 *
 * @example
 * ```ts
 * statusSources(resolvePrometheusOptions({ statusPage: true })).families[0].requests; // 'http_requests_total'
 * ```
 */
export function statusSources(options: ResolvedPrometheusOptions): StatusSources {
  const families: RequestFamily[] = [];
  const http = options.http;
  if (http && http.metrics.requests) {
    families.push({
      section: 'http',
      requests: http.metrics.requests,
      // A summary has no buckets to take a window's quantiles from.
      duration: http.latency === 'histogram' && http.metrics.duration ? http.metrics.duration : undefined,
      bounds: http.buckets,
      inProgress: http.metrics.inProgress || undefined,
      exceptions: http.metrics.exceptions || undefined,
      keyLabels: ['method', 'route'],
      classLabel: 'status_code',
    });
  }
  if (options.httpClient) {
    const p = options.httpClient.prefix;
    families.push({
      section: 'outbound',
      requests: `${p}http_client_requests_total`,
      duration: `${p}http_client_request_duration_seconds`,
      bounds: options.httpClient.buckets,
      keyLabels: ['method', 'host'],
      classLabel: 'status_code',
    });
  }
  if (options.rpc) {
    const p = options.rpc.prefix;
    families.push({
      section: 'rpc',
      requests: `${p}rpc_requests_total`,
      duration: `${p}rpc_request_duration_seconds`,
      bounds: options.rpc.buckets,
      inProgress: `${p}rpc_requests_in_progress`,
      exceptions: `${p}rpc_exceptions_total`,
      keyLabels: ['pattern'],
      classLabel: 'outcome',
    });
  }
  if (options.ws) {
    const p = options.ws.prefix;
    families.push({
      section: 'ws',
      requests: `${p}ws_messages_total`,
      duration: `${p}ws_message_duration_seconds`,
      bounds: options.ws.buckets,
      keyLabels: ['gateway', 'event'],
      classLabel: 'outcome',
    });
  }
  if (options.graphql) {
    const p = options.graphql.prefix;
    families.push({
      section: 'graphql',
      requests: `${p}graphql_requests_total`,
      duration: `${p}graphql_request_duration_seconds`,
      bounds: options.graphql.buckets,
      exceptions: `${p}graphql_errors_total`,
      keyLabels: ['operation_type', 'field'],
      classLabel: 'outcome',
    });
  }
  return {
    families,
    eventLoopLag: `${options.defaultMetrics.config?.prefix ?? ''}nodejs_eventloop_lag_p99_seconds`,
    overflowMetric: OVERFLOW_METRIC,
    maxSeriesPerMetric: options.maxSeriesPerMetric,
  };
}
