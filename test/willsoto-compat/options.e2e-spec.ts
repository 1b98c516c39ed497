import 'reflect-metadata';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type INestApplicationContext, Injectable, Logger, Module, type ModuleMetadata } from '@nestjs/common';
import { Pushgateway, register, Registry } from 'prom-client';
import { Counter, getToken, makeCounterProvider, makeGaugeProvider, PrometheusModule } from '../../lib/index.js';
import { createContext, readRegistry } from '../utils/app.js';
import { sampleValue } from '../utils/exposition.js';

/** Captures the module's warnings (its Logger instances log through the prototype). */
function captureWarnings(): { lines: string[]; restore(): void } {
  const lines: string[] = [];
  // Kept only to be put back on the prototype, never called detached.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const original = Logger.prototype.warn;
  Logger.prototype.warn = function capture(message: unknown) {
    lines.push(String(message));
  };
  return { lines, restore: () => (Logger.prototype.warn = original) };
}

async function boot(metadata: ModuleMetadata): Promise<INestApplicationContext> {
  return (await createContext(metadata)).init();
}

async function bootError(metadata: () => ModuleMetadata): Promise<string> {
  let context: INestApplicationContext | undefined;
  try {
    context = await boot(metadata());
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  await context.close();
  throw new Error('bootstrap succeeded');
}

afterEach(() => register.clear());

describe('forRootAsync / registerAsync without a source of options', () => {
  it('forRootAsync({}) names what is missing', () => {
    expect(() => PrometheusModule.forRootAsync({})).toThrow(
      'PrometheusModule.forRootAsync(): Invalid configuration. Must provide useClass or useExisting (or useFactory) ' +
        'to give the options, and none was given; with options known up front, use forRoot() instead',
    );
  });

  it('registerAsync({}) names what is missing', () => {
    expect(() => PrometheusModule.registerAsync({ imports: [] })).toThrow(
      /^PrometheusModule\.registerAsync\(\): Invalid configuration\. Must provide useClass or useExisting \(or useFactory\)/,
    );
  });

  it('createAsyncProviders({}) and createAsyncOptionsProvider({}) throw it too, as in willsoto', () => {
    expect(() => PrometheusModule.createAsyncProviders({})).toThrow(
      'Invalid configuration. Must provide useClass or useExisting',
    );
    expect(() => PrometheusModule.createAsyncOptionsProvider({})).toThrow(
      'Invalid configuration. Must provide useClass or useExisting',
    );
  });

  it("with a source, they give Nest's providers", () => {
    const providers = PrometheusModule.createAsyncProviders({ useFactory: () => ({}) });
    expect(providers).toHaveLength(1);
    expect(PrometheusModule.createAsyncOptionsProvider({ useFactory: () => ({}) })).toHaveProperty('useFactory');
  });
});

describe('unknown option keys', () => {
  let warnings: ReturnType<typeof captureWarnings>;
  beforeEach(() => (warnings = captureWarnings()));
  afterEach(() => warnings.restore());

  it('are warned about by name, and the app still boots (forRoot)', async () => {
    const options = { registry: new Registry(), defaultMetrics: { enabled: false }, pathh: '/m', buckets: [1] };
    const context = await boot({ imports: [PrometheusModule.forRoot(options)] });
    await context.close();
    expect(warnings.lines.filter(l => l.includes('unknown option'))).toEqual([
      'PrometheusModule options: unknown option "pathh" is ignored',
      'PrometheusModule options: unknown option "buckets" is ignored',
    ]);
  });

  it('are warned about when a factory returns them, with a hint for module-level ones', async () => {
    const context = await boot({
      imports: [
        PrometheusModule.registerAsync({
          useFactory: () => ({ registry: new Registry(), defaultMetrics: { enabled: false }, global: true }),
        }),
      ],
    });
    await context.close();
    expect(warnings.lines.filter(l => l.includes('unknown option'))).toEqual([
      'PrometheusModule options: unknown option "global" is ignored (give it to register()/registerAsync() ' +
        '(or isGlobal to forRoot()/forRootAsync()), not from a factory)',
    ]);
  });

  it('module-level options (global, controller, guards, isGlobal) are not warned about', async () => {
    const context = await boot({
      imports: [
        PrometheusModule.register({
          registry: new Registry(),
          defaultMetrics: { enabled: false },
          global: true,
          guards: [],
          endpointDecorators: [],
        }),
      ],
    });
    await context.close();
    expect(warnings.lines.filter(l => l.includes('unknown option'))).toEqual([]);
  });

  it('unknown pushgateway.options keys are warned about by name', async () => {
    const context = await boot({
      imports: [
        PrometheusModule.forRoot({
          registry: new Registry(),
          defaultMetrics: { enabled: false },
          pushgateway: { url: 'http://127.0.0.1:9', options: { timeout: 100, agent: false } },
        }),
      ],
    });
    await context.close();
    expect(warnings.lines.filter(l => l.includes('unknown option'))).toEqual([
      'PrometheusModule options.pushgateway.options: unknown option "agent" is ignored',
    ]);
  });
});

describe('customMetricPrefix', () => {
  it('prefixes make*Provider and forFeature metrics, not decorator metrics; @InjectMetric takes the bare name', async () => {
    @Injectable()
    class Orders {
      @Counter({ name: 'orders_placed_total', help: 'Orders placed' })
      place(): void {}
    }
    @Module({
      imports: [PrometheusModule.forFeature([{ type: 'gauge', name: 'feature_gauge', help: 'h' }])],
      providers: [Orders],
    })
    class OrdersModule {}
    const registry = new Registry();
    const context = await boot({
      imports: [
        PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false }, customMetricPrefix: 'app' }),
        OrdersModule,
      ],
      providers: [makeCounterProvider({ name: 'refunds_total', help: 'h' })],
    });
    context.get(Orders).place();
    context.get<{ inc(): void }>(getToken('refunds_total')).inc();
    const exp = await readRegistry(registry);
    expect(sampleValue(exp, 'app_refunds_total')).toBe(1);
    expect(exp.families.get('app_feature_gauge')?.type).toBe('gauge');
    expect(sampleValue(exp, 'orders_placed_total')).toBe(1);
    expect(exp.families.has('app_orders_placed_total')).toBe(false);
    expect(exp.families.has('refunds_total')).toBe(false);
    await context.close();
  });

  it('register() is not global by default (as in willsoto): a module that does not import it gets no prefix', async () => {
    @Module({ providers: [makeGaugeProvider({ name: 'outside_gauge', help: 'h' })] })
    class FeatureModule {}
    const context = await boot({
      imports: [
        PrometheusModule.register({ defaultMetrics: { enabled: false }, customMetricPrefix: 'app' }),
        FeatureModule,
      ],
    });
    expect(register.getSingleMetric('outside_gauge')).toBeDefined();
    expect(register.getSingleMetric('app_outside_gauge')).toBeUndefined();
    await context.close();
  });

  it('an invalid prefix is a bootstrap error that names the option', async () => {
    expect(
      await bootError(() => ({
        imports: [PrometheusModule.forRoot({ registry: new Registry(), customMetricPrefix: 'my-app' })],
      })),
    ).toContain('PrometheusModule options.customMetricPrefix: invalid metric name "my-app_x"');
  });
});

