import 'reflect-metadata';
import {
  BadRequestException,
  Body,
  Controller,
  Get,
  type INestApplication,
  Injectable,
  Module,
  NotFoundException,
  Param,
  Post,
} from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import request from 'supertest';
import { Counter, Gauge, Histogram, PrometheusModule, Summary } from '../lib/index.js';
import { getHistogram, getMetricValue, resetMetrics } from '../lib/testing/index.js';
import { ADAPTERS, type AdapterName, scrape } from './utils/app.js';
import { sampleValue } from './utils/exposition.js';
import { sleep } from './utils/wait.js';

/*
 * `nestjs-prom-metrics/testing`, used the way an app's own test suite would: an app module with
 * `PrometheusModule.forRoot()` (prom-client's global registry), `@nestjs/testing`, supertest,
 * and the helpers instead of parsing /metrics by hand.
 */

// ---------------------------------------------------------------------------------------------
// The application under test
// ---------------------------------------------------------------------------------------------

/** Lets a test hold a request inside its handler. */
@Injectable()
class Gate {
  private open?: () => void;
  private opened = Promise.resolve();
  close(): void {
    this.opened = new Promise(resolve => (this.open = resolve));
  }
  release(): void {
    this.open?.();
  }
  wait(): Promise<void> {
    return this.opened;
  }
}

@Injectable()
class PaymentsService {
  // Buckets far apart from both paths: on a busy machine a call with no wait at all took over 10 ms.
  @Histogram({ name: 'payments_duration_seconds', help: 'Time to charge a card', buckets: [0.25, 5] })
  async charge(amount: number): Promise<void> {
    if (amount <= 0) throw new BadRequestException('amount must be positive');
    // Large amounts go through a slower fraud check.
    if (amount > 100) await sleep(300);
  }

  /** Settles the day's payments; waits for the gate. */
  @Gauge({ name: 'payments_settlements_in_progress', help: 'Settlements running' })
  async settle(gate: Gate): Promise<string> {
    await gate.wait();
    return 'settled';
  }
}

interface OrderInput {
  amount: number;
  channel?: string;
}

@Controller('orders')
class OrdersController {
  constructor(
    private readonly payments: PaymentsService,
    private readonly gate: Gate,
  ) {}

  @Post()
  @Counter({
    name: 'orders_created_total',
    help: 'Orders created, by channel',
    labels: { channel: ctx => (ctx.args[0] as OrderInput).channel ?? 'unknown' },
  })
  async create(@Body() order: OrderInput): Promise<{ created: boolean }> {
    await this.payments.charge(order.amount);
    return { created: true };
  }

  @Get('held')
  async held(): Promise<string> {
    await this.gate.wait();
    return 'released';
  }

  @Get(':id')
  @Summary({ name: 'orders_lookup_seconds', help: 'Order lookups', percentiles: [0.5] })
  find(@Param('id') id: string): { id: string } {
    if (id === '404') throw new NotFoundException();
    return { id };
  }
}

@Module({
  imports: [PrometheusModule.forRoot()],
  controllers: [OrdersController],
  providers: [PaymentsService, Gate],
})
class AppModule {}

// ---------------------------------------------------------------------------------------------
// Its tests
// ---------------------------------------------------------------------------------------------

async function bootstrap(adapter: AdapterName, imports = [AppModule]): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({ imports }).compile();
  const app =
    adapter === 'express'
      ? moduleRef.createNestApplication(new ExpressAdapter(), { logger: false })
      : moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
  await app.init();
  if (adapter === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  return app;
}

