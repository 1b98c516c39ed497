import 'reflect-metadata';
import {
  Body,
  type CallHandler,
  type CanActivate,
  ConflictException,
  Controller,
  type ExecutionContext,
  Get,
  HttpCode,
  type INestApplication,
  Injectable,
  InternalServerErrorException,
  type NestInterceptor,
  NotFoundException,
  Param,
  ParseIntPipe,
  Post,
  SetMetadata,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Registry } from 'prom-client';
import { map, Observable, of, throwError } from 'rxjs';
import request from 'supertest';
import { Counter, DoNotTrack, Gauge, Histogram, type MetricCallContext, Summary } from '../lib/index.js';
import { ADAPTERS, type AdapterName, createApp, isolatedPrometheus, scrape } from './utils/app.js';
import { findSamples, sampleValue, sumOf } from './utils/exposition.js';
import { deferred, sleep } from './utils/wait.js';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const HELP = 'test metric';

interface Headers {
  headers: Record<string, string | string[] | undefined>;
}

// ---------------------------------------------------------------------------------------------
// Controllers (both adapters)
// ---------------------------------------------------------------------------------------------

const ROLES = 'roles';

@Injectable()
class RolesGuard implements CanActivate {
  static calls = 0;
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    RolesGuard.calls++;
    const roles = this.reflector.get<string[] | undefined>(ROLES, context.getHandler());
    if (!roles) throw new InternalServerErrorException('roles metadata is missing');
    const role = context.switchToHttp().getRequest<Headers>().headers['x-role'];
    return typeof role === 'string' && roles.includes(role);
  }
}

@Injectable()
class EnvelopeInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(map(data => ({ data })));
  }
}

/** Lets a test hold a request inside its handler. */
@Injectable()
class Gate {
  entered = deferred();
  release = deferred();

  reset(): void {
    this.entered = deferred();
    this.release = deferred();
  }
}

const countOrderEvents = Counter({ name: 'order_events_total', help: HELP, labels: { source: 'any' } });

@Injectable()
class OrderEventsService {
  @countOrderEvents
  record(): void {}
}

const tenantOf = (ctx: MetricCallContext): string => String((ctx.request as Headers).headers['x-tenant']);

const streamOutcome = (ctx: MetricCallContext): string =>
  ctx.error !== undefined ? `error:${(ctx.error as Error).constructor.name}` : `ok:${JSON.stringify(ctx.result)}`;

@Controller('orders')
class OrdersController {
  constructor(
    private readonly gate: Gate,
    private readonly events: OrderEventsService,
  ) {}

  // Metric decorator above the Nest decorators.
  @Counter({ name: 'orders_above_total', help: HELP, labels: { place: 'above' } })
  @Post('above')
  @HttpCode(202)
  @UseGuards(RolesGuard)
  @SetMetadata(ROLES, ['admin'])
  @UseInterceptors(EnvelopeInterceptor)
  placeAbove(@Body() body: { item: string }): { placed: string } {
    return { placed: body.item };
  }

  // Metric decorator in the middle.
  @Post('middle')
  @HttpCode(202)
  @Histogram({ name: 'orders_middle_seconds', help: HELP, buckets: [1], labels: { place: 'middle' } })
  @UseGuards(RolesGuard)
  @SetMetadata(ROLES, ['admin'])
  @UseInterceptors(EnvelopeInterceptor)
  placeMiddle(@Body() body: { item: string }): { placed: string } {
    return { placed: body.item };
  }

  // Metric decorator below the Nest decorators.
  @Post('below')
  @HttpCode(202)
  @UseGuards(RolesGuard)
  @SetMetadata(ROLES, ['admin'])
  @UseInterceptors(EnvelopeInterceptor)
  @Counter({ name: 'orders_below_total', help: HELP, labels: { place: 'below' } })
  async placeBelow(@Body() body: { item: string }): Promise<{ placed: string }> {
    await sleep(1);
    return { placed: body.item };
  }

  @Get('by-id/:id')
  @Counter({ name: 'orders_lookups_total', help: HELP, labels: { arg_type: ctx => typeof ctx.args[0] } })
  byId(@Param('id', ParseIntPipe) id: number): { id: number; type: string } {
    return { id, type: typeof id };
  }

  @Get('tenant')
  @Counter({ name: 'orders_tenant_total', help: HELP, labels: { tenant: tenantOf } })
  tenant(): { ok: boolean } {
    return { ok: true };
  }

  @Counter({ name: 'orders_tenant_async_total', help: HELP, labels: { tenant: tenantOf } })
  @Get('tenant-async')
  async tenantAsync(): Promise<{ ok: boolean }> {
    await sleep(5);
    return { ok: true };
  }

