import diagnostics from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import type { CounterFamily } from '../core/counter-family.js';
import type { HistogramFamily } from '../core/histogram-family.js';
import type { ResolvedHttpClientOptions } from '../interfaces/resolved-options.interface.js';
import { isOwnAgent } from '../core/own-agents.js';
import { matchesPattern } from '../core/label-values.js';

/** Hosts remembered with their label; beyond this, labels are worked out again each time. */
const HOST_CACHE_SIZE = 1000;

export interface HttpClientMetrics {
  requests: CounterFamily;
  duration: HistogramFamily;
  errors: CounterFamily;
}

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
 * Records outbound HTTP requests from Node's diagnostics channels: undici (`fetch`) and
 * `node:http`/`https` (axios, `@nestjs/axios`, got, `http.request`) publish every request there,
 * so nothing is patched. The duration runs from the start of the request to its response's headers.
 * One recorder per set of metrics: apps that share a registry share it, so each request counts once.
 */
export class HttpClientRecorder {
  private readonly inFlight = new WeakMap<object, InFlight>();
  private readonly hostLabels = new Map<string, string>();
  private readonly subscriptions: [string, Listener][] = [];

  constructor(
    private readonly metrics: HttpClientMetrics,
    private readonly options: ResolvedHttpClientOptions,
  ) {}

  start(): void {
    this.subscribe('undici:request:create', ({ request }) => {
      const r = request as UndiciRequest;
      this.begin(request, r.method ?? 'GET', hostOf(r.origin));
    });
    this.subscribe('undici:request:headers', m => this.end(m.request, String(m.response?.statusCode ?? 0)));
    this.subscribe('undici:request:error', m => this.fail(m.request, m.error));
    this.subscribe('http.client.request.start', ({ request }) => {
      const r = request as NodeClientRequest;
      if (isOwnAgent(r.agent)) return;
      const host = r.getHeader?.('host');
      this.begin(request, r.method ?? 'GET', typeof host === 'string' ? host : (r.host ?? 'unknown'));
    });
    this.subscribe('http.client.response.finish', m => this.end(m.request, String(m.response?.statusCode ?? 0)));
    this.subscribe('http.client.request.error', m => this.fail(m.request, m.error));
  }

  stop(): void {
    for (const [name, listener] of this.subscriptions) diagnostics.unsubscribe(name, listener);
    this.subscriptions.length = 0;
  }

  private subscribe(name: string, handle: (message: ChannelMessage) => void): void {
    // A metric must never break the request it measures.
    const listener: Listener = message => {
      try {
        handle(message as ChannelMessage);
      } catch {
        // The request goes on unmeasured.
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
    this.metrics.requests.child(values).inc();
    this.metrics.duration.child(values).observe((performance.now() - r.start) / 1000);
  }

  private fail(request: object, error: ChannelMessage['error']): void {
    const r = this.inFlight.get(request);
    // After its response, a request's error (a body cut short) is not a failed request.
    if (r === undefined) return;
    this.end(request, 'error');
    this.metrics.errors.child([r.method, r.host, errorName(error)]).inc();
  }

  /** The host's label: itself, or `other` when an allow-list does not name it. */
  private hostLabel(host: string): string {
    const hosts = this.options.hosts;
    if (hosts === undefined) return host;
    let label = this.hostLabels.get(host);
    if (label !== undefined) return label;
    const hostname = host.replace(/:\d+$/, '');
    label = hosts.some(h => matchesPattern(h, host) || h === hostname) ? host : 'other';
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
