import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import {
  type CanActivate,
  Controller,
  type ExecutionContext,
  Get,
  type INestApplication,
  NotFoundException,
  Param,
  UnauthorizedException,
} from '@nestjs/common';
import { Registry } from 'prom-client';
import request from 'supertest';
import { PrometheusMetricsServer, PrometheusModule, type PrometheusModuleOptions } from '../lib/index.js';
import { STATUS_PAGE_CSP } from '../lib/status-page/status-page-assets.js';
import type { StatusView } from '../lib/status-page/status-history.js';
import { StatusPageService } from '../lib/status-page/status-page.service.js';
import { ADAPTERS, type AdapterName, createApp } from './utils/app.js';
import { type Exposition, findSamples, parseExposition, sumOf } from './utils/exposition.js';

/*
 * The status page (`statusPage`): its JSON after known traffic, its HTML and files, its protection
 * (guards, the metrics port, the global prefix), and that it is never counted and off by default.
 */

class ItemsError extends Error {}

@Controller('items')
class ItemsController {
  @Get('missing')
  missing(): never {
    throw new NotFoundException();
  }

  @Get('broken')
  broken(): never {
    throw new ItemsError('broken');
  }

  @Get(':id')
  item(@Param('id') id: string): { id: string } {
    return { id };
  }
}

const TOKEN = 'status-token';

/** 401 without a bearer token, 403 with a wrong one. */
class BearerTokenGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const header = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>()
      .headers.authorization;
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) throw new UnauthorizedException();
    return header.slice('Bearer '.length) === TOKEN;
  }
}

function module(registry: Registry, options: PrometheusModuleOptions = {}, guards?: CanActivate[]) {
  return PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false }, ...options, guards });
}

/** Known traffic: 3 × 200 on /items/:id, 2 × 500 on /items/broken, 1 × 404 on /items/missing. */
async function sendTraffic(app: INestApplication): Promise<void> {
  const server = app.getHttpServer();
  for (const id of ['1', '2', '3']) await request(server).get(`/items/${id}`).expect(200);
  await request(server).get('/items/broken').expect(500);
  await request(server).get('/items/broken').expect(500);
  await request(server).get('/items/missing').expect(404);
}

function rowOf(view: StatusView, method: string, route: string) {
  const http = view.sections.find(s => s.name === 'http');
  return http?.rows.find(r => r.labels.method === method && r.labels.route === route);
}

/** The bounds of the bucket a histogram's `q` quantile falls in, read from the scraped buckets. */
function bucketOfQuantile(exp: Exposition, name: string, labels: Record<string, string>, q: number): [number, number] {
  const buckets = new Map<number, number>();
  for (const s of findSamples(exp, `${name}_bucket`, labels)) {
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    buckets.set(le, (buckets.get(le) ?? 0) + s.value);
  }
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const total = buckets.get(Infinity) ?? 0;
  let lower = 0;
  for (const bound of bounds) {
    if ((buckets.get(bound) ?? 0) >= q * total) return [lower, bound];
    lower = bound;
  }
  throw new Error('no bucket');
}

