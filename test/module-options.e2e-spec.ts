import 'reflect-metadata';
import {
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  Injectable,
  Module,
  Param,
  Post,
  type INestApplication,
} from '@nestjs/common';
import { Counter, Gauge, Registry, register } from 'prom-client';
import request from 'supertest';
import { PrometheusModule, PrometheusService, type PrometheusModuleOptions } from '../lib/index.js';
import { ADAPTERS, createApp, scrape, type AdapterName } from './utils/app.js';
import { findSamples, sampleValue, sumOf, type Exposition } from './utils/exposition.js';

@Controller()
class TestController {
  @Get('items')
  items(): string[] {
    return ['a', 'b'];
  }

  @Post('items')
  create(@Body() body: unknown): { created: unknown } {
    return { created: body };
  }

  @Get('health')
  health(): { ok: boolean } {
    return { ok: true };
  }

  @Get('users/:id')
  user(@Param('id') id: string): { id: string } {
    return { id };
  }

  @Get('internal/status')
  internal(): { internal: boolean } {
    return { internal: true };
  }

  @Post('echo')
  @HttpCode(200)
  echo(@Body() body: unknown): unknown {
    return body;
  }
}

/** Distinct values of one label across the samples of a metric. */
function labelValues(exp: Exposition, metric: string, label: string): string[] {
  return [...new Set(findSamples(exp, metric).map(s => s.labels[label]))].sort();
}

function familyNames(exp: Exposition, prefix: string): string[] {
  return [...exp.families.keys()].filter(n => n.startsWith(prefix)).sort();
}

