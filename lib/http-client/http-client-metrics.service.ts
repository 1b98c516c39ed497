import { Inject, Injectable } from '@nestjs/common';
import { annotation } from '../core/annotation.js';
import { CardinalityGuard } from '../core/cardinality-guard.js';
import { FamilyFactory } from '../core/family-factory.js';
import type { CounterFamily } from '../core/counter-family.js';
import { PROMETHEUS_OPTIONS } from '../runtime/runtime.constants.js';
import type { ResolvedHttpClientOptions, ResolvedPrometheusOptions } from '../interfaces/resolved-options.interface.js';
import { PrometheusRuntime } from '../runtime/prometheus-runtime.js';
import { PrometheusService } from '../runtime/prometheus.service.js';
import { type HttpClientMetrics, HttpClientRecorder } from './http-client-recorder.js';

const DECLARED_BY = 'PrometheusModule (httpClient)';

// The recorder of each set of metrics and how many apps use it: the diagnostics channels are
// process-wide, so two apps on one registry must not both record each request.
const recorders = annotation<{ recorder: HttpClientRecorder; users: number }>('outbound-recorder');

/** `forRoot({ httpClient })`: outbound HTTP metrics while the app runs. */
@Injectable()
export class HttpClientMetricsService {
  private requests?: CounterFamily;

  constructor(
    @Inject(PROMETHEUS_OPTIONS) private readonly options: ResolvedPrometheusOptions,
    private readonly prometheus: PrometheusService,
    private readonly guard: CardinalityGuard,
    runtime: PrometheusRuntime,
  ) {
    runtime.at('afterRoutes', 'httpClient: subscribe to the diagnostics channels', () => this.start());
    runtime.at('shutdown', 'httpClient: unsubscribe', () => this.stop());
  }

  private start(): void {
    const o = this.options.httpClient;
    if (o === false || this.requests) return;
    const metrics = this.createMetrics(o);
    this.requests = metrics.requests;
    let shared = recorders.get(metrics.requests);
    if (!shared) {
      shared = { recorder: new HttpClientRecorder(metrics, o), users: 0 };
      shared.recorder.start();
      recorders.set(metrics.requests, shared);
    }
    shared.users++;
  }

  private stop(): void {
    const requests = this.requests;
    this.requests = undefined;
    const shared = requests && recorders.get(requests);
    if (!requests || !shared || --shared.users > 0) return;
    shared.recorder.stop();
    // The next app on these metrics starts a recorder of its own.
    recorders.delete(requests);
  }

  private createMetrics(o: ResolvedHttpClientOptions): HttpClientMetrics {
    const factory = new FamilyFactory(this.prometheus.registry, this.guard, DECLARED_BY);
    const labels = ['method', 'host', 'status_code'];
    return {
      requests: factory.counter(
        `${o.prefix}http_client_requests_total`,
        'Outgoing HTTP requests, by target host and status code ("error": no response)',
        labels,
      ),
      duration: factory.histogram(
        `${o.prefix}http_client_request_duration_seconds`,
        'Time from the start of an outgoing HTTP request to its response headers, in seconds',
        labels,
        o.buckets,
        o.nativeHistograms,
      ),
      errors: factory.counter(
        `${o.prefix}http_client_errors_total`,
        'Outgoing HTTP requests that failed before any response, by error code',
        ['method', 'host', 'error'],
      ),
    };
  }
}
