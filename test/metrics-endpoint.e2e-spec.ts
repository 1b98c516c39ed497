import 'reflect-metadata';
import http, { type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import {
  type CallHandler,
  Controller,
  type ExecutionContext,
  Get,
  Injectable,
  type INestApplication,
  type NestInterceptor,
  VersioningType,
} from '@nestjs/common';
import { Counter, Registry } from 'prom-client';
import { map, type Observable } from 'rxjs';
import request from 'supertest';
import { PrometheusModule, type PrometheusModuleOptions } from '../lib/index.js';
import { ADAPTERS, createApp, scrape, type AdapterName } from './utils/app.js';
import { findSamples, parseExposition, sampleValue } from './utils/exposition.js';

const PROMETHEUS_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
const OPENMETRICS_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
/** What Prometheus 2.x/3.x sends when it scrapes. */
const PROMETHEUS_SERVER_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,' +
  'text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

@Controller()
class ItemsController {
  @Get('items')
  items(): string[] {
    return ['a', 'b'];
  }
}

/** A user's global interceptor that reshapes every handler's return value. */
@Injectable()
class WrapInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(map(data => ({ data })));
  }
}

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** GET with Node's http client: the body's bytes as sent (supertest would decompress them). */
async function rawGet(app: INestApplication, path: string, headers: Record<string, string>): Promise<RawResponse> {
  const server = app.getHttpServer() as Server;
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', () => resolve()));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise<RawResponse>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path, headers, agent: false }, res => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        })
        .on('error', reject);
    });
  } finally {
    await new Promise<void>(resolve => server.close(() => resolve()));
  }
}