describe.each(ADAPTERS)('an app tested with nestjs-prom-metrics/testing (%s)', adapter => {
  let app: INestApplication;

  beforeEach(async () => {
    app = await bootstrap(adapter);
    // The apps of this file share prom-client's global registry: start each test from zero.
    await resetMetrics(app);
  });
  afterEach(async () => {
    app.get(Gate).release();
    await app.close();
  });

  it('counts requests and business metrics', async () => {
    const server = app.getHttpServer();
    await request(server).post('/orders').send({ amount: 50, channel: 'web' }).expect(201);
    await request(server).post('/orders').send({ amount: 20, channel: 'web' }).expect(201);
    await request(server).post('/orders').send({ amount: 30, channel: 'app' }).expect(201);
    await request(server).get('/orders/7').expect(200);
    await request(server).get('/orders/404').expect(404);

    // Counters: summed over the series whose labels include those given (numbers or strings).
    expect(await getMetricValue(app, 'http_requests_total')).toBe(5);
    expect(await getMetricValue(app, 'http_requests_total', { method: 'POST', route: '/orders' })).toBe(3);
    expect(await getMetricValue(app, 'http_requests_total', { route: '/orders/:id' })).toBe(2);
    expect(await getMetricValue(app, 'http_requests_total', { route: '/orders/:id', status_code: 404 })).toBe(1);
    expect(await getMetricValue(app, 'http_requests_total', { route: '/orders/:id', status_code: '200' })).toBe(1);
    expect(await getMetricValue(app, 'http_requests_total', { route: '/no/such/route' })).toBe(0);
    expect(await getMetricValue(app, 'orders_created_total', { channel: 'web' })).toBe(2);
    expect(await getMetricValue(app, 'orders_created_total')).toBe(3);
    // Gauges.
    expect(await getMetricValue(app, 'http_requests_in_progress', { route: '/orders' })).toBe(0);
    // _count and _sum of histograms and summaries.
    expect(await getMetricValue(app, 'http_request_duration_seconds_count', { route: '/orders' })).toBe(3);
    expect(await getMetricValue(app, 'http_request_duration_seconds_sum', { route: '/orders' })).toBeGreaterThan(0);
    expect(await getMetricValue(app, 'payments_duration_seconds_count')).toBe(3);
    expect(await getMetricValue(app, 'orders_lookup_seconds_count')).toBe(2);
  });

  it('reads histograms: count, sum and cumulative buckets', async () => {
    const server = app.getHttpServer();
    await request(server).post('/orders').send({ amount: 10 }).expect(201);
    await request(server).post('/orders').send({ amount: 500 }).expect(201);
    await request(server).post('/orders').send({ amount: -1 }).expect(400);

    const payments = await getHistogram(app, 'payments_duration_seconds');
    expect(payments.count).toBe(3);
    expect(payments.sum).toBeGreaterThanOrEqual(0.295);
    // The fraud-checked payment took 300 ms: above the 250 ms bucket.
    expect(payments.buckets).toEqual({ '0.25': 2, '5': 3, '+Inf': 3 });

    const failed = await getHistogram(app, 'http_request_duration_seconds', { route: '/orders', status_code: 400 });
    expect(failed.count).toBe(1);
    expect(failed.buckets['+Inf']).toBe(1);
    const all = await getHistogram(app, 'http_request_duration_seconds', { route: '/orders' });
    expect(all.count).toBe(3);
    expect(Object.keys(all.buckets)).toContain('+Inf');
    await expect(getHistogram(app, 'http_request_duration_seconds', { route: '/none' })).resolves.toEqual({
      count: 0,
      sum: 0,
      buckets: {},
    });

    // What the helpers read is what Prometheus scrapes.
    const exp = await scrape(app);
    const labels = { method: 'POST', route: '/orders', status_code: '201' };
    const created = await getHistogram(app, 'http_request_duration_seconds', labels);
    expect(created.count).toBe(sampleValue(exp, 'http_request_duration_seconds_count', labels));
    expect(created.sum).toBe(sampleValue(exp, 'http_request_duration_seconds_sum', labels));
    for (const [le, value] of Object.entries(created.buckets)) {
      expect(value).toBe(sampleValue(exp, 'http_request_duration_seconds_bucket', { ...labels, le }));
    }
  });

  it('resetMetrics zeroes the metrics; requests in flight still end in progress', async () => {
    const server = app.getHttpServer();
    await request(server).post('/orders').send({ amount: 10, channel: 'web' }).expect(201);
    expect(await getMetricValue(app, 'orders_created_total')).toBe(1);

    const gate = app.get(Gate);
    gate.close();
    const held = request(server)
      .get('/orders/held')
      .then(res => res);
    const deadline = Date.now() + 20_000;
    while (
      Date.now() < deadline &&
      (await getMetricValue(app, 'http_requests_in_progress', { route: '/orders/held' })) !== 1
    ) {
      await sleep(5);
    }
    expect(await getMetricValue(app, 'http_requests_in_progress', { route: '/orders/held' })).toBe(1);

    await resetMetrics(app);
    expect(await getMetricValue(app, 'http_requests_total')).toBe(0);
    expect(await getMetricValue(app, 'orders_created_total')).toBe(0);
    const payments = await getHistogram(app, 'payments_duration_seconds');
    expect([payments.count, payments.sum]).toEqual([0, 0]);
    // The held request is still running.
    expect(await getMetricValue(app, 'http_requests_in_progress', { route: '/orders/held' })).toBe(1);

    gate.release();
    expect((await held).status).toBe(200);
    await request(server).post('/orders').send({ amount: 10, channel: 'app' }).expect(201);
    expect(await getMetricValue(app, 'http_requests_in_progress', { route: '/orders/held' })).toBe(0);
    expect(await getMetricValue(app, 'http_requests_total', { route: '/orders/held' })).toBe(1);
    expect(await getMetricValue(app, 'orders_created_total', { channel: 'app' })).toBe(1);
    expect(await getMetricValue(app, 'orders_created_total', { channel: 'web' })).toBe(0);
  });

  it('resetMetrics leaves a @Gauge of calls in progress counting the calls still running', async () => {
    const gate = app.get(Gate);
    gate.close();
    const settling = app.get(PaymentsService).settle(gate);
    expect(await getMetricValue(app, 'payments_settlements_in_progress')).toBe(1);
    await resetMetrics(app);
    expect(await getMetricValue(app, 'payments_settlements_in_progress')).toBe(1);
    gate.release();
    expect(await settling).toBe('settled');
    expect(await getMetricValue(app, 'payments_settlements_in_progress')).toBe(0);
  });

  it('says what is wrong with a question', async () => {
    await request(app.getHttpServer()).get('/orders/1').expect(200);
    await expect(getMetricValue(app, 'http_request_duration_seconds')).rejects.toThrow(
      'getMetricValue: "http_request_duration_seconds" is a histogram: use getHistogram(), or ask for http_request_duration_seconds_count or http_request_duration_seconds_sum',
    );
    await expect(getMetricValue(app, 'orders_lookup_seconds')).rejects.toThrow(
      'getMetricValue: "orders_lookup_seconds" is a summary: use getHistogram(), or ask for orders_lookup_seconds_count or orders_lookup_seconds_sum',
    );
    await expect(getMetricValue(app, 'orders_refunded_total')).rejects.toThrow(
      'getMetricValue: no metric "orders_refunded_total" in the registry',
    );
    await expect(getHistogram(app, 'orders_refunded_seconds')).rejects.toThrow(
      'getHistogram: no metric "orders_refunded_seconds" in the registry',
    );
    await expect(getHistogram(app, 'http_request_duration_seconds_count')).rejects.toThrow(
      'getHistogram: no metric "http_request_duration_seconds_count" in the registry',
    );
    await expect(getHistogram(app, 'http_requests_total')).rejects.toThrow(
      'getHistogram: "http_requests_total" is a counter, not a histogram',
    );
    await expect(getHistogram(app, 'orders_lookup_seconds')).rejects.toThrow(
      'getHistogram: "orders_lookup_seconds" is a summary, not a histogram',
    );
  });
});

