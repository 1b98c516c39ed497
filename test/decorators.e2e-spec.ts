import 'reflect-metadata';
import { jest } from '@jest/globals';
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
  type INestApplicationContext,
  Injectable,
  InternalServerErrorException,
  Logger,
  type ModuleMetadata,
  type NestInterceptor,
  NotFoundException,
  Param,
  ParseIntPipe,
  Scope,
  Post,
  SetMetadata,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Registry } from 'prom-client';
import {
  BehaviorSubject,
  interval,
  lastValueFrom,
  map,
  Observable,
  of,
  Subject,
  type Subscription,
  take,
  throwError,
} from 'rxjs';
import request from 'supertest';
import { Counter, DoNotTrack, Gauge, Histogram, type MetricCallContext, Summary } from '../lib/index.js';
import {
  ADAPTERS,
  type AdapterName,
  createApp,
  createContext,
  isolatedPrometheus,
  readRegistry,
  scrape,
} from './utils/app.js';
import { type Exposition, findSamples, sampleValue, sumOf } from './utils/exposition.js';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const HELP = 'test metric';

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>(r => (resolve = r));
  return { promise, resolve };
}

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms));

/**
 * prom-client renders asynchronously; inside a synchronous call the gauge can only be read from
 * its current state (sum over its series).
 */
function gaugeNow(registry: Registry, name: string): number {
  const gauge = registry.getSingleMetric(name) as unknown as { hashMap: Record<string, { value: number }> } | undefined;
  if (!gauge) throw new Error(`no metric ${name}`);
  return Object.values(gauge.hashMap).reduce((sum, s) => sum + s.value, 0);
}

interface Headers {
  headers: Record<string, string | string[] | undefined>;
}

// ---------------------------------------------------------------------------------------------
// Providers (no HTTP)
// ---------------------------------------------------------------------------------------------

class WorkError extends Error {}

interface Item {
  v: string;
}

/** `ok:<result.v>` after a success, `error:<message>` after a failure. */
const outcome = (ctx: MetricCallContext): string =>
  ctx.error !== undefined ? `error:${(ctx.error as Error).message}` : `ok:${(ctx.result as Item | undefined)?.v}`;

/** One decorator value, put on several methods of two classes. */
const countTasks = Counter({ name: 'work_tasks_total', help: HELP, labels: { kind: 'task' } });

@Injectable()
class WorkService {
  readonly seenThis: unknown[] = [];
  readonly seenArgs: unknown[][] = [];

  @Counter({ name: 'work_sync_total', help: HELP, labels: { outcome } })
  @Gauge({ name: 'work_sync_in_progress', help: HELP })
  @Histogram({ name: 'work_sync_seconds', help: HELP, buckets: [0.5, 5] })
  sync(item: Item, error?: Error, probe?: () => void): Item {
    this.seenThis.push(this);
    this.seenArgs.push([item, error, probe]);
    probe?.();
    if (error) throw error;
    return item;
  }

  @Counter({ name: 'work_async_total', help: HELP, labels: { outcome } })
  @Gauge({ name: 'work_async_in_progress', help: HELP })
  async promised(item: Item, gate: Promise<void>, error?: Error): Promise<Item> {
    this.seenThis.push(this);
    await gate;
    if (error) throw error;
    return item;
  }

  @Counter({ name: 'work_stream_total', help: HELP, labels: { outcome } })
  @Gauge({ name: 'work_stream_in_progress', help: HELP })
  stream(source: Observable<Item>): Observable<Item> {
    this.seenThis.push(this);
    return source;
  }

  @Counter({ name: 'work_cancel_total', help: HELP })
  @Gauge({ name: 'work_cancel_in_progress', help: HELP })
  cancellable(source: Observable<number>): Observable<number> {
    return source;
  }

  @Histogram({ name: 'work_delay_seconds', help: HELP, buckets: [0.04, 5] })
  @Summary({ name: 'work_delay_summary_seconds', help: HELP, percentiles: [0.5, 0.9] })
  async delayed(ms: number): Promise<number> {
    await sleep(ms);
    return ms;
  }