describe.each(ADAPTERS)('metrics endpoint (%s)', (adapter: AdapterName) => {
  const apps: INestApplication[] = [];

  async function boot(options: PrometheusModuleOptions = {}, configure?: (app: INestApplication) => void) {
    const app = await createApp(
      adapter,
      { imports: [PrometheusModule.forRoot({ registry: new Registry(), ...options })], controllers: [ItemsController] },
      configure,
    );
    apps.push(app);
    return app;
  }

  afterEach(async () => {
    while (apps.length > 0) await apps.pop()!.close();
  });

  describe('Prometheus text format', () => {
    it('serves the registry as text/plain version 0.0.4', async () => {
      const app = await boot();
      await request(app.getHttpServer()).get('/items').expect(200);
      const res = await request(app.getHttpServer()).get('/metrics').expect(200);
      expect(res.headers['content-type']).toBe(PROMETHEUS_TYPE);
      // (superagent asks for gzip and inflates the body: see the gzip tests for the bytes on the wire.)
      const exp = parseExposition(res.text, 'prometheus');
      expect(exp.families.get('http_requests_total')?.type).toBe('counter');
      expect(sampleValue(exp, 'http_requests_total', { method: 'GET', route: '/items', status_code: '200' })).toBe(1);
      expect(res.text.includes('# EOF')).toBe(false);
    });

    it('answers Prometheus text to an explicit text/plain Accept', async () => {
      const app = await boot();
      const res = await request(app.getHttpServer())
        .get('/metrics')
        .set('Accept', 'text/plain; version=0.0.4')
        .expect(200);
      expect(res.headers['content-type']).toBe(PROMETHEUS_TYPE);
      parseExposition(res.text, 'prometheus');
    });
  });

  describe('OpenMetrics', () => {
    async function bootWithUserCounter(registry: Registry) {
      new Counter({ name: 'jobs_total', help: 'Jobs done', registers: [registry] }).inc(4);
      const app = await boot({ registry });
      await request(app.getHttpServer()).get('/items').expect(200);
      return app;
    }

    async function openMetricsScrape(app: INestApplication, accept = 'application/openmetrics-text; version=1.0.0') {
      const res = await request(app.getHttpServer()).get('/metrics').set('Accept', accept).expect(200);
      expect(res.headers['content-type']).toBe(OPENMETRICS_TYPE);
      expect(res.text.endsWith('# EOF\n')).toBe(true);
      return parseExposition(res.text, 'openmetrics');
    }

    function expectOpenMetricsCounters(exp: ReturnType<typeof parseExposition>): void {
      expect(exp.families.get('http_requests')?.type).toBe('counter');
      expect(exp.families.has('http_requests_total')).toBe(false);
      expect(
        findSamples(exp, 'http_requests_total', { method: 'GET', route: '/items', status_code: '200' }).map(
          s => s.value,
        ),
      ).toEqual([1]);
      expect(exp.families.get('http_requests')?.samples.map(s => s.name)).toEqual(['http_requests_total']);
      expect(exp.families.get('jobs')?.type).toBe('counter');
      expect(sampleValue(exp, 'jobs_total')).toBe(4);
      expect(exp.families.get('http_request_duration_seconds')?.type).toBe('histogram');
    }

    function expectPrometheusCounters(exp: ReturnType<typeof parseExposition>): void {
      expect(exp.families.get('http_requests_total')?.type).toBe('counter');
      expect(exp.families.has('http_requests')).toBe(false);
      expect(sampleValue(exp, 'http_requests_total', { method: 'GET', route: '/items', status_code: '200' })).toBe(1);
      expect(exp.families.get('jobs_total')?.type).toBe('counter');
      expect(exp.families.has('jobs')).toBe(false);
      expect(sampleValue(exp, 'jobs_total')).toBe(4);
    }

    it('is served when Accept asks for application/openmetrics-text', async () => {
      const app = await bootWithUserCounter(new Registry());
      expectOpenMetricsCounters(await openMetricsScrape(app));
    });

    it("is served to Prometheus' own Accept header", async () => {
      const app = await bootWithUserCounter(new Registry());
      expectOpenMetricsCounters(await openMetricsScrape(app, PROMETHEUS_SERVER_ACCEPT));
    });

    it('does not rename counters for the following plain scrapes', async () => {
      const app = await bootWithUserCounter(new Registry());
      await openMetricsScrape(app);
      expectPrometheusCounters(await scrape(app));
      expectOpenMetricsCounters(await openMetricsScrape(app));
      expectPrometheusCounters(await scrape(app));
    });

    // A registry constructed with Registry.OPENMETRICS_CONTENT_TYPE is rendered with its own
    // `metrics()`, which (prom-client) renames its counters in place: later plain scrapes must not show that.
    it('on a registry created for OpenMetrics, plain scrapes still show http_requests_total', async () => {
      // prom-client's typings hide the constructor's content-type parameter.
      const OpenMetricsRegistry = Registry as unknown as new (contentType: string) => Registry;
      const registry = new OpenMetricsRegistry(Registry.OPENMETRICS_CONTENT_TYPE);
      expect(registry.contentType).toBe(OPENMETRICS_TYPE);
      const app = await bootWithUserCounter(registry);
      const plainFirst = await request(app.getHttpServer()).get('/metrics').expect(200);
      expect(plainFirst.headers['content-type']).toBe(PROMETHEUS_TYPE);
      expectPrometheusCounters(parseExposition(plainFirst.text, 'prometheus'));
      expectOpenMetricsCounters(await openMetricsScrape(app));
      const plainAfter = await request(app.getHttpServer()).get('/metrics').expect(200);
      expect(plainAfter.headers['content-type']).toBe(PROMETHEUS_TYPE);
      expectPrometheusCounters(parseExposition(plainAfter.text, 'prometheus'));
    });
  });

  describe('gzip', () => {
    it('compresses when Accept-Encoding allows gzip', async () => {
      const app = await boot();
      await request(app.getHttpServer()).get('/items').expect(200);
      const res = await rawGet(app, '/metrics', { 'Accept-Encoding': 'gzip, deflate, br' });
      expect(res.status).toBe(200);
      expect(res.headers['content-encoding']).toBe('gzip');
      expect(res.headers['content-type']).toBe(PROMETHEUS_TYPE);
      expect([...res.body.subarray(0, 2)]).toEqual([0x1f, 0x8b]);
      const exp = parseExposition(gunzipSync(res.body).toString('utf8'), 'prometheus');
      expect(sampleValue(exp, 'http_requests_total', { method: 'GET', route: '/items', status_code: '200' })).toBe(1);
    });

    it('compresses OpenMetrics too', async () => {
      const app = await boot();
      await request(app.getHttpServer()).get('/items').expect(200);
      const res = await rawGet(app, '/metrics', {
        'Accept-Encoding': 'gzip',
        Accept: 'application/openmetrics-text; version=1.0.0',
      });
      expect(res.status).toBe(200);
      expect(res.headers['content-encoding']).toBe('gzip');
      expect(res.headers['content-type']).toBe(OPENMETRICS_TYPE);
      const text = gunzipSync(res.body).toString('utf8');
      expect(text.endsWith('# EOF\n')).toBe(true);
      const exp = parseExposition(text, 'openmetrics');
      expect(sampleValue(exp, 'http_requests_total', { method: 'GET', route: '/items', status_code: '200' })).toBe(1);
    });

    it('sends plain bytes without Accept-Encoding: gzip', async () => {
      const app = await boot();
      const variants: Record<string, string>[] = [{}, { 'Accept-Encoding': 'identity' }];
      for (const headers of variants) {
        const res = await rawGet(app, '/metrics', headers);
        expect(res.status).toBe(200);
        expect(res.headers['content-encoding']).toBeUndefined();
        expect(res.headers['content-type']).toBe(PROMETHEUS_TYPE);
        parseExposition(res.body.toString('utf8'), 'prometheus');
      }
    });
  });

  describe('in the application', () => {
    it("is never wrapped by users' global interceptors", async () => {
      const app = await boot({}, a => a.useGlobalInterceptors(new WrapInterceptor()));
      const items = await request(app.getHttpServer()).get('/items').expect(200);
      expect(items.body).toEqual({ data: ['a', 'b'] });
      const res = await request(app.getHttpServer()).get('/metrics').expect(200);
      expect(res.headers['content-type']).toBe(PROMETHEUS_TYPE);
      expect(res.text.startsWith('{')).toBe(false);
      const exp = parseExposition(res.text, 'prometheus');
      expect(sampleValue(exp, 'http_requests_total', { method: 'GET', route: '/items', status_code: '200' })).toBe(1);
      const om = await request(app.getHttpServer())
        .get('/metrics')
        .set('Accept', 'application/openmetrics-text; version=1.0.0')
        .expect(200);
      expect(om.headers['content-type']).toBe(OPENMETRICS_TYPE);
      parseExposition(om.text, 'openmetrics');
    });

    it('is under the global prefix', async () => {
      const app = await boot({}, a => a.setGlobalPrefix('api'));
      await request(app.getHttpServer()).get('/api/items').expect(200);
      const exp = await scrape(app, '/api/metrics');
      expect(sampleValue(exp, 'http_requests_total', { method: 'GET', route: '/api/items', status_code: '200' })).toBe(
        1,
      );
      await request(app.getHttpServer()).get('/metrics').expect(404);
    });

    it('is version neutral under URI versioning', async () => {
      const app = await boot({}, a => a.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' }));
      await request(app.getHttpServer()).get('/v1/items').expect(200);
      await request(app.getHttpServer()).get('/items').expect(404);
      const exp = await scrape(app, '/metrics');
      expect(sampleValue(exp, 'http_requests_total', { method: 'GET', route: '/v1/items', status_code: '200' })).toBe(
        1,
      );
      await request(app.getHttpServer()).get('/v1/metrics').expect(404);
    });

    it('a custom path combines with the global prefix and versioning', async () => {
      const app = await boot({ path: '/ops/prom' }, a => {
        a.setGlobalPrefix('api');
        a.enableVersioning({ type: VersioningType.URI, defaultVersion: '2' });
      });
      const res = await request(app.getHttpServer()).get('/api/ops/prom').expect(200);
      expect(res.headers['content-type']).toBe(PROMETHEUS_TYPE);
      parseExposition(res.text, 'prometheus');
      await request(app.getHttpServer()).get('/api/metrics').expect(404);
    });
  });
});
