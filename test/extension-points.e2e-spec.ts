import 'reflect-metadata';
import { IncomingMessage, ServerResponse } from 'node:http';
import { type DynamicModule, type INestApplication, Logger } from '@nestjs/common';
import { jest } from '@jest/globals';
import { Counter as PromCounter, Registry } from 'prom-client';
import request from 'supertest';
import { type HttpRequestInfo, PrometheusModule, type PrometheusModuleOptions } from '../lib/index.js';
import { ADAPTERS, createApp, scrape } from './utils/app.js';
import { type Exposition, findSamples, sampleValue, sumOf } from './utils/exposition.js';
import { httpFamilies, PaymentDeclinedError, ShopController } from './utils/shop.js';

/*
 * Extension points of the default HTTP metrics: observe callbacks, extra labels, per-metric
 * switches and renames, latency as a summary. `enabled: false` is in enabled-false.e2e-spec.ts,
 * the endpoint's `?name[]=` filter and Swagger in endpoint-name-filter.e2e-spec.ts.
 */

const HELP = 'extension points test metric';

/** The default HTTP metric families, by their `http.metrics` switch (README, "Default HTTP metrics"). */
const FAMILIES = {
  requests: 'http_requests_total',
  duration: 'http_request_duration_seconds',
  inProgress: 'http_requests_in_progress',
  exceptions: 'http_exceptions_total',
  requestSize: 'http_request_size_bytes',
  responseSize: 'http_response_size_bytes',
} as const;
type SwitchKey = keyof typeof FAMILIES;

function prometheus(registry: Registry, options: PrometheusModuleOptions = {}): DynamicModule {
  return PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false }, ...options });
}

function shopApp(adapter: (typeof ADAPTERS)[number], registry: Registry, options: PrometheusModuleOptions = {}) {
  return createApp(adapter, { imports: [prometheus(registry, options)], controllers: [ShopController] });
}

function warnings(spy: { mock: { calls: unknown[][] } }, text: string): string[] {
  return spy.mock.calls.map(([m]) => String(m)).filter(m => m.includes(text));
}

