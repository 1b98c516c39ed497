import 'reflect-metadata';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Body,
  type CanActivate,
  Controller,
  type ExecutionContext,
  Get,
  type INestApplication,
  Param,
  Post,
  Query,
  UnauthorizedException,
  UseGuards,
} from '@nestjs/common';
import { Registry } from 'prom-client';
import { UNMATCHED_ROUTE } from '../lib/index.js';
import { ADAPTERS, type AdapterName, createApp, isolatedPrometheus } from './utils/app.js';
import { type Exposition, findSamples, parseExposition, sumOf } from './utils/exposition.js';
import { fastifyRefusesLongParameters } from './utils/versions.js';

/*
 * Hostile and broken input, and faults under load: nothing crashes the server, it keeps answering,
 * every response that reaches the app is counted once (with the status the client got), and the
 * scrape stays well-formed.
 */

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const REQUESTS = 'http_requests_total';
const IN_PROGRESS = 'http_requests_in_progress';
const TOKEN = 'faults-token';
const BODY_LIMIT = 1024;

/** Not an HttpException: Nest answers 500. */
class FaultsBoomError extends Error {}

class RejectAllGuard implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

/** 401 unless `Authorization: Bearer <TOKEN>`. */
class BearerGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>();
    if (req.headers.authorization !== `Bearer ${TOKEN}`) throw new UnauthorizedException();
    return true;
  }
}

@Controller('faults')
class FaultsController {
  @Get('ok')
  ok(): { ok: true } {
    return { ok: true };
  }

  @Post('echo')
  echo(@Body() body: unknown): unknown {
    return body;
  }

  /** What the router decoded from the path. */
  @Get('value/:value')
  value(@Param('value') value: string): { length: number; value: string } {
    return { length: value.length, value: value.slice(0, 64) };
  }

  @Get('boom')
  boom(): never {
    throw new FaultsBoomError('boom');
  }

  @Get('denied')
  @UseGuards(RejectAllGuard)
  denied(): string {
    return 'never';
  }

  @Get('private')
  @UseGuards(BearerGuard)
  private(): { secret: true } {
    return { secret: true };
  }

  @Get('slow')
  async slow(@Query('ms') ms: string): Promise<{ slept: number }> {
    await sleep(Number(ms));
    return { slept: Number(ms) };
  }
}

interface Started {
  app: INestApplication;
  port: number;
  server: http.Server;
}

async function start(adapter: AdapterName): Promise<Started> {
  const app = await createApp(
    adapter,
    { imports: [isolatedPrometheus(new Registry())], controllers: [FaultsController] },
    undefined,
    { bodyLimit: BODY_LIMIT },
  );
  await app.listen(0, '127.0.0.1');
  const server = app.getHttpServer() as http.Server;
  // Node closes a keep-alive socket after 5 s idle (Fastify after 72 s): on a busy machine the
  // client's agent could pick a socket just as the server closed it (ECONNRESET, not a fault of
  // the module). Longer than any test here, as Fastify has it.
  server.keepAliveTimeout = 72_000;
  return { app, server, port: (server.address() as AddressInfo).port };
}

// ---------------------------------------------------------------------------------------------
// Clients: Node's http client (agent or not), and a raw socket for what it refuses to send
// ---------------------------------------------------------------------------------------------

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function call(
  port: number,
  options: {
    method?: string;
    path: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    agent?: http.Agent;
  },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: options.headers,
        agent: options.agent ?? false,
      },
      res => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

interface RawExchange {
  /** Status of the first response on the connection, if any came. */
  status?: number;
  text: string;
  /** The server closed the connection (rather than the client giving up). */
  closedByServer: boolean;
}

/**
 * Writes bytes on a fresh TCP connection and reads until the server closes it, or until
 * `waitMs` passes (then the client closes it). Sends what Node's client would refuse to.
 */
