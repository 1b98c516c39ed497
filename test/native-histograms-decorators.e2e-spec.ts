import 'reflect-metadata';
import { Controller, type DynamicModule, Get, type INestApplication, Injectable, Param } from '@nestjs/common';
import { Histogram as PromHistogram, Registry } from 'prom-client';
import request from 'supertest';
import {
  getMetricToken,
  Histogram,
  InjectMetric,
  makeHistogramProvider,
  PrometheusModule,
  type PrometheusModuleOptions,
} from '../lib/index.js';
import { ADAPTERS, createApp, type AdapterName } from './utils/app.js';
import { parseExposition, sampleValue } from './utils/exposition.js';
import {
  decodeProtobufExposition,
  type DecodedFamily,
  labelsOf,
  nativeBuckets,
  PROMETHEUS_PROTOBUF_ACCEPT,
} from './utils/protobuf-exposition.js';

const HELP = 'test metric';

@Controller()
class PaymentsController {
  @Get('pay/:currency')
  @Histogram({
    name: 'native_pay_seconds',
    help: 'Payment time',
    buckets: [0.1, 1],
    labels: { currency: ctx => String(ctx.args[0]), kind: 'card' },
    nativeHistograms: true,
  })
  pay(@Param('currency') currency: string): { currency: string } {
    return { currency };
  }
}

@Injectable()
class ReportsService {
  @Histogram({
    name: 'native_report_seconds',
    help: 'Report time',
    nativeHistograms: { bucketFactor: 1.5, classicBuckets: false },
  })
  async build(): Promise<string> {
    return 'report';
  }
}

/** The same metric as `PaymentsController`'s, without `nativeHistograms`: what users had before. */
@Controller()
class ClassicPaymentsController {
  @Get('pay/:currency')
  @Histogram({
    name: 'native_pay_seconds',
    help: 'Payment time',
    buckets: [0.1, 1],
    labels: { currency: ctx => String(ctx.args[0]), kind: 'card' },
  })
  pay(@Param('currency') currency: string): { currency: string } {
    return { currency };
  }
}

@Injectable()
class PaymentsRecorder {
  constructor(@InjectMetric('native_pay_seconds') readonly payments: PromHistogram) {}
}

@Injectable()
class JobsService {
  constructor(@InjectMetric('native_job_seconds') readonly seconds: PromHistogram) {}
}

/** A controller whose `@Histogram` has this `nativeHistograms` value. */
function controllerWith(nativeHistograms: unknown): new () => unknown {
  @Controller('refunds')
  class RefundsController {
    @Get()
    @Histogram({ name: 'native_refund_seconds', help: HELP, nativeHistograms: nativeHistograms as never })
    refund(): string {
      return 'ok';
    }
  }
  return RefundsController;
}