  @Histogram({ name: 'work_delay_failed_seconds', help: HELP, buckets: [0.04, 5] })
  @Summary({ name: 'work_delay_failed_summary_seconds', help: HELP })
  async delayedFailure(ms: number): Promise<never> {
    await sleep(ms);
    throw new WorkError('late failure');
  }

  @Counter({ name: 'work_failures_total', help: HELP, on: 'error' })
  @Counter({ name: 'work_successes_total', help: HELP, on: 'success' })
  @Counter({ name: 'work_attempts_total', help: HELP })
  attempt(fail: boolean): string {
    if (fail) throw new WorkError('attempt failed');
    return 'done';
  }

  @Counter({ name: 'work_async_failures_total', help: HELP, on: 'error' })
  @Counter({ name: 'work_async_successes_total', help: HELP, on: 'success' })
  async attemptAsync(fail: boolean): Promise<string> {
    await sleep(1);
    if (fail) throw new WorkError('attempt failed');
    return 'done';
  }

  @Counter({ name: 'work_stream_failures_total', help: HELP, on: 'error' })
  attemptStream(fail: boolean): Observable<string> {
    return fail ? throwError(() => new WorkError('stream failed')) : of('done');
  }

  @Counter({
    name: 'work_context_total',
    help: HELP,
    labels: {
      instance: ctx => (ctx.instance instanceof WorkService ? 'WorkService' : 'other'),
      arg_count: ctx => ctx.args.length,
      first_arg: ctx => String(ctx.args[0]),
      request: ctx => (ctx.request === undefined ? 'none' : 'present'),
      result: ctx => String(ctx.result),
    },
  })
  withContext(a: string, b: number): string {
    return `${a}-${b}`;
  }

  @Counter({ name: 'work_outer_total', help: HELP })
  outer(): number {
    return this.inner() + 1;
  }

  @Counter({ name: 'work_inner_total', help: HELP })
  inner(): number {
    return 1;
  }

  @countTasks
  taskA(): string {
    return 'a';
  }

  @countTasks
  async taskB(): Promise<string> {
    return 'b';
  }
}

@Injectable()
class OtherWorkService {
  @countTasks
  taskC(): string {
    return 'c';
  }
}