  @Get('missing/:id')
  @Counter({
    name: 'orders_missing_total',
    help: HELP,
    labels: { error: ctx => (ctx.error === undefined ? 'none' : (ctx.error as object).constructor.name) },
  })
  missing(@Param('id') id: string): never {
    throw new NotFoundException(`order ${id} not found`);
  }

  @Get('stream')
  @Counter({ name: 'orders_stream_total', help: HELP, labels: { outcome: streamOutcome } })
  stream(): Observable<{ n: number }> {
    return of({ n: 1 }, { n: 2 });
  }

  @Get('stream-error')
  @Counter({ name: 'orders_stream_total', help: HELP, labels: { outcome: streamOutcome } })
  streamError(): Observable<never> {
    return throwError(() => new ConflictException('busy'));
  }

  @Get('slow')
  @Gauge({ name: 'orders_slow_in_progress', help: HELP })
  async slow(): Promise<{ done: boolean }> {
    this.gate.entered.resolve();
    await this.gate.release.promise;
    return { done: true };
  }

  @Get('timed')
  @Histogram({ name: 'orders_timed_seconds', help: HELP, buckets: [0.04, 5] })
  @Summary({ name: 'orders_timed_summary_seconds', help: HELP })
  async timed(): Promise<{ ok: boolean }> {
    await sleep(50);
    return { ok: true };
  }

  @Get('quiet')
  @DoNotTrack()
  @Counter({ name: 'orders_quiet_total', help: HELP })
  quiet(): { quiet: boolean } {
    return { quiet: true };
  }

  @Counter({ name: 'orders_quiet_above_total', help: HELP })
  @DoNotTrack()
  @Get('quiet-above')
  quietAbove(): { quiet: boolean } {
    return { quiet: true };
  }

  @Post('events')
  @countOrderEvents
  event(): { recorded: boolean } {
    this.events.record();
    return { recorded: true };
  }
}

// Class-level metric decorators: above and below @Controller().
@Counter({ name: 'reports_calls_total', help: HELP })
@Controller('reports')
@Histogram({ name: 'reports_seconds', help: HELP, buckets: [1] })
class ReportsController {
  @Get('daily')
  daily(): { kind: string } {
    return this.render('daily');
  }

  @Get('weekly')
  async weekly(): Promise<{ kind: string }> {
    await sleep(1);
    return this.render('weekly');
  }

  /** Not a route: not measured, even when a route calls it. */
  render(kind: string): { kind: string } {
    return { kind };
  }
}

