import 'reflect-metadata';
import { Controller, Get, type INestApplication, type ModuleMetadata } from '@nestjs/common';
import {
  type ClientProxy,
  ClientProxyFactory,
  EventPattern,
  MessagePattern,
  type MicroserviceOptions,
  Payload,
  RpcException,
  Transport,
} from '@nestjs/microservices';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import {
  firstValueFrom,
  interval,
  lastValueFrom,
  map,
  mergeMap,
  type Observable,
  take,
  throwError,
  timer,
  toArray,
} from 'rxjs';
import request from 'supertest';
import { Counter, DoNotTrack, type PrometheusModuleOptions, PrometheusModule } from '../lib/index.js';
import { ADAPTERS, type AdapterName, scrape } from './utils/app.js';
import { type Exposition, findSamples, sampleValue, sumOf } from './utils/exposition.js';
import { deferred, freePort, scrapeUntil, sleep } from './utils/wait.js';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const HOST = '127.0.0.1';
const OVERFLOW = '__overflow__';
/** Messages and events sent per handler. */
const K = 3;

/** The label set of a sample as `pattern|kind|outcome`, after checking it has exactly those labels. */
function rpcKey(labels: Record<string, string>): string {
  expect(Object.keys(labels).sort()).toEqual(['kind', 'outcome', 'pattern']);
  return `${labels.pattern}|${labels.kind}|${labels.outcome}`;
}

/**
 * `{ 'pattern|kind|outcome': value }` of the samples of `name` that counted something (a series
 * created at 0, e.g. the other outcome of a handler, is no count).
 */
function byRpcKey(exp: Exposition, name: string): Record<string, number> {
  return Object.fromEntries(
    findSamples(exp, name)
      .filter(s => s.value !== 0)
      .map(s => [rpcKey(s.labels), s.value]),
  );
}

function families(exp: Exposition, prefix: string): string[] {
  return [...exp.families.keys()].filter(name => name.startsWith(prefix)).sort();
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

class CrashError extends Error {}
class OrderRejectedError extends Error {}

/** The declared object pattern, keys deliberately unsorted. */
const SUM_V2 = { v: 2, cmd: 'sum' };
/** Its serialisation, as the contract defines it: JSON with sorted keys. */
const SUM_V2_LABEL = '{"cmd":"sum","v":2}';

@Controller()
class CalcController {
  /** Events received, in order (`created:1`, ...). */
  readonly events: string[] = [];
  /** Calls of `slow` that have started. */
  slowStarted = 0;
  readonly twoSlowStarted = deferred();
  readonly releaseSlow = deferred();

  @Counter({
    name: 'calc_sum_calls_total',
    help: 'sum calls by first operand',
    labels: { first: ctx => String((ctx.args[0] as number[])[0]) },
  })
  @MessagePattern('sum')
  sum(@Payload() values: number[]): number {
    return values.reduce((a, b) => a + b, 0);
  }

  @MessagePattern(SUM_V2)
  sumV2(@Payload() body: { values: number[] }): number {
    return body.values.reduce((a, b) => a + b, 0) * 2;
  }

  @MessagePattern('reject')
  reject(): never {
    throw new RpcException('rejected');
  }

  @MessagePattern('crash')
  crash(): never {
    throw new CrashError('crashed');
  }

  @MessagePattern('async.double')
  async double(@Payload() n: number): Promise<number> {
    await sleep(2);
    return n * 2;
  }

  @MessagePattern('obs.range')
  range(@Payload() from: number): Observable<number> {
    return interval(1).pipe(
      take(3),
      map(i => from + i),
    );
  }

  @MessagePattern('obs.fail')
  failLater(): Observable<number> {
    return timer(2).pipe(mergeMap(() => throwError(() => new RpcException('late failure'))));
  }

  @DoNotTrack()
  @MessagePattern('untracked')
  untracked(@Payload() n: number): number {
    return n + 1;
  }

  @MessagePattern('slow')
  async slow(@Payload() n: number): Promise<number> {
    this.slowStarted++;
    if (this.slowStarted === 2) this.twoSlowStarted.resolve();
    await this.releaseSlow.promise;
    return n;
  }

  @EventPattern('order.created')
  created(@Payload() id: number): void {
    this.events.push(`created:${id}`);
  }

  @EventPattern('order.rejected')
  rejected(@Payload() id: number): void {
    this.events.push(`rejected:${id}`);
    throw new OrderRejectedError(`order ${id}`);
  }

  @EventPattern('order.shipped')
  async shipped(@Payload() id: number): Promise<void> {
    await sleep(2);
    this.events.push(`shipped:${id}`);
  }

  @DoNotTrack()
  @EventPattern('audit')
  audit(@Payload() id: number): void {
    this.events.push(`audit:${id}`);
  }
}

@Controller('ping')
class PingController {
  @Get()
  ping(): string {
    return 'pong';
  }
}

// ---------------------------------------------------------------------------------------------
// Hybrid apps
// ---------------------------------------------------------------------------------------------

interface Hybrid {
  app: INestApplication;
  client: ClientProxy;
  registry: Registry;
}

const openApps: INestApplication[] = [];
const openClients: ClientProxy[] = [];

afterEach(async () => {
  for (const client of openClients.splice(0)) await client.close();
  for (const app of openApps.splice(0).reverse()) await app.close();
});

async function createHybrid(
  adapter: AdapterName,
  metadata: ModuleMetadata,
  options: Partial<PrometheusModuleOptions> = {},
  microservice = true,
): Promise<Hybrid> {
  const registry = new Registry();
  const moduleRef = await Test.createTestingModule({
    ...metadata,
    imports: [
      PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false }, ...options }),
      ...(metadata.imports ?? []),
    ],
  }).compile();
  const app =
    adapter === 'express'
      ? moduleRef.createNestApplication(new ExpressAdapter(), { logger: false })
      : moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
  openApps.push(app);
  const port = await freePort();
  if (microservice) {
    app.connectMicroservice<MicroserviceOptions>({ transport: Transport.TCP, options: { host: HOST, port } });
    await app.startAllMicroservices();
  }
  await app.listen(0, HOST);
  const client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: HOST, port } });
  if (microservice) {
    openClients.push(client);
    await client.connect();
  }
  return { app, client, registry };
}

