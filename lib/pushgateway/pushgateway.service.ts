import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { renderRegistry } from '../core/exposition/render-metrics.js';
import { markOwnAgent } from '../core/own-agents.js';
import { PROMETHEUS_OPTIONS } from '../runtime/runtime.constants.js';
import type {
  ResolvedPrometheusOptions,
  ResolvedPushgatewayOptions,
} from '../interfaces/resolved-options.interface.js';
import { PrometheusRuntime } from '../runtime/prometheus-runtime.js';
import { PrometheusService } from '../runtime/prometheus.service.js';
import { describeError } from '../core/describe-error.js';
import { gatewayRequest, loggableUrl } from './gateway-request.js';

/**
 * The job and grouping labels of one push; each defaults to the module's `pushgateway` options.
 *
 * @example
 * ```ts
 * await pushgateway.push({ jobName: 'nightly-import', groupings: { instance: hostname() } });
 * ```
 * @public
 */
export interface PushOptions {
  /** Default: the module's `pushgateway.jobName`. */
  jobName?: string;
  /** Merged over the module's `pushgateway.groupings`. */
  groupings?: Record<string, string>;
}

/**
 * Pushes the registry to a Prometheus Pushgateway: for batch jobs and tasks that may end before
 * any scrape. Configured by `forRoot({ pushgateway })`, it also pushes every `intervalMs` and once
 * more when the app shuts down; those automatic pushes log errors and never throw.
 *
 * @example
 * ```ts
 * await app.get(PushgatewayService).pushAdd({ jobName: 'report', groupings: { tenant: 'acme' } });
 * ```
 * @public
 */
@Injectable()
export class PushgatewayService {
  private readonly logger = new Logger('PrometheusModule');
  private readonly config?: ResolvedPushgatewayOptions;
  private readonly agent?: HttpAgent;
  private timer?: NodeJS.Timeout;
  private inFlight?: Promise<void>;

  /** @internal Nest creates it. */
  constructor(
    @Inject(PROMETHEUS_OPTIONS) options: ResolvedPrometheusOptions,
    private readonly prometheus: PrometheusService,
    runtime: PrometheusRuntime,
  ) {
    runtime.at('afterRoutes', 'pushgateway: start periodic pushes', () => this.startPeriodicPushes());
    runtime.at('destroy', 'pushgateway: stop periodic pushes', () => clearInterval(this.timer));
    runtime.at('shutdown', 'pushgateway: final push', () => this.finalPush());
    this.config = options.pushgateway;
    if (!this.config) return;
    // An agent of its own marks the module's own requests (left out of the outbound HTTP metrics).
    this.agent = new URL(this.config.url).protocol === 'https:' ? new HttpsAgent() : new HttpAgent();
    markOwnAgent(this.agent);
  }

  /** Replaces the metrics of the group (HTTP PUT). */
  push(options?: PushOptions): Promise<void> {
    return this.send('push', options);
  }

  /** Adds to the metrics of the group, replacing only metrics of the same names (HTTP POST). */
  pushAdd(options?: PushOptions): Promise<void> {
    return this.send('pushAdd', options);
  }

  /** Deletes the group's metrics from the Pushgateway. */
  delete(options?: PushOptions): Promise<void> {
    return this.send('delete', options);
  }

  private startPeriodicPushes(): void {
    const interval = this.config?.intervalMs ?? 0;
    if (interval <= 0) return;
    // A slow gateway must not pile up requests: a tick while a push is on its way is skipped.
    this.timer = setInterval(() => {
      if (this.inFlight === undefined) void this.pushQuietly('periodic push');
    }, interval);
    // A pending push must not keep a finished batch job alive.
    this.timer.unref();
  }

  private async finalPush(): Promise<void> {
    clearInterval(this.timer);
    // The final push comes after the one on its way, so it carries the last values.
    if (this.inFlight) await this.inFlight;
    if (this.config?.pushOnShutdown) await this.pushQuietly('final push');
  }

  /** An automatic push: errors are logged, never thrown. */
  private async pushQuietly(what: string): Promise<void> {
    const push = this.push().catch((error: unknown) => {
      this.logger.error(
        `Pushgateway ${what} to ${loggableUrl(this.config?.url ?? '')} failed: ${describeError(error)}`,
      );
    });
    this.inFlight = push;
    await push;
    if (this.inFlight === push) this.inFlight = undefined;
  }

  private async send(method: 'push' | 'pushAdd' | 'delete', options: PushOptions = {}): Promise<void> {
    const config = this.config;
    if (!config || !this.agent) {
      throw new Error(
        'PushgatewayService: no Pushgateway configured (PrometheusModule.forRoot({ pushgateway: { url, jobName } }))',
      );
    }
    const jobName = options.jobName ?? config.jobName;
    if (jobName === undefined || jobName === '') {
      throw new Error(
        `Pushgateway ${method}(): no jobName (pass { jobName }, or set pushgateway.jobName in the module options)`,
      );
    }
    const groupings = { ...config.groupings, ...(options.groupings ?? {}) };
    await gatewayRequest({
      method: method === 'push' ? 'PUT' : method === 'pushAdd' ? 'POST' : 'DELETE',
      url: config.url,
      jobName,
      groupings,
      // The Pushgateway reads the text format.
      body:
        method === 'delete'
          ? undefined
          : (await renderRegistry(config.registry ?? this.prometheus.registry, undefined)).body,
      headers: config.headers,
      timeoutMs: config.timeoutMs,
      agent: this.agent,
    });
  }
}