function rawExchange(port: number, bytes: string | Buffer, waitMs = 3000): Promise<RawExchange> {
  return new Promise(resolve => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closedByServer = true;
    const timer = setTimeout(() => {
      closedByServer = false;
      socket.destroy();
    }, waitMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined); // a reset is a close; judged by what was read
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3}) /.exec(text);
      resolve({ status: m ? Number(m[1]) : undefined, text, closedByServer });
    });
    socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  });
}

/** A request line and headers, `Connection: close`, as raw latin1 bytes. */
function rawRequest(requestLine: string, headerLines: string[] = [], body = ''): string {
  return [requestLine, 'Host: 127.0.0.1', ...headerLines, 'Connection: close', '', body].join('\r\n');
}

// ---------------------------------------------------------------------------------------------
// Reading the metrics
// ---------------------------------------------------------------------------------------------

/** GETs /metrics over a socket and parses it strictly (throws on a malformed exposition). */
async function scrapeStrict(port: number, agent?: http.Agent): Promise<Exposition> {
  const reply = await call(port, { path: '/metrics', agent });
  if (reply.status !== 200) throw new Error(`/metrics answered ${reply.status}`);
  return parseExposition(reply.body);
}

function countsOf(exp: Exposition): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of findSamples(exp, REQUESTS))
    out.set(`${s.labels.method} ${s.labels.route} ${s.labels.status_code}`, s.value);
  return out;
}

/** What changed in `http_requests_total` between two scrapes, as `{ "METHOD route status": +n }`. */
function countDelta(before: Exposition, after: Exposition): Record<string, number> {
  const a = countsOf(before);
  const b = countsOf(after);
  const out: Record<string, number> = {};
  for (const [key, value] of b) {
    const d = value - (a.get(key) ?? 0);
    if (d !== 0) out[key] = d;
  }
  for (const [key, value] of a) if (!b.has(key)) out[key] = -value;
  return out;
}

