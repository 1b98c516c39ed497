import 'reflect-metadata';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type CanActivate,
  Controller,
  type ExecutionContext,
  Get,
  type INestApplication,
  Injectable,
  Module,
  type ModuleMetadata,
  Res,
  UseGuards,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import * as client from 'prom-client';
import { type Counter, type Gauge, register } from 'prom-client';
import request from 'supertest';
// The import line is the only change a migrating app makes: everything below is written from
// @willsoto/nestjs-prometheus's README (6.x), one test per example.
import {
  getToken,
  InjectMetric,
  makeCounterProvider,
  makeGaugeProvider,
  makeHistogramProvider,
  makeSummaryProvider,
  PrometheusController,
  PrometheusModule,
  type PrometheusOptions,
  type PrometheusOptionsFactory,
} from '../../lib/index.js';
import { ADAPTERS, type AdapterName, createApp } from '../utils/app.js';
import { type Exposition, parseExposition, sampleValue } from '../utils/exposition.js';

async function get(
  app: INestApplication,
  path: string,
  headers: Record<string, string> = {},
): Promise<request.Response> {
  const req = request(app.getHttpServer()).get(path);
  for (const [name, value] of Object.entries(headers)) void req.set(name, value);
  return req;
}

async function scrapeAt(app: INestApplication, path = '/metrics'): Promise<Exposition> {
  const res = await get(app, path);
  expect(res.status).toBe(200);
  return parseExposition(res.text);
}