describe.each(ADAPTERS)('http.observe (%s)', adapter => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
    jest.restoreAllMocks();
  });

  it('is called once per counted request, after the defaults, with what the module measured', async () => {
    const registry = new Registry();
    const infos: HttpRequestInfo[] = [];
    // What http_requests_total held for the request's route when the callback ran (read synchronously).
    const countsSeen: Promise<number>[] = [];
    app = await shopApp(adapter, registry, {
      http: {
        excludePaths: ['/shop/health'],
        observe: [
          info => {
            infos.push(info);
            const requests = registry.getSingleMetric('http_requests_total');
            countsSeen.push(
              Promise.resolve(requests?.get()).then(m =>
                (m?.values ?? []).filter(v => v.labels.route === info.route).reduce((a, v) => a + v.value, 0),
              ),
            );
          },
        ],
      },
    });
    const server = app.getHttpServer();
    const got = await request(server).get('/shop/items/7').set('x-request-id', 'req-1').expect(200);
    const body = { sku: 'abc-123', quantity: 2 };
    const posted = await request(server).post('/shop/items').send(body).expect(201);
    await request(server).get('/shop/pay').set('x-request-id', 'req-3').expect(500);
    await request(server).get('/shop/health').expect(200);
    await request(server).get('/shop/private').expect(200);
    const exp = await scrape(app);

    expect(infos.map(i => `${i.method} ${i.route} ${i.statusCode}`)).toEqual([
      'GET /shop/items/:id 200',
      'POST /shop/items 201',
      'GET /shop/pay 500',
    ]);
    expect(await Promise.all(countsSeen)).toEqual([1, 1, 1]);

    const [item, created, failed] = infos;
    // The raw Node request and response, on both adapters.
    expect(item.request).toBeInstanceOf(IncomingMessage);
    expect(item.response).toBeInstanceOf(ServerResponse);
    expect(item.request.headers['x-request-id']).toBe('req-1');
    expect(item.request.url).toBe('/shop/items/7');
    expect(item.response.statusCode).toBe(200);
    expect(failed.request.headers['x-request-id']).toBe('req-3');

    expect(item.responseSize).toBe(Number(got.headers['content-length']));
    expect(item.requestSize).toBe(0);
    expect(created.requestSize).toBe(Buffer.byteLength(JSON.stringify(body)));
    expect(created.responseSize).toBe(Number(posted.headers['content-length']));

    expect(item.exception).toBeUndefined();
    expect(created.exception).toBeUndefined();
    expect(failed.exception).toBe(PaymentDeclinedError.name);

    // The duration is the one the default histogram recorded.
    for (const info of infos) {
      expect(info.durationSeconds).toBeGreaterThan(0);
      expect(sampleValue(exp, 'http_request_duration_seconds_sum', { route: info.route })).toBeCloseTo(
        info.durationSeconds,
        9,
      );
    }
    expect(sampleValue(exp, 'http_request_size_bytes_sum', { route: '/shop/items' })).toBe(created.requestSize);
  });

  it("feeds a user's own metric in the same registry", async () => {
    const registry = new Registry();
    const byClass = new PromCounter({
      name: 'api_responses_by_class_total',
      help: HELP,
      labelNames: ['route', 'status_class'],
      registers: [registry],
    });
    app = await shopApp(adapter, registry, {
      http: {
        observe: [info => byClass.inc({ route: info.route, status_class: `${Math.floor(info.statusCode / 100)}xx` })],
      },
    });
    const server = app.getHttpServer();
    await request(server).get('/shop/items/1').expect(200);
    await request(server).get('/shop/items/2').expect(200);
    await request(server).get('/shop/pay').expect(500);
    await request(server).get('/nowhere').expect(404);
    await request(server).get('/shop/private').expect(200);

    const exp = await scrape(app);
    expect(exp.families.get('api_responses_by_class_total')?.type).toBe('counter');
    expect(
      findSamples(exp, 'api_responses_by_class_total')
        .map(s => `${s.labels.route} ${s.labels.status_class} ${s.value}`)
        .sort(),
    ).toEqual(['/shop/items/:id 2xx 2', '/shop/pay 5xx 1', '__unmatched__ 4xx 1']);
  });

  it('a callback that throws is reported once and breaks neither the request nor the other callbacks', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const registry = new Registry();
    const routes: string[] = [];
    app = await shopApp(adapter, registry, {
      http: {
        observe: [
          () => {
            throw new Error('observer exploded');
          },
          info => routes.push(info.route),
        ],
      },
    });
    const server = app.getHttpServer();
    for (let i = 0; i < 3; i++)
      await request(server)
        .get(`/shop/items/${i}`)
        .expect(200)
        .expect({ id: String(i) });
    const exp = await scrape(app);
    expect(routes).toEqual(['/shop/items/:id', '/shop/items/:id', '/shop/items/:id']);
    expect(sampleValue(exp, 'http_requests_total', { route: '/shop/items/:id', status_code: '200' })).toBe(3);
    const reported = warnings(warn, 'http.observe[0]');
    expect(reported).toHaveLength(1);
    expect(reported[0]).toContain('observer exploded');
    expect(warnings(warn, 'http.observe[1]')).toEqual([]);
  });

  it('fails at bootstrap when observe is not a list of functions', async () => {
    await expect(shopApp(adapter, new Registry(), { http: { observe: ['not a function'] as never } })).rejects.toThrow(
      'PrometheusModule options.http.observe must be an array of functions',
    );
  });
});

