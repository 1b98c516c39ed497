import 'reflect-metadata';
import { jest } from '@jest/globals';
import { type INestApplicationContext, Injectable, Scope } from '@nestjs/common';
import { Registry } from 'prom-client';
import {
  BehaviorSubject,
  interval,
  lastValueFrom,
  Observable,
  of,
  Subject,
  type Subscription,
  take,
  throwError,
} from 'rxjs';
import { Counter, Gauge, Histogram, type MetricCallContext, Summary } from '../lib/index.js';
import { createContext, isolatedPrometheus, readRegistry } from './utils/app.js';
import { type Exposition, findSamples, sampleValue, sumOf } from './utils/exposition.js';
import { deferred, sleep } from './utils/wait.js';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const HELP = 'test metric';

/**
 * prom-client renders asynchronously; inside a synchronous call the gauge can only be read from
 * its current state (sum over its series).
 */
function gaugeNow(registry: Registry, name: string): number {
  const gauge = registry.getSingleMetric(name) as unknown as { hashMap: Record<string, { value: number }> } | undefined;
  if (!gauge) throw new Error(`no metric ${name}`);
  return Object.values(gauge.hashMap).reduce((sum, s) => sum + s.value, 0);
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