describe.each(ADAPTERS)('@willsoto/nestjs-prometheus README examples (%s)', (adapter: AdapterName) => {
  let app: INestApplication | undefined;
  const start = async (metadata: ModuleMetadata): Promise<INestApplication> => {
    app = await createApp(adapter, metadata);
    return app;
  };

  afterEach(async () => {
    await app?.close();
    app = undefined;
    // As willsoto's own tests do: its module and its providers use prom-client's global registry.
    register.clear();
  });

  it('Usage: register() serves the default metrics at /metrics', async () => {
    await start({ imports: [PrometheusModule.register()] });
    const exp = await scrapeAt(app!);
    expect(exp.families.get('process_cpu_user_seconds_total')?.type).toBe('counter');
  });

  it('Changing the metrics http endpoint: path', async () => {
    await start({ imports: [PrometheusModule.register({ path: '/mymetrics' })] });
    expect((await scrapeAt(app!, '/mymetrics')).families.has('process_cpu_user_seconds_total')).toBe(true);
    expect((await get(app!, '/metrics')).status).toBe(404);
  });

  it('Disabling default metrics collection: defaultMetrics.enabled false', async () => {
    await start({ imports: [PrometheusModule.register({ defaultMetrics: { enabled: false } })] });
    const exp = await scrapeAt(app!);
    expect([...exp.families.keys()].filter(n => n.startsWith('process_') || n.startsWith('nodejs_'))).toEqual([]);
  });

  it('Configuring the default metrics: defaultMetrics.config reaches collectDefaultMetrics', async () => {
    await start({ imports: [PrometheusModule.register({ defaultMetrics: { config: { prefix: 'svc_' } } })] });
    const exp = await scrapeAt(app!);
    expect(exp.families.has('svc_process_cpu_user_seconds_total')).toBe(true);
    expect(exp.families.has('process_cpu_user_seconds_total')).toBe(false);
  });

  it('Injecting individual metrics: makeCounterProvider and @InjectMetric', async () => {
    @Injectable()
    class Service {
      constructor(@InjectMetric('metric_name') public counter: Counter) {}
    }
    await start({
      imports: [PrometheusModule.register()],
      providers: [Service, makeCounterProvider({ name: 'metric_name', help: 'metric_help' })],
    });
    app!.get(Service).counter.inc(3);
    const exp = await scrapeAt(app!);
    expect(exp.families.get('metric_name')?.help).toBe('metric_help');
    expect(sampleValue(exp, 'metric_name')).toBe(3);
  });

  it('Setting default labels: defaultLabels on every sample', async () => {
    await start({
      imports: [PrometheusModule.register({ defaultLabels: { app: 'My app' } })],
      providers: [makeGaugeProvider({ name: 'labelled_gauge', help: 'h' })],
    });
    app!.get<Gauge>(getToken('labelled_gauge')).set(2);
    const exp = await scrapeAt(app!);
    expect(sampleValue(exp, 'labelled_gauge', { app: 'My app' })).toBe(2);
    expect(exp.samples.every(s => s.labels.app === 'My app')).toBe(true);
  });

  it('Prefixing custom metrics: customMetricPrefix, in the module that registers it', async () => {
    await start({
      imports: [PrometheusModule.register({ customMetricPrefix: 'app', defaultMetrics: { enabled: false } })],
      providers: [makeCounterProvider({ name: 'counter', help: 'counter helper' })],
    });
    app!.get<Counter>(getToken('counter')).inc();
    const exp = await scrapeAt(app!);
    expect(sampleValue(exp, 'app_counter')).toBe(1);
    expect(exp.families.has('counter')).toBe(false);
  });

  it('Prefixing custom metrics, option 1: a CommonModule exports PrometheusModule to feature modules', async () => {
    @Module({ imports: [PrometheusModule.register({ customMetricPrefix: 'app' })], exports: [PrometheusModule] })
    class CommonModule {}
    @Module({ imports: [CommonModule], providers: [makeGaugeProvider({ name: 'feature_gauge', help: 'h' })] })
    class FeatureModule {}
    await start({ imports: [CommonModule, FeatureModule] });
    const exp = await scrapeAt(app!);
    expect(exp.families.get('app_feature_gauge')?.type).toBe('gauge');
  });

  it('Prefixing custom metrics, option 2: global: true reaches modules that do not import it', async () => {
    @Module({ providers: [makeGaugeProvider({ name: 'elsewhere_gauge', help: 'h' })] })
    class FeatureModule {}
    await start({ imports: [PrometheusModule.register({ customMetricPrefix: 'app', global: true }), FeatureModule] });
    const exp = await scrapeAt(app!);
    expect(exp.families.get('app_elsewhere_gauge')?.type).toBe('gauge');
  });

  it('Available metrics: the four make*Provider create the four metric types', async () => {
    await start({
      imports: [PrometheusModule.register({ defaultMetrics: { enabled: false } })],
      providers: [
        makeCounterProvider({ name: 'a_counter', help: 'h' }),
        makeGaugeProvider({ name: 'a_gauge', help: 'h' }),
        makeHistogramProvider({ name: 'a_histogram', help: 'h' }),
        makeSummaryProvider({ name: 'a_summary', help: 'h' }),
      ],
    });
    expect(app!.get(getToken('a_counter'))).toBeInstanceOf(client.Counter);
    expect(app!.get(getToken('a_gauge'))).toBeInstanceOf(client.Gauge);
    expect(app!.get(getToken('a_histogram'))).toBeInstanceOf(client.Histogram);
    expect(app!.get(getToken('a_summary'))).toBeInstanceOf(client.Summary);
    const exp = await scrapeAt(app!);
    expect(['a_counter', 'a_gauge', 'a_histogram', 'a_summary'].map(n => exp.families.get(n)?.type)).toEqual([
      'counter',
      'gauge',
      'histogram',
      'summary',
    ]);
  });

  it('Injecting dependencies into collect: inject and an async collect(queue) with this = the gauge', async () => {
    const QUEUE = 'BullQueue_scheduledQueue';
    let waiting = 7;
    await start({
      imports: [PrometheusModule.register()],
      providers: [
        { provide: QUEUE, useValue: { getWaitingCount: () => Promise.resolve(waiting) } },
        makeGaugeProvider({
          name: 'queue_size',
          help: 'Number of waiting items in the queue',
          inject: [QUEUE],
          async collect(queue: { getWaitingCount(): Promise<number> }) {
            const value = await queue.getWaitingCount();
            this.set(value);
          },
        }),
      ],
    });
    expect(sampleValue(await scrapeAt(app!), 'queue_size')).toBe(7);
    waiting = 2;
    expect(sampleValue(await scrapeAt(app!), 'queue_size')).toBe(2);
  });

  it('Providing a custom controller: a PrometheusController subclass serves the metrics', async () => {
    let calls = 0;
    @Controller()
    class MyCustomController extends PrometheusController {
      @Get()
      override async index(@Res({ passthrough: true }) response: unknown) {
        calls++;
        return super.index(response);
      }
    }
    await start({ imports: [PrometheusModule.register({ controller: MyCustomController })] });
    const exp = await scrapeAt(app!);
    expect(calls).toBe(1);
    expect(exp.families.has('process_cpu_user_seconds_total')).toBe(true);
  });

  describe('Pushgateway: pushgateway option and prom-client Pushgateway injected', () => {
    let gateway: Server;
    let received: { method?: string; url?: string; body: string }[];
    let gatewayUrl: string;

    beforeEach(async () => {
      received = [];
      gateway = createServer((req: IncomingMessage, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          received.push({ method: req.method, url: req.url, body });
          res.writeHead(200).end();
        });
      });
      await new Promise<void>(resolve => gateway.listen(0, '127.0.0.1', resolve));
      gatewayUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
    });

    afterEach(async () => {
      await new Promise(resolve => gateway.close(resolve));
    });

    it("the injected Pushgateway is prom-client's class, with gatewayUrl, and pushes the registry", async () => {
      @Injectable()
      class Service {
        constructor(private readonly pushgateway: client.Pushgateway<client.RegistryContentType>) {}
        push() {
          return this.pushgateway.pushAdd({ jobName: 'batch', groupings: { path: 'a/b' } });
        }
        get gateway() {
          return this.pushgateway;
        }
      }
      await start({
        imports: [PrometheusModule.register({ pushgateway: { url: gatewayUrl } })],
        providers: [Service, makeCounterProvider({ name: 'pushed_total', help: 'h' })],
      });
      app!.get<Counter>(getToken('pushed_total')).inc(4);
      const service = app!.get(Service);
      expect(service.gateway).toBeInstanceOf(client.Pushgateway);
      expect(service.gateway).toHaveProperty('gatewayUrl', gatewayUrl);
      await expect(service.push()).resolves.toEqual({});
      expect(received).toHaveLength(1);
      expect(received[0].method).toBe('POST');
      // A "/" in a grouping value goes base64url-encoded: the Pushgateway rejects prom-client's %2F.
      expect(received[0].url).toBe(`/metrics/job/batch/path@base64/${Buffer.from('a/b').toString('base64url')}`);
      expect(sampleValue(parseExposition(received[0].body), 'pushed_total')).toBe(4);
    });

    it('without a jobName in the options, nothing is pushed on shutdown (as in willsoto)', async () => {
      await start({ imports: [PrometheusModule.register({ pushgateway: { url: gatewayUrl } })] });
      await app!.close();
      app = undefined;
      expect(received).toEqual([]);
    });

    it('a push with no jobName rejects with an error that names it', async () => {
      await start({ imports: [PrometheusModule.register({ pushgateway: { url: gatewayUrl } })] });
      const pushgateway = app!.get(client.Pushgateway);
      await expect(pushgateway.push({} as client.Pushgateway.Parameters)).rejects.toThrow(/no jobName/);
    });
  });

  it('registerAsync({ useFactory, inject, imports }): options from a config service', async () => {
    @Injectable()
    class MyConfigService {
      options(): PrometheusOptions {
        return { path: '/my/custom/path/metrics' };
      }
    }
    @Module({ providers: [MyConfigService], exports: [MyConfigService] })
    class MyConfigModule {}
    await start({
      imports: [
        PrometheusModule.registerAsync({
          imports: [MyConfigModule],
          inject: [MyConfigService],
          useFactory: (config: MyConfigService) => config.options(),
        }),
      ],
    });
    expect((await scrapeAt(app!, '/my/custom/path/metrics')).families.has('process_cpu_user_seconds_total')).toBe(true);
  });

  it('registerAsync({ useClass }) and ({ useExisting }) with a PrometheusOptionsFactory', async () => {
    @Injectable()
    class OptionsService implements PrometheusOptionsFactory {
      createPrometheusOptions() {
        return { path: '/from-factory' };
      }
    }
    @Module({ providers: [OptionsService], exports: [OptionsService] })
    class OptionsModule {}
    await start({ imports: [PrometheusModule.registerAsync({ useClass: OptionsService })] });
    expect((await get(app!, '/from-factory')).status).toBe(200);
    await app!.close();
    register.clear();
    await start({
      imports: [PrometheusModule.registerAsync({ imports: [OptionsModule], useExisting: OptionsService })],
    });
    expect((await get(app!, '/from-factory')).status).toBe(200);
  });

  it('registerAsync({ controller }): the custom controller with async options', async () => {
    let calls = 0;
    class CustomController extends PrometheusController {
      // Typed as willsoto's own tests type it.
      @Get()
      override async index(@Res() response: unknown): Promise<string> {
        calls++;
        return super.index(response);
      }
    }
    await start({
      imports: [PrometheusModule.registerAsync({ controller: CustomController, useFactory: () => ({}) })],
    });
    expect((await get(app!, '/metrics')).text).toContain('process_cpu_user_seconds_total');
    expect(calls).toBe(1);
  });
});