describe('metric decorators on provider methods (application context, no HTTP adapter)', () => {
  let app: INestApplicationContext;
  let registry: Registry;
  let work: WorkService;

  beforeAll(async () => {
    registry = new Registry();
    app = await createContext({ imports: [isolatedPrometheus(registry)], providers: [WorkService, OtherWorkService] });
    await app.init();
    work = app.get(WorkService);
  });
  afterAll(() => app.close());

  describe('synchronous methods', () => {
    it('counts a return, reads the result in a label, keeps the gauge at 1 during the call, and passes this, arguments and the return value through', async () => {
      const item = { v: 'a' };
      const probe = jest.fn(() => gaugeNow(registry, 'work_sync_in_progress'));
      const returned = work.sync(item, undefined, probe);

      expect(returned).toBe(item);
      expect(work.seenThis.at(-1)).toBe(work);
      expect(work.seenArgs.at(-1)?.[0]).toBe(item);
      expect(work.seenArgs.at(-1)?.[2]).toBe(probe);
      expect(probe).toHaveReturnedWith(1);

      const exp = await readRegistry(registry);
      expect(sampleValue(exp, 'work_sync_total', { outcome: 'ok:a' })).toBe(1);
      expect(sampleValue(exp, 'work_sync_in_progress')).toBe(0);
      expect(sampleValue(exp, 'work_sync_seconds_count')).toBe(1);
    });

    it('counts a throw, reads the error in a label and re-throws the very same error', async () => {
      const error = new WorkError('sync boom');
      const probe = jest.fn(() => gaugeNow(registry, 'work_sync_in_progress'));
      let caught: unknown;
      try {
        work.sync({ v: 'b' }, error, probe);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBe(error);
      expect(probe).toHaveReturnedWith(1);

      const exp = await readRegistry(registry);
      expect(sampleValue(exp, 'work_sync_total', { outcome: 'error:sync boom' })).toBe(1);
      expect(sampleValue(exp, 'work_sync_total', { outcome: 'ok:a' })).toBe(1);
      expect(sampleValue(exp, 'work_sync_in_progress')).toBe(0);
      // Failed calls are observed too.
      expect(sampleValue(exp, 'work_sync_seconds_count')).toBe(2);
    });
  });

  describe('methods returning a Promise', () => {
    it('keeps the gauge at 1 while the promise is pending, then 0, and counts the resolved value', async () => {
      const gate = deferred();
      const item = { v: 'p' };
      const pending = work.promised(item, gate.promise);
      let exp: Exposition;
      try {
        expect(pending).toBeInstanceOf(Promise);
        await sleep(5);
        exp = await readRegistry(registry);
        expect(sampleValue(exp, 'work_async_in_progress')).toBe(1);
        expect(findSamples(exp, 'work_async_total')).toHaveLength(0);
      } finally {
        gate.resolve();
      }
      await expect(pending).resolves.toBe(item);
      expect(work.seenThis.at(-1)).toBe(work);

      exp = await readRegistry(registry);
      expect(sampleValue(exp, 'work_async_in_progress')).toBe(0);
      expect(sampleValue(exp, 'work_async_total', { outcome: 'ok:p' })).toBe(1);
    });

    it('counts a rejection and rejects with the very same error', async () => {
      const gate = deferred();
      const error = new WorkError('async boom');
      const pending = work.promised({ v: 'x' }, gate.promise, error);
      const settled = expect(pending).rejects.toBe(error);
      try {
        await sleep(5);
        expect(sampleValue(await readRegistry(registry), 'work_async_in_progress')).toBe(1);
      } finally {
        gate.resolve();
      }
      await settled;

      const exp = await readRegistry(registry);
      expect(sampleValue(exp, 'work_async_in_progress')).toBe(0);
      expect(sampleValue(exp, 'work_async_total', { outcome: 'error:async boom' })).toBe(1);
      expect(sampleValue(exp, 'work_async_total', { outcome: 'ok:p' })).toBe(1);
    });
  });

  describe('methods returning an Observable', () => {
    it('keeps the gauge at 1 while subscribed, counts the completion with the last value', async () => {
      const subject = new Subject<Item>();
      const seen: Item[] = [];
      const first = { v: 'one' };
      const last = { v: 'two' };
      const done = deferred();
      work.stream(subject.asObservable()).subscribe({ next: v => seen.push(v), complete: () => done.resolve() });
      try {
        expect(sampleValue(await readRegistry(registry), 'work_stream_in_progress')).toBe(1);
        subject.next(first);
        subject.next(last);
        expect(sampleValue(await readRegistry(registry), 'work_stream_in_progress')).toBe(1);
        expect(findSamples(await readRegistry(registry), 'work_stream_total')).toHaveLength(0);
      } finally {
        subject.complete();
      }
      await done.promise;

      expect(seen).toEqual([first, last]);
      expect(seen[0]).toBe(first);
      expect(seen[1]).toBe(last);
      expect(work.seenThis.at(-1)).toBe(work);
      const exp = await readRegistry(registry);
      expect(sampleValue(exp, 'work_stream_in_progress')).toBe(0);
      expect(sampleValue(exp, 'work_stream_total', { outcome: 'ok:two' })).toBe(1);
    });

    it('returns a Subject unchanged (the caller keeps using it) and ends the call at the return', async () => {
      const before = sumOf(await readRegistry(registry), 'work_stream_total');
      const subject = new BehaviorSubject<Item>({ v: 'start' });
      const returned = work.stream(subject);
      expect(returned).toBe(subject);
      subject.next({ v: 'next' });
      expect(subject.getValue()).toEqual({ v: 'next' });
      const exp = await readRegistry(registry);
      expect(sampleValue(exp, 'work_stream_in_progress')).toBe(0);
      // The call ended at the return, with the Subject as its result.
      expect(sumOf(exp, 'work_stream_total')).toBe(before + 1);
    });

    it('counts an error and passes the very same error to the subscriber', async () => {
      const error = new WorkError('stream boom');
      await expect(lastValueFrom(work.stream(throwError(() => error)))).rejects.toBe(error);

      const exp = await readRegistry(registry);
      expect(sampleValue(exp, 'work_stream_in_progress')).toBe(0);
      expect(sampleValue(exp, 'work_stream_total', { outcome: 'error:stream boom' })).toBe(1);
      expect(sampleValue(exp, 'work_stream_total', { outcome: 'ok:two' })).toBe(1);
    });

    it('ends the call when take(1) unsubscribes from an interval: gauge back to 0, counter +1, source torn down', async () => {
      let tornDown = false;
      let inner: Subscription | undefined;
      const source = new Observable<number>(subscriber => {
        inner = interval(5).subscribe(subscriber);
        return () => {
          inner?.unsubscribe();
          tornDown = true;
        };
      });
      const before = sumOf(await readRegistry(registry), 'work_cancel_total');
      try {
        await expect(lastValueFrom(work.cancellable(source).pipe(take(1)))).resolves.toBe(0);
      } finally {
        inner?.unsubscribe();
      }

      expect(tornDown).toBe(true);
      const exp = await readRegistry(registry);
      expect(sampleValue(exp, 'work_cancel_in_progress')).toBe(0);
      expect(sampleValue(exp, 'work_cancel_total')).toBe(before + 1);
    });

    it('ends the call when the subscriber unsubscribes manually', async () => {
      const before = sumOf(await readRegistry(registry), 'work_cancel_total');
      const subscription = work.cancellable(interval(5)).subscribe();
      let exp: Exposition;
      try {
        await sleep(12);
        exp = await readRegistry(registry);
        expect(sampleValue(exp, 'work_cancel_in_progress')).toBe(1);
        expect(sampleValue(exp, 'work_cancel_total')).toBe(before);
      } finally {
        subscription.unsubscribe();
      }
      exp = await readRegistry(registry);
      expect(sampleValue(exp, 'work_cancel_in_progress')).toBe(0);
      expect(sampleValue(exp, 'work_cancel_total')).toBe(before + 1);
    });
  });

  describe('@Histogram and @Summary', () => {
    it('observe the duration of each call in seconds', async () => {
      await expect(work.delayed(50)).resolves.toBe(50);
      await work.delayed(50);

      const exp = await readRegistry(registry);
      expect(sampleValue(exp, 'work_delay_seconds_count')).toBe(2);
      const sum = sampleValue(exp, 'work_delay_seconds_sum') ?? NaN;
      expect(sum).toBeGreaterThanOrEqual(0.09);
      expect(sum).toBeLessThan(2);
      expect(sampleValue(exp, 'work_delay_seconds_bucket', { le: '0.04' })).toBe(0);
      expect(sampleValue(exp, 'work_delay_seconds_bucket', { le: '5' })).toBe(2);
      expect(sampleValue(exp, 'work_delay_seconds_bucket', { le: '+Inf' })).toBe(2);

      expect(sampleValue(exp, 'work_delay_summary_seconds_count')).toBe(2);
      const summarySum = sampleValue(exp, 'work_delay_summary_seconds_sum') ?? NaN;
      expect(summarySum).toBeGreaterThanOrEqual(0.09);
      expect(summarySum).toBeLessThan(2);
      expect(findSamples(exp, 'work_delay_summary_seconds').map(s => s.labels.quantile)).toEqual(['0.5', '0.9']);
      expect(sampleValue(exp, 'work_delay_summary_seconds', { quantile: '0.5' })).toBeGreaterThanOrEqual(0.045);
    });

    it('observe failed calls too', async () => {
      await expect(work.delayedFailure(50)).rejects.toThrow('late failure');

      const exp = await readRegistry(registry);
      expect(sampleValue(exp, 'work_delay_failed_seconds_count')).toBe(1);
      expect(sampleValue(exp, 'work_delay_failed_seconds_sum')).toBeGreaterThanOrEqual(0.045);
      expect(sampleValue(exp, 'work_delay_failed_seconds_sum')).toBeLessThan(2);
      expect(sampleValue(exp, 'work_delay_failed_summary_seconds_count')).toBe(1);
      expect(sampleValue(exp, 'work_delay_failed_summary_seconds_sum')).toBeGreaterThanOrEqual(0.045);
      expect(sampleValue(exp, 'work_delay_failed_summary_seconds_sum')).toBeLessThan(2);
    });
  });

  describe("@Counter's `on`", () => {
    it("counts only failed calls with on: 'error', only successful ones with on: 'success', all by default (sync)", async () => {
      for (const fail of [false, true, true, false, false]) {
        try {
          work.attempt(fail);
        } catch {
          // counted
        }
      }
      const exp = await readRegistry(registry);
      expect(sampleValue(exp, 'work_failures_total')).toBe(2);
      expect(sampleValue(exp, 'work_successes_total')).toBe(3);
      expect(sampleValue(exp, 'work_attempts_total')).toBe(5);
    });

    it('does the same for promises and observables', async () => {
      for (const fail of [true, false, false]) {
        await work.attemptAsync(fail).catch(() => undefined);
        await lastValueFrom(work.attemptStream(fail)).catch(() => undefined);
      }
      const exp = await readRegistry(registry);
      expect(sampleValue(exp, 'work_async_failures_total')).toBe(1);
      expect(sampleValue(exp, 'work_async_successes_total')).toBe(2);
      expect(sampleValue(exp, 'work_stream_failures_total')).toBe(1);
    });
  });

  it('gives label functions the instance, the arguments and the result (and no request outside HTTP)', async () => {
    expect(work.withContext('x', 7)).toBe('x-7');
    const exp = await readRegistry(registry);
    expect(
      sampleValue(exp, 'work_context_total', {
        instance: 'WorkService',
        arg_count: '2',
        first_arg: 'x',
        request: 'none',
        result: 'x-7',
      }),
    ).toBe(1);
  });

  it('counts calls from inside the same class (this.inner())', async () => {
    expect(work.outer()).toBe(2);
    expect(work.outer()).toBe(2);
    const exp = await readRegistry(registry);
    expect(sampleValue(exp, 'work_outer_total')).toBe(2);
    expect(sampleValue(exp, 'work_inner_total')).toBe(2);
  });

  it('one decorator value on many methods of several classes gives one metric with the counts of all', async () => {
    expect(work.taskA()).toBe('a');
    await expect(work.taskB()).resolves.toBe('b');
    await work.taskB();
    expect(app.get(OtherWorkService).taskC()).toBe('c');

    const exp = await readRegistry(registry);
    expect(findSamples(exp, 'work_tasks_total')).toHaveLength(1);
    expect(sampleValue(exp, 'work_tasks_total', { kind: 'task' })).toBe(4);
  });
});

@Injectable({ scope: Scope.TRANSIENT })
class TransientFormatter {
  @Counter({ name: 'transient_format_total', help: HELP })
  format(value: number): string {
    return `#${value}`;
  }
}

@Injectable()
class InvoiceService {
  constructor(readonly formatter: TransientFormatter) {}

  print(value: number): string {
    return this.formatter.format(value);
  }
}

describe('metric decorators on a transient provider', () => {
  let app: INestApplicationContext;
  let registry: Registry;

  beforeAll(async () => {
    registry = new Registry();
    app = await createContext({
      imports: [isolatedPrometheus(registry)],
      providers: [TransientFormatter, InvoiceService],
    });
    await app.init();
  });
  afterAll(() => app.close());

  // Each consumer gets its own transient instance: the one injected must be instrumented, not only
  // the wrapper's static instance.
  it('counts calls of the instance injected into a singleton', async () => {
    const invoices = app.get(InvoiceService);
    expect(invoices.print(1)).toBe('#1');
    expect(invoices.formatter.format(2)).toBe('#2');
    expect(sampleValue(await readRegistry(registry), 'transient_format_total')).toBe(2);
  });
});

// ---------------------------------------------------------------------------------------------
// Label functions that throw
// ---------------------------------------------------------------------------------------------

@Injectable()
class RiskyService {
  @Counter({
    name: 'risky_calls_total',
    help: HELP,
    labels: {
      kind: 'static',
      who: () => {
        throw new Error('no user');
      },
    },
  })
  call(n: number): number {
    return n * 2;
  }

  @Histogram({
    name: 'risky_seconds',
    help: HELP,
    buckets: [1],
    labels: {
      who: ctx => (ctx.result as { user: { name: string } }).user.name,
    },
  })
  async timed(): Promise<string> {
    return 'no user object';
  }
}

/** One decorator value, with a label function that throws, on two methods: one metric. */
const countShared = Counter({
  name: 'risky_shared_total',
  help: HELP,
  labels: {
    who: () => {
      throw new Error('no user');
    },
  },
});

@Injectable()
class SharedRiskyService {
  @countShared
  first(): string {
    return 'first';
  }

  @countShared
  second(): string {
    return 'second';
  }
}

describe('a label function that throws', () => {
  let app: INestApplicationContext;
  let registry: Registry;

  beforeAll(async () => {
    registry = new Registry();
    app = await createContext({
      imports: [isolatedPrometheus(registry)],
      providers: [RiskyService, SharedRiskyService],
    });
    await app.init();
  });
  afterAll(() => app.close());
  afterEach(() => jest.restoreAllMocks());

  it('never breaks the call: the label gets "error" and a warning is logged once per metric', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const risky = app.get(RiskyService);

    expect(risky.call(1)).toBe(2);
    expect(risky.call(2)).toBe(4);
    expect(risky.call(3)).toBe(6);
    expect(warn).toHaveBeenCalledTimes(1);

    await expect(risky.timed()).resolves.toBe('no user object');
    await expect(risky.timed()).resolves.toBe('no user object');
    expect(warn).toHaveBeenCalledTimes(2);

    const exp = await readRegistry(registry);
    expect(sampleValue(exp, 'risky_calls_total', { kind: 'static', who: 'error' })).toBe(3);
    expect(sampleValue(exp, 'risky_seconds_count', { who: 'error' })).toBe(2);
  });

  it('warns once for a metric whose decorator is on several methods', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const shared = app.get(SharedRiskyService);

    expect(shared.first()).toBe('first');
    expect(shared.second()).toBe('second');
    expect(shared.first()).toBe('first');
    expect(shared.second()).toBe('second');

    expect(sampleValue(await readRegistry(registry), 'risky_shared_total', { who: 'error' })).toBe(4);
    expect(warn).toHaveBeenCalledTimes(1);
  });
});

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

