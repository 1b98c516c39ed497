import 'reflect-metadata';
import http from 'node:http';
import { type INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Registry } from 'prom-client';
import request from 'supertest';
import { PrometheusMetricsServer, PrometheusModule, type PrometheusModuleOptions } from '../lib/index.js';
import { ADAPTERS, createApp, scrape } from './utils/app.js';
import { type Exposition, parseExposition, sampleValue } from './utils/exposition.js';
import { ShopController } from './utils/shop.js';

/*
 * The endpoint's `?name[]=` filter (the families named, on the app's endpoint and on the metrics
 * port) and the endpoint's absence from Swagger documents.
 */

// ---------------------------------------------------------------------------------------------
// ?name[]= and Swagger
// ---------------------------------------------------------------------------------------------

function getFromPort(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, res => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe.each(ADAPTERS)('the endpoint (%s)', adapter => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  const sampleNames = (exp: Exposition) => [...new Set(exp.samples.map(s => s.name))].sort();

  async function filteredApp(options: PrometheusModuleOptions = {}): Promise<INestApplication> {
    // prom-client's process metrics on: plenty of families to leave out.
    const a = await createApp(adapter, {
      imports: [
        PrometheusModule.forRoot({
          registry: new Registry(),
          info: { version: '1.0.0' },
          defaultLabels: { service: 'shop' },
          ...options,
        }),
      ],
      controllers: [ShopController],
    });
    await request(a.getHttpServer()).get('/shop/items/1').expect(200);
    await request(a.getHttpServer()).get('/shop/items/2').expect(200);
    return a;
  }

  it('?name[]= serves only the families named', async () => {
    app = await filteredApp();
    const server = app.getHttpServer();
    const all = await scrape(app);
    expect(all.families.size).toBeGreaterThan(10);

    const res = await request(server).get('/metrics?name[]=http_requests_total&name[]=app_info').expect(200);
    const exp = parseExposition(res.text);
    expect([...exp.families.keys()].sort()).toEqual(['app_info', 'http_requests_total']);
    expect(sampleValue(exp, 'http_requests_total', { route: '/shop/items/:id', status_code: '200' })).toBe(2);
    expect(sampleValue(exp, 'app_info', { version: '1.0.0' })).toBe(1);
    // Samples as in the full scrape, default labels included.
    expect(exp.samples).toEqual(all.samples.filter(x => x.name === 'app_info' || x.name === 'http_requests_total'));
    expect(exp.samples.every(x => x.labels.service === 'shop')).toBe(true);

    // A histogram comes with its buckets, sum and count.
    const histogram = parseExposition(
      (await request(server).get('/metrics?name[]=http_request_duration_seconds').expect(200)).text,
    );
    expect([...histogram.families.keys()]).toEqual(['http_request_duration_seconds']);
    expect(sampleNames(histogram)).toEqual([
      'http_request_duration_seconds_bucket',
      'http_request_duration_seconds_count',
      'http_request_duration_seconds_sum',
    ]);
    expect(sampleValue(histogram, 'http_request_duration_seconds_count', { route: '/shop/items/:id' })).toBe(2);
  });

  it('?name[]= with a name the registry lacks: an empty exposition, still 200', async () => {
    app = await filteredApp();
    const res = await request(app.getHttpServer()).get('/metrics?name[]=no_such_metric_total').expect(200);
    const exp = parseExposition(res.text);
    expect(exp.families.size).toBe(0);
    expect(exp.samples).toEqual([]);
  });

  it('?name[]= with OpenMetrics', async () => {
    app = await filteredApp();
    const res = await request(app.getHttpServer())
      .get('/metrics?name[]=http_requests_total&name[]=app_info')
      .set('Accept', 'application/openmetrics-text; version=1.0.0')
      .expect(200);
    expect(res.headers['content-type']).toContain('application/openmetrics-text');
    const exp = parseExposition(res.text, 'openmetrics');
    expect(sampleNames(exp)).toEqual(['app_info', 'http_requests_total']);
    expect(sampleValue(exp, 'http_requests_total', { route: '/shop/items/:id', service: 'shop' })).toBe(2);
  });

  it('?name[]= on the metrics port', async () => {
    app = await filteredApp({ port: 0, host: '127.0.0.1' });
    const port = app.get(PrometheusMetricsServer).address()?.port as number;
    const res = await getFromPort(port, '/metrics?name[]=http_requests_total&name[]=app_info');
    expect(res.status).toBe(200);
    const exp = parseExposition(res.body);
    expect([...exp.families.keys()].sort()).toEqual(['app_info', 'http_requests_total']);
    expect(sampleValue(exp, 'http_requests_total', { route: '/shop/items/:id' })).toBe(2);
    const none = await getFromPort(port, '/metrics?name[]=no_such_metric_total');
    expect(none.status).toBe(200);
    expect(parseExposition(none.body).families.size).toBe(0);
  });

  it.each([
    ['forRoot', () => PrometheusModule.forRoot({ registry: new Registry(), defaultMetrics: { enabled: false } })],
    [
      'forRoot with a path',
      () =>
        PrometheusModule.forRoot({
          registry: new Registry(),
          defaultMetrics: { enabled: false },
          path: '/internal/metrics',
        }),
    ],
    [
      'forRootAsync',
      () =>
        PrometheusModule.forRootAsync({
          useFactory: () => ({ registry: new Registry(), defaultMetrics: { enabled: false } }),
        }),
    ],
  ])('is left out of Swagger documents (%s)', async (what, module) => {
    app = await createApp(adapter, { imports: [module()], controllers: [ShopController] });
    const document = SwaggerModule.createDocument(app, new DocumentBuilder().setTitle('shop').build());
    const paths = Object.keys(document.paths);
    expect(paths.filter(p => p.startsWith('/shop/items')).length).toBe(2);
    expect(paths.filter(p => p.includes('/shop/pay')).length).toBe(1);
    expect(paths.filter(p => p.includes('metrics'))).toEqual([]);
    // The endpoint is still served.
    const metricsPath = what === 'forRoot with a path' ? '/internal/metrics' : '/metrics';
    await request(app.getHttpServer()).get(metricsPath).expect(200);
  });
});
