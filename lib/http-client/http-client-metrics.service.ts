import diagnostics from 'node:diagnostics_channel';
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { CardinalityGuard } from '../cardinality/cardinality-guard.js';
import { ensureMetric, type MetricDefinition } from '../metrics/metric-registrar.js';
import { SeriesCounter } from '../metrics/series-counter.js';
import { SeriesHistogram } from '../metrics/series-histogram.js';
import { PROMETHEUS_OPTIONS } from '../prometheus.constants.js';
import type { ResolvedHttpClientOptions, ResolvedPrometheusOptions } from '../prometheus-options.js';
import { PrometheusService } from '../prometheus.service.js';
import { ownAgents } from './own-agents.js';

const DECLARED_BY = 'PrometheusModule (httpClient)';
/** Hosts remembered with their label; beyond this, labels are worked out again each time. */
const HOST_CACHE_SIZE = 1000;

interface InFlight {
  readonly start: number;
  readonly method: string;
  readonly host: string;
}

interface UndiciRequest {
  origin?: string | URL;
  method?: string;
}
interface NodeClientRequest {
  method?: string;
  host?: string;
  agent?: object;
  getHeader?(name: string): unknown;
}
interface ChannelMessage {
  request: object;
  response?: { statusCode?: number };
  error?: { code?: unknown; name?: unknown; constructor?: { name?: string } };
}

type Listener = (message: unknown) => void;

/**
 * Outbound HTTP metrics from Node's diagnostics channels: undici (`fetch`) and `node:http`/`https`
 * (axios, `@nestjs/axios`, got, `http.request`) publish every request there, so nothing is patched.
 * The duration runs from the start of the request to its response's headers.
 */
@Injectable()
export class HttpClientMetricsService implements OnModuleInit, OnApplicationShutdown {
  private readonly inFlight = new WeakMap<object, InFlight>();
  private readonly hostLabels = new Map<string, string>();
  private readonly subscriptions: [string, Listener][] = [];
  private requests?: SeriesCounter;
  private duration?: SeriesHistogram;
  private errors?: SeriesCounter;

  constructor(
    @Inject(PROMETHEUS_OPTIONS) private readonly options: ResolvedPrometheusOptions,
    private readonly prometheus: PrometheusService,
    private readonly guard: CardinalityGuard,
  ) {}

  onModuleInit(): void {
    const o = this.options.httpClient;
    if (o === false || this.subscriptions.length > 0) return;
    this.createMetrics(o);
    this.subscribe('undici:request:create', ({ request }) => {
      const r = request as UndiciRequest;
      this.begin(request, r.method ?? 'GET', hostOf(r.origin));
    });
    this.subscribe('undici:request:headers', m => this.end(m.request, String(m.response?.statusCode ?? 0)));
    this.subscribe('undici:request:error', m => this.fail(m.request, m.error));
    this.subscribe('http.client.request.start', ({ request }) => {
      const r = request as NodeClientRequest;
      if (r.agent !== undefined && ownAgents.has(r.agent)) return;
      const host = r.getHeader?.('host');
      this.begin(request, r.method ?? 'GET', typeof host === 'string' ? host : (r.host ?? 'unknown'));
    });
    this.subscribe('http.client.response.finish', m => this.end(m.request, String(m.response?.statusCode ?? 0)));
    this.subscribe('http.client.request.error', m => this.fail(m.request, m.error));
  }

  onApplicationShutdown(): void {
    for (const [name, listener] of this.subscriptions) diagnostics.unsubscribe(name, listener);
    this.subscriptions.length = 0;
  }

  private createMetrics(o: ResolvedHttpClientOptions): void {
    const registry = this.prometheus.registry;
    const def = (type: MetricDefinition['type'], name: string, help: string, labelNames: string[], buckets?: readonly number[]) => ({
      type,
      name,
      help,
      labelNames,
      buckets,
      declaredBy: DECLARED_BY,
    });
    const requests = `${o.prefix}http_client_requests_total`;
    const duration = `${o.prefix}http_client_request_duration_seconds`;
    const errors = `${o.prefix}http_client_errors_total`;
    const requestsHelp = 'Outgoing HTTP requests, by target host and status code ("error": no response)';
    const durationHelp = 'Time from the start of an outgoing HTTP request to its response headers, in seconds';
    const errorsHelp = 'Outgoing HTTP requests that failed before any response, by error code';
    const labels = ['method', 'host', 'status_code'];
    this.requests = ensureMetric(registry, def('counter', requests, requestsHelp, labels), SeriesCounter, () => new SeriesCounter(requests, requestsHelp, labels));
    this.duration = ensureMetric(
      registry,
      def('histogram', duration, durationHelp, labels, o.buckets),
      SeriesHistogram,
      () => new SeriesHistogram(duration, durationHelp, labels, o.buckets),
    );
    this.errors = ensureMetric(
      registry,
      def('counter', errors, errorsHelp, ['method', 'host', 'error']),
      SeriesCounter,
      () => new SeriesCounter(errors, errorsHelp, ['method', 'host', 'error']),
    );
    for (const metric of [this.requests, this.duration, this.errors]) metric.limitBy(this.guard);
  }

  private subscribe(name: string, handle: (message: ChannelMessage) => void): void {
    // A metric must never break the request it measures.
    const listener: Listener = message => {
      try {
        handle(message as ChannelMessage);
      } catch {
        // Nothing to report per request; the request goes on unmeasured.
      }
    };
    diagnostics.subscribe(name, listener);
    this.subscriptions.push([name, listener]);
  }

  private begin(request: object, method: string, host: string): void {
    this.inFlight.set(request, { start: performance.now(), method: method.toUpperCase(), host: this.hostLabel(host) });
  }

  private end(request: object, status: string): void {
    const r = this.inFlight.get(request);
    if (r === undefined) return;
    this.inFlight.delete(request);
    const values = [r.method, r.host, status];
    this.requests?.child(values).inc();
    this.duration?.child(values).observe((performance.now() - r.start) / 1000);
  }

  private fail(request: object, error: ChannelMessage['error']): void {
    const r = this.inFlight.get(request);
    // After its response, a request's error (a body cut short) is not a failed request.
    if (r === undefined) return;
    this.end(request, 'error');
    this.errors?.child([r.method, r.host, errorName(error)]).inc();
  }

  /** The host's label: itself, or `other` when an allow-list does not name it. */
  private hostLabel(host: string): string {
    const hosts = (this.options.httpClient as ResolvedHttpClientOptions).hosts;
    if (hosts === undefined) return host;
    let label = this.hostLabels.get(host);
    if (label !== undefined) return label;
    const hostname = host.replace(/:\d+$/, '');
    label = hosts.some(h => (typeof h === 'string' ? h === host || h === hostname : ((h.lastIndex = 0), h.test(host))))
      ? host
      : 'other';
    if (this.hostLabels.size < HOST_CACHE_SIZE) this.hostLabels.set(host, label);
    return label;
  }
}

function hostOf(origin: string | URL | undefined): string {
  if (origin === undefined) return 'unknown';
  try {
    return (typeof origin === 'string' ? new URL(origin) : origin).host;
  } catch {
    return String(origin);
  }
}

function errorName(error: ChannelMessage['error']): string {
  if (error === undefined || error === null) return 'unknown';
  if (typeof error.code === 'string' && error.code !== '') return error.code;
  return error.constructor?.name || (typeof error.name === 'string' ? error.name : 'Error');
}