/** The response body as bytes, whatever its type (supertest would parse text and JSON). */
function binary(res: NodeJS.ReadableStream, done: (error: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.on('end', () => done(null, Buffer.concat(chunks)));
}

/** The native bucket counts of a decoded histogram, positive side, summed with the zero bucket. */
function nativeTotal(h: NonNullable<DecodedFamily['metric'][number]['histogram']>): number {
  const buckets = nativeBuckets(h.positive_span, h.positive_delta);
  return [...buckets.values()].reduce((a, b) => a + b, 0) + (h.zero_count ?? 0);
}

describe.each(ADAPTERS)('@Histogram and makeHistogramProvider with nativeHistograms (%s)', (adapter: AdapterName) => {
  const apps: INestApplication[] = [];

  async function boot(
    controllers: (new () => unknown)[],
    providers: unknown[] = [],
    options: PrometheusModuleOptions = {},
    imports: DynamicModule[] = [],
  ): Promise<INestApplication> {
    const app = await createApp(adapter, {
      imports: [
        PrometheusModule.forRoot({
          registry: new Registry(),
          defaultMetrics: { enabled: false },
          http: false,
          ...options,
        }),
        ...imports,
      ],
      controllers,
      providers: providers as never,
    });
    apps.push(app);
    return app;
  }

  async function scrapeProtobuf(app: INestApplication): Promise<Map<string, DecodedFamily>> {
    const res = await request(app.getHttpServer())
      .get('/metrics')
      .set('Accept', PROMETHEUS_PROTOBUF_ACCEPT)
      .buffer(true)
      .parse(binary as never)
      .expect(200);
    return new Map(decodeProtobufExposition(res.body as Buffer).map(f => [f.name, f]));
  }

  async function scrapeText(app: INestApplication): Promise<string> {
    return (await request(app.getHttpServer()).get('/metrics').expect(200)).text;
  }

  afterEach(async () => {
    while (apps.length > 0) await apps.pop()!.close();
  });

  it('records a decorated route handler as a native histogram, per label set, with the classic buckets alongside', async () => {
    const app = await boot([PaymentsController]);
    for (let i = 0; i < 3; i++) await request(app.getHttpServer()).get('/pay/EUR').expect(200);
    await request(app.getHttpServer()).get('/pay/USD').expect(200);

    const family = (await scrapeProtobuf(app)).get('native_pay_seconds')!;
    expect([family.type, family.help]).toEqual(['HISTOGRAM', 'Payment time']);
    const eur = family.metric.find(m => labelsOf(m).currency === 'EUR')!;
    expect(labelsOf(eur)).toEqual({ currency: 'EUR', kind: 'card' });
    const h = eur.histogram!;
    expect(h.sample_count).toBe(3);
    expect(h.schema).toBe(3);
    expect(nativeTotal(h)).toBe(3);
    expect(family.metric.find(m => labelsOf(m).currency === 'USD')!.histogram!.sample_count).toBe(1);

    // The classic buckets, in protobuf and in the text format, agree with each other.
    const text = parseExposition(await scrapeText(app));
    expect(h.bucket.map(b => [b.upper_bound, b.cumulative_count])).toEqual([
      [0.1, sampleValue(text, 'native_pay_seconds_bucket', { currency: 'EUR', le: '0.1' })],
      [1, sampleValue(text, 'native_pay_seconds_bucket', { currency: 'EUR', le: '1' })],
    ]);
    expect(sampleValue(text, 'native_pay_seconds_count', { currency: 'EUR', kind: 'card' })).toBe(3);
    expect(sampleValue(text, 'native_pay_seconds_sum', { currency: 'EUR' })).toBeCloseTo(h.sample_sum, 9);
  });

  it('records a decorated provider method with its own layout, without classic buckets', async () => {
    const app = await boot([], [ReportsService]);
    const reports = app.get(ReportsService);
    for (let i = 0; i < 4; i++) await reports.build();

    const h = (await scrapeProtobuf(app)).get('native_report_seconds')!.metric[0].histogram!;
    expect(h.sample_count).toBe(4);
    // bucketFactor 1.5: the finest schema whose buckets are at most 1.5 wide is 1 (√2 ≈ 1.41).
    expect(h.schema).toBe(1);
    expect(h.bucket).toEqual([]);
    expect(nativeTotal(h)).toBe(4);
    const text = parseExposition(await scrapeText(app));
    const buckets = text.samples.filter(s => s.name === 'native_report_seconds_bucket');
    expect(buckets.map(s => s.labels.le)).toEqual(['+Inf']);
    expect(sampleValue(text, 'native_report_seconds_count')).toBe(4);
  });

  it('leaves the text scrape as it was: the same lines with and without nativeHistograms', async () => {
    const on = await boot([PaymentsController]);
    const off = await boot([ClassicPaymentsController]);
    for (const app of [on, off]) {
      await request(app.getHttpServer()).get('/pay/EUR').expect(200);
      await request(app.getHttpServer()).get('/pay/GBP').expect(200);
    }
    // Durations differ between the apps: compare everything but the sample values.
    const shape = (text: string) => text.replace(/ [-+\d.eE]+$/gm, ' V');
    const offText = await scrapeText(off);
    expect(offText).toContain('native_pay_seconds_bucket{le="0.1",kind="card",currency="EUR"}');
    expect(shape(await scrapeText(on))).toBe(shape(offText));
    // Without the option, the metric stays a classic prom-client histogram: no native buckets in protobuf.
    const classic = (await scrapeProtobuf(off)).get('native_pay_seconds')!.metric[0].histogram!;
    expect(classic.positive_span).toEqual([]);
    expect(classic.zero_threshold).toBe(0);
  });

  it.each([
    [{ bucketFactor: 1 }, 'nativeHistograms.bucketFactor must be a number > 1, not 1'],
    [{ zeroThreshold: -1 }, 'nativeHistograms.zeroThreshold must be a number >= 0, not -1'],
    [{ maxBuckets: 0 }, 'nativeHistograms.maxBuckets must be a whole number >= 1, not 0'],
    [{ buckets: 10 }, 'nativeHistograms.buckets is not an option'],
    ['on', 'nativeHistograms must be true, false or an object, not "on"'],
  ])(
    'fails at bootstrap on nativeHistograms: %p, naming the option, the class and the method',
    async (value, message) => {
      await expect(boot([controllerWith(value)])).rejects.toThrow(`@Histogram on RefundsController.refund: ${message}`);
    },
  );

  it('refuses one name declared with native histograms and without, naming both declarations', async () => {
    await expect(boot([PaymentsController, ClassicPaymentsController])).rejects.toThrow(
      /already registered as histogram native_pay_seconds\{kind,currency\} buckets \[0\.1, 1\] with native histograms \(declared by @Histogram on PaymentsController\.pay\); it cannot also be registered as histogram native_pay_seconds\{kind,currency\} buckets \[0\.1, 1\] \(declared by @Histogram on ClassicPaymentsController\.pay\)/,
    );
  });

  it('gives makeHistogramProvider native buckets and the recording API of a prom-client Histogram', async () => {
    const app = await boot(
      [],
      [
        makeHistogramProvider({
          name: 'native_job_seconds',
          help: 'Job time',
          labelNames: ['queue'],
          buckets: [1],
          nativeHistograms: { bucketFactor: 2 },
        }),
        JobsService,
      ],
    );
    const seconds = app.get(JobsService).seconds;
    seconds.observe({ queue: 'mail' }, 0.75);
    seconds.labels('mail').observe(3);
    seconds.labels({ queue: 'mail' }).observe(3.5);
    seconds.zero({ queue: 'sms' });
    expect(seconds.startTimer({ queue: 'sms' })()).toBeGreaterThanOrEqual(0);
    seconds.observe({ queue: 'push' }, 1);
    seconds.remove('push');

    const family = (await scrapeProtobuf(app)).get('native_job_seconds')!;
    expect(family.metric.map(m => labelsOf(m).queue).sort()).toEqual(['mail', 'sms']);
    const mail = family.metric.find(m => labelsOf(m).queue === 'mail')!.histogram!;
    expect([mail.sample_count, mail.sample_sum]).toEqual([3, 7.25]);
    // Schema 0: bucket k is (2^(k-1), 2^k]; 0.75 is in bucket 0, 3 and 3.5 in bucket 2.
    expect(mail.schema).toBe(0);
    expect([...nativeBuckets(mail.positive_span, mail.positive_delta)]).toEqual([
      [0, 1],
      [2, 2],
    ]);
    expect(family.metric.find(m => labelsOf(m).queue === 'sms')!.histogram!.sample_count).toBe(1);
  });

  it('injects a decorator-declared native histogram with @InjectMetric, and declares one with forFeature()', async () => {
    const app = await boot([PaymentsController], [PaymentsRecorder], {}, [
      PrometheusModule.forFeature([
        { type: 'histogram', name: 'native_feature_seconds', help: HELP, nativeHistograms: { bucketFactor: 2 } },
      ]),
    ]);
    const recorder = app.get(PaymentsRecorder);
    // The decorator's metric itself: what the decorated handler records into.
    recorder.payments.observe({ currency: 'JPY', kind: 'card' }, 0.5);
    await request(app.getHttpServer()).get('/pay/JPY').expect(200);
    app.get<PromHistogram>(getMetricToken('native_feature_seconds')).observe(3);

    const families = await scrapeProtobuf(app);
    const jpy = families.get('native_pay_seconds')!.metric.find(m => labelsOf(m).currency === 'JPY')!.histogram!;
    expect(jpy.sample_count).toBe(2);
    expect(nativeTotal(jpy)).toBe(2);
    const feature = families.get('native_feature_seconds')!.metric[0].histogram!;
    expect([feature.sample_count, feature.schema]).toEqual([1, 0]);
    expect([...nativeBuckets(feature.positive_span, feature.positive_delta)]).toEqual([[2, 1]]);
  });

  it('refuses makeHistogramProvider with both nativeHistograms and collect, and a bad nativeHistograms, at bootstrap', async () => {
    expect(() =>
      makeHistogramProvider({ name: 'native_collected_seconds', help: HELP, nativeHistograms: true, collect() {} }),
    ).toThrow('makeHistogramProvider(native_collected_seconds): collect cannot be combined with nativeHistograms');
    await expect(
      boot(
        [],
        [makeHistogramProvider({ name: 'native_bad_seconds', help: HELP, nativeHistograms: { bucketFactor: 0.5 } })],
      ),
    ).rejects.toThrow('makeHistogramProvider(native_bad_seconds): nativeHistograms.bucketFactor must be a number > 1');
  });
});
