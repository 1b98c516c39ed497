import 'reflect-metadata';
import { setTimeout as sleep } from 'node:timers/promises';
import { UNMATCHED_ROUTE } from '../lib/index.js';
import { ADAPTERS } from './utils/app.js';
import { type Exposition, sumOf } from './utils/exposition.js';
import { fastifyRefusesLongParameters } from './utils/versions.js';
import {
  allLabelValues,
  BODY_LIMIT,
  call,
  countDelta,
  IN_PROGRESS,
  rawExchange,
  rawRequest,
  scrapeStrict,
  start,
  type Started,
} from './utils/faults.js';

/*
 * Hostile and broken input, one case at a time: nothing crashes the server, it keeps answering,
 * every response that reaches the app is counted once (with the status the client got), and the
 * scrape stays well-formed. Faults under load are in faults-load.e2e-spec.ts.
 */

// ---------------------------------------------------------------------------------------------
// Reading the metrics
// ---------------------------------------------------------------------------------------------

function sorted(record: Record<string, number>): [string, number][] {
  return Object.entries(record).sort(([a], [b]) => a.localeCompare(b));
}

// ---------------------------------------------------------------------------------------------
// Malformed input, one case at a time
// ---------------------------------------------------------------------------------------------

describe.each(ADAPTERS)('malformed input on %s', adapter => {
  let started: Started;
  let port: number;

  beforeAll(async () => {
    started = await start(adapter);
    port = started.port;
  });

  afterAll(async () => {
    await started.app.close();
  });

  /**
   * Runs `action`, then waits (up to 3 s) for the counters to move by `expected` (the server may
   * count a closed connection a moment after the client gave up), and checks that they moved by
   * exactly that. Then: the server still answers, and the scrape still parses strictly.
   */
  async function expectCounted<T>(action: () => Promise<T>, expected: Record<string, number>): Promise<T> {
    const before = await scrapeStrict(port);
    const result = await action();
    const deadline = Date.now() + 20_000;
    let after = await scrapeStrict(port);
    while (
      JSON.stringify(sorted(countDelta(before, after))) !== JSON.stringify(sorted(expected)) &&
      Date.now() < deadline
    ) {
      await sleep(20);
      after = await scrapeStrict(port);
    }
    // A last look after a pause: nothing counted late, twice, or elsewhere.
    await sleep(50);
    after = await scrapeStrict(port);
    expect(countDelta(before, after)).toEqual(expected);
    expect(sumOf(after, IN_PROGRESS)).toBe(0);
    await expectAlive();
    return result;
  }

  async function expectAlive(): Promise<void> {
    const reply = await call(port, { path: '/faults/ok' });
    expect({ status: reply.status, body: reply.body }).toEqual({ status: 200, body: '{"ok":true}' });
  }

  it('invalid JSON body: 400, counted under the route it was POSTed to', async () => {
    const reply = await expectCounted(
      () =>
        call(port, {
          method: 'POST',
          path: '/faults/echo',
          headers: { 'content-type': 'application/json' },
          body: '{"a":',
        }),
      { 'POST /faults/echo 400': 1 },
    );
    expect(reply.status).toBe(400);
  });

  it('body over the limit: 413, counted under its route', async () => {
    const body = JSON.stringify({ pad: 'x'.repeat(64 * BODY_LIMIT) });
    const reply = await expectCounted(
      () => call(port, { method: 'POST', path: '/faults/echo', headers: { 'content-type': 'application/json' }, body }),
      { 'POST /faults/echo 413': 1 },
    );
    expect(reply.status).toBe(413);
  });

  it('body shorter than its Content-Length, client gives up: 499 under its route', async () => {
    const bytes = rawRequest(
      'POST /faults/echo HTTP/1.1',
      ['Content-Type: application/json', 'Content-Length: 100'],
      '{"a":',
    );
    const exchange = await expectCounted(() => rawExchange(port, bytes, 200), { 'POST /faults/echo 499': 1 });
    expect(exchange).toEqual({ status: undefined, text: '', closedByServer: false });
  });

  it('unknown HTTP method over a raw socket: 400 from Node, the app never sees it', async () => {
    const exchange = await expectCounted(() => rawExchange(port, rawRequest('FOO /faults/ok HTTP/1.1')), {});
    expect(exchange.status).toBe(400);
    expect(exchange.closedByServer).toBe(true);
  });

  it('a method Node parses but no route has (PROPFIND): 404 under the unmatched route', async () => {
    const exchange = await expectCounted(() => rawExchange(port, rawRequest('PROPFIND /faults/ok HTTP/1.1')), {
      [`PROPFIND ${UNMATCHED_ROUTE} 404`]: 1,
    });
    expect(exchange.status).toBe(404);
  });

  it.each([
    ['SOH', '\x01'],
    ['NUL', '\x00'],
    ['DEL', '\x7f'],
    ['bare CR', '\r'],
  ])('header value with a control character (%s): 400 from Node, nothing counted', async (_name, char) => {
    const exchange = await expectCounted(
      () => rawExchange(port, rawRequest('GET /faults/ok HTTP/1.1', [`X-Hostile: a${char}b`])),
      {},
    );
    expect(exchange.status).toBe(400);
    expect(exchange.closedByServer).toBe(true);
  });

  it('header value with bytes above 0x7F (obs-text) reaches the app: 200, counted', async () => {
    const exchange = await expectCounted(
      () => rawExchange(port, rawRequest('GET /faults/ok HTTP/1.1', ['X-Latin: caf\xe9 \xff\x80'])),
      { 'GET /faults/ok 200': 1 },
    );
    expect(exchange.status).toBe(200);
  });

  it('control character in the request target: 400 from Node, nothing counted', async () => {
    const exchange = await expectCounted(() => rawExchange(port, rawRequest('GET /faults/value/a\x01b HTTP/1.1')), {});
    expect(exchange.status).toBe(400);
  });

  it("header section over Node's limit: 431, nothing counted", async () => {
    const exchange = await expectCounted(
      () => rawExchange(port, rawRequest('GET /faults/ok HTTP/1.1', [`X-Big: ${'a'.repeat(20 * 1024)}`])),
      {},
    );
    expect(exchange.status).toBe(431);
  });

  it('bytes that are not HTTP: 400 from Node, nothing counted', async () => {
    const exchange = await expectCounted(() => rawExchange(port, Buffer.from([0, 1, 2, 3, 0xff, 13, 10, 13, 10])), {});
    expect(exchange.status).toBe(400);
  });

  it('percent-encoded path: the handler gets the decoded value, counted under the route template', async () => {
    const encoded = '%E4%BD%A0%20%22q%22%5C%0A%F0%9F%98%80';
    const reply = await expectCounted(() => call(port, { path: `/faults/value/${encoded}` }), {
      'GET /faults/value/:value 200': 1,
    });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toEqual({ length: '你 "q"\\\n😀'.length, value: '你 "q"\\\n😀' });
    const values = allLabelValues(await scrapeStrict(port));
    expect(values.filter(v => v.includes('%E4') || v.includes('你'))).toEqual([]);
  });

  it('8 KB query string on a route: 200, counted under the route, the URL is no label', async () => {
    const q = 'q'.repeat(8 * 1024);
    const reply = await expectCounted(() => call(port, { path: `/faults/ok?x=${q}&y=%ZZ` }), {
      'GET /faults/ok 200': 1,
    });
    expect(reply.status).toBe(200);
    expect(allLabelValues(await scrapeStrict(port)).filter(v => v.includes('qqqq'))).toEqual([]);
  });

  it('8 KB path matching no route: 404 under the unmatched route, the URL is no label', async () => {
    const path = `/${'b'.repeat(8 * 1024)}`;
    const reply = await expectCounted(() => call(port, { path }), { [`GET ${UNMATCHED_ROUTE} 404`]: 1 });
    expect(reply.status).toBe(404);
    expect(allLabelValues(await scrapeStrict(port)).filter(v => v.includes('bbbb'))).toEqual([]);
  });

  // Fastify's router (5.4 and later) refuses parameters over `maxParamLength` (100) with 414
  // itself, before any hook. Older Fastify (4 on NestJS 10, 5.3 on NestJS 11.0) finds no route
  // for them: Nest's not-found handler answers 404.
  const oldFastify = adapter === 'fastify' && !fastifyRefusesLongParameters();
  const longParamStatus = adapter === 'express' ? 200 : oldFastify ? 404 : 414;

  it(`8 KB path parameter: ${longParamStatus}, counted once`, async () => {
    const before = await scrapeStrict(port);
    const reply = await call(port, { path: `/faults/value/${'a'.repeat(8 * 1024)}` });
    expect(reply.status).toBe(longParamStatus);
    if (longParamStatus === 200) expect(JSON.parse(reply.body)).toEqual({ length: 8 * 1024, value: 'a'.repeat(64) });
    await expectCountedOnce(before, 'GET', oldFastify ? UNMATCHED_ROUTE : '/faults/value/:value', longParamStatus);
  });

  it('bad percent-encoding in a path parameter: 400, counted once, the server survives', async () => {
    const before = await scrapeStrict(port);
    const reply = await call(port, { path: '/faults/value/%E0%A4%A' });
    expect(reply.status).toBe(400);
    await expectCountedOnce(before, 'GET', '/faults/value/:value', 400);
  });

  // Express looks for a route first (none: 404); Fastify's router rejects the URL (400).
  const badUnmatchedStatus = adapter === 'express' ? 404 : 400;

  it(`bad percent-encoding in a path that matches no route: ${badUnmatchedStatus}, counted once`, async () => {
    const before = await scrapeStrict(port);
    const reply = await call(port, { path: '/%E0%A4%A/%' });
    expect(reply.status).toBe(badUnmatchedStatus);
    await expectCountedOnce(before, 'GET', UNMATCHED_ROUTE, badUnmatchedStatus);
  });

  it('bad percent-encoding in the query string: the route answers 200, counted', async () => {
    const reply = await expectCounted(() => call(port, { path: '/faults/ok?a=%E0%A4%A&b=%&%ZZ=1' }), {
      'GET /faults/ok 200': 1,
    });
    expect(reply.status).toBe(200);
  });

  /**
   * For responses a router sends itself before any route is known (a path it cannot decode,
   * Fastify's parameter-length limit), the route may only be the unmatched one. Either way:
   * counted exactly once, with the status the client got.
   */
  async function expectCountedOnce(before: Exposition, method: string, route: string, status: number): Promise<void> {
    const routes = status >= 400 ? [route, UNMATCHED_ROUTE] : [route];
    const deadline = Date.now() + 20_000;
    let delta = countDelta(before, await scrapeStrict(port));
    while (Object.keys(delta).length === 0 && Date.now() < deadline) {
      await sleep(20);
      delta = countDelta(before, await scrapeStrict(port));
    }
    await sleep(50);
    delta = countDelta(before, await scrapeStrict(port));
    const keys = Object.keys(delta);
    expect({ keys: keys.length, total: Object.values(delta).reduce((a, b) => a + b, 0) }).toEqual({
      keys: 1,
      total: 1,
    });
    expect(routes.map(r => `${method} ${r} ${status}`)).toContain(keys[0]);
    await expectAlive();
  }
});

// ---------------------------------------------------------------------------------------------