/** Every label value of every sample, for "the raw URL never becomes a label". */
function allLabelValues(exp: Exposition): string[] {
  return exp.samples.flatMap(s => Object.values(s.labels));
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
// Load with faults: 10,000 requests, 100 in flight
// ---------------------------------------------------------------------------------------------

const LOAD_ID = 'x-faults-load-id';

interface Job {
  id: string;
  method: 'GET' | 'POST';
  path: string;
  route: string;
  /** Status the client must get, unless it aborts. */
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Abort this many ms after the request was written. */
  abortAfterMs?: number;
}

/** The mix, by index: success, 4xx (pipe-less 400 from JSON, 401, 403, 404), 5xx, client aborts. */
function job(i: number): Job {
  const id = `j${i}`;
  const k = i % 25;
  if (k < 7) return { id, method: 'GET', path: `/faults/ok?i=${i}`, route: '/faults/ok', status: 200 };
  if (k < 10) {
    const body = JSON.stringify({ i });
    return {
      id,
      method: 'POST',
      path: '/faults/echo',
      route: '/faults/echo',
      status: 201,
      body,
      headers: { 'content-type': 'application/json' },
    };
  }
  if (k === 10)
    return {
      id,
      method: 'POST',
      path: '/faults/echo',
      route: '/faults/echo',
      status: 400,
      body: '{"i":',
      headers: { 'content-type': 'application/json' },
    };
  if (k < 13) return { id, method: 'GET', path: `/faults/value/v${i}%20x`, route: '/faults/value/:value', status: 200 };
  if (k === 13) return { id, method: 'GET', path: `/faults/nowhere/${i}`, route: UNMATCHED_ROUTE, status: 404 };
  if (k === 14) return { id, method: 'GET', path: '/faults/boom', route: '/faults/boom', status: 500 };
  if (k === 15) return { id, method: 'GET', path: '/faults/denied', route: '/faults/denied', status: 403 };
  if (k === 16) return { id, method: 'GET', path: '/faults/private', route: '/faults/private', status: 401 };
  if (k === 17) {
    return {
      id,
      method: 'GET',
      path: '/faults/private',
      route: '/faults/private',
      status: 200,
      headers: { authorization: `Bearer ${TOKEN}` },
    };
  }
  if (k === 18 || k === 19) {
    // One in 25 requests: a slow one the client abandons after 3 ms.
    return {
      id,
      method: 'GET',
      path: '/faults/slow?ms=40',
      route: '/faults/slow',
      status: 200,
      abortAfterMs: k === 18 ? 3 : undefined,
    };
  }
  return { id, method: 'GET', path: `/faults/slow?ms=${i % 4}`, route: '/faults/slow', status: 200 };
}

type Result = { kind: 'answered'; status: number } | { kind: 'aborted' } | { kind: 'failed'; message: string };

function fire(port: number, agent: http.Agent, j: Job): Promise<Result> {
  return new Promise(resolve => {
    const controller = new AbortController();
    let result: Result | undefined;
    const finish = (r: Result) => {
      if (result === undefined) {
        result = r;
        resolve(r);
      }
    };
    const headers: Record<string, string> = { ...j.headers, [LOAD_ID]: j.id };
    if (j.body !== undefined) headers['content-length'] = String(Buffer.byteLength(j.body));
    const req = http.request(
      { host: '127.0.0.1', port, method: j.method, path: j.path, headers, agent, signal: controller.signal },
      res => {
        res.resume();
        res.on('end', () => finish({ kind: 'answered', status: res.statusCode ?? 0 }));
        res.on('error', e =>
          finish(controller.signal.aborted ? { kind: 'aborted' } : { kind: 'failed', message: e.message }),
        );
      },
    );
    req.on('error', e =>
      finish(controller.signal.aborted ? { kind: 'aborted' } : { kind: 'failed', message: e.message }),
    );
    if (j.abortAfterMs !== undefined) {
      req.on('finish', () => setTimeout(() => result === undefined && controller.abort(), j.abortAfterMs));
    }
    req.end(j.body);
  });
}

/** Keeps `width` jobs in flight until `total` have run. */
async function runAll<T>(total: number, width: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(total);
  let cursor = 0;
  async function lane(): Promise<void> {
    for (let i = cursor++; i < total; i = cursor++) out[i] = await task(i);
  }
  await Promise.all(Array.from({ length: width }, lane));
  return out;
}

/** What the server itself did with each load request: finished with a status, or closed unfinished (499). */
function watchServer(server: http.Server): { arrived: Set<string>; ended: Map<string, number> } {
  const arrived = new Set<string>();
  const ended = new Map<string, number>();
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const id = req.headers[LOAD_ID];
    if (typeof id !== 'string') return;
    arrived.add(id);
    res.once('close', () => ended.set(id, res.writableFinished ? res.statusCode : 499));
  });
  return { arrived, ended };
}

/** Counters and histogram samples that went down (or vanished) between two scrapes. */
function decreases(earlier: Exposition, later: Exposition): string[] {
  const key = (s: { name: string; labels: Record<string, string> }) =>
    `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`;
  const monotonic = (exp: Exposition) =>
    [...exp.families.values()].filter(f => f.type === 'counter' || f.type === 'histogram').flatMap(f => f.samples);
  const now = new Map(monotonic(later).map(s => [key(s), s.value]));
  return monotonic(earlier)
    .filter(s => !((now.get(key(s)) ?? -1) >= s.value))
    .map(s => `${key(s)}: ${s.value} -> ${now.get(key(s))}`);
}