describe.each(ADAPTERS)('status page (%s)', (adapter: AdapterName) => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('{path}.json: counts, error shares, quantiles within the histogram buckets, exceptions, after known traffic', async () => {
    const registry = new Registry();
    app = await createApp(adapter, {
      imports: [module(registry, { statusPage: true })],
      controllers: [ItemsController],
    });
    await sendTraffic(app);
    const res = await request(app.getHttpServer()).get('/metrics/status.json').expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['cache-control']).toBe('no-store');
    const view = res.body as StatusView;
    expect(view.version).toBe(1);
    expect(view.refreshSeconds).toBe(5);
    expect(view.historyMinutes).toBe(15);
    expect(view.windowSeconds).toBeGreaterThan(0);
    expect(view.workers).toEqual({ answered: 1, expected: 1 });

    const item = rowOf(view, 'GET', '/items/:id');
    const broken = rowOf(view, 'GET', '/items/broken');
    const missing = rowOf(view, 'GET', '/items/missing');
    expect(item).toMatchObject({ requests: 3, ratio4xx: 0, ratio5xx: 0, inFlight: 0, exceptions: [] });
    expect(broken).toMatchObject({
      requests: 2,
      ratio4xx: 0,
      ratio5xx: 1,
      exceptions: [{ name: 'ItemsError', count: 2 }],
    });
    expect(missing).toMatchObject({ requests: 1, ratio4xx: 1, ratio5xx: 0 });
    // The window started at bootstrap, before the traffic: every request is in it.
    expect(item!.rate).toBeCloseTo(3 / view.windowSeconds, 1);

    const http = view.sections.find(s => s.name === 'http')!;
    expect(http.keyLabels).toEqual(['method', 'route']);
    expect(http.rows).toHaveLength(3);
    expect(http.total.requests).toBe(6);
    expect(http.total.ratio4xx).toBeCloseTo(1 / 6, 6);
    expect(http.total.ratio5xx).toBeCloseTo(2 / 6, 6);

    const exp = parseExposition(await registry.metrics());
    for (const q of [0.5, 0.95, 0.99] as const) {
      const [lower, upper] = bucketOfQuantile(exp, 'http_request_duration_seconds', { route: '/items/:id' }, q);
      const value = item![q === 0.5 ? 'p50' : q === 0.95 ? 'p95' : 'p99'];
      expect(value).toBeGreaterThanOrEqual(lower);
      expect(value).toBeLessThanOrEqual(upper);
    }

    // The cardinality panel counts the series the scrape shows.
    const requests = view.cardinality.metrics.find(m => m.name === 'http_requests_total');
    expect(requests).toEqual({
      name: 'http_requests_total',
      type: 'counter',
      series: findSamples(exp, 'http_requests_total').length,
      overflowed: false,
      diverted: 0,
    });
    expect(view.cardinality.maxSeriesPerMetric).toBe(10_000);
    expect(view.history.time.length).toBeGreaterThanOrEqual(1);
    expect(view.history.rate['2xx']).toHaveLength(view.history.time.length);
  });

  it('cluster: true outside a cluster worker: the page shows this process alone, 1 worker of 1', async () => {
    const registry = new Registry();
    app = await createApp(adapter, {
      imports: [module(registry, { statusPage: true, cluster: true })],
      controllers: [ItemsController],
    });
    await sendTraffic(app);
    const view = (await request(app.getHttpServer()).get('/metrics/status.json').expect(200)).body as StatusView;
    expect(view.workers).toEqual({ answered: 1, expected: 1 });
    expect(rowOf(view, 'GET', '/items/:id')).toMatchObject({ requests: 3 });
  });

  it('a tick adds a point of history: the rate by status class and the quantiles of the traffic since the last one', async () => {
    const registry = new Registry();
    app = await createApp(adapter, {
      imports: [module(registry, { statusPage: true })],
      controllers: [ItemsController],
    });
    await sendTraffic(app);
    await app.get(StatusPageService).tick();
    const view = (await request(app.getHttpServer()).get('/metrics/status.json').expect(200)).body as StatusView;
    expect(view.history.time).toHaveLength(2);
    const last = view.history.time.length - 1;
    const seconds = (view.history.time[1] - view.history.time[0]) / 1000;
    expect(view.history.rate['2xx'][last]! * seconds).toBeCloseTo(3, 6);
    expect(view.history.rate['4xx'][last]! * seconds).toBeCloseTo(1, 6);
    expect(view.history.rate['5xx'][last]! * seconds).toBeCloseTo(2, 6);
    expect(view.history.p50[last]).toBeGreaterThan(0);
    expect(view.history.inFlight[last]).toBe(0);
    expect(view.history.heapUsedBytes[last]).toBeGreaterThan(0);
  });

  it('the page: HTML with a strict Content-Security-Policy and no inline script or style, its files served, others 404', async () => {
    const registry = new Registry();
    app = await createApp(adapter, { imports: [module(registry, { statusPage: true })] });
    const server = app.getHttpServer();
    const res = await request(server).get('/metrics/status').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['content-security-policy']).toBe(STATUS_PAGE_CSP);
    expect(STATUS_PAGE_CSP).not.toContain('unsafe-inline');
    expect(res.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(res.text).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    expect(res.text).toContain('data-json="/metrics/status.json"');
    const files = [...res.text.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map(m => m[1]);
    expect(files.sort()).toEqual([
      '/metrics/status/status-page.css',
      '/metrics/status/status-page.js',
      '/metrics/status/uplot.css',
      '/metrics/status/uplot.js',
    ]);
    for (const file of files) {
      const asset = await request(server).get(file).expect(200);
      expect(asset.headers['content-type']).toMatch(file.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
      expect(asset.text.length).toBeGreaterThan(100);
    }
    expect((await request(server).get('/metrics/status/uplot.js')).text).toContain('uPlot');
    await request(server).get('/metrics/status/package.json').expect(404);
    await request(server).get('/metrics/status/..%2F..%2Fpackage.json').expect(404);
  });

  it('is never counted in the HTTP metrics', async () => {
    const registry = new Registry();
    app = await createApp(adapter, {
      imports: [module(registry, { statusPage: true })],
      controllers: [ItemsController],
    });
    const server = app.getHttpServer();
    await request(server).get('/items/1').expect(200);
    // Fastify answers 404 to a trailing slash on any route (ignoreTrailingSlash is off by default).
    const page = adapter === 'express' ? ['/metrics/status', '/metrics/status/'] : ['/metrics/status'];
    for (const path of [...page, '/metrics/status.json', '/metrics/status/uplot.js']) {
      await request(server).get(path).expect(200);
    }
    await request(server).get('/metrics/status/nope.js').expect(404);
    const exp = parseExposition((await request(server).get('/metrics').expect(200)).text);
    expect(findSamples(exp, 'http_requests_total').map(s => s.labels.route)).toEqual(['/items/:id']);
    expect(sumOf(exp, 'http_requests_total')).toBe(1);
  });

  it('is off by default: 404, and nothing sampled', async () => {
    const registry = new Registry();
    app = await createApp(adapter, { imports: [module(registry)] });
    await request(app.getHttpServer()).get('/metrics/status').expect(404);
    await request(app.getHttpServer()).get('/metrics/status.json').expect(404);
    const service = app.get(StatusPageService);
    expect(service.enabled).toBe(false);
    expect(await service.view()).toBeUndefined();
    expect(service.historyBytes()).toBe(0);
  });

  it('guards: 401 without credentials, 403 with wrong ones, for the page, its files and its data', async () => {
    const registry = new Registry();
    app = await createApp(adapter, { imports: [module(registry, { statusPage: true }, [new BearerTokenGuard()])] });
    const server = app.getHttpServer();
    for (const path of ['/metrics/status', '/metrics/status.json', '/metrics/status/status-page.js']) {
      await request(server).get(path).expect(401);
      await request(server).get(path).set('Authorization', 'Bearer wrong').expect(403);
      await request(server).get(path).set('Authorization', `Bearer ${TOKEN}`).expect(200);
    }
  });

  it('a user controller with class guards: the page takes its guards too', async () => {
    @Controller()
    @((await import('@nestjs/common')).UseGuards(BearerTokenGuard))
    class GuardedMetricsController extends (await import('../lib/index.js')).PrometheusController {}
    const registry = new Registry();
    app = await createApp(adapter, {
      imports: [
        PrometheusModule.register({
          registry,
          defaultMetrics: { enabled: false },
          controller: GuardedMetricsController,
          statusPage: true,
        }),
      ],
    });
    await request(app.getHttpServer()).get('/metrics/status.json').expect(401);
    await request(app.getHttpServer()).get('/metrics/status.json').set('Authorization', `Bearer ${TOKEN}`).expect(200);
  });

  it('under the global prefix: the page asks for its files and data under it', async () => {
    const registry = new Registry();
    app = await createApp(adapter, { imports: [module(registry, { statusPage: true })] }, a =>
      a.setGlobalPrefix('api'),
    );
    const server = app.getHttpServer();
    // On Express, with a trailing slash too: the files' paths come from the path asked, without it.
    const page = await request(server)
      .get(adapter === 'express' ? '/api/metrics/status/' : '/api/metrics/status')
      .expect(200);
    expect(page.text).toContain('data-json="/api/metrics/status.json"');
    expect(page.text).toContain('src="/api/metrics/status/status-page.js"');
    await request(server).get('/api/metrics/status.json').expect(200);
    await request(server).get('/api/metrics/status/status-page.js').expect(200);
    await request(server).get('/metrics/status').expect(404);
  });

  it('statusPage.path, refreshSeconds and historyMinutes', async () => {
    const registry = new Registry();
    app = await createApp(adapter, {
      imports: [module(registry, { statusPage: { path: 'ops/status/', refreshSeconds: 2, historyMinutes: 30 } })],
    });
    const view = (await request(app.getHttpServer()).get('/ops/status.json').expect(200)).body as StatusView;
    expect(view).toMatchObject({ refreshSeconds: 2, historyMinutes: 30 });
    const page = await request(app.getHttpServer()).get('/ops/status').expect(200);
    expect(page.text).toContain('data-refresh-seconds="2"');
    await request(app.getHttpServer()).get('/metrics/status').expect(404);
  });

  it('forRootAsync: on from the factory, and off (404) without it', async () => {
    const registry = new Registry();
    app = await createApp(adapter, {
      imports: [
        PrometheusModule.forRootAsync({
          useFactory: () => ({ registry, defaultMetrics: { enabled: false }, statusPage: { path: '/status' } }),
        }),
      ],
    });
    await request(app.getHttpServer()).get('/status.json').expect(200);
    await app.close();
    app = await createApp(adapter, {
      imports: [
        PrometheusModule.forRootAsync({
          useFactory: () => ({ registry: new Registry(), defaultMetrics: { enabled: false } }),
        }),
      ],
    });
    await request(app.getHttpServer()).get('/metrics/status.json').expect(404);
    await request(app.getHttpServer()).get('/metrics/status').expect(404);
  });
});