describe.each(ADAPTERS)('http.labels (%s)', adapter => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
    jest.restoreAllMocks();
  });

  const tenantOf = (req: IncomingMessage) => {
    const tenant = req.headers['x-tenant'];
    return typeof tenant === 'string' ? tenant : 'none';
  };

  it('adds the label to every default metric but http_requests_in_progress', async () => {
    const registry = new Registry();
    app = await shopApp(adapter, registry, { http: { labels: { tenant: tenantOf } } });
    const server = app.getHttpServer();
    await request(server).get('/shop/items/1').set('x-tenant', 'acme').expect(200);
    await request(server).get('/shop/items/2').set('x-tenant', 'acme').expect(200);
    await request(server).get('/shop/items/3').set('x-tenant', 'globex').expect(200);
    await request(server).get('/shop/items/4').expect(200);
    await request(server).post('/shop/items').set('x-tenant', 'globex').send({ a: 1 }).expect(201);
    await request(server).get('/shop/pay').set('x-tenant', 'acme').expect(500);
    const exp = await scrape(app);

    const item = { method: 'GET', route: '/shop/items/:id', status_code: '200' };
    expect(sampleValue(exp, 'http_requests_total', { ...item, tenant: 'acme' })).toBe(2);
    expect(sampleValue(exp, 'http_requests_total', { ...item, tenant: 'globex' })).toBe(1);
    expect(sampleValue(exp, 'http_requests_total', { ...item, tenant: 'none' })).toBe(1);
    expect(sampleValue(exp, 'http_requests_total', { route: '/shop/pay', status_code: '500', tenant: 'acme' })).toBe(1);
    expect(sampleValue(exp, 'http_request_duration_seconds_count', { ...item, tenant: 'acme' })).toBe(2);
    expect(sampleValue(exp, 'http_request_duration_seconds_count', { ...item, tenant: 'none' })).toBe(1);
    expect(
      sampleValue(exp, 'http_exceptions_total', {
        route: '/shop/pay',
        exception: PaymentDeclinedError.name,
        tenant: 'acme',
      }),
    ).toBe(1);
    expect(sampleValue(exp, 'http_request_size_bytes_count', { route: '/shop/items', tenant: 'globex' })).toBe(1);
    expect(sampleValue(exp, 'http_response_size_bytes_count', { route: '/shop/items/:id', tenant: 'acme' })).toBe(2);

    const keys = (name: string) => [
      ...new Set(findSamples(exp, name).map(s => Object.keys(s.labels).sort().join(','))),
    ];
    expect(keys('http_requests_total')).toEqual(['method,route,status_code,tenant']);
    expect(keys('http_request_duration_seconds_bucket')).toEqual(['le,method,route,status_code,tenant']);
    expect(keys('http_exceptions_total')).toEqual(['exception,method,route,tenant']);
    expect(keys('http_request_size_bytes_count')).toEqual(['method,route,tenant']);
    expect(keys('http_response_size_bytes_count')).toEqual(['method,route,tenant']);
    expect(keys('http_requests_in_progress')).toEqual(['method,route']);
    // One in-progress series per route, back to 0.
    expect(findSamples(exp, 'http_requests_in_progress', { route: '/shop/items/:id' }).map(s => s.value)).toEqual([0]);
  });

  it('a label function that throws gives "error" and is reported once', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const registry = new Registry();
    app = await shopApp(adapter, registry, {
      http: {
        labels: {
          tenant: req => {
            const tenant = req.headers['x-tenant'];
            if (typeof tenant !== 'string') throw new Error('no tenant header');
            return tenant;
          },
          region: () => 7,
        },
      },
    });
    const server = app.getHttpServer();
    await request(server).get('/shop/items/1').expect(200);
    await request(server).get('/shop/items/2').expect(200);
    await request(server).get('/shop/items/3').set('x-tenant', 'acme').expect(200);
    const exp = await scrape(app);
    expect(sampleValue(exp, 'http_requests_total', { route: '/shop/items/:id', tenant: 'error', region: '7' })).toBe(2);
    expect(sampleValue(exp, 'http_requests_total', { route: '/shop/items/:id', tenant: 'acme', region: '7' })).toBe(1);
    const reported = warnings(warn, 'http.labels.tenant');
    expect(reported).toHaveLength(1);
    expect(reported[0]).toContain('no tenant header');
  });

  it('counts the extra label values against maxSeriesPerMetric', async () => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const registry = new Registry();
    app = await shopApp(adapter, registry, { maxSeriesPerMetric: 3, http: { labels: { tenant: tenantOf } } });
    const server = app.getHttpServer();
    for (const tenant of ['t1', 't2', 't3', 't4', 't5', 't1']) {
      await request(server).get('/shop/items/1').set('x-tenant', tenant).expect(200);
    }
    const exp = await scrape(app);
    const series = findSamples(exp, 'http_requests_total');
    expect(
      series
        .filter(s => s.labels.tenant !== '__overflow__')
        .map(s => `${s.labels.tenant} ${s.value}`)
        .sort(),
    ).toEqual(['t1 2', 't2 1', 't3 1']);
    const overflow = series.filter(s => s.labels.tenant === '__overflow__');
    expect(overflow).toHaveLength(1);
    expect(overflow[0].value).toBe(2);
    expect(Object.values(overflow[0].labels).every(v => v === '__overflow__')).toBe(true);
    expect(sampleValue(exp, 'prometheus_series_overflow_total', { metric: 'http_requests_total' })).toBe(2);
    // Per route only: one series, no overflow.
    expect(findSamples(exp, 'http_requests_in_progress')).toHaveLength(1);
  });

  it.each([
    ['route', 'PrometheusModule options.http.labels: "route" is a label of the default HTTP metrics already'],
    [
      'status_code',
      'PrometheusModule options.http.labels: "status_code" is a label of the default HTTP metrics already',
    ],
    ['le', 'PrometheusModule options.http.labels: "le" is a label of the default HTTP metrics already'],
    ['bad-name', 'PrometheusModule options.http.labels: invalid label name "bad-name"'],
    ['__internal', 'PrometheusModule options.http.labels: invalid label name "__internal"'],
  ])('rejects the label name %s at bootstrap', async (name, message) => {
    await expect(shopApp(adapter, new Registry(), { http: { labels: { [name]: tenantOf } } })).rejects.toThrow(message);
  });

  it('rejects a label that is not a function at bootstrap', async () => {
    await expect(
      shopApp(adapter, new Registry(), { http: { labels: { tenant: 'acme' as unknown as typeof tenantOf } } }),
    ).rejects.toThrow('PrometheusModule options.http.labels.tenant must be a function of the request');
  });
});

