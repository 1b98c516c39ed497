import { Counter, Registry } from 'prom-client';
import { negotiate, renderRegistry, requestedNames } from './render-metrics.js';

describe('exposition rendering', () => {
  it('negotiates OpenMetrics only when Accept names it', () => {
    expect(negotiate(undefined)).toBe(Registry.PROMETHEUS_CONTENT_TYPE);
    expect(negotiate('text/plain;version=0.0.4;q=0.3,*/*;q=0.2')).toBe(Registry.PROMETHEUS_CONTENT_TYPE);
    expect(negotiate('application/openmetrics-text;version=1.0.0,text/plain;q=0.5')).toBe(
      Registry.OPENMETRICS_CONTENT_TYPE,
    );
  });

  it('reads ?name[]= (and ?name=) as client_golang does', () => {
    expect(requestedNames('/metrics')).toBeUndefined();
    expect(requestedNames('/metrics?x=1')).toBeUndefined();
    expect(requestedNames('/metrics?name[]=a&name[]=b&name=c')).toEqual(['a', 'b', 'c']);
  });

  it('renders text as prom-client does, OpenMetrics with # EOF, and only the families asked for', async () => {
    const registry = new Registry();
    const jobs = new Counter({ name: 'jobs_total', help: 'Jobs', labelNames: ['q'], registers: [registry] });
    new Counter({ name: 'other_total', help: 'Other', registers: [registry] }).inc();
    jobs.inc({ q: 'a "quoted"\\ value' }, 2);

    const text = await renderRegistry(registry, undefined);
    expect(text.body).toBe(await registry.metrics());

    const open = await renderRegistry(registry, 'application/openmetrics-text; version=1.0.0');
    expect(open.contentType).toBe(Registry.OPENMETRICS_CONTENT_TYPE);
    expect(open.body).toContain('jobs_total{q="a \\"quoted\\"\\\\ value"} 2\n');
    expect(open.body.endsWith('# EOF\n')).toBe(true);

    const only = await renderRegistry(registry, undefined, ['other_total']);
    expect(only.body).toBe('# HELP other_total Other\n# TYPE other_total counter\nother_total 1\n');
  });
});