@Controller('ping')
class PingController {
  @Get()
  ping(): string {
    return 'pong';
  }
}

describe.each(ADAPTERS)('helpers on an app with a registry of its own (%s)', adapter => {
  it('read the registry the module was given, from the app or from the registry itself', async () => {
    const registry = new Registry();
    @Module({
      imports: [PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false } })],
      controllers: [PingController],
    })
    class OwnRegistryModule {}
    const app = await bootstrap(adapter, [OwnRegistryModule]);
    try {
      await request(app.getHttpServer()).get('/ping').expect(200);
      await request(app.getHttpServer()).get('/ping').expect(200);
      expect(await getMetricValue(app, 'http_requests_total', { route: '/ping' })).toBe(2);
      expect(await getMetricValue(registry, 'http_requests_total', { route: '/ping' })).toBe(2);
      expect((await getHistogram(registry, 'http_request_duration_seconds', { route: '/ping' })).count).toBe(2);

      await resetMetrics(registry);
      expect(await getMetricValue(app, 'http_requests_total', { route: '/ping' })).toBe(0);
      await resetMetrics(app);
      await request(app.getHttpServer()).get('/ping').expect(200);
      expect(await getMetricValue(registry, 'http_requests_total')).toBe(1);
    } finally {
      await app.close();
    }
  });
});