describe.each(ADAPTERS)('http.metrics switches and latency (%s)', adapter => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function exercise(a: INestApplication): Promise<Exposition> {
    const server = a.getHttpServer();
    await request(server).get('/shop/items/1').expect(200);
    await request(server).post('/shop/items').send({ a: 1 }).expect(201);
    await request(server).get('/shop/pay').expect(500);
    return scrape(a);
  }

  it('serves all six families by default', async () => {
    app = await shopApp(adapter, new Registry());
    const exp = await exercise(app);
    expect(httpFamilies(exp)).toEqual(Object.values(FAMILIES).sort());
  });

  it.each(Object.keys(FAMILIES) as SwitchKey[])('metrics.%s: false leaves its family out', async key => {
    app = await shopApp(adapter, new Registry(), { http: { metrics: { [key]: false } } });
    const exp = await exercise(app);
    const others = Object.entries(FAMILIES).filter(([k]) => k !== key);
    expect(httpFamilies(exp)).toEqual(others.map(([, name]) => name).sort());
    // The others still record.
    if (key !== 'requests') expect(sumOf(exp, FAMILIES.requests)).toBe(3);
    if (key !== 'duration') expect(sumOf(exp, `${FAMILIES.duration}_count`)).toBe(3);
    if (key !== 'exceptions') expect(sumOf(exp, FAMILIES.exceptions)).toBe(1);
    if (key !== 'requestSize') expect(sumOf(exp, `${FAMILIES.requestSize}_count`)).toBe(3);
    if (key !== 'responseSize') expect(sumOf(exp, `${FAMILIES.responseSize}_count`)).toBe(3);
    if (key !== 'inProgress') expect(findSamples(exp, FAMILIES.inProgress).length).toBeGreaterThan(0);
  });

  it('renames a metric to exactly the name given, prefix or not', async () => {
    app = await shopApp(adapter, new Registry(), {
      http: {
        prefix: 'myapp_',
        metrics: { requests: { name: 'api_calls_total' }, responseSize: { name: 'api_response_bytes' } },
      },
    });
    const exp = await exercise(app);
    expect(httpFamilies(exp)).toEqual(
      [
        'myapp_http_request_duration_seconds',
        'myapp_http_requests_in_progress',
        'myapp_http_exceptions_total',
        'myapp_http_request_size_bytes',
      ].sort(),
    );
    expect(exp.families.get('api_calls_total')?.type).toBe('counter');
    expect(exp.families.get('api_response_bytes')?.type).toBe('histogram');
    expect(sampleValue(exp, 'api_calls_total', { method: 'GET', route: '/shop/items/:id', status_code: '200' })).toBe(
      1,
    );
    expect(sampleValue(exp, 'api_calls_total', { route: '/shop/pay', status_code: '500' })).toBe(1);
    expect(sumOf(exp, 'api_response_bytes_count')).toBe(3);
  });

  it.each([
    [
      { requests: { name: 'api-calls' } },
      'PrometheusModule options.http.metrics.requests.name: invalid metric name "api-calls"',
    ],
    [
      { duration: { name: '9lives' } },
      'PrometheusModule options.http.metrics.duration.name: invalid metric name "9lives"',
    ],
    [{ inProgress: 'yes' }, 'PrometheusModule options.http.metrics.inProgress must be true, false or { name }'],
  ])('rejects a bad switch at bootstrap: %j', async (metrics, message) => {
    await expect(shopApp(adapter, new Registry(), { http: { metrics: metrics as never } })).rejects.toThrow(message);
  });

  it("latency: 'summary' records the duration as a summary with the percentiles given", async () => {
    app = await shopApp(adapter, new Registry(), {
      http: { latency: 'summary', summary: { percentiles: [0.5, 0.95], maxAgeSeconds: 60, ageBuckets: 2 } },
    });
    const server = app.getHttpServer();
    for (let i = 0; i < 4; i++) await request(server).get(`/shop/items/${i}`).expect(200);
    const exp = await scrape(app);
    const name = FAMILIES.duration;
    expect(exp.families.get(name)?.type).toBe('summary');
    const route = { method: 'GET', route: '/shop/items/:id', status_code: '200' };
    const quantiles = findSamples(exp, name, route);
    expect(quantiles.map(s => s.labels.quantile)).toEqual(['0.5', '0.95']);
    for (const q of quantiles) expect(q.value).toBeGreaterThan(0);
    expect(sampleValue(exp, `${name}_count`, route)).toBe(4);
    expect(sampleValue(exp, `${name}_sum`, route)).toBeGreaterThanOrEqual(Math.max(...quantiles.map(q => q.value)));
    expect(findSamples(exp, `${name}_bucket`)).toEqual([]);
    // The other families are unchanged.
    expect(exp.families.get(FAMILIES.requests)?.type).toBe('counter');
    expect(sampleValue(exp, FAMILIES.requests, route)).toBe(4);
  });

  it("latency: 'summary' with extra labels: quantiles per label set", async () => {
    app = await shopApp(adapter, new Registry(), {
      http: {
        latency: 'summary',
        summary: { percentiles: [0.9] },
        labels: { tenant: req => String(req.headers['x-tenant'] ?? 'none') },
      },
    });
    const server = app.getHttpServer();
    await request(server).get('/shop/items/1').set('x-tenant', 'acme').expect(200);
    await request(server).get('/shop/items/2').set('x-tenant', 'acme').expect(200);
    await request(server).get('/shop/items/3').expect(200);
    const exp = await scrape(app);
    const name = FAMILIES.duration;
    expect(
      findSamples(exp, name)
        .map(s => `${s.labels.tenant} ${s.labels.quantile}`)
        .sort(),
    ).toEqual(['acme 0.9', 'none 0.9']);
    expect(sampleValue(exp, `${name}_count`, { tenant: 'acme' })).toBe(2);
    expect(sampleValue(exp, `${name}_count`, { tenant: 'none' })).toBe(1);
  });

  it("latency: 'summary' defaults to the 0.5, 0.9 and 0.99 quantiles", async () => {
    app = await shopApp(adapter, new Registry(), { http: { latency: 'summary' } });
    await request(app.getHttpServer()).get('/shop/items/1').expect(200);
    const exp = await scrape(app);
    expect(findSamples(exp, FAMILIES.duration, { route: '/shop/items/:id' }).map(s => s.labels.quantile)).toEqual([
      '0.5',
      '0.9',
      '0.99',
    ]);
  });

  it.each([
    [{ latency: 'median' }, `PrometheusModule options.http.latency must be 'histogram' or 'summary', not "median"`],
    [
      { latency: 'summary', summary: { percentiles: [0.5, 1] } },
      'PrometheusModule options.http.summary.percentiles must be numbers between 0 and 1 (exclusive)',
    ],
  ])('rejects bad latency options at bootstrap: %j', async (http, message) => {
    await expect(shopApp(adapter, new Registry(), { http: http as never })).rejects.toThrow(message);
  });
});