describe("@willsoto/nestjs-prometheus custom controller keeps this module's endpoint", () => {
  @Injectable()
  class ScraperGuard implements CanActivate {
    canActivate(context: ExecutionContext): boolean {
      const req = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>();
      return req.headers.authorization === 'Bearer scraper';
    }
  }

  @Controller()
  class GuardedController extends PrometheusController {
    @Get()
    @UseGuards(ScraperGuard)
    override index(@Res() response: unknown) {
      return super.index(response);
    }
  }

  @Controller()
  class RenamedRouteController extends PrometheusController {
    @Get('prometheus')
    override index(@Res({ passthrough: true }) response: unknown) {
      return super.index(response);
    }
  }

  describe.each(ADAPTERS)('%s', (adapter: AdapterName) => {
    let app: INestApplication;
    const auth = { Authorization: 'Bearer scraper' };

    beforeAll(async () => {
      app = await createApp(adapter, {
        imports: [PrometheusModule.register({ controller: GuardedController, defaultMetrics: { enabled: false } })],
        providers: [makeCounterProvider({ name: 'orders_total', help: 'Orders' })],
      });
    });

    afterAll(async () => {
      await app.close();
      register.clear();
    });

    it('a guard on the override protects the endpoint', async () => {
      expect((await get(app, '/metrics')).status).toBe(403);
      expect((await get(app, '/metrics', auth)).status).toBe(200);
    });

    it('OpenMetrics when the scraper asks for it', async () => {
      const res = await get(app, '/metrics', { ...auth, Accept: 'application/openmetrics-text; version=1.0.0' });
      expect(res.headers['content-type']).toMatch(/^application\/openmetrics-text/);
      const exp = parseExposition(res.text, 'openmetrics');
      expect(exp.families.get('orders')?.type).toBe('counter');
    });

    it('gzip when the scraper accepts it', async () => {
      const res = await request(app.getHttpServer())
        .get('/metrics')
        .set('Authorization', 'Bearer scraper')
        .set('Accept-Encoding', 'gzip');
      expect(res.status).toBe(200);
      expect(res.headers['content-encoding']).toBe('gzip');
      // supertest inflates it: the body is the exposition.
      expect(parseExposition(res.text).families.get('orders_total')?.type).toBe('counter');
    });

    it('?name[]= serves only the families named', async () => {
      const exp = parseExposition((await get(app, '/metrics?name[]=orders_total', auth)).text);
      expect([...exp.families.keys()]).toEqual(['orders_total']);
    });

    it("a scrape that fails answers 503, as the module's own endpoint does", async () => {
      // The scrape lists the registry's metrics first (it renders them itself, not through
      // registry.metrics()): make that fail, then put the registry's own method back.
      const broken = register as unknown as { getMetricsAsArray: () => unknown[] };
      const listing = broken.getMetricsAsArray;
      broken.getMetricsAsArray = () => {
        throw new Error('registry unavailable');
      };
      try {
        expect((await get(app, '/metrics', auth)).status).toBe(503);
      } finally {
        broken.getMetricsAsArray = listing;
      }
      expect((await get(app, '/metrics', auth)).status).toBe(200);
    });

    it('scrapes are never counted in the HTTP metrics', async () => {
      await get(app, '/metrics', auth);
      await get(app, '/metrics', auth);
      const exp = parseExposition((await get(app, '/metrics', auth)).text);
      expect(exp.samples.filter(s => s.name === 'http_requests_total' && s.labels.route === '/metrics')).toEqual([]);
    });
  });

  it.each(ADAPTERS)('a route of its own on the override (%s)', async (adapter: AdapterName) => {
    const app = await createApp(adapter, {
      imports: [PrometheusModule.register({ controller: RenamedRouteController, path: '/internal' })],
    });
    try {
      expect((await get(app, '/internal/prometheus')).text).toContain('process_cpu_user_seconds_total');
      expect((await get(app, '/metrics')).status).toBe(404);
    } finally {
      await app.close();
      register.clear();
    }
  });
});