describe('status page on the metrics port', () => {
  it('is served beside the metrics on the port of its own, not on the app port', async () => {
    const registry = new Registry();
    const app = await createApp('express', { imports: [module(registry, { port: 0, statusPage: true })] });
    try {
      const { port } = app.get(PrometheusMetricsServer).address() as AddressInfo;
      const base = `http://127.0.0.1:${port}`;
      const page = await fetch(`${base}/metrics/status`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy')).toBe(STATUS_PAGE_CSP);
      const data = await fetch(`${base}/metrics/status.json`);
      expect(data.status).toBe(200);
      expect(((await data.json()) as StatusView).version).toBe(1);
      expect((await fetch(`${base}/metrics/status/uplot.js`)).status).toBe(200);
      expect((await fetch(`${base}/metrics/status/nope.js`)).status).toBe(404);
      expect((await fetch(`${base}/metrics/status.json`, { method: 'POST' })).status).toBe(405);
      expect((await fetch(`${base}/metrics`)).status).toBe(200);
      await request(app.getHttpServer()).get('/metrics/status').expect(404);
    } finally {
      await app.close();
    }
  });
});

describe('status page with forRootAsync and a port', () => {
  it('is served on the metrics port only, as the metrics are', async () => {
    const app = await createApp('fastify', {
      imports: [
        PrometheusModule.forRootAsync({
          useFactory: () => ({
            registry: new Registry(),
            defaultMetrics: { enabled: false },
            port: 0,
            statusPage: true,
          }),
        }),
      ],
    });
    try {
      const { port } = app.get(PrometheusMetricsServer).address() as AddressInfo;
      expect((await fetch(`http://127.0.0.1:${port}/metrics/status.json`)).status).toBe(200);
      await request(app.getHttpServer()).get('/metrics/status.json').expect(404);
      await request(app.getHttpServer()).get('/metrics/status').expect(404);
    } finally {
      await app.close();
    }
  });
});

describe('statusPage option errors', () => {
  it('refuses statusPage with path: false and no port: nothing would serve it', async () => {
    await expect(
      createApp('express', { imports: [module(new Registry(), { path: false, statusPage: true })] }),
    ).rejects.toThrow('PrometheusModule options.statusPage needs the metrics endpoint: with path: false, give a port');
  });

  it.each([
    [
      { refreshSeconds: 0 },
      'PrometheusModule options.statusPage.refreshSeconds must be a whole number from 1 to 60, not 0',
    ],
    [
      { historyMinutes: 1.5 },
      'PrometheusModule options.statusPage.historyMinutes must be a whole number from 1 to 120, not 1.5',
    ],
    [{ path: '/metrics' }, 'PrometheusModule options.statusPage.path cannot be the metrics path (/metrics)'],
    [{ path: '/a b' }, 'PrometheusModule options.statusPage.path must be a non-empty path without spaces, "?" or "#"'],
    [{ refresh: 3 }, 'PrometheusModule options.statusPage: unknown option "refresh"'],
    ['yes', 'PrometheusModule options.statusPage must be a boolean or an object'],
  ])('statusPage: %j fails at bootstrap naming the option', async (statusPage, message) => {
    await expect(
      createApp('express', {
        imports: [module(new Registry(), { statusPage: statusPage as PrometheusModuleOptions['statusPage'] })],
      }),
    ).rejects.toThrow(message);
  });
});