describe.each(ADAPTERS)('PrometheusModule options (%s)', (adapter: AdapterName) => {
  const apps: INestApplication[] = [];

  async function boot(options: PrometheusModuleOptions, configure?: (app: INestApplication) => void) {
    const app = await createApp(
      adapter,
      { imports: [PrometheusModule.forRoot(options)], controllers: [TestController] },
      configure,
    );
    apps.push(app);
    return app;
  }

  async function bootAsync(asyncOptions: Parameters<typeof PrometheusModule.forRootAsync>[0], imports: unknown[] = []) {
    const app = await createApp(adapter, {
      imports: [...(imports as never[]), PrometheusModule.forRootAsync(asyncOptions)],
      controllers: [TestController],
    });
    apps.push(app);
    return app;
  }

  const http = (app: INestApplication) => request(app.getHttpServer());

  afterEach(async () => {
    while (apps.length > 0) await apps.pop()!.close();
  });

  describe('path', () => {
    it('serves the registry at /metrics by default', async () => {
      const app = await boot({ registry: new Registry() });
      await http(app).get('/items').expect(200);
      const exp = await scrape(app, '/metrics');
      expect(sampleValue(exp, 'http_requests_total', { method: 'GET', route: '/items', status_code: '200' })).toBe(1);
    });

    it('serves the registry at a custom path only', async () => {
      const app = await boot({ registry: new Registry(), path: 'custom-metrics' });
      const res = await http(app).get('/custom-metrics').expect(200);
      expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      await http(app).get('/metrics').expect(404);
    });

    it('path: false registers no endpoint (GET /metrics is 404), while metrics are still collected', async () => {
      const registry = new Registry();
      const app = await boot({ registry, path: false });
      await http(app).get('/metrics').expect(404);
      await http(app).get('/items').expect(200);
      expect(await registry.metrics()).toMatch(
        /^http_requests_total\{method="GET",route="\/items",status_code="200"\} 1$/m,
      );
    });
  });

  describe('forRootAsync', () => {
    it('useFactory: the path comes from the factory', async () => {
      const registry = new Registry();
      const app = await bootAsync({ useFactory: () => ({ registry, path: '/custom-metrics' }) });
      await http(app).get('/items').expect(200);
      const exp = await scrape(app, '/custom-metrics');
      expect(sampleValue(exp, 'http_requests_total', { method: 'GET', route: '/items', status_code: '200' })).toBe(1);
      await http(app).get('/metrics').expect(404);
    });

    it('useFactory returning path: false makes GET /metrics answer 404', async () => {
      const registry = new Registry();
      const app = await bootAsync({ useFactory: async () => ({ registry, path: false as const }) });
      await http(app).get('/metrics').expect(404);
      await http(app).get('/items').expect(200);
      expect(registry.getSingleMetric('http_requests_total')).toBeDefined();
    });

    it('useFactory with imports and inject', async () => {
      const registry = new Registry();
      const CONFIG = Symbol('CONFIG');
      @Module({
        providers: [{ provide: CONFIG, useValue: { path: '/from-config', prefix: 'cfg_' } }],
        exports: [CONFIG],
      })
      class ConfigModule {}
      const app = await bootAsync({
        imports: [ConfigModule],
        inject: [CONFIG],
        useFactory: (config: { path: string; prefix: string }) => ({
          registry,
          path: config.path,
          http: { prefix: config.prefix },
        }),
      });
      await http(app).get('/items').expect(200);
      const exp = await scrape(app, '/from-config');
      expect(sampleValue(exp, 'cfg_http_requests_total', { method: 'GET', route: '/items', status_code: '200' })).toBe(
        1,
      );
      expect(exp.families.has('http_requests_total')).toBe(false);
    });

    it('useClass: a class with createPrometheusOptions()', async () => {
      const registry = new Registry();
      @Injectable()
      class OptionsFactory {
        createPrometheusOptions(): PrometheusModuleOptions {
          return { registry, path: '/class-metrics', defaultLabels: { from: 'class' } };
        }
      }
      const app = await bootAsync({ useClass: OptionsFactory });
      await http(app).get('/items').expect(200);
      const exp = await scrape(app, '/class-metrics');
      expect(
        sampleValue(exp, 'http_requests_total', { method: 'GET', route: '/items', status_code: '200', from: 'class' }),
      ).toBe(1);
    });

    it('useExisting: an options factory provided by an imported module', async () => {
      const registry = new Registry();
      @Injectable()
      class ExistingFactory {
        createPrometheusOptions(): PrometheusModuleOptions {
          return { registry, path: '/existing-metrics', http: { prefix: 'ex_' } };
        }
      }
      @Module({ providers: [ExistingFactory], exports: [ExistingFactory] })
      class FactoryModule {}
      const app = await bootAsync({ imports: [FactoryModule], useExisting: ExistingFactory });
      await http(app).get('/items').expect(200);
      const exp = await scrape(app, '/existing-metrics');
      expect(sampleValue(exp, 'ex_http_requests_total', { method: 'GET', route: '/items', status_code: '200' })).toBe(
        1,
      );
    });
  });

  describe('registry', () => {
    afterEach(() => register.clear());

    it("defaults to prom-client's global register, so plain prom-client metrics show up", async () => {
      const orders = new Counter({ name: 'plain_orders_total', help: 'Orders, with the plain prom-client API' });
      orders.inc(3);
      const app = await boot({});
      await http(app).get('/items').expect(200);
      const exp = await scrape(app);
      expect(sampleValue(exp, 'plain_orders_total')).toBe(3);
      expect(sampleValue(exp, 'http_requests_total', { method: 'GET', route: '/items', status_code: '200' })).toBe(1);
      expect(register.getSingleMetric('http_requests_total')).toBeDefined();
    });

    it('fills and serves the given registry, not the global one', async () => {
      const registry = new Registry();
      new Counter({ name: 'custom_jobs_total', help: 'jobs', registers: [registry] }).inc(2);
      new Counter({ name: 'global_only_total', help: 'global' }).inc();
      const app = await boot({ registry });
      await http(app).get('/items').expect(200);
      const exp = await scrape(app);
      expect(sampleValue(exp, 'custom_jobs_total')).toBe(2);
      expect(exp.families.has('global_only_total')).toBe(false);
      expect(register.getSingleMetric('http_requests_total')).toBeUndefined();
      expect(registry.getSingleMetric('http_requests_total')).toBeDefined();
    });
  });

  describe('defaultLabels', () => {
    it('adds the labels to the HTTP metrics and to user metrics', async () => {
      const registry = new Registry();
      new Counter({ name: 'orders_total', help: 'orders', labelNames: ['kind'], registers: [registry] }).inc({
        kind: 'x',
      });
      const app = await boot({ registry, defaultLabels: { app: 'shop' } });
      await http(app).get('/items').expect(200);
      const exp = await scrape(app);
      expect(findSamples(exp, 'http_requests_total', { route: '/items' }).map(s => s.labels)).toEqual([
        { method: 'GET', route: '/items', status_code: '200', app: 'shop' },
      ]);
      expect(findSamples(exp, 'orders_total').map(s => s.labels)).toEqual([{ kind: 'x', app: 'shop' }]);
      // Every sample of the exposition carries it.
      expect(exp.samples.filter(s => s.labels.app !== 'shop').map(s => s.name)).toEqual([]);
    });

    it('an invalid label name fails the bootstrap, naming it', async () => {
      await expect(boot({ registry: new Registry(), defaultLabels: { 'bad-name': 'x' } })).rejects.toThrow(/bad-name/);
    });

    it.each([
      ['undefined (an unset environment variable)', undefined, /defaultLabels\.service: the value is undefined/],
      ['empty', '', /defaultLabels\.service: the value is empty/],
    ])('a value that is %s fails the bootstrap, naming the label', async (_what, value, message) => {
      const defaultLabels = { service: value } as unknown as Record<string, string>;
      await expect(boot({ registry: new Registry(), defaultLabels })).rejects.toThrow(message);
    });
  });

  describe('defaultMetrics', () => {
    it('collects the process and Node.js metrics by default', async () => {
      const app = await boot({ registry: new Registry() });
      const exp = await scrape(app);
      expect(exp.families.get('process_cpu_user_seconds_total')?.type).toBe('counter');
      expect(exp.families.get('nodejs_heap_size_total_bytes')?.type).toBe('gauge');
    });

    it('enabled: false leaves them out', async () => {
      const app = await boot({ registry: new Registry(), defaultMetrics: { enabled: false } });
      const exp = await scrape(app);
      expect(exp.families.has('process_cpu_user_seconds_total')).toBe(false);
      expect(exp.families.has('nodejs_heap_size_total_bytes')).toBe(false);
      expect([...familyNames(exp, 'process_'), ...familyNames(exp, 'nodejs_')]).toEqual([]);
    });

    it('config is passed to collectDefaultMetrics (prefix)', async () => {
      const app = await boot({ registry: new Registry(), defaultMetrics: { config: { prefix: 'x_' } } });
      const exp = await scrape(app);
      expect(exp.families.has('x_process_cpu_user_seconds_total')).toBe(true);
      expect(exp.families.has('x_nodejs_heap_size_total_bytes')).toBe(true);
      expect(exp.families.has('process_cpu_user_seconds_total')).toBe(false);
    });
  });

  describe('http', () => {
    it('http: false registers no HTTP metric, the endpoint still works', async () => {
      const registry = new Registry();
      const app = await boot({ registry, http: false });
      await http(app).get('/items').expect(200);
      await http(app).get('/nope').expect(404);
      const exp = await scrape(app);
      expect(exp.families.has('http_requests_total')).toBe(false);
      expect(familyNames(exp, 'http_')).toEqual([]);
      expect(exp.families.has('process_cpu_user_seconds_total')).toBe(true);
    });

    it('prefix is prepended to every HTTP metric name', async () => {
      const app = await boot({ registry: new Registry(), http: { prefix: 'myapp_' } });
      await http(app).get('/items').expect(200);
      const exp = await scrape(app);
      expect(
        sampleValue(exp, 'myapp_http_requests_total', { method: 'GET', route: '/items', status_code: '200' }),
      ).toBe(1);
      expect(exp.families.has('http_requests_total')).toBe(false);
      expect(familyNames(exp, 'http_')).toEqual([]);
      expect(exp.families.get('myapp_http_request_duration_seconds')?.type).toBe('histogram');
    });

    it('an invalid prefix fails the bootstrap, naming it', async () => {
      await expect(boot({ registry: new Registry(), http: { prefix: '1x' } })).rejects.toThrow(/1x/);
    });

    it('buckets are the le values of the duration histogram, exactly', async () => {
      const app = await boot({ registry: new Registry(), http: { buckets: [0.1, 0.5, 2] } });
      await http(app).get('/items').expect(200);
      const exp = await scrape(app);
      const buckets = findSamples(exp, 'http_request_duration_seconds_bucket', { route: '/items' });
      expect(buckets.map(s => s.labels.le)).toEqual(['0.1', '0.5', '2', '+Inf']);
      expect(buckets[buckets.length - 1].value).toBe(1);
    });

    it('unsorted buckets fail the bootstrap', async () => {
      await expect(boot({ registry: new Registry(), http: { buckets: [0.5, 0.1, 1] } })).rejects.toThrow(
        /http\.buckets.*strictly increasing/,
      );
    });

    it('excludePaths: strings match route templates exactly, RegExps are tested against them, unmatched paths by path', async () => {
      const app = await boot({
        registry: new Registry(),
        http: { excludePaths: ['/health', '/users/:id', /^\/internal\//, '/favicon.ico'] },
      });
      await http(app).get('/health').expect(200);
      await http(app).get('/users/7').expect(200);
      await http(app).get('/internal/status').expect(200);
      await http(app).get('/favicon.ico').expect(404);
      await http(app).get('/items').expect(200);
      await http(app).get('/nope').expect(404);
      const exp = await scrape(app);
      expect(labelValues(exp, 'http_requests_total', 'route')).toEqual(['/items', '__unmatched__']);
      expect(
        sampleValue(exp, 'http_requests_total', { route: '__unmatched__', method: 'GET', status_code: '404' }),
      ).toBe(1);
      expect(labelValues(exp, 'http_request_duration_seconds_count', 'route')).toEqual(['/items', '__unmatched__']);
    });

    it('excludePaths: a concrete URL does not exclude its route template', async () => {
      const app = await boot({ registry: new Registry(), http: { excludePaths: ['/users/7'] } });
      await http(app).get('/users/7').expect(200);
      const exp = await scrape(app);
      expect(sampleValue(exp, 'http_requests_total', { method: 'GET', route: '/users/:id', status_code: '200' })).toBe(
        1,
      );
    });

    it("excludeMethods ['OPTIONS', 'HEAD'] leaves those methods uncounted", async () => {
      const app = await boot({ registry: new Registry(), http: { excludeMethods: ['OPTIONS', 'HEAD'] } });
      await http(app).head('/items').expect(200);
      await http(app).options('/items');
      await http(app).options('/nope');
      await http(app).get('/items').expect(200);
      const exp = await scrape(app);
      expect(labelValues(exp, 'http_requests_total', 'method')).toEqual(['GET']);
      expect(sumOf(exp, 'http_requests_total')).toBe(1);
    });

    it("excludeMethods ['POST'] leaves POST uncounted", async () => {
      const app = await boot({ registry: new Registry(), http: { excludeMethods: ['POST'] } });
      await http(app).post('/items').send({ a: 1 }).expect(201);
      await http(app).get('/items').expect(200);
      const exp = await scrape(app);
      expect(findSamples(exp, 'http_requests_total').map(s => s.labels)).toEqual([
        { method: 'GET', route: '/items', status_code: '200' },
      ]);
    });

    it('groupStatusCodes labels status codes by class', async () => {
      const app = await boot({ registry: new Registry(), http: { groupStatusCodes: true } });
      await http(app).get('/items').expect(200);
      await http(app).post('/items').send({ a: 1 }).expect(201);
      await http(app).get('/nope').expect(404);
      const exp = await scrape(app);
      expect(labelValues(exp, 'http_requests_total', 'status_code')).toEqual(['2xx', '4xx']);
      expect(sampleValue(exp, 'http_requests_total', { method: 'GET', route: '/items', status_code: '2xx' })).toBe(1);
      expect(sampleValue(exp, 'http_requests_total', { method: 'POST', route: '/items', status_code: '2xx' })).toBe(1);
      expect(
        sampleValue(exp, 'http_requests_total', { method: 'GET', route: '__unmatched__', status_code: '4xx' }),
      ).toBe(1);
      expect(labelValues(exp, 'http_request_duration_seconds_count', 'status_code')).toEqual(['2xx', '4xx']);
    });

    it("unmatchedRoutes defaults to 'group': 404s are counted under __unmatched__", async () => {
      const app = await boot({ registry: new Registry() });
      await http(app).get('/nope').expect(404);
      await http(app).get('/also/nope?x=1').expect(404);
      const exp = await scrape(app);
      expect(
        sampleValue(exp, 'http_requests_total', { method: 'GET', route: '__unmatched__', status_code: '404' }),
      ).toBe(2);
      expect(labelValues(exp, 'http_requests_total', 'route')).toEqual(['__unmatched__']);
    });

    it("unmatchedRoutes: 'ignore' leaves 404s uncounted", async () => {
      const app = await boot({ registry: new Registry(), http: { unmatchedRoutes: 'ignore' } });
      await http(app).get('/nope').expect(404);
      await http(app).get('/items').expect(200);
      const exp = await scrape(app);
      expect(findSamples(exp, 'http_requests_total').map(s => s.labels)).toEqual([
        { method: 'GET', route: '/items', status_code: '200' },
      ]);
      expect(exp.samples.filter(s => s.labels.route === '__unmatched__')).toEqual([]);
    });

    it('requestSizes (default): size histograms sum the Content-Length of the bodies sent and received', async () => {
      const app = await boot({ registry: new Registry() });
      const body = JSON.stringify({ hello: 'world', list: [1, 2, 3], text: 'ünïcödé' });
      const res = await http(app).post('/echo').set('Content-Type', 'application/json').send(body).expect(200);
      const responseLength = Number(res.headers['content-length']);
      expect(responseLength).toBe(Buffer.byteLength(res.text));
      expect(responseLength).toBeGreaterThan(0);
      const exp = await scrape(app);
      const labels = { method: 'POST', route: '/echo' };
      expect(sampleValue(exp, 'http_request_size_bytes_sum', labels)).toBe(Buffer.byteLength(body));
      expect(sampleValue(exp, 'http_request_size_bytes_count', labels)).toBe(1);
      expect(sampleValue(exp, 'http_response_size_bytes_sum', labels)).toBe(responseLength);
      expect(sampleValue(exp, 'http_response_size_bytes_count', labels)).toBe(1);
    });

    it('requestSizes: response size of a GET handler is its Content-Length', async () => {
      const app = await boot({ registry: new Registry() });
      const res = await http(app).get('/items').expect(200);
      const responseLength = Number(res.headers['content-length']);
      expect(responseLength).toBe(Buffer.byteLength('["a","b"]'));
      const exp = await scrape(app);
      expect(sampleValue(exp, 'http_request_size_bytes_sum', { method: 'GET', route: '/items' })).toBe(0);
      expect(sampleValue(exp, 'http_response_size_bytes_sum', { method: 'GET', route: '/items' })).toBe(responseLength);
    });

    it('requestSizes: false leaves the size histograms out', async () => {
      const app = await boot({ registry: new Registry(), http: { requestSizes: false } });
      await http(app).post('/echo').send({ a: 1 }).expect(200);
      const exp = await scrape(app);
      expect(exp.families.has('http_request_size_bytes')).toBe(false);
      expect(exp.families.has('http_response_size_bytes')).toBe(false);
      expect(sampleValue(exp, 'http_requests_total', { method: 'POST', route: '/echo', status_code: '200' })).toBe(1);
    });
  });

  describe('initialising the module more than once in a process', () => {
    afterEach(() => register.clear());

    it('two apps one after another on a shared registry: no error, both counted', async () => {
      const registry = new Registry();
      const first = await boot({ registry });
      await http(first).get('/items').expect(200);
      const second = await boot({ registry });
      await http(second).get('/items').expect(200);
      for (const app of [first, second]) {
        const exp = await scrape(app);
        expect(sampleValue(exp, 'http_requests_total', { method: 'GET', route: '/items', status_code: '200' })).toBe(2);
      }
    });

    it('a second app after the first is closed (hot reload) reuses the registry', async () => {
      const registry = new Registry();
      const first = await boot({ registry });
      await http(first).get('/items').expect(200);
      await apps.pop()!.close();
      const second = await boot({ registry });
      await http(second).get('/items').expect(200);
      const exp = await scrape(second);
      expect(sampleValue(exp, 'http_requests_total', { method: 'GET', route: '/items', status_code: '200' })).toBe(2);
    });

    it('two apps created at the same time on a shared registry', async () => {
      const registry = new Registry();
      const [a, b] = await Promise.all([boot({ registry }), boot({ registry })]);
      await http(a).get('/items').expect(200);
      await http(b).get('/items').expect(200);
      await http(b).get('/nope').expect(404);
      const exp = await scrape(a);
      expect(sampleValue(exp, 'http_requests_total', { method: 'GET', route: '/items', status_code: '200' })).toBe(2);
      expect(
        sampleValue(exp, 'http_requests_total', { method: 'GET', route: '__unmatched__', status_code: '404' }),
      ).toBe(1);
    });

    it('two apps on the global register (no registry option)', async () => {
      const first = await boot({});
      const second = await boot({});
      await http(first).get('/items').expect(200);
      await http(second).get('/items').expect(200);
      const exp = await scrape(second);
      expect(sampleValue(exp, 'http_requests_total', { method: 'GET', route: '/items', status_code: '200' })).toBe(2);
      expect(exp.families.has('process_cpu_user_seconds_total')).toBe(true);
    });

    it('a metric pre-registered with another type fails the bootstrap, naming the metric and both types', async () => {
      const registry = new Registry();
      new Gauge({ name: 'http_requests_total', help: 'x', registers: [registry] });
      const error = await boot({ registry }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      const message = (error as Error).message;
      expect(message).toContain('http_requests_total');
      expect(message).toContain('gauge');
      expect(message).toContain('counter');
    });

    it('a metric pre-registered with another label set fails the bootstrap, naming both label sets', async () => {
      const registry = new Registry();
      new Counter({ name: 'http_requests_total', help: 'x', labelNames: ['method'], registers: [registry] });
      const error = await boot({ registry }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      const message = (error as Error).message;
      expect(message).toContain('http_requests_total{method}');
      expect(message).toContain('http_requests_total{method,route,status_code}');
    });

    it('two apps on one registry with different http.buckets: the second fails, naming the metric and both bucket sets', async () => {
      const registry = new Registry();
      await boot({ registry, http: { buckets: [0.1, 1] } });
      const error = await boot({ registry, http: { buckets: [0.2, 2] } }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      const message = (error as Error).message;
      expect(message).toContain('http_request_duration_seconds');
      expect(message).toContain('0.1, 1');
      expect(message).toContain('0.2, 2');
    });
  });

  describe('PrometheusService', () => {
    it('is injectable into a user provider (module is global) and exposes the configured registry', async () => {
      const registry = new Registry();
      @Injectable()
      class Reporter {
        constructor(@Inject(PrometheusService) readonly prometheus: PrometheusService) {}
      }
      @Module({ providers: [Reporter] })
      class FeatureModule {}
      const app = await createApp(adapter, {
        imports: [PrometheusModule.forRoot({ registry }), FeatureModule],
        controllers: [TestController],
      });
      apps.push(app);
      const reporter = app.get(Reporter);
      expect(reporter.prometheus).toBeInstanceOf(PrometheusService);
      expect(reporter.prometheus.registry).toBe(registry);
      new Counter({ name: 'reported_total', help: 'r', registers: [reporter.prometheus.registry] }).inc(5);
      expect(sampleValue(await scrape(app), 'reported_total')).toBe(5);
    });

    it('with forRootAsync, its registry is the one from the factory', async () => {
      const registry = new Registry();
      @Injectable()
      class Reporter {
        constructor(@Inject(PrometheusService) readonly prometheus: PrometheusService) {}
      }
      @Module({ providers: [Reporter] })
      class FeatureModule {}
      const app = await bootAsync({ useFactory: () => ({ registry }) }, [FeatureModule]);
      expect(app.get(Reporter).prometheus.registry).toBe(registry);
    });
  });
});