describe('make*Provider without PrometheusModule (the usual unit test)', () => {
  afterEach(() => register.clear());

  it('Test.createTestingModule({ providers: [makeGaugeProvider(...)] }) gives a Gauge in the global registry', async () => {
    const moduleRef = await Test.createTestingModule({
      providers: [makeGaugeProvider({ name: 'controller_gauge', help: 'controller_gauge_help' })],
    }).compile();
    const gauge = moduleRef.get<Gauge>(getToken('controller_gauge'));
    expect(gauge).toBeInstanceOf(client.Gauge);
    gauge.set(5);
    expect(sampleValue(parseExposition(await register.metrics()), 'controller_gauge')).toBe(5);
    await moduleRef.close();
  });

  it('inject and collect work without the module too', async () => {
    const moduleRef = await Test.createTestingModule({
      providers: [
        { provide: 'COUNT_SERVICE', useValue: { getCount: () => 5 } },
        makeCounterProvider({
          name: 'injected_counter',
          help: 'h',
          inject: ['COUNT_SERVICE'],
          collect(service: { getCount(): number }) {
            this.inc(service.getCount());
          },
        }),
      ],
    }).compile();
    const metric = moduleRef.get<Counter>(getToken('injected_counter'));
    expect((await metric.get()).values[0].value).toBe(5);
    await moduleRef.close();
  });

  it("with the module, the metric lives in the module's registry", async () => {
    const registry = new client.Registry();
    const moduleRef = await Test.createTestingModule({
      imports: [PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false } })],
      providers: [makeGaugeProvider({ name: 'module_gauge', help: 'h' })],
    }).compile();
    expect(registry.getSingleMetric('module_gauge')).toBe(moduleRef.get(getToken('module_gauge')));
    expect(register.getSingleMetric('module_gauge')).toBeUndefined();
    await moduleRef.close();
  });
});

