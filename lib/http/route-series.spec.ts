import { Registry } from 'prom-client';
import { CardinalityGuard } from '../core/cardinality-guard.js';
import { HttpMetrics } from './http-metrics.js';
import { resolveHttpOptions } from './http.options.js';
import { RouteSeries } from './route-series.js';

// Route grouping: the series of one route and method, with status codes grouped or not and
// extra-label variants held to the cardinality cap.

function routeSeries(http: Parameters<typeof resolveHttpOptions>[0], maxSeries = Infinity) {
  const registry = new Registry();
  const options = resolveHttpOptions(http);
  if (options === false) throw new Error('http is on in these specs');
  const guard = new CardinalityGuard(registry, { maxSeries, maxLabelValueLength: Infinity });
  return {
    registry,
    route: new RouteSeries(new HttpMetrics(registry, options, guard), 'GET', '/users/:id', options.groupStatusCodes),
  };
}

describe('RouteSeries', () => {
  it('counts each status code apart, and an exception class only for 5xx', async () => {
    const { registry, route } = routeSeries({});
    route.observe(200, 0.01, 0, 10);
    route.observe(200, 0.02, 0, 10);
    route.observe(404, 0.01, 0, 5, 'NotFoundException');
    route.observe(503, 0.5, 0, 5, 'ServiceUnavailableException');
    const text = await registry.metrics();
    expect(text).toContain('http_requests_total{method="GET",route="/users/:id",status_code="200"} 2\n');
    expect(text).toContain('http_requests_total{method="GET",route="/users/:id",status_code="404"} 1\n');
    expect(text).toContain(
      'http_exceptions_total{method="GET",route="/users/:id",exception="ServiceUnavailableException"} 1\n',
    );
    expect(text).not.toContain('NotFoundException');
  });

  it('groupStatusCodes: 200 and 201 are one 2xx series', async () => {
    const { registry, route } = routeSeries({ groupStatusCodes: true });
    route.observe(200, 0.01, 0, 1);
    route.observe(201, 0.01, 0, 1);
    route.observe(404, 0.01, 0, 1);
    const text = await registry.metrics();
    expect(text).toContain('http_requests_total{method="GET",route="/users/:id",status_code="2xx"} 2\n');
    expect(text).toContain('http_requests_total{method="GET",route="/users/:id",status_code="4xx"} 1\n');
  });

  it('extra-label values past maxSeriesPerMetric land in the one __overflow__ series, counted as diverted', async () => {
    const { registry, route } = routeSeries({ labels: { tenant: () => 'x' } }, 2);
    for (const tenant of ['a', 'b', 'c', 'd']) route.variant([tenant]).observe(200, 0.01, 0, 1);
    const text = await registry.metrics();
    const requests = text.split('\n').filter(l => l.startsWith('http_requests_total{'));
    expect(requests).toEqual([
      'http_requests_total{method="GET",route="/users/:id",status_code="200",tenant="a"} 1',
      'http_requests_total{method="GET",route="/users/:id",status_code="200",tenant="b"} 1',
      'http_requests_total{method="__overflow__",route="__overflow__",status_code="__overflow__",tenant="__overflow__"} 2',
    ]);
    expect(text).toContain('prometheus_series_overflow_total{metric="http_requests_total"} 2\n');
    expect(route.variant(['a'])).toBe(route.variant(['a']));
  });
});