describe.each(ADAPTERS)('faults under load on %s', adapter => {
  let started: Started | undefined;
  let agent: http.Agent | undefined;

  afterEach(async () => {
    agent?.destroy();
    await started?.app.close();
    started = undefined;
  });

  // 240 s: ~40 s on an idle 2-core machine, past 60 s on a busy one (its abandoned load then kept
  // the server from closing in afterEach).
  it('10,000 requests, 100 in flight, with 4xx, 5xx, guard rejections and aborts: every response counted once; concurrent scrapes parse and never decrease', async () => {
    const N = 10_000;
    started = await start(adapter);
    const { port, server } = started;
    const watched = watchServer(server);
    agent = new http.Agent({ keepAlive: true, maxSockets: 110 });
    const jobs = Array.from({ length: N }, (_, i) => job(i));

    const t0 = performance.now();
    let loadOver = false;
    const load = runAll(N, 100, async i => {
      const r = await fire(port, agent!, jobs[i]);
      return r;
    });
    // Scrapes during the load: a sequential chain, plus bursts of 10 concurrent ones.
    const chain: Exposition[] = [];
    const bursts: Exposition[][] = [];
    const scraping = (async () => {
      while (!loadOver) {
        chain.push(await scrapeStrict(port, agent));
        if (chain.length % 10 === 0)
          bursts.push(await Promise.all(Array.from({ length: 10 }, () => scrapeStrict(port, agent))));
      }
    })();
    const results = await load;
    loadOver = true;
    await scraping;
    const loadMs = performance.now() - t0;

    // Let the server notice the last aborted connections.
    let final = await scrapeStrict(port, agent);
    const deadline = Date.now() + 20_000;
    while ((watched.ended.size < watched.arrived.size || sumOf(final, IN_PROGRESS) !== 0) && Date.now() < deadline) {
      await sleep(20);
      final = await scrapeStrict(port, agent);
    }

    const failed = results.flatMap((r, i) => (r.kind === 'failed' ? [`${jobs[i].path}: ${r.message}`] : []));
    const wrong = results.flatMap((r, i) =>
      r.kind === 'answered' && r.status !== jobs[i].status ? [`${jobs[i].method} ${jobs[i].path}: ${r.status}`] : [],
    );
    const answered = results.filter(r => r.kind === 'answered').length;
    const aborted = results.filter(r => r.kind === 'aborted').length;
    const sent = [...watched.ended.values()].filter(s => s !== 499).length;
    const unfinished = [...watched.ended.values()].filter(s => s === 499).length;
    const expected: Record<string, number> = {};
    for (const j of jobs) {
      const status = watched.ended.get(j.id);
      if (status === undefined) continue;
      const key = `${j.method} ${j.route} ${status}`;
      expected[key] = (expected[key] ?? 0) + 1;
    }
    console.log(
      `[faults load ${adapter}] requests=${N} answered=${answered} aborted=${aborted} server sent=${sent} ` +
        `closed unfinished (499)=${unfinished} scrapes=${chain.length + bursts.length * 10} load=${Math.round(loadMs)}ms`,
    );

    expect(failed).toEqual([]);
    expect(wrong).toEqual([]);
    expect(answered + aborted).toBe(N);
    expect(aborted).toBeGreaterThan(0);
    expect(watched.ended.size).toBe(watched.arrived.size);
    // Every answered request was sent by the server; aborted ones may or may not have been finished.
    expect(sent).toBeGreaterThanOrEqual(answered);
    expect(sent + unfinished).toBe(watched.arrived.size);

    // The metrics: the responses the server sent, plus the aborts as 499, each exactly once.
    expect(sumOf(final, REQUESTS)).toBe(sent + unfinished);
    expect(sumOf(final, REQUESTS, { status_code: '499' })).toBe(unfinished);
    expect(Object.fromEntries(countsOf(final))).toEqual(expected);
    expect(sumOf(final, IN_PROGRESS)).toBe(0);
    expect(findSamples(final, IN_PROGRESS).filter(s => s.value !== 0)).toEqual([]);

    // Scrapes during the load: many, each parsed strictly (scrapeStrict throws otherwise), none decreasing.
    expect(chain.length).toBeGreaterThan(2);
    expect(bursts.length).toBeGreaterThan(0);
    const problems: string[] = [];
    for (let i = 1; i < chain.length; i++) problems.push(...decreases(chain[i - 1], chain[i]));
    problems.push(...decreases(chain[chain.length - 1], final));
    for (const burst of bursts) for (const exp of burst) problems.push(...decreases(exp, final));
    expect(problems.slice(0, 10)).toEqual([]);
  }, 240_000);
});

function sorted(record: Record<string, number>): [string, number][] {
  return Object.entries(record).sort(([a], [b]) => a.localeCompare(b));
}