const send = <T>(client: ClientProxy, pattern: unknown, data: unknown): Promise<T> =>
  firstValueFrom(client.send<T>(pattern, data));

/** The error a `send` rejects with (RpcExceptions arrive as `{ status, message }`). */
async function sendError(client: ClientProxy, pattern: unknown, data: unknown): Promise<unknown> {
  try {
    await send(client, pattern, data);
  } catch (error) {
    return error;
  }
  throw new Error(`${JSON.stringify(pattern)} succeeded`);
}

/** Sends K messages to every handler, and K events to every event handler; checks the replies. */
async function exercise(client: ClientProxy, calc: CalcController): Promise<void> {
  for (let i = 1; i <= K; i++) {
    expect(await send(client, 'sum', [i, 10])).toBe(i + 10);
    expect(await send(client, { cmd: 'sum', v: 2 }, { values: [i, 1] })).toBe((i + 1) * 2);
    expect(await sendError(client, 'reject', i)).toEqual({ status: 'error', message: 'rejected' });
    expect(await sendError(client, 'crash', i)).toEqual({ status: 'error', message: 'Internal server error' });
    expect(await send(client, 'async.double', i)).toBe(i * 2);
    expect(await lastValueFrom(client.send<number>('obs.range', i * 10).pipe(toArray()))).toEqual([
      i * 10,
      i * 10 + 1,
      i * 10 + 2,
    ]);
    expect(await sendError(client, 'obs.fail', i)).toEqual({ status: 'error', message: 'late failure' });
    expect(await send(client, 'untracked', i)).toBe(i + 1);
  }
  for (let i = 1; i <= K; i++) {
    await firstValueFrom(client.emit('order.created', i), { defaultValue: undefined });
    await firstValueFrom(client.emit('order.rejected', i), { defaultValue: undefined });
    await firstValueFrom(client.emit('order.shipped', i), { defaultValue: undefined });
    await firstValueFrom(client.emit('audit', i), { defaultValue: undefined });
  }
  // Every event reaches its handler (the audit one too, untracked as it is).
  const deadline = Date.now() + 20_000;
  while (calc.events.length < 4 * K && Date.now() < deadline) await sleep(10);
  expect([...calc.events].sort()).toEqual(
    ['created', 'rejected', 'shipped', 'audit']
      .flatMap(kind => Array.from({ length: K }, (_, i) => `${kind}:${i + 1}`))
      .sort(),
  );
}

const EXPECTED_REQUESTS: Record<string, number> = {
  'sum|message|success': K,
  [`${SUM_V2_LABEL}|message|success`]: K,
  'reject|message|error': K,
  'crash|message|error': K,
  'async.double|message|success': K,
  'obs.range|message|success': K,
  'obs.fail|message|error': K,
  'order.created|event|success': K,
  'order.rejected|event|error': K,
  'order.shipped|event|success': K,
};
const EXPECTED_TOTAL = Object.values(EXPECTED_REQUESTS).reduce((a, b) => a + b, 0);