// ---------------------------------------------------------------------------------------------
// Bootstrap errors, each in a fresh copy of the library and of Nest
// ---------------------------------------------------------------------------------------------

/**
 * The library records every metric decorator evaluated in the process (to make its name injectable).
 * The tests that declare invalid or conflicting decorators load the library (and Nest) afresh, as a
 * separate process would, so each one sees only its own classes, whatever the others declare.
 */
async function freshWorld() {
  jest.resetModules();
  // One at a time: jest's ESM loader does not link concurrent imports of a shared dependency.
  const common = await import('@nestjs/common');
  const core = await import('@nestjs/core');
  const lib = await import('../lib/index.js');
  /** Bootstraps an application context (no HTTP) and closes it. */
  const bootContext = async (metadata: ModuleMetadata): Promise<Registry> => {
    const registry = new Registry();
    @common.Module({
      imports: [lib.PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false } })],
      ...metadata,
    })
    class FreshModule {}
    const ctx = await core.NestFactory.createApplicationContext(FreshModule, { logger: false, abortOnError: false });
    await ctx.init();
    await ctx.close();
    return registry;
  };
  /** Bootstraps an HTTP app on the given adapter and closes it. */
  const bootHttp = async (adapter: AdapterName, metadata: ModuleMetadata): Promise<void> => {
    const testing = await import('@nestjs/testing');
    const registry = new Registry();
    const ref = await testing.Test.createTestingModule({
      imports: [lib.PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false } })],
      ...metadata,
    }).compile();
    const app =
      adapter === 'express'
        ? ref.createNestApplication(new (await import('@nestjs/platform-express')).ExpressAdapter(), { logger: false })
        : ref.createNestApplication(new (await import('@nestjs/platform-fastify')).FastifyAdapter(), { logger: false });
    try {
      await app.init();
    } finally {
      await app.close();
    }
  };
  return { common, lib, bootContext, bootHttp };
}

