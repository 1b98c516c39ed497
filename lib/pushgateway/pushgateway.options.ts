import type { Registry } from 'prom-client';
import { assertLabelName } from '../core/metric-names.js';
import { warnUnknownKeys } from '../core/option-checks.js';
import type { PushgatewayOptions } from '../interfaces/index.js';
import type { ResolvedPushgatewayOptions } from '../interfaces/resolved-options.interface.js';

const WHERE = 'PrometheusModule options.pushgateway';

const PUSHGATEWAY_REQUEST_OPTIONS: ReadonlySet<string> = new Set(['headers', 'timeout', 'auth']);

export function resolvePushgatewayOptions(o: PushgatewayOptions): ResolvedPushgatewayOptions {
  const where = WHERE;
  if (typeof o !== 'object' || o === null) throw new Error(`${where} must be an object`);
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    throw new Error(`${where}.url must be an http(s) URL, not ${JSON.stringify(o.url)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`${where}.url must be an http(s) URL, not ${JSON.stringify(o.url)}`);
  }
  if (o.jobName !== undefined && (typeof o.jobName !== 'string' || o.jobName === '')) {
    throw new Error(`${where}.jobName must be a non-empty string`);
  }
  for (const name of Object.keys(o.groupings ?? {})) assertLabelName(name, `${where}.groupings`);
  const intervalMs = o.intervalMs ?? 0;
  if (!Number.isFinite(intervalMs) || intervalMs < 0) throw new Error(`${where}.intervalMs must be a number >= 0`);
  // `@willsoto/nestjs-prometheus` style: { url, options, registry }.
  const request = o.options ?? {};
  if (typeof request !== 'object' || request === null) throw new Error(`${where}.options must be an object`);
  warnUnknownKeys(request, PUSHGATEWAY_REQUEST_OPTIONS, `${where}.options`);
  const timeoutMs = o.timeoutMs ?? request.timeout ?? 5000;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new Error(`${where}.timeoutMs must be a number > 0`);
  }
  if (request.auth !== undefined && typeof request.auth !== 'string') {
    throw new Error(`${where}.options.auth must be a string 'user:password'`);
  }
  const headers: Record<string, string> = { ...(request.headers ?? {}), ...(o.headers ?? {}) };
  if (request.auth) headers.Authorization = `Basic ${Buffer.from(request.auth).toString('base64')}`;
  // Automatic pushes need a job to push to; without one (willsoto's form), pushes are the app's calls.
  if (o.jobName === undefined && intervalMs > 0) throw new Error(`${where}.intervalMs needs pushgateway.jobName`);
  if (o.jobName === undefined && o.pushOnShutdown === true) {
    throw new Error(`${where}.pushOnShutdown needs pushgateway.jobName`);
  }
  if (o.registry !== undefined && typeof (o.registry as Registry | null)?.metrics !== 'function') {
    throw new Error(`${where}.registry must be a prom-client Registry`);
  }
  return {
    url: o.url,
    jobName: o.jobName,
    groupings: { ...(o.groupings ?? {}) },
    intervalMs,
    pushOnShutdown: o.pushOnShutdown ?? o.jobName !== undefined,
    timeoutMs,
    headers: Object.keys(headers).length > 0 ? headers : undefined,
    registry: o.registry,
  };
}
