import { register, Registry } from 'prom-client';
import { resolveEnabledOptions, resolvePrometheusOptions } from './prometheus-options.js';

// Option resolution: defaults merged, and every bad value refused with the option's full name.

describe('resolvePrometheusOptions', () => {
  it('gives the documented defaults', () => {
    const o = resolvePrometheusOptions({});
    expect(o.path).toBe('/metrics');
    expect(o.registry).toBe(register);
    expect(o.maxSeriesPerMetric).toBe(10_000);
    expect(o.maxLabelValueLength).toBe(128);
    expect(o.maxConcurrentScrapes).toBe(2);
    expect(o.server).toBeUndefined();
    expect(o.cluster).toBe(false);
    expect(o.httpClient).toBe(false);
    expect(o.http && o.http.metrics.requests).toBe('http_requests_total');
    expect(o.rpc && o.rpc.buckets).toEqual([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
  });

  it('normalises the path and takes 0 as "no limit"', () => {
    const o = resolvePrometheusOptions({ path: 'stats/', maxSeriesPerMetric: 0, registry: new Registry() });
    expect(o.path).toBe('/stats');
    expect(o.maxSeriesPerMetric).toBe(Infinity);
  });

  it('with a port of its own, serves on the app only when a path is given', () => {
    expect(resolvePrometheusOptions({ port: 9464 })).toMatchObject({
      path: false,
      server: { port: 9464, host: '127.0.0.1', path: '/metrics' },
    });
    expect(resolvePrometheusOptions({ port: 9464, path: '/m' }).path).toBe('/m');
  });

  it.each([
    [{ http: { buckets: [1, 0.5] } }, 'PrometheusModule options.http.buckets'],
    [{ http: { prefix: '9bad' } }, 'PrometheusModule options.http.prefix'],
    [{ http: { excludePaths: [42 as unknown as string] } }, 'PrometheusModule options.http.excludePaths'],
    [{ rpc: { exclude: [{} as unknown as string] } }, 'PrometheusModule options.rpc.exclude'],
    [{ ws: { buckets: [] } }, 'PrometheusModule options.ws.buckets'],
    [{ httpClient: { enabled: true, hosts: [1 as unknown as string] } }, 'PrometheusModule options.httpClient.hosts'],
    [{ maxSeriesPerMetric: 1.5 }, 'PrometheusModule options.maxSeriesPerMetric'],
    [{ maxConcurrentScrapes: 0 }, 'PrometheusModule options.maxConcurrentScrapes'],
    [{ port: 70000 }, 'PrometheusModule options.port'],
    [{ host: 'x' }, 'PrometheusModule options.host'],
    [{ path: '' }, 'PrometheusModule options.path'],
    [{ cluster: { timeoutMs: -1 } }, 'PrometheusModule options.cluster.timeoutMs'],
    [{ pushgateway: { url: 'ftp://x' } }, 'PrometheusModule options.pushgateway.url'],
    [{ defaultLabels: { service: '' } }, 'PrometheusModule options.defaultLabels.service'],
    [{ customMetricPrefix: '1x' }, 'PrometheusModule options.customMetricPrefix'],
  ])('refuses %j naming %s', (options, name) => {
    expect(() => resolvePrometheusOptions(options as never)).toThrow(name);
  });
});

describe('resolveEnabledOptions', () => {
  it('enabled: false checks the options, then switches everything off', () => {
    const o = resolveEnabledOptions({ enabled: false, http: { prefix: 'app_' } });
    expect(o).toMatchObject({ enabled: false, path: false, http: false, rpc: false, cluster: false });
    expect(() => resolveEnabledOptions({ enabled: false, http: { buckets: [] } })).toThrow(
      'PrometheusModule options.http.buckets',
    );
  });
});
