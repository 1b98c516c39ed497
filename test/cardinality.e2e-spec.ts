import 'reflect-metadata';
import { type INestApplicationContext, Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import { Counter, Gauge, Histogram, PrometheusModule, Summary, type PrometheusModuleOptions } from '../lib/index.js';
import { readRegistry } from './utils/app.js';
import { findSamples, sampleValue, sumOf } from './utils/exposition.js';
import { CapturingLogger } from './utils/capturing-logger.js';
import {
  admissionModel,
  createLoggedContext,
  isOverflow,
  labelSets,
  OVERFLOW,
  OVERFLOW_TOTAL,
  prometheus,
} from './utils/cardinality.js';

/*
 * The cardinality guard (maxSeriesPerMetric) and label value truncation (maxLabelValueLength),
 * against label values that come from callers and requests: ids, long strings, hostile characters.
 */

const HELP = 'cardinality test metric';
// ---------------------------------------------------------------------------------------------
// Decorator metrics fed by callers
// ---------------------------------------------------------------------------------------------

@Injectable()
class AccountsService {
  @Counter({ name: 'card_account_calls_total', help: HELP, labels: { user: ctx => String(ctx.args[0]) } })
  touch(user: string): string {
    return `touched ${user}`;
  }

  @Histogram({
    name: 'card_account_seconds',
    help: HELP,
    buckets: [0.001, 0.1, 10],
    labels: { user: ctx => String(ctx.args[0]) },
  })
  timed(user: string): number {
    return user.length;
  }

  @Counter({
    name: 'card_account_tagged_total',
    help: HELP,
    labels: { tag: ctx => String(ctx.args[0]), kind: 'fixed' },
  })
  tagged(tag: string): string {
    return tag;
  }

  @Summary({
    name: 'card_account_summary_seconds',
    help: HELP,
    percentiles: [0.5, 0.9],
    labels: { user: ctx => String(ctx.args[0]) },
  })
  summarized(user: string): string {
    return user;
  }

  @Gauge({ name: 'card_account_busy', help: HELP, labels: { user: ctx => String(ctx.args[0]) } })
  async busy(user: string, gate: Promise<void>): Promise<string> {
    await gate;
    return user;
  }

  @Counter({
    name: 'card_account_pairs_total',
    help: HELP,
    labels: { a: ctx => String(ctx.args[0]), b: ctx => String(ctx.args[1]) },
  })
  pair(a: string, b: string): string {
    return a + b;
  }
}

/** 200 calls over 150 users, u0..u149 in order, then repeats of admitted and of overflowing users. */
function userCalls(): string[] {
  const calls: string[] = [];
  for (let i = 0; i < 150; i++) calls.push(`u${i}`);
  for (let r = 0; r < 3; r++) for (let i = 0; i < 10; i++) calls.push(`u${i}`); // admitted users, again
  for (let i = 100; i < 120; i++) calls.push(`u${i}`); // overflowing users, again
  return calls;
}

describe('maxSeriesPerMetric on decorator metrics', () => {
  const CAP = 50;
  let ctx: INestApplicationContext | undefined;

  afterEach(async () => {
    await ctx?.close();
    ctx = undefined;
  });

  it(`@Counter with a label per user: ${CAP} series keep counting exactly, the rest goes to one __overflow__ series`, async () => {
    const registry = new Registry();
    const logger = new CapturingLogger();
    ctx = await createLoggedContext(
      { imports: [prometheus(registry, { maxSeriesPerMetric: CAP })], providers: [AccountsService] },
      logger,
    );
    const accounts = ctx.get(AccountsService);
    const calls = userCalls();
    // The methods' results are untouched, in or past the cap.
    expect(calls.map(u => accounts.touch(u))).toEqual(calls.map(u => `touched ${u}`));

    const exp = await readRegistry(registry);
    const samples = findSamples(exp, 'card_account_calls_total');
    const model = admissionModel(calls, CAP);
    expect(samples).toHaveLength(CAP + 1);
    expect(sumOf(exp, 'card_account_calls_total')).toBe(calls.length);
    const exact = Object.fromEntries(samples.filter(s => !isOverflow(s.labels)).map(s => [s.labels.user, s.value]));
    expect(exact).toEqual(Object.fromEntries(model.admitted));
    expect(Object.keys(exact).sort()).toEqual(Array.from({ length: CAP }, (_, i) => `u${i}`).sort());
    expect(sampleValue(exp, 'card_account_calls_total', { user: OVERFLOW })).toBe(model.overflow);
    // The model itself: u50..u149 (100 calls) and their 20 repeats overflow; u0..u49 (80 calls) do not.
    expect(model.overflow).toBe(120);
    expect(exp.families.get(OVERFLOW_TOTAL)?.type).toBe('counter');
    expect(sampleValue(exp, OVERFLOW_TOTAL, { metric: 'card_account_calls_total' })).toBe(model.overflow);

    // One warning for the metric, however many calls overflowed.
    expect(logger.warningsAbout('card_account_calls_total')).toHaveLength(1);
    accounts.touch('u9999');
    expect(logger.warningsAbout('card_account_calls_total')).toHaveLength(1);
    expect(sampleValue(await readRegistry(registry), OVERFLOW_TOTAL, { metric: 'card_account_calls_total' })).toBe(
      model.overflow + 1,
    );
  });

  it('@Histogram with a label per user: the overflow series has its le buckets and counts the diverted calls', async () => {
    const registry = new Registry();
    const logger = new CapturingLogger();
    ctx = await createLoggedContext(
      { imports: [prometheus(registry, { maxSeriesPerMetric: CAP })], providers: [AccountsService] },
      logger,
    );
    const accounts = ctx.get(AccountsService);
    const calls = userCalls();
    for (const u of calls) accounts.timed(u);

    const exp = await readRegistry(registry);
    const model = admissionModel(calls, CAP);
    expect(labelSets(exp, 'card_account_seconds')).toHaveLength(CAP + 1);
    expect(sumOf(exp, 'card_account_seconds_count')).toBe(calls.length);
    const counts = Object.fromEntries(
      findSamples(exp, 'card_account_seconds_count')
        .filter(s => !isOverflow(s.labels))
        .map(s => [s.labels.user, s.value]),
    );
    expect(counts).toEqual(Object.fromEntries(model.admitted));
    expect(sampleValue(exp, 'card_account_seconds_count', { user: OVERFLOW })).toBe(model.overflow);
    const buckets = findSamples(exp, 'card_account_seconds_bucket', { user: OVERFLOW });
    expect(buckets.map(b => b.labels.le)).toEqual(['0.001', '0.1', '10', '+Inf']);
    expect(buckets[buckets.length - 1].value).toBe(model.overflow);
    expect(findSamples(exp, 'card_account_seconds_sum', { user: OVERFLOW })).toHaveLength(1);
    expect(sampleValue(exp, OVERFLOW_TOTAL, { metric: 'card_account_seconds' })).toBe(model.overflow);
    expect(logger.warningsAbout('card_account_seconds')).toHaveLength(1);
  });

  it('a metric with a fixed label and a label per caller: the overflow series has every label __overflow__', async () => {
    const registry = new Registry();
    const logger = new CapturingLogger();
    ctx = await createLoggedContext(
      { imports: [prometheus(registry, { maxSeriesPerMetric: 3 })], providers: [AccountsService] },
      logger,
    );
    const accounts = ctx.get(AccountsService);
    for (const tag of ['a', 'b', 'c', 'd', 'e', 'a', 'e']) accounts.tagged(tag);

    const exp = await readRegistry(registry);
    expect(findSamples(exp, 'card_account_tagged_total').map(s => [s.labels, s.value])).toEqual(
      expect.arrayContaining([
        [{ tag: 'a', kind: 'fixed' }, 2],
        [{ tag: 'b', kind: 'fixed' }, 1],
        [{ tag: 'c', kind: 'fixed' }, 1],
        [{ tag: OVERFLOW, kind: OVERFLOW }, 3],
      ]),
    );
    expect(findSamples(exp, 'card_account_tagged_total')).toHaveLength(4);
    expect(sampleValue(exp, OVERFLOW_TOTAL, { metric: 'card_account_tagged_total' })).toBe(3);
    expect(logger.warningsAbout('card_account_tagged_total')).toHaveLength(1);
  });

  it('@Summary with a label per user: cap + 1 label sets, the overflow one counts the diverted calls', async () => {
    const registry = new Registry();
    const logger = new CapturingLogger();
    ctx = await createLoggedContext(
      { imports: [prometheus(registry, { maxSeriesPerMetric: CAP })], providers: [AccountsService] },
      logger,
    );
    const accounts = ctx.get(AccountsService);
    const calls = userCalls();
    for (const u of calls) accounts.summarized(u);

    const exp = await readRegistry(registry);
    const model = admissionModel(calls, CAP);
    expect(labelSets(exp, 'card_account_summary_seconds')).toHaveLength(CAP + 1);
    expect(sumOf(exp, 'card_account_summary_seconds_count')).toBe(calls.length);
    expect(sampleValue(exp, 'card_account_summary_seconds_count', { user: OVERFLOW })).toBe(model.overflow);
    expect(findSamples(exp, 'card_account_summary_seconds', { user: OVERFLOW }).map(s => s.labels.quantile)).toEqual([
      '0.5',
      '0.9',
    ]);
    expect(sampleValue(exp, OVERFLOW_TOTAL, { metric: 'card_account_summary_seconds' })).toBe(model.overflow);
    expect(logger.warningsAbout('card_account_summary_seconds')).toHaveLength(1);
  });

  it('@Gauge with a label per user: calls in flight past the cap share the overflow series, which returns to 0', async () => {
    const registry = new Registry();
    const logger = new CapturingLogger();
    ctx = await createLoggedContext(
      { imports: [prometheus(registry, { maxSeriesPerMetric: 5 })], providers: [AccountsService] },
      logger,
    );
    const accounts = ctx.get(AccountsService);
    let release!: () => void;
    const gate = new Promise<void>(resolve => (release = resolve));
    const users = Array.from({ length: 20 }, (_, i) => `u${i}`).concat(['u0', 'u19']);
    const running = users.map(u => accounts.busy(u, gate));

    let exp = await readRegistry(registry);
    expect(findSamples(exp, 'card_account_busy')).toHaveLength(6);
    expect(sumOf(exp, 'card_account_busy')).toBe(users.length);
    expect(sampleValue(exp, 'card_account_busy', { user: 'u0' })).toBe(2);
    expect(sampleValue(exp, 'card_account_busy', { user: OVERFLOW })).toBe(users.length - 6);
    expect(sampleValue(exp, OVERFLOW_TOTAL, { metric: 'card_account_busy' })).toBe(users.length - 6);

    release();
    expect(await Promise.all(running)).toEqual(users);
    exp = await readRegistry(registry);
    expect(findSamples(exp, 'card_account_busy').map(s => s.value)).toEqual([0, 0, 0, 0, 0, 0]);
    // One diverted sample per call, not one per increment and decrement.
    expect(sampleValue(exp, OVERFLOW_TOTAL, { metric: 'card_account_busy' })).toBe(users.length - 6);
    expect(logger.warningsAbout('card_account_busy')).toHaveLength(1);
  });

  it('label values that contain the key separator (NUL) or commas cannot open more series than the cap', async () => {
    const registry = new Registry();
    ctx = await createLoggedContext(
      { imports: [prometheus(registry, { maxSeriesPerMetric: 2 })], providers: [AccountsService] },
      new CapturingLogger(),
    );
    const accounts = ctx.get(AccountsService);
    const pairs: [string, string][] = [];
    // Pairs whose values, joined by NUL (or by ",b:"), read alike: distinct label sets all the same.
    for (let i = 0; i < 10; i++) pairs.push([`p${'\u0000'.repeat(i)}`, `${'\u0000'.repeat(9 - i)}q`]);
    for (let i = 0; i < 10; i++) pairs.push([`x${',b:'.repeat(i)}`, `${',b:'.repeat(9 - i)}y`]);
    for (const [a, b] of pairs) accounts.pair(a, b);

    const exp = await readRegistry(registry);
    const samples = findSamples(exp, 'card_account_pairs_total');
    expect(samples.length).toBeLessThanOrEqual(3);
    expect(sumOf(exp, 'card_account_pairs_total')).toBe(pairs.length);
  });

  it('metrics are capped separately; one that stays under the cap gets no overflow series and no warning', async () => {
    const registry = new Registry();
    const logger = new CapturingLogger();
    ctx = await createLoggedContext(
      { imports: [prometheus(registry, { maxSeriesPerMetric: CAP })], providers: [AccountsService] },
      logger,
    );
    const accounts = ctx.get(AccountsService);
    for (let i = 0; i < CAP; i++) accounts.timed(`u${i}`);
    for (let i = 0; i < CAP + 5; i++) accounts.touch(`u${i}`);

    const exp = await readRegistry(registry);
    expect(labelSets(exp, 'card_account_seconds')).toHaveLength(CAP);
    expect(findSamples(exp, 'card_account_seconds_count', { user: OVERFLOW })).toEqual([]);
    expect(findSamples(exp, 'card_account_calls_total')).toHaveLength(CAP + 1);
    expect(findSamples(exp, OVERFLOW_TOTAL).map(s => [s.labels.metric, s.value])).toEqual([
      ['card_account_calls_total', 5],
    ]);
    expect(logger.warningsAbout('card_account_seconds')).toEqual([]);
    expect(logger.warningsAbout('card_account_calls_total')).toHaveLength(1);
  });

  it('defaults to 10,000 series per metric', async () => {
    const registry = new Registry();
    const logger = new CapturingLogger();
    ctx = await createLoggedContext({ imports: [prometheus(registry)], providers: [AccountsService] }, logger);
    const accounts = ctx.get(AccountsService);
    const N = 10_007;
    for (let i = 0; i < N; i++) accounts.touch(`user-${i}`);

    const exp = await readRegistry(registry);
    expect(findSamples(exp, 'card_account_calls_total')).toHaveLength(10_001);
    expect(sumOf(exp, 'card_account_calls_total')).toBe(N);
    expect(sampleValue(exp, 'card_account_calls_total', { user: OVERFLOW })).toBe(7);
    expect(sampleValue(exp, 'card_account_calls_total', { user: 'user-9999' })).toBe(1);
    expect(sampleValue(exp, 'card_account_calls_total', { user: 'user-10000' })).toBeUndefined();
    expect(sampleValue(exp, OVERFLOW_TOTAL, { metric: 'card_account_calls_total' })).toBe(7);
    expect(logger.warningsAbout('card_account_calls_total')).toHaveLength(1);
  });

  it.each([
    ['0', 0],
    ['Infinity', Infinity],
  ])('maxSeriesPerMetric: %s turns the guard off: one series per user, no overflow', async (_name, off) => {
    const registry = new Registry();
    const logger = new CapturingLogger();
    ctx = await createLoggedContext(
      { imports: [prometheus(registry, { maxSeriesPerMetric: off })], providers: [AccountsService] },
      logger,
    );
    const accounts = ctx.get(AccountsService);
    const N = 10_050;
    for (let i = 0; i < N; i++) accounts.touch(`user-${i}`);
    accounts.touch('user-0');

    const exp = await readRegistry(registry);
    const samples = findSamples(exp, 'card_account_calls_total');
    expect(samples).toHaveLength(N);
    expect(samples.filter(s => isOverflow(s.labels))).toEqual([]);
    expect(sumOf(exp, 'card_account_calls_total')).toBe(N + 1);
    expect(sampleValue(exp, 'card_account_calls_total', { user: 'user-0' })).toBe(2);
    expect(findSamples(exp, OVERFLOW_TOTAL)).toEqual([]);
    expect(logger.warningsAbout('maxSeriesPerMetric')).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Bad option values
// ---------------------------------------------------------------------------------------------

describe('bad cardinality options fail at bootstrap, naming the option', () => {
  async function boot(module: ReturnType<typeof PrometheusModule.forRoot>): Promise<void> {
    const moduleRef = await Test.createTestingModule({ imports: [module], providers: [AccountsService] }).compile();
    await moduleRef.close();
  }

  it.each([
    ['maxSeriesPerMetric', -1],
    ['maxSeriesPerMetric', 'x'],
    ['maxSeriesPerMetric', Number.NaN],
    ['maxLabelValueLength', -1],
    ['maxLabelValueLength', 'x'],
  ])('%s: %p (forRoot)', async (option, value) => {
    const options = {
      registry: new Registry(),
      defaultMetrics: { enabled: false },
      [option]: value,
    } as PrometheusModuleOptions;
    await expect(boot(PrometheusModule.forRoot(options))).rejects.toThrow(new RegExp(option));
  });

  it.each([
    ['maxSeriesPerMetric', -1],
    ['maxLabelValueLength', 'x'],
  ])('%s: %p (forRootAsync)', async (option, value) => {
    const options = {
      registry: new Registry(),
      defaultMetrics: { enabled: false },
      [option]: value,
    } as PrometheusModuleOptions;
    await expect(boot(PrometheusModule.forRootAsync({ useFactory: async () => options }))).rejects.toThrow(
      new RegExp(option),
    );
  });
});