describe('make*Provider arguments', () => {
  it('a collect that is not a function is an error naming the provider', () => {
    expect(() => makeGaugeProvider({ name: 'g', help: 'h', collect: 'no' as never })).toThrow(
      'makeGaugeProvider(g): collect must be a function',
    );
  });

  it('inject that is not an array is an error naming the provider', () => {
    expect(() => makeCounterProvider({ name: 'c', help: 'h', inject: 'DB' as never })).toThrow(
      'makeCounterProvider(c): inject must be an array of injection tokens',
    );
  });
});

describe('pushgateway in the willsoto form: { url, options, registry }', () => {
  let gateway: Server;
  let url: string;
  let seen: { url?: string; headers: IncomingHttpHeaders; body: string }[];

  beforeEach(async () => {
    seen = [];
    gateway = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ url: req.url, headers: req.headers, body });
        res.writeHead(202).end();
      });
    });
    await new Promise<void>(resolve => gateway.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    await new Promise(resolve => gateway.close(resolve));
  });

  it('options.headers and options.auth are sent; registry is the one pushed', async () => {
    const pushed = new Registry();
    pushed.registerMetric(new (await import('prom-client')).Gauge({ name: 'batch_rows', help: 'h', registers: [] }));
    const context = await boot({
      imports: [
        PrometheusModule.register({
          registry: new Registry(),
          defaultMetrics: { enabled: false },
          pushgateway: { url, options: { headers: { 'X-Tenant': 'acme' }, auth: 'user:secret' }, registry: pushed },
        }),
      ],
    });
    const gw = context.get(Pushgateway);
    // prom-client's class keeps it, untyped.
    expect((gw as unknown as { registry: Registry }).registry).toBe(pushed);
    await gw.push({ jobName: 'nightly' });
    await context.close();
    expect(seen).toHaveLength(1);
    expect(seen[0].url).toBe('/metrics/job/nightly');
    expect(seen[0].headers['x-tenant']).toBe('acme');
    expect(seen[0].headers.authorization).toBe(`Basic ${Buffer.from('user:secret').toString('base64')}`);
    expect(seen[0].body).toContain('# TYPE batch_rows gauge');
  });

  it("a rejected push (status >= 400) rejects, as prom-client's does", async () => {
    gateway.removeAllListeners('request');
    gateway.on('request', (_req, res) => res.writeHead(400).end('bad grouping'));
    const context = await boot({
      imports: [
        PrometheusModule.register({
          registry: new Registry(),
          defaultMetrics: { enabled: false },
          pushgateway: { url },
        }),
      ],
    });
    await expect(context.get(Pushgateway).pushAdd({ jobName: 'x' })).rejects.toThrow('push failed with status 400');
    await context.close();
  });

  it('periodic pushes need a jobName: a bootstrap error that names it', async () => {
    expect(
      await bootError(() => ({
        imports: [PrometheusModule.forRoot({ registry: new Registry(), pushgateway: { url, intervalMs: 1000 } })],
      })),
    ).toContain('PrometheusModule options.pushgateway.intervalMs needs pushgateway.jobName');
  });

  it("without pushgateway, prom-client's Pushgateway is injected as null (as willsoto's registerAsync does)", async () => {
    const context = await boot({
      imports: [PrometheusModule.register({ registry: new Registry(), defaultMetrics: { enabled: false } })],
    });
    expect(context.get(Pushgateway)).toBeNull();
    await context.close();
  });
});