describe.each(ADAPTERS)('metric decorators on controllers (%s)', (adapter: AdapterName) => {
  let app: INestApplication;
  let registry: Registry;
  const http = () => request(app.getHttpServer());

  beforeAll(async () => {
    registry = new Registry();
    app = await createApp(adapter, {
      imports: [isolatedPrometheus(registry)],
      controllers: [OrdersController, ReportsController],
      providers: [Gate, OrderEventsService],
    });
  });
  afterAll(() => app.close());

  describe('guards, pipes, interceptors and route metadata work as without the decorator', () => {
    it.each([
      ['above', 'orders_above_total'],
      ['below', 'orders_below_total'],
    ])('metric decorator %s the Nest decorators: a denying guard gives 403 and no count', async (place, metric) => {
      const guardCalls = RolesGuard.calls;
      const res = await http().post(`/orders/${place}`).send({ item: 'book' }).expect(403);
      expect(RolesGuard.calls).toBe(guardCalls + 1);
      expect(res.body).toMatchObject({ statusCode: 403 });
      expect(sampleValue(await scrape(app), metric, { place })).toBe(0);
    });

    it.each([
      ['above', 'orders_above_total'],
      ['below', 'orders_below_total'],
    ])(
      'metric decorator %s the Nest decorators: guard, @HttpCode and the interceptor apply, the call is counted',
      async (place, metric) => {
        const res = await http().post(`/orders/${place}`).set('x-role', 'admin').send({ item: 'book' }).expect(202);
        expect(res.body).toEqual({ data: { placed: 'book' } });
        const exp = await scrape(app);
        expect(sampleValue(exp, metric, { place })).toBe(1);
        expect(
          sampleValue(exp, 'http_requests_total', { method: 'POST', route: `/orders/${place}`, status_code: '202' }),
        ).toBe(1);
        expect(
          sampleValue(exp, 'http_requests_total', { method: 'POST', route: `/orders/${place}`, status_code: '403' }),
        ).toBe(1);
      },
    );

    it('metric decorator between the Nest decorators: same', async () => {
      await http().post('/orders/middle').send({ item: 'pen' }).expect(403);
      expect(sampleValue(await scrape(app), 'orders_middle_seconds_count', { place: 'middle' })).toBe(0);
      const res = await http().post('/orders/middle').set('x-role', 'admin').send({ item: 'pen' }).expect(202);
      expect(res.body).toEqual({ data: { placed: 'pen' } });
      expect(sampleValue(await scrape(app), 'orders_middle_seconds_count', { place: 'middle' })).toBe(1);
    });

    it('ParseIntPipe still converts the argument the handler (and the label function) gets; a 400 is not counted', async () => {
      const res = await http().get('/orders/by-id/7').expect(200);
      expect(res.body).toEqual({ id: 7, type: 'number' });
      await http().get('/orders/by-id/abc').expect(400);

      const exp = await scrape(app);
      expect(findSamples(exp, 'orders_lookups_total')).toHaveLength(1);
      expect(sampleValue(exp, 'orders_lookups_total', { arg_type: 'number' })).toBe(1);
    });
  });

  it('gives label functions the request (a header), for sync and async handlers', async () => {
    await http().get('/orders/tenant').set('x-tenant', 'acme').expect(200);
    await http().get('/orders/tenant').set('x-tenant', 'globex').expect(200);
    await http().get('/orders/tenant').set('x-tenant', 'acme').expect(200);
    await http().get('/orders/tenant-async').set('x-tenant', 'initech').expect(200);

    const exp = await scrape(app);
    expect(sampleValue(exp, 'orders_tenant_total', { tenant: 'acme' })).toBe(2);
    expect(sampleValue(exp, 'orders_tenant_total', { tenant: 'globex' })).toBe(1);
    expect(sampleValue(exp, 'orders_tenant_async_total', { tenant: 'initech' })).toBe(1);
  });

  it('re-throws a handler error unchanged: same status and message, counted with the error', async () => {
    const res = await http().get('/orders/missing/5').expect(404);
    expect(res.body).toMatchObject({ statusCode: 404, message: 'order 5 not found' });
    const exp = await scrape(app);
    expect(sampleValue(exp, 'orders_missing_total', { error: 'NotFoundException' })).toBe(1);
    expect(
      sampleValue(exp, 'http_requests_total', { method: 'GET', route: '/orders/missing/:id', status_code: '404' }),
    ).toBe(1);
  });

  it('measures Observable handlers until they complete or error', async () => {
    const ok = await http().get('/orders/stream').expect(200);
    expect(ok.body).toEqual({ n: 2 });
    const failed = await http().get('/orders/stream-error').expect(409);
    expect(failed.body).toMatchObject({ statusCode: 409, message: 'busy' });

    const exp = await scrape(app);
    expect(sampleValue(exp, 'orders_stream_total', { outcome: 'ok:{"n":2}' })).toBe(1);
    expect(sampleValue(exp, 'orders_stream_total', { outcome: 'error:ConflictException' })).toBe(1);
  });

  it('@Gauge is 1 while a request is inside the handler, 0 after', async () => {
    const gate = app.get(Gate);
    gate.reset();
    expect(sampleValue(await scrape(app), 'orders_slow_in_progress')).toBe(0);

    const pending = http()
      .get('/orders/slow')
      .then(res => res);
    try {
      await gate.entered.promise;
      expect(sampleValue(await scrape(app), 'orders_slow_in_progress')).toBe(1);
    } finally {
      gate.release.resolve();
    }
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ done: true });
    expect(sampleValue(await scrape(app), 'orders_slow_in_progress')).toBe(0);
  });

  it('@Histogram and @Summary observe the handler duration in seconds', async () => {
    await http().get('/orders/timed').expect(200);
    const exp = await scrape(app);
    expect(sampleValue(exp, 'orders_timed_seconds_count')).toBe(1);
    expect(sampleValue(exp, 'orders_timed_seconds_sum')).toBeGreaterThanOrEqual(0.045);
    expect(sampleValue(exp, 'orders_timed_seconds_sum')).toBeLessThan(2);
    expect(sampleValue(exp, 'orders_timed_seconds_bucket', { le: '0.04' })).toBe(0);
    expect(sampleValue(exp, 'orders_timed_seconds_bucket', { le: '5' })).toBe(1);
    expect(sampleValue(exp, 'orders_timed_summary_seconds_count')).toBe(1);
    expect(sampleValue(exp, 'orders_timed_summary_seconds_sum')).toBeGreaterThanOrEqual(0.045);
  });

  it('@DoNotTrack() leaves the route out of the HTTP metrics while its @Counter still counts', async () => {
    await http().get('/orders/quiet').expect(200, { quiet: true });
    await http().get('/orders/quiet-above').expect(200, { quiet: true });
    await http().get('/orders/quiet').expect(200);

    const exp = await scrape(app);
    expect(sampleValue(exp, 'orders_quiet_total')).toBe(2);
    expect(sampleValue(exp, 'orders_quiet_above_total')).toBe(1);
    expect(findSamples(exp, 'http_requests_total', { route: '/orders/quiet' })).toHaveLength(0);
    expect(findSamples(exp, 'http_requests_total', { route: '/orders/quiet-above' })).toHaveLength(0);
    expect(sumOf(exp, 'http_requests_total', { route: '/orders/tenant' })).toBeGreaterThan(0);
  });

  it('one decorator value on a handler and a provider method: one metric with both counts', async () => {
    await http().post('/orders/events').expect(201, { recorded: true });
    await http().post('/orders/events').expect(201);
    const exp = await scrape(app);
    expect(findSamples(exp, 'order_events_total')).toHaveLength(1);
    expect(sampleValue(exp, 'order_events_total', { source: 'any' })).toBe(4);
  });

  it('a metric decorator on a controller class measures every route handler, not helper methods', async () => {
    let exp = await scrape(app);
    const calls = sampleValue(exp, 'reports_calls_total') ?? NaN;
    const count = sampleValue(exp, 'reports_seconds_count') ?? NaN;

    await http().get('/reports/daily').expect(200, { kind: 'daily' });
    await http().get('/reports/weekly').expect(200, { kind: 'weekly' });
    await http().get('/reports/daily').expect(200);
    expect(app.get(ReportsController).render('direct')).toEqual({ kind: 'direct' });

    exp = await scrape(app);
    expect(sampleValue(exp, 'reports_calls_total')).toBe(calls + 3);
    expect(sampleValue(exp, 'reports_seconds_count')).toBe(count + 3);
  });
});