describe('tokens as in @willsoto/nestjs-prometheus', () => {
  afterEach(() => register.clear());

  it('getToken(name) is PROM_METRIC_ and the name in upper case', () => {
    expect(getToken('orders_total')).toBe('PROM_METRIC_ORDERS_TOTAL');
  });

  it('moduleRef.get(getToken()), a hand-written token and overrideProvider(getToken()) reach the metric', async () => {
    let fakeIncs = 0;
    const fake = {
      inc: () => {
        fakeIncs++;
      },
    };
    @Injectable()
    class Orders {
      constructor(@InjectMetric('orders_total') readonly counter: { inc(): void }) {}
    }
    const real = await Test.createTestingModule({
      providers: [Orders, makeCounterProvider({ name: 'orders_total', help: 'h' })],
    }).compile();
    expect(real.get('PROM_METRIC_ORDERS_TOTAL')).toBe(real.get(getToken('orders_total')));
    expect(real.get(Orders).counter).toBe(real.get(getToken('orders_total')));
    await real.close();

    const overridden = await Test.createTestingModule({
      providers: [Orders, makeCounterProvider({ name: 'orders_total', help: 'h' })],
    })
      .overrideProvider(getToken('orders_total'))
      .useValue(fake)
      .compile();
    overridden.get(Orders).counter.inc();
    expect(fakeIncs).toBe(1);
    await overridden.close();
  });
});