async function bootstrapError(boot: () => Promise<unknown>): Promise<string> {
  try {
    await boot();
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  throw new Error('bootstrap succeeded');
}

describe('invalid metric decorators fail at bootstrap, naming the class, the method and the problem', () => {
  it('an invalid metric name', async () => {
    const { common, lib, bootContext } = await freshWorld();
    @common.Injectable()
    class OrdersService {
      @lib.Counter({ name: 'bad-name', help: HELP })
      place(): void {}
    }
    const message = await bootstrapError(() => bootContext({ providers: [OrdersService] }));
    expect(message).toContain('OrdersService.place');
    expect(message).toContain('bad-name');
  });

  it.each(['__x', 'a-b'])('an invalid label name (%s)', async label => {
    const { common, lib, bootContext } = await freshWorld();
    @common.Injectable()
    class OrdersService {
      @lib.Gauge({ name: 'orders_in_progress', help: HELP, labels: { [label]: 'v' } })
      place(): void {}
    }
    const message = await bootstrapError(() => bootContext({ providers: [OrdersService] }));
    expect(message).toContain('OrdersService.place');
    expect(message).toContain(label);
  });

  it('unsorted histogram buckets', async () => {
    const { common, lib, bootContext } = await freshWorld();
    @common.Injectable()
    class OrdersService {
      @lib.Histogram({ name: 'orders_seconds', help: HELP, buckets: [2, 1] })
      place(): void {}
    }
    const message = await bootstrapError(() => bootContext({ providers: [OrdersService] }));
    expect(message).toContain('OrdersService.place');
    expect(message).toMatch(/bucket/i);
  });

  it('a missing help text', async () => {
    const { common, lib, bootContext } = await freshWorld();
    const options = { name: 'orders_total' } as Parameters<typeof lib.Counter>[0];
    @common.Injectable()
    class OrdersService {
      @lib.Counter(options)
      place(): void {}
    }
    const message = await bootstrapError(() => bootContext({ providers: [OrdersService] }));
    expect(message).toContain('OrdersService.place');
    expect(message).toMatch(/help/i);
  });

  it.each(ADAPTERS)('on a controller handler (%s)', async adapter => {
    const { common, lib, bootHttp } = await freshWorld();
    @common.Controller('orders')
    class OrdersController {
      @common.Post()
      @lib.Counter({ name: 'orders-placed', help: HELP })
      create(): void {}
    }
    const message = await bootstrapError(() => bootHttp(adapter, { controllers: [OrdersController] }));
    expect(message).toContain('OrdersController.create');
    expect(message).toContain('orders-placed');
  });
});

describe('apps only see the metric decorators of their own classes', () => {
  // Decorators are recorded process-wide when classes are defined (see freshWorld); an app must
  // only be affected by those of its own classes.
  it('an invalid decorator on a class outside the app does not break the app', async () => {
    const { common, lib, bootContext } = await freshWorld();
    @common.Injectable()
    class UnusedService {
      @lib.Counter({ name: 'unused-name', help: HELP })
      run(): void {}
    }
    @common.Injectable()
    class UsedService {
      @lib.Counter({ name: 'used_total', help: HELP })
      run(): void {}
    }
    void UnusedService;
    const registry = await bootContext({ providers: [UsedService] });
    expect(sampleValue(await readRegistry(registry), 'used_total')).toBe(0);
  });

  it('two apps with their own registries may define the same metric name with different labels', async () => {
    const { common, lib, bootContext } = await freshWorld();
    @common.Injectable()
    class BillingService {
      @lib.Counter({ name: 'jobs_total', help: HELP, labels: { queue: 'billing' } })
      run(): void {}
    }
    @common.Injectable()
    class MailService {
      @lib.Counter({ name: 'jobs_total', help: HELP, labels: { mailbox: 'inbox' } })
      run(): void {}
    }
    const billing = await bootContext({ providers: [BillingService] });
    expect(sampleValue(await readRegistry(billing), 'jobs_total', { queue: 'billing' })).toBe(0);
    const mail = await bootContext({ providers: [MailService] });
    expect(sampleValue(await readRegistry(mail), 'jobs_total', { mailbox: 'inbox' })).toBe(0);
  });
});