// ---------------------------------------------------------------------------------------------
// Static labels start at 0
// ---------------------------------------------------------------------------------------------

@Injectable()
class QueueService {
  @Counter({ name: 'queue_jobs_total', help: HELP, labels: { queue: 'emails', priority: 1 } })
  @Gauge({ name: 'queue_jobs_in_progress', help: HELP, labels: { queue: 'emails' } })
  @Histogram({ name: 'queue_job_seconds', help: HELP, labels: { queue: 'emails' }, buckets: [0.5, 1] })
  async run(): Promise<void> {
    await sleep(1);
  }
}

@Controller('queue')
class QueueController {
  constructor(private readonly queue: QueueService) {}

  @Post('run')
  @Counter({ name: 'queue_requests_total', help: HELP, labels: { via: 'http' } })
  async run(): Promise<{ ran: boolean }> {
    await this.queue.run();
    return { ran: true };
  }
}

describe.each(ADAPTERS)('metrics with only static labels (%s)', (adapter: AdapterName) => {
  let app: INestApplication;

  beforeAll(async () => {
    app = await createApp(adapter, {
      imports: [isolatedPrometheus(new Registry())],
      controllers: [QueueController],
      providers: [QueueService],
    });
  });
  afterAll(() => app.close());

  it('are visible at 0 in the scrape before the first call, then count', async () => {
    let exp = await scrape(app);
    expect(sampleValue(exp, 'queue_jobs_total', { queue: 'emails', priority: '1' })).toBe(0);
    expect(sampleValue(exp, 'queue_jobs_in_progress', { queue: 'emails' })).toBe(0);
    expect(sampleValue(exp, 'queue_job_seconds_count', { queue: 'emails' })).toBe(0);
    expect(sampleValue(exp, 'queue_job_seconds_sum', { queue: 'emails' })).toBe(0);
    expect(sampleValue(exp, 'queue_job_seconds_bucket', { queue: 'emails', le: '+Inf' })).toBe(0);
    expect(sampleValue(exp, 'queue_requests_total', { via: 'http' })).toBe(0);

    await request(app.getHttpServer()).post('/queue/run').expect(201, { ran: true });

    exp = await scrape(app);
    expect(sampleValue(exp, 'queue_jobs_total', { queue: 'emails', priority: '1' })).toBe(1);
    expect(sampleValue(exp, 'queue_jobs_in_progress', { queue: 'emails' })).toBe(0);
    expect(sampleValue(exp, 'queue_job_seconds_count', { queue: 'emails' })).toBe(1);
    expect(sampleValue(exp, 'queue_requests_total', { via: 'http' })).toBe(1);
  });
});