// ---------------------------------------------------------------------------------------------
// Suites
// ---------------------------------------------------------------------------------------------

describe.each(ADAPTERS)('microservice handlers of a hybrid app (%s)', adapter => {
  it('counts every message and event once, by declared pattern, kind and outcome', async () => {
    const { app, client } = await createHybrid(adapter, { controllers: [CalcController, PingController] });
    const calc = app.get(CalcController);
    for (let i = 0; i < K; i++) await request(app.getHttpServer()).get('/ping').expect(200, 'pong');

    await exercise(client, calc);

    const exp = await scrapeUntil(app, e => sumOf(e, 'rpc_requests_total') >= EXPECTED_TOTAL);
    // Nothing more arrives later.
    await sleep(100);
    const final = await scrape(app);
    expect(byRpcKey(final, 'rpc_requests_total')).toEqual(byRpcKey(exp, 'rpc_requests_total'));

    expect(families(final, 'rpc_')).toEqual([
      'rpc_exceptions_total',
      'rpc_request_duration_seconds',
      'rpc_requests_in_progress',
      'rpc_requests_total',
    ]);
    expect(final.families.get('rpc_requests_total')?.type).toBe('counter');
    expect(final.families.get('rpc_request_duration_seconds')?.type).toBe('histogram');
    expect(final.families.get('rpc_requests_in_progress')?.type).toBe('gauge');
    expect(final.families.get('rpc_exceptions_total')?.type).toBe('counter');

    expect(byRpcKey(final, 'rpc_requests_total')).toEqual(EXPECTED_REQUESTS);
    // The histogram has the same label sets, each observed once per message.
    expect(byRpcKey(final, 'rpc_request_duration_seconds_count')).toEqual(EXPECTED_REQUESTS);
    expect(
      Object.fromEntries(
        findSamples(final, 'rpc_request_duration_seconds_bucket', { le: '+Inf' })
          .filter(s => s.value !== 0)
          .map(s => {
            const { le: _le, ...labels } = s.labels;
            return [rpcKey(labels), s.value];
          }),
      ),
    ).toEqual(EXPECTED_REQUESTS);
    for (const s of findSamples(final, 'rpc_request_duration_seconds_sum')) {
      if (!EXPECTED_REQUESTS[rpcKey(s.labels)]) continue;
      expect(s.value).toBeGreaterThan(0);
      expect(s.value).toBeLessThan(10);
    }

    // Exceptions by class name: RpcException (thrown or from an Observable), the Error subclasses.
    expect(
      Object.fromEntries(
        findSamples(final, 'rpc_exceptions_total').map(s => {
          expect(Object.keys(s.labels).sort()).toEqual(['exception', 'pattern']);
          return [`${s.labels.pattern}|${s.labels.exception}`, s.value];
        }),
      ),
    ).toEqual({
      'reject|RpcException': K,
      'crash|CrashError': K,
      'obs.fail|RpcException': K,
      'order.rejected|OrderRejectedError': K,
    });

    // Nothing left in progress; one series per tracked pattern at most, none for @DoNotTrack() handlers.
    const inProgress = findSamples(final, 'rpc_requests_in_progress');
    expect(inProgress.filter(s => s.value !== 0)).toEqual([]);
    for (const s of inProgress) expect(Object.keys(s.labels)).toEqual(['pattern']);
    const trackedPatterns = new Set(Object.keys(EXPECTED_REQUESTS).map(key => key.split('|')[0]));
    for (const s of inProgress) expect(trackedPatterns.has(s.labels.pattern)).toBe(true);
    for (const s of final.samples.filter(x => x.name.startsWith('rpc_'))) {
      expect(['untracked', 'audit', 'slow']).not.toContain(s.labels.pattern);
      // Never message data.
      expect(s.labels.pattern ?? '').not.toMatch(/values|\[/);
    }

    // The HTTP metrics are still there, and count HTTP requests only.
    expect(findSamples(final, 'http_requests_total').map(s => [s.labels.route, s.labels.status_code, s.value])).toEqual(
      [['/ping', '200', K]],
    );
    expect(sampleValue(final, 'http_request_duration_seconds_count', { route: '/ping' })).toBe(K);
  });

  it('shows a slow message in progress while it runs, and releases it when it ends', async () => {
    const { app, client } = await createHybrid(adapter, { controllers: [CalcController] });
    const calc = app.get(CalcController);

    const replies = Promise.all([send<number>(client, 'slow', 1), send<number>(client, 'slow', 2)]);
    try {
      await calc.twoSlowStarted.promise;
      const during = await scrape(app);
      expect(sampleValue(during, 'rpc_requests_in_progress', { pattern: 'slow' })).toBe(2);
      expect(sumOf(during, 'rpc_requests_total', { pattern: 'slow' })).toBe(0);
    } finally {
      calc.releaseSlow.resolve();
    }
    expect(await replies).toEqual([1, 2]);
    const after = await scrape(app);
    expect(sampleValue(after, 'rpc_requests_in_progress', { pattern: 'slow' })).toBe(0);
    expect(byRpcKey(after, 'rpc_requests_total')).toEqual({ 'slow|message|success': 2 });
    expect(byRpcKey(after, 'rpc_request_duration_seconds_count')).toEqual({ 'slow|message|success': 2 });
    expect(findSamples(after, 'rpc_exceptions_total')).toEqual([]);
  });

  it('counts @Counter on a message handler exactly, with a label function of ctx.args[0]', async () => {
    const { app, client } = await createHybrid(adapter, { controllers: [CalcController] });
    const operands = [[1, 2], [1, 5], [7], [1], [7, 7]];
    for (const values of operands) {
      expect(await send(client, 'sum', values)).toBe(values.reduce((a, b) => a + b, 0));
    }
    const exp = await scrape(app);
    expect(
      Object.fromEntries(findSamples(exp, 'calc_sum_calls_total').map(s => [JSON.stringify(s.labels), s.value])),
    ).toEqual({ [JSON.stringify({ first: '1' })]: 3, [JSON.stringify({ first: '7' })]: 2 });
    expect(byRpcKey(exp, 'rpc_requests_total')).toEqual({ 'sum|message|success': operands.length });
  });

  it('rpc: false leaves every rpc_* family out; handlers work as before', async () => {
    const { app, client } = await createHybrid(
      adapter,
      { controllers: [CalcController, PingController] },
      { rpc: false },
    );
    const calc = app.get(CalcController);
    await request(app.getHttpServer()).get('/ping').expect(200);
    await exercise(client, calc);
    await sleep(50);
    const exp = await scrape(app);
    expect(families(exp, 'rpc_')).toEqual([]);
    expect(exp.samples.filter(s => s.labels.pattern !== undefined)).toEqual([]);
    // The HTTP metrics and the method decorators are independent of it.
    expect(sampleValue(exp, 'http_requests_total', { route: '/ping', status_code: '200' })).toBe(1);
    expect(sumOf(exp, 'calc_sum_calls_total')).toBe(K);
  });

  it('takes prefix, buckets and exclude (by serialised pattern or event name, string or RegExp)', async () => {
    const { app, client } = await createHybrid(
      adapter,
      { controllers: [CalcController] },
      { rpc: { prefix: 'svc_', buckets: [0.1, 1], exclude: [SUM_V2_LABEL, /^obs\./, 'order.rejected', 'cras'] } },
    );
    const calc = app.get(CalcController);
    await exercise(client, calc);
    const expected = Object.fromEntries(
      Object.entries(EXPECTED_REQUESTS).filter(
        ([key]) => !key.startsWith(SUM_V2_LABEL) && !key.startsWith('obs.') && !key.startsWith('order.rejected|'),
      ),
    );
    const total = Object.values(expected).reduce((a, b) => a + b, 0);
    const exp = await scrapeUntil(app, e => sumOf(e, 'svc_rpc_requests_total') >= total);
    await sleep(100);
    const final = await scrape(app);
    expect(families(final, 'rpc_')).toEqual([]);
    expect(families(final, 'svc_rpc_')).toEqual([
      'svc_rpc_exceptions_total',
      'svc_rpc_request_duration_seconds',
      'svc_rpc_requests_in_progress',
      'svc_rpc_requests_total',
    ]);
    expect(byRpcKey(final, 'svc_rpc_requests_total')).toEqual(byRpcKey(exp, 'svc_rpc_requests_total'));
    // 'cras' is not a pattern: an exact string excludes only the pattern it equals.
    expect(byRpcKey(final, 'svc_rpc_requests_total')).toEqual(expected);
    expect(byRpcKey(final, 'svc_rpc_request_duration_seconds_count')).toEqual(expected);
    expect(
      findSamples(final, 'svc_rpc_request_duration_seconds_bucket', { pattern: 'sum', outcome: 'success' }).map(
        s => s.labels.le,
      ),
    ).toEqual(['0.1', '1', '+Inf']);
    expect(
      Object.fromEntries(
        findSamples(final, 'svc_rpc_exceptions_total').map(s => [`${s.labels.pattern}|${s.labels.exception}`, s.value]),
      ),
    ).toEqual({ 'reject|RpcException': K, 'crash|CrashError': K });
  });

  it('keeps rpc_* series under maxSeriesPerMetric: admitted series count exactly, the rest go to __overflow__', async () => {
    const CAP = 3;
    const { app, client } = await createHybrid(adapter, { controllers: [CalcController] }, { maxSeriesPerMetric: CAP });
    // Sequential, so that the order in which label sets appear is known; 5 handlers, 9 messages.
    const sent: Record<string, number> = {};
    const note = (key: string) => (sent[key] = (sent[key] ?? 0) + 1);
    expect(await send(client, 'sum', [1])).toBe(1);
    note('sum|message|success');
    expect(await send(client, 'async.double', 1)).toBe(2);
    note('async.double|message|success');
    expect(await send(client, 'sum', [2])).toBe(2);
    note('sum|message|success');
    expect(await sendError(client, 'reject', 1)).toEqual({ status: 'error', message: 'rejected' });
    note('reject|message|error');
    expect(await send(client, 'async.double', 2)).toBe(4);
    note('async.double|message|success');
    expect(await sendError(client, 'crash', 1)).toEqual({ status: 'error', message: 'Internal server error' });
    note('crash|message|error');
    expect(await send(client, { cmd: 'sum', v: 2 }, { values: [1] })).toBe(2);
    note(`${SUM_V2_LABEL}|message|success`);
    expect(await sendError(client, 'crash', 2)).toEqual({ status: 'error', message: 'Internal server error' });
    note('crash|message|error');
    expect(await sendError(client, 'reject', 2)).toEqual({ status: 'error', message: 'rejected' });
    note('reject|message|error');

    const exp = await scrape(app);
    const overflowKey = `${OVERFLOW}|${OVERFLOW}|${OVERFLOW}`;
    const counted = byRpcKey(exp, 'rpc_requests_total');
    const all = findSamples(exp, 'rpc_requests_total');
    expect(all.length).toBeLessThanOrEqual(CAP + 1);
    // Label values are all __overflow__ or none is.
    expect(all.filter(s => Object.values(s.labels).includes(OVERFLOW) && rpcKey(s.labels) !== overflowKey)).toEqual([]);
    const admitted = Object.entries(counted).filter(([key]) => key !== overflowKey);
    // The first label set is always admitted; every admitted one counts exactly what was sent to it.
    expect(counted['sum|message|success']).toBe(2);
    for (const [key, value] of admitted) expect({ key, value }).toEqual({ key, value: sent[key] });
    const diverted = Object.entries(sent)
      .filter(([key]) => counted[key] === undefined)
      .reduce((a, [, n]) => a + n, 0);
    // 5 label sets were used and at most 3 admitted: something overflowed, and is counted.
    expect(diverted).toBeGreaterThanOrEqual(2);
    expect(counted[overflowKey]).toBe(diverted);
    expect(sumOf(exp, 'rpc_requests_total')).toBe(9);
    expect(sampleValue(exp, 'prometheus_series_overflow_total', { metric: 'rpc_requests_total' })).toBe(diverted);
    // The histogram admits the same label sets.
    expect(byRpcKey(exp, 'rpc_request_duration_seconds_count')).toEqual(counted);

    for (const family of ['rpc_requests_in_progress', 'rpc_request_duration_seconds_count', 'rpc_exceptions_total']) {
      expect({ family, withinCap: findSamples(exp, family).length <= CAP + 1 }).toEqual({ family, withinCap: true });
    }
    expect(sumOf(exp, 'rpc_exceptions_total')).toBe(4);
    expect(findSamples(exp, 'rpc_requests_in_progress').filter(s => s.value !== 0)).toEqual([]);
  });
});

describe.each(ADAPTERS)('apps without microservice handlers (%s)', adapter => {
  it('an HTTP-only app has no rpc_* family', async () => {
    const { app } = await createHybrid(adapter, { controllers: [PingController] }, {}, false);
    await request(app.getHttpServer()).get('/ping').expect(200);
    const exp = await scrape(app);
    expect(sampleValue(exp, 'http_requests_total', { route: '/ping', status_code: '200' })).toBe(1);
    expect(families(exp, 'rpc_')).toEqual([]);
  });

  it('a connected microservice without handlers gives no rpc_* family', async () => {
    const { app } = await createHybrid(adapter, { controllers: [PingController] });
    await request(app.getHttpServer()).get('/ping').expect(200);
    const exp = await scrape(app);
    expect(sampleValue(exp, 'http_requests_total', { route: '/ping', status_code: '200' })).toBe(1);
    expect(families(exp, 'rpc_')).toEqual([]);
  });
});
