import 'reflect-metadata';
import {
  Controller,
  type INestApplication,
  type INestApplicationContext,
  Injectable,
  Module,
  type ModuleMetadata,
  Param,
  type Provider,
  Post,
} from '@nestjs/common';
import {
  Counter as PromCounter,
  Gauge as PromGauge,
  Histogram as PromHistogram,
  Registry,
  Summary as PromSummary,
} from 'prom-client';
import request from 'supertest';
import {
  Counter,
  getMetricToken,
  Histogram,
  InjectMetric,
  makeCounterProvider,
  makeGaugeProvider,
  makeHistogramProvider,
  makeSummaryProvider,
  type MetricProviderDefinition,
  PrometheusModule,
} from '../lib/index.js';
import {
  ADAPTERS,
  type AdapterName,
  createApp,
  createContext,
  isolatedPrometheus,
  readRegistry,
  scrape,
} from './utils/app.js';
import { findSamples, sampleValue } from './utils/exposition.js';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const HELP = 'test metric';

/** The message of the error bootstrapping an application context with these modules rejects with. */
async function bootstrapError(imports: ModuleMetadata['imports']): Promise<string> {
  let app: INestApplicationContext | undefined;
  try {
    app = await (await createContext({ imports: [isolatedPrometheus(new Registry()), ...(imports ?? [])] })).init();
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  await app.close();
  throw new Error('bootstrap succeeded');
}

/** The bootstrap error names the metric, and is the library's, not Nest's dependency resolution failing. */
function expectNamesMetric(message: string, name: string): void {
  expect(message).toContain(name);
  expect(message).not.toMatch(/can't resolve dependencies/i);
}

// ---------------------------------------------------------------------------------------------
// makeXxxProvider() in a user module, forFeature() in a feature module
// ---------------------------------------------------------------------------------------------

@Injectable()
class OrdersMetrics {
  constructor(
    @InjectMetric('orders_placed_total') readonly placed: PromCounter<'status'>,
    @InjectMetric('orders_queue_depth') readonly depth: PromGauge,
    @InjectMetric('orders_amount') readonly amount: PromHistogram<'currency'>,
    @InjectMetric('orders_latency_seconds') readonly latency: PromSummary,
  ) {}
}

@Module({
  providers: [
    makeCounterProvider({ name: 'orders_placed_total', help: HELP, labelNames: ['status'] }),
    makeGaugeProvider({ name: 'orders_queue_depth', help: HELP }),
    makeHistogramProvider({ name: 'orders_amount', help: HELP, labelNames: ['currency'], buckets: [10, 100] }),
    makeSummaryProvider({ name: 'orders_latency_seconds', help: HELP, percentiles: [0.5] }),
    OrdersMetrics,
  ],
})
class OrdersModule {}

@Injectable()
class PaymentsMetrics {
  // Property injection.
  @InjectMetric('payments_total') readonly payments!: PromCounter<'method'>;
  @InjectMetric('payments_pending') readonly pending!: PromGauge<'method'>;
  @InjectMetric('payments_seconds') readonly seconds!: PromHistogram;
  @InjectMetric('payments_amount_summary') readonly amounts!: PromSummary;
}

@Controller('payments')
class PaymentsController {
  constructor(private readonly metrics: PaymentsMetrics) {}

  @Post(':method')
  pay(@Param('method') method: string): { paid: string } {
    this.metrics.payments.inc({ method });
    return { paid: method };
  }
}

@Module({
  imports: [
    PrometheusModule.forFeature([
      { type: 'counter', name: 'payments_total', help: HELP, labelNames: ['method'] },
      { type: 'gauge', name: 'payments_pending', help: HELP, labelNames: ['method'] },
      { type: 'histogram', name: 'payments_seconds', help: HELP, buckets: [0.1, 1] },
      { type: 'summary', name: 'payments_amount_summary', help: HELP, percentiles: [0.5, 0.9] },
    ]),
  ],
  controllers: [PaymentsController],
  providers: [PaymentsMetrics],
})
class PaymentsModule {}

describe.each(ADAPTERS)('@InjectMetric with makeXxxProvider() and forFeature() (%s)', (adapter: AdapterName) => {
  let app: INestApplication;
  let registry: Registry;

  beforeAll(async () => {
    registry = new Registry();
    app = await createApp(adapter, { imports: [isolatedPrometheus(registry), OrdersModule, PaymentsModule] });
  });
  afterAll(() => app.close());

  it('makeCounterProvider/makeGaugeProvider/makeHistogramProvider/makeSummaryProvider inject the prom-client metrics of the registry', async () => {
    const m = app.get(OrdersMetrics);
    expect(m.placed).toBeInstanceOf(PromCounter);
    expect(m.depth).toBeInstanceOf(PromGauge);
    expect(m.amount).toBeInstanceOf(PromHistogram);
    expect(m.latency).toBeInstanceOf(PromSummary);
    expect(registry.getSingleMetric('orders_placed_total')).toBe(m.placed);
    expect(registry.getSingleMetric('orders_queue_depth')).toBe(m.depth);
    expect(registry.getSingleMetric('orders_amount')).toBe(m.amount);
    expect(registry.getSingleMetric('orders_latency_seconds')).toBe(m.latency);
    expect(app.get(getMetricToken('orders_placed_total'), { strict: false })).toBe(m.placed);
  });

  it('values set through them show up at /metrics', async () => {
    const m = app.get(OrdersMetrics);
    m.placed.inc({ status: 'ok' });
    m.placed.inc({ status: 'ok' });
    m.placed.inc({ status: 'failed' }, 3);
    m.depth.set(5);
    m.amount.observe({ currency: 'EUR' }, 42);
    m.amount.observe({ currency: 'EUR' }, 420);
    m.latency.observe(0.25);

    const exp = await scrape(app);
    expect(exp.families.get('orders_placed_total')?.type).toBe('counter');
    expect(sampleValue(exp, 'orders_placed_total', { status: 'ok' })).toBe(2);
    expect(sampleValue(exp, 'orders_placed_total', { status: 'failed' })).toBe(3);
    expect(exp.families.get('orders_queue_depth')?.type).toBe('gauge');
    expect(sampleValue(exp, 'orders_queue_depth')).toBe(5);
    expect(exp.families.get('orders_amount')?.type).toBe('histogram');
    expect(sampleValue(exp, 'orders_amount_bucket', { currency: 'EUR', le: '10' })).toBe(0);
    expect(sampleValue(exp, 'orders_amount_bucket', { currency: 'EUR', le: '100' })).toBe(1);
    expect(sampleValue(exp, 'orders_amount_bucket', { currency: 'EUR', le: '+Inf' })).toBe(2);
    expect(sampleValue(exp, 'orders_amount_sum', { currency: 'EUR' })).toBe(462);
    expect(sampleValue(exp, 'orders_amount_count', { currency: 'EUR' })).toBe(2);
    expect(exp.families.get('orders_latency_seconds')?.type).toBe('summary');
    expect(sampleValue(exp, 'orders_latency_seconds', { quantile: '0.5' })).toBe(0.25);
    expect(sampleValue(exp, 'orders_latency_seconds_count')).toBe(1);
  });

  it('PrometheusModule.forFeature() makes its metrics injectable in the importing module, values show up at /metrics', async () => {
    const m = app.get(PaymentsMetrics, { strict: false });
    expect(m.payments).toBeInstanceOf(PromCounter);
    expect(m.pending).toBeInstanceOf(PromGauge);
    expect(m.seconds).toBeInstanceOf(PromHistogram);
    expect(m.amounts).toBeInstanceOf(PromSummary);
    expect(registry.getSingleMetric('payments_total')).toBe(m.payments);

    await request(app.getHttpServer()).post('/payments/card').expect(201, { paid: 'card' });
    await request(app.getHttpServer()).post('/payments/card').expect(201);
    await request(app.getHttpServer()).post('/payments/iban').expect(201);
    m.pending.inc({ method: 'iban' }, 4);
    m.pending.dec({ method: 'iban' });
    m.seconds.observe(0.5);
    m.amounts.observe(10);
    m.amounts.observe(30);

    const exp = await scrape(app);
    expect(sampleValue(exp, 'payments_total', { method: 'card' })).toBe(2);
    expect(sampleValue(exp, 'payments_total', { method: 'iban' })).toBe(1);
    expect(sampleValue(exp, 'payments_pending', { method: 'iban' })).toBe(3);
    expect(sampleValue(exp, 'payments_seconds_bucket', { le: '0.1' })).toBe(0);
    expect(sampleValue(exp, 'payments_seconds_bucket', { le: '1' })).toBe(1);
    expect(sampleValue(exp, 'payments_seconds_count')).toBe(1);
    expect(exp.families.get('payments_amount_summary')?.type).toBe('summary');
    expect(findSamples(exp, 'payments_amount_summary').map(s => s.labels.quantile)).toEqual(['0.5', '0.9']);
    expect(sampleValue(exp, 'payments_amount_summary_sum')).toBe(40);
    expect(sampleValue(exp, 'payments_amount_summary_count')).toBe(2);
  });
});

// ---------------------------------------------------------------------------------------------
// A metric declared by a decorator, injected by its name
// ---------------------------------------------------------------------------------------------

@Injectable()
class JobsService {
  @Counter({ name: 'jobs_done_total', help: HELP, labels: { queue: 'mail' } })
  done(): string {
    return 'done';
  }

  @Histogram({ name: 'jobs_duration_seconds', help: HELP, buckets: [1, 5] })
  async work(): Promise<string> {
    return 'worked';
  }
}

@Injectable()
class JobsReporter {
  constructor(
    @InjectMetric('jobs_done_total') readonly done: PromCounter<'queue'>,
    @InjectMetric('jobs_duration_seconds') readonly duration: PromHistogram,
  ) {}
}

/** A user module that does not import PrometheusModule itself. */
@Module({ providers: [JobsService, JobsReporter] })
class JobsModule {}

describe.each(ADAPTERS)('@InjectMetric of a metric declared by a decorator (%s)', (adapter: AdapterName) => {
  let app: INestApplication;
  let registry: Registry;

  beforeAll(async () => {
    registry = new Registry();
    app = await createApp(adapter, { imports: [isolatedPrometheus(registry), JobsModule] });
  });
  afterAll(() => app.close());

  it('injects the same prom-client metric the decorator records into: both add up', async () => {
    const reporter = app.get(JobsReporter, { strict: false });
    const jobs = app.get(JobsService, { strict: false });
    expect(reporter.done).toBeInstanceOf(PromCounter);
    expect(registry.getSingleMetric('jobs_done_total')).toBe(reporter.done);
    expect(registry.getSingleMetric('jobs_duration_seconds')).toBe(reporter.duration);

    reporter.done.inc({ queue: 'mail' }, 5);
    expect(jobs.done()).toBe('done');
    expect(jobs.done()).toBe('done');
    reporter.duration.observe(2);
    await expect(jobs.work()).resolves.toBe('worked');

    const exp = await scrape(app);
    expect(findSamples(exp, 'jobs_done_total')).toHaveLength(1);
    expect(sampleValue(exp, 'jobs_done_total', { queue: 'mail' })).toBe(7);
    expect(sampleValue(exp, 'jobs_duration_seconds_count')).toBe(2);
    expect(sampleValue(exp, 'jobs_duration_seconds_bucket', { le: '1' })).toBe(1);
    expect(sampleValue(exp, 'jobs_duration_seconds_bucket', { le: '5' })).toBe(2);
  });
});

/** A decorated class that the app provides through a factory or a value, not as a class provider. */
class ExportJob {
  @Counter({ name: 'export_runs_total', help: HELP, labels: { format: 'csv' } })
  run(): string {
    return 'exported';
  }
}

@Injectable()
class ExportReporter {
  constructor(@InjectMetric('export_runs_total') readonly runs: PromCounter<'format'>) {}
}

const exportProviders: [string, Provider][] = [
  ['useFactory', { provide: ExportJob, useFactory: () => new ExportJob() }],
  ['useValue', { provide: ExportJob, useValue: new ExportJob() }],
];

describe.each(exportProviders)('@InjectMetric of a metric declared on a class provided with %s', (_kind, provider) => {
  it('injects the metric the decorated method records into', async () => {
    const registry = new Registry();
    const app = await (
      await createContext({ imports: [isolatedPrometheus(registry)], providers: [provider, ExportReporter] })
    ).init();
    try {
      expect(app.get(ExportJob).run()).toBe('exported');
      const runs = app.get(ExportReporter).runs;
      expect(runs).toBeInstanceOf(PromCounter);
      expect(runs).toBe(registry.getSingleMetric('export_runs_total'));
      runs.inc({ format: 'csv' }, 2);
      expect(sampleValue(await readRegistry(registry), 'export_runs_total', { format: 'csv' })).toBe(3);
    } finally {
      await app.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The same name declared twice
// ---------------------------------------------------------------------------------------------

const DUP_COUNTER = { name: 'dup_requests_total', help: HELP, labelNames: ['route'] };

@Injectable()
class DupReaderA {
  constructor(@InjectMetric('dup_requests_total') readonly metric: PromCounter<'route'>) {}
}
@Injectable()
class DupReaderB {
  constructor(@InjectMetric('dup_requests_total') readonly metric: PromCounter<'route'>) {}
}
@Module({ providers: [makeCounterProvider(DUP_COUNTER), DupReaderA], exports: [DupReaderA] })
class DupModuleA {}
@Module({ providers: [makeCounterProvider(DUP_COUNTER), DupReaderB], exports: [DupReaderB] })
class DupModuleB {}

const FEATURE_HISTOGRAM: MetricProviderDefinition = {
  type: 'histogram',
  name: 'dup_feature_seconds',
  help: HELP,
  buckets: [1, 2],
};

@Injectable()
class FeatureReaderA {
  constructor(@InjectMetric('dup_feature_seconds') readonly metric: PromHistogram) {}
}
@Injectable()
class FeatureReaderB {
  constructor(@InjectMetric('dup_feature_seconds') readonly metric: PromHistogram) {}
}
@Module({ imports: [PrometheusModule.forFeature([FEATURE_HISTOGRAM])], providers: [FeatureReaderA] })
class FeatureModuleA {}
@Module({ imports: [PrometheusModule.forFeature([FEATURE_HISTOGRAM])], providers: [FeatureReaderB] })
class FeatureModuleB {}
/** The same histogram again, from a provider. */
@Injectable()
class FeatureReaderC {
  constructor(@InjectMetric('dup_feature_seconds') readonly metric: PromHistogram) {}
}
@Module({
  providers: [makeHistogramProvider({ name: 'dup_feature_seconds', help: HELP, buckets: [1, 2] }), FeatureReaderC],
})
class FeatureModuleC {}

@Injectable()
class MixedService {
  @Counter({ name: 'mixed_total', help: HELP, labels: { kind: 'x' } })
  run(): void {}

  // A second decorator (another value) with the same definition.
  @Counter({ name: 'mixed_total', help: HELP, labels: { kind: 'x' } })
  runToo(): void {}
}
@Injectable()
class MixedReporter {
  constructor(@InjectMetric('mixed_total') readonly metric: PromCounter<'kind'>) {}
}
@Module({
  providers: [
    makeCounterProvider({ name: 'mixed_total', help: HELP, labelNames: ['kind'] }),
    MixedService,
    MixedReporter,
  ],
})
class MixedModule {}

describe('the same metric name declared twice with the same definition gives one metric', () => {
  let app: INestApplicationContext;
  let registry: Registry;

  beforeAll(async () => {
    registry = new Registry();
    app = await (
      await createContext({
        imports: [
          isolatedPrometheus(registry),
          DupModuleA,
          DupModuleB,
          FeatureModuleA,
          FeatureModuleB,
          FeatureModuleC,
          MixedModule,
        ],
      })
    ).init();
  });
  afterAll(() => app.close());

  it('two makeCounterProvider() of the same definition in two modules', async () => {
    const a = app.get(DupReaderA, { strict: false }).metric;
    const b = app.get(DupReaderB, { strict: false }).metric;
    expect(a).toBe(b);
    a.inc({ route: '/x' });
    b.inc({ route: '/x' });
    const exp = await readRegistry(registry);
    expect(findSamples(exp, 'dup_requests_total')).toHaveLength(1);
    expect(sampleValue(exp, 'dup_requests_total', { route: '/x' })).toBe(2);
  });

  it('two forFeature() and a makeHistogramProvider() of the same definition', async () => {
    const a = app.get(FeatureReaderA, { strict: false }).metric;
    const b = app.get(FeatureReaderB, { strict: false }).metric;
    const c = app.get(FeatureReaderC, { strict: false }).metric;
    expect(a).toBe(b);
    expect(a).toBe(c);
    a.observe(0.5);
    b.observe(1.5);
    c.observe(3);
    const exp = await readRegistry(registry);
    expect(sampleValue(exp, 'dup_feature_seconds_count')).toBe(3);
    expect(sampleValue(exp, 'dup_feature_seconds_bucket', { le: '1' })).toBe(1);
    expect(sampleValue(exp, 'dup_feature_seconds_bucket', { le: '2' })).toBe(2);
  });

  it('two decorators and a makeCounterProvider() of the same definition', async () => {
    const reporter = app.get(MixedReporter, { strict: false });
    const service = app.get(MixedService, { strict: false });
    expect(registry.getSingleMetric('mixed_total')).toBe(reporter.metric);
    reporter.metric.inc({ kind: 'x' }, 10);
    service.run();
    service.runToo();
    const exp = await readRegistry(registry);
    expect(findSamples(exp, 'mixed_total')).toHaveLength(1);
    expect(sampleValue(exp, 'mixed_total', { kind: 'x' })).toBe(12);
  });
});

describe('the same metric name declared twice with another type or other labels fails at bootstrap', () => {
  it('makeCounterProvider() and makeGaugeProvider()', async () => {
    @Module({ providers: [makeCounterProvider({ name: 'conflict_type_total', help: HELP })] })
    class A {}
    @Module({ providers: [makeGaugeProvider({ name: 'conflict_type_total', help: HELP })] })
    class B {}
    expectNamesMetric(await bootstrapError([A, B]), 'conflict_type_total');
  });

  it('makeCounterProvider() and forFeature() with other labels', async () => {
    @Module({ providers: [makeCounterProvider({ name: 'conflict_labels_total', help: HELP, labelNames: ['a'] })] })
    class A {}
    @Module({
      imports: [
        PrometheusModule.forFeature([
          { type: 'counter', name: 'conflict_labels_total', help: HELP, labelNames: ['b'] },
        ]),
      ],
    })
    class B {}
    expectNamesMetric(await bootstrapError([A, B]), 'conflict_labels_total');
  });

  it('two forFeature() with another type', async () => {
    @Module({ imports: [PrometheusModule.forFeature([{ type: 'counter', name: 'conflict_feature', help: HELP }])] })
    class A {}
    @Module({ imports: [PrometheusModule.forFeature([{ type: 'summary', name: 'conflict_feature', help: HELP }])] })
    class B {}
    expectNamesMetric(await bootstrapError([A, B]), 'conflict_feature');
  });

  it('a decorator and a provider with another type', async () => {
    @Injectable()
    class ConflictService {
      @Counter({ name: 'conflict_deco_total', help: HELP })
      run(): void {}
    }
    @Module({ providers: [ConflictService, makeGaugeProvider({ name: 'conflict_deco_total', help: HELP })] })
    class A {}
    expectNamesMetric(await bootstrapError([A]), 'conflict_deco_total');
  });

  it('two decorators with other labels', async () => {
    @Injectable()
    class ConflictService {
      @Counter({ name: 'conflict_two_deco_total', help: HELP, labels: { a: '1' } })
      one(): void {}

      @Counter({ name: 'conflict_two_deco_total', help: HELP, labels: { b: '1' } })
      two(): void {}
    }
    @Module({ providers: [ConflictService] })
    class A {}
    expectNamesMetric(await bootstrapError([A]), 'conflict_two_deco_total');
  });
});

// ---------------------------------------------------------------------------------------------
// app_info
// ---------------------------------------------------------------------------------------------

describe.each(ADAPTERS)('PrometheusModule.forRoot({ info }) (%s)', (adapter: AdapterName) => {
  let app: INestApplication;

  beforeAll(async () => {
    app = await createApp(adapter, {
      imports: [
        PrometheusModule.forRoot({
          registry: new Registry(),
          defaultMetrics: { enabled: false },
          info: { version: '1.2.3', commit: 'abc' },
        }),
      ],
    });
  });
  afterAll(() => app.close());

  it('exposes app_info{version="1.2.3",commit="abc"} 1', async () => {
    const exp = await scrape(app);
    expect(exp.families.get('app_info')?.type).toBe('gauge');
    const samples = findSamples(exp, 'app_info');
    expect(samples).toHaveLength(1);
    expect(samples[0].labels).toEqual({ version: '1.2.3', commit: 'abc' });
    expect(samples[0].value).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------
// No HTTP adapter
// ---------------------------------------------------------------------------------------------

describe('in an application context (NestFactory.createApplicationContext, no HTTP)', () => {
  let app: INestApplicationContext;
  let registry: Registry;

  beforeAll(async () => {
    registry = new Registry();
    app = await (await createContext({ imports: [isolatedPrometheus(registry), JobsModule, OrdersModule] })).init();
  });
  afterAll(() => app.close());

  it('decorated provider methods are counted and metrics are injectable', async () => {
    const jobs = app.get(JobsService, { strict: false });
    const reporter = app.get(JobsReporter, { strict: false });
    const orders = app.get(OrdersMetrics, { strict: false });

    expect(jobs.done()).toBe('done');
    expect(jobs.done()).toBe('done');
    expect(jobs.done()).toBe('done');
    reporter.done.inc({ queue: 'mail' });
    orders.placed.inc({ status: 'ok' });

    const exp = await readRegistry(registry);
    expect(sampleValue(exp, 'jobs_done_total', { queue: 'mail' })).toBe(4);
    expect(sampleValue(exp, 'orders_placed_total', { status: 'ok' })).toBe(1);
  });
});
