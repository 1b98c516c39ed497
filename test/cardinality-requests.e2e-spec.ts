import 'reflect-metadata';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  Body,
  Controller,
  Get,
  Headers,
  type INestApplication,
  type INestApplicationContext,
  Injectable,
  type LoggerService,
  type ModuleMetadata,
  NotFoundException,
  Param,
  Post,
} from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import { Counter, type PrometheusModuleOptions, UNMATCHED_ROUTE } from '../lib/index.js';
import { ADAPTERS, type AdapterName, readRegistry } from './utils/app.js';
import {
  type Exposition,
  findSamples,
  parseExposition,
  type ParsedSample,
  sampleValue,
  sumOf,
} from './utils/exposition.js';
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

/** An HTTP app on `adapter`, logging into `logger`, listening on 127.0.0.1. */
async function createLoggedApp(
  adapter: AdapterName,
  metadata: ModuleMetadata,
  logger: LoggerService,
): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  const app =
    adapter === 'express'
      ? moduleRef.createNestApplication(new ExpressAdapter(), { logger })
      : moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger });
  await app.init();
  await app.listen(0, '127.0.0.1');
  return app;
}

function portOf(app: INestApplication): number {
  return ((app.getHttpServer() as http.Server).address() as AddressInfo).port;
}

interface Reply {
  status: number;
  bytes: Buffer;
}

function send(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, res => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** GETs /metrics over a socket: the body must be valid UTF-8 and parse strictly. */
async function scrapeOver(port: number): Promise<Exposition> {
  const reply = await send(port, 'GET', '/metrics');
  expect(reply.status).toBe(200);
  const text = new TextDecoder('utf-8', { fatal: true }).decode(reply.bytes);
  return parseExposition(text);
}

/** Lone surrogates become U+FFFD once the text is encoded as UTF-8 (what a scraper receives). */
function wellFormed(value: string): string {
  return value.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

// ---------------------------------------------------------------------------------------------
// Default HTTP metrics under a tiny cap, and decorator labels from requests (both adapters)
// ---------------------------------------------------------------------------------------------

@Controller('card')
class CardController {
  @Get('a')
  a(): string {
    return 'a';
  }

  @Get('b')
  b(): string {
    return 'b';
  }

  @Get('missing')
  missing(): never {
    throw new NotFoundException();
  }

  @Post('echo')
  echo(@Body() body: unknown): unknown {
    return body;
  }

  @Get('boom')
  boom(): never {
    throw new Error('boom');
  }

  /** A label from the request's path: one series per id, until the cap. */
  @Get('users/:id')
  @Counter({ name: 'card_user_requests_total', help: HELP, labels: { user: ctx => String(ctx.args[0]) } })
  user(@Param('id') id: string): { id: string } {
    return { id };
  }

  /** A label from a request header, as sent. */
  @Get('client')
  @Counter({
    name: 'card_client_requests_total',
    help: HELP,
    labels: {
      client: ctx => (ctx.request as { headers: Record<string, string | undefined> }).headers['x-client'] ?? 'none',
    },
  })
  client(@Headers('x-client') client: string | undefined): { client: string | null } {
    return { client: client ?? null };
  }
}

interface Step {
  method: 'GET' | 'POST';
  path: string;
  route: string;
  status: number;
  body?: string;
}

const STEPS: Record<string, Step> = {
  a: { method: 'GET', path: '/card/a', route: '/card/a', status: 200 },
  b: { method: 'GET', path: '/card/b', route: '/card/b', status: 200 },
  missing: { method: 'GET', path: '/card/missing', route: '/card/missing', status: 404 },
  echo: { method: 'POST', path: '/card/echo', route: '/card/echo', status: 201, body: '{"x":1}' },
  badJson: { method: 'POST', path: '/card/echo', route: '/card/echo', status: 400, body: '{"x' },
  boom: { method: 'GET', path: '/card/boom', route: '/card/boom', status: 500 },
  nowhere: { method: 'GET', path: '/card/nowhere', route: UNMATCHED_ROUTE, status: 404 },
};

describe.each(ADAPTERS)('maxSeriesPerMetric on the default HTTP metrics (%s)', adapter => {
  let app: INestApplication | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('cap 3 with 7 route/status pairs: the first 3 stay exact, the rest share one all-__overflow__ series, no request fails', async () => {
    const CAP = 3;
    const registry = new Registry();
    const logger = new CapturingLogger();
    app = await createLoggedApp(
      adapter,
      { imports: [prometheus(registry, { maxSeriesPerMetric: CAP })], controllers: [CardController] },
      logger,
    );
    const port = portOf(app);
    const order = [
      'a',
      'b',
      'a',
      'missing',
      'echo',
      'badJson',
      'boom',
      'a',
      'nowhere',
      'b',
      'echo',
      'missing',
      'boom',
      'nowhere',
      'a',
    ];

    // Sequential, so that the order in which label sets appear is known.
    const statuses: string[] = [];
    for (const name of order) {
      const step = STEPS[name];
      const headers: Record<string, string> = step.body === undefined ? {} : { 'content-type': 'application/json' };
      const reply = await send(port, step.method, step.path, headers, step.body);
      statuses.push(`${name} ${reply.status}`);
    }
    expect(statuses).toEqual(order.map(name => `${name} ${STEPS[name].status}`));

    const exp = await scrapeOver(port);
    const keys = order.map(name => `${STEPS[name].method} ${STEPS[name].route} ${STEPS[name].status}`);
    const model = admissionModel(keys, CAP);
    const counted = findSamples(exp, 'http_requests_total');
    expect(counted).toHaveLength(CAP + 1);
    expect(sumOf(exp, 'http_requests_total')).toBe(order.length);
    const exact = Object.fromEntries(
      counted
        .filter(s => !isOverflow(s.labels))
        .map(s => [`${s.labels.method} ${s.labels.route} ${s.labels.status_code}`, s.value]),
    );
    expect(exact).toEqual(Object.fromEntries(model.admitted));
    expect(sampleValue(exp, 'http_requests_total', { method: OVERFLOW, route: OVERFLOW, status_code: OVERFLOW })).toBe(
      model.overflow,
    );
    expect(sampleValue(exp, OVERFLOW_TOTAL, { metric: 'http_requests_total' })).toBe(model.overflow);

    // The duration histogram admits the same label sets: its counts match, its overflow keeps its buckets.
    for (const s of counted)
      expect({ labels: s.labels, count: sampleValue(exp, 'http_request_duration_seconds_count', s.labels) }).toEqual({
        labels: s.labels,
        count: s.value,
      });
    const overflowBuckets = findSamples(exp, 'http_request_duration_seconds_bucket', {
      method: OVERFLOW,
      route: OVERFLOW,
      status_code: OVERFLOW,
    });
    expect(overflowBuckets.length).toBeGreaterThan(1);
    expect(overflowBuckets.find(b => b.labels.le === '+Inf')?.value).toBe(model.overflow);
    expect(sampleValue(exp, OVERFLOW_TOTAL, { metric: 'http_request_duration_seconds' })).toBe(model.overflow);

    // Every HTTP metric: at most cap + 1 label sets, the extra one all __overflow__; nothing left in progress.
    for (const family of [
      'http_requests_total',
      'http_request_duration_seconds',
      'http_requests_in_progress',
      'http_request_size_bytes',
      'http_response_size_bytes',
      'http_exceptions_total',
    ]) {
      const sets = labelSets(exp, family).map(s => Object.fromEntries(JSON.parse(s) as [string, string][]));
      expect({ family, over: sets.length > CAP + 1 }).toEqual({ family, over: false });
      expect({ family, partial: sets.filter(l => Object.values(l).includes(OVERFLOW) && !isOverflow(l)) }).toEqual({
        family,
        partial: [],
      });
    }
    expect(findSamples(exp, 'http_requests_in_progress').filter(s => s.value !== 0)).toEqual([]);
    // Histograms' overflow series count exactly what was diverted into them.
    for (const family of ['http_request_size_bytes', 'http_response_size_bytes']) {
      const overflowCount = findSamples(exp, `${family}_count`).filter(s => isOverflow(s.labels));
      const diverted = sampleValue(exp, OVERFLOW_TOTAL, { metric: family }) ?? 0;
      expect({ family, count: overflowCount.reduce((a, s) => a + s.value, 0) }).toEqual({ family, count: diverted });
    }
    expect(logger.warningsAbout('http_requests_total')).toHaveLength(1);

    // The server keeps answering, and series admitted before keep counting exactly.
    expect((await send(port, 'GET', '/card/a')).status).toBe(200);
    const after = await scrapeOver(port);
    expect(sampleValue(after, 'http_requests_total', { method: 'GET', route: '/card/a', status_code: '200' })).toBe(
      model.admitted.get('GET /card/a 200')! + 1,
    );
    expect(logger.warningsAbout('http_requests_total')).toHaveLength(1);
  });

  it('a decorator label from the path past the cap: cap + 1 series, their sum equals the requests', async () => {
    const CAP = 20;
    const registry = new Registry();
    const logger = new CapturingLogger();
    app = await createLoggedApp(
      adapter,
      { imports: [prometheus(registry, { maxSeriesPerMetric: CAP })], controllers: [CardController] },
      logger,
    );
    const port = portOf(app);
    const ids = Array.from({ length: 60 }, (_, i) => `id${i}`).concat(['id0', 'id1', 'id59']);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    try {
      const statuses = await Promise.all(
        ids.map(
          id =>
            new Promise<number>((resolve, reject) =>
              http
                .get({ host: '127.0.0.1', port, path: `/card/users/${id}`, agent }, res => {
                  res.resume();
                  res.on('end', () => resolve(res.statusCode ?? 0));
                })
                .on('error', reject),
            ),
        ),
      );
      expect(statuses.filter(s => s !== 200)).toEqual([]);
    } finally {
      agent.destroy();
    }
    const exp = await scrapeOver(port);
    const samples = findSamples(exp, 'card_user_requests_total');
    expect(samples).toHaveLength(CAP + 1);
    expect(sumOf(exp, 'card_user_requests_total')).toBe(ids.length);
    const overflow = sampleValue(exp, 'card_user_requests_total', { user: OVERFLOW })!;
    expect(sampleValue(exp, OVERFLOW_TOTAL, { metric: 'card_user_requests_total' })).toBe(overflow);
    // Concurrent requests: which ids got in is not fixed, but each admitted id counts all its requests.
    for (const s of samples.filter(x => !isOverflow(x.labels))) {
      expect({ user: s.labels.user, value: s.value }).toEqual({
        user: s.labels.user,
        value: ids.filter(id => id === s.labels.user).length,
      });
    }
    expect(overflow).toBe(ids.length - samples.filter(x => !isOverflow(x.labels)).reduce((a, s) => a + s.value, 0));
    // HTTP metrics: one route, never the raw path.
    expect(findSamples(exp, 'http_requests_total').map(s => s.labels.route)).toEqual(['/card/users/:id']);
    expect(logger.warningsAbout('card_user_requests_total')).toHaveLength(1);
  });

  it('hostile header values as label values: truncated to 128, escaped, and the scrape parses', async () => {
    const registry = new Registry();
    app = await createLoggedApp(
      adapter,
      { imports: [prometheus(registry)], controllers: [CardController] },
      new CapturingLogger(),
    );
    const port = portOf(app);
    const values = [
      'quote " and \\ backslash',
      '\\',
      'trailing\\',
      '"',
      'x'.repeat(1000),
      `caf\u00e9 ${'y'.repeat(200)}`,
      '{}=,',
    ];
    for (const v of values) {
      const reply = await send(port, 'GET', '/card/client', { 'x-client': v });
      expect(reply.status).toBe(200);
    }
    const exp = await scrapeOver(port);
    const got = findSamples(exp, 'card_client_requests_total')
      .map(s => s.labels.client)
      .sort();
    // Headers reach the app as latin1: "é" arrives as the one char \u00e9.
    expect(got).toEqual(values.map(v => v.slice(0, 128)).sort());
  });
});

// ---------------------------------------------------------------------------------------------
// maxLabelValueLength and hostile label values
// ---------------------------------------------------------------------------------------------

@Injectable()
class LabelsService {
  @Counter({ name: 'card_label_values_total', help: HELP, labels: { value: ctx => ctx.args[0] as string } })
  record(value: string): string {
    return value;
  }
}

describe('maxLabelValueLength', () => {
  let ctx: INestApplicationContext | undefined;

  afterEach(async () => {
    await ctx?.close();
    ctx = undefined;
  });

  async function recorded(options: PrometheusModuleOptions, values: string[]): Promise<ParsedSample[]> {
    const registry = new Registry();
    ctx = await createLoggedContext(
      { imports: [prometheus(registry, options)], providers: [LabelsService] },
      new CapturingLogger(),
    );
    const service = ctx.get(LabelsService);
    for (const v of values) expect(service.record(v)).toBe(v); // the method sees the full value
    return findSamples(await readRegistry(registry), 'card_label_values_total');
  }

  it('truncates a 1000-character value to 128 by default; 128 stays whole, 129 loses one', async () => {
    const long = Array.from({ length: 1000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
    const exactly = 'e'.repeat(128);
    const oneMore = `${'f'.repeat(128)}!`;
    const samples = await recorded({}, [long, exactly, oneMore]);
    expect(samples.map(s => s.labels.value).sort()).toEqual([long.slice(0, 128), exactly, 'f'.repeat(128)].sort());
    expect(samples.every(s => s.labels.value.length <= 128)).toBe(true);
  });

  it('values that differ only after the cut share one series', async () => {
    const head = 'h'.repeat(200);
    const samples = await recorded({}, [`${head}-one`, `${head}-two`, `${head}-three`]);
    expect(samples.map(s => [s.labels.value, s.value])).toEqual([['h'.repeat(128), 3]]);
  });

  it('a custom maxLabelValueLength: 10', async () => {
    const samples = await recorded({ maxLabelValueLength: 10 }, ['0123456789abcdef', 'short', '0123456789']);
    expect(samples.map(s => [s.labels.value, s.value]).sort()).toEqual(
      [
        ['0123456789', 2],
        ['short', 1],
      ].sort(),
    );
  });

  it('never splits a surrogate pair at the cut', async () => {
    const split = `${'a'.repeat(9)}\u{1F600}tail`; // the pair is at 9-10: a cut at 10 would split it
    const whole = `${'b'.repeat(8)}\u{1F600}tail`; // the pair is at 8-9: it fits
    const samples = await recorded({ maxLabelValueLength: 10 }, [split, whole]);
    const values = samples.map(s => s.labels.value).sort();
    expect(values).toEqual(['a'.repeat(9), `${'b'.repeat(8)}\u{1F600}`].sort());
    for (const v of values) expect(/[\uD800-\uDBFF]$/.test(v)).toBe(false);
  });

  it.each([
    ['0', 0],
    ['Infinity', Infinity],
  ])('maxLabelValueLength: %s keeps values whole', async (_name, off) => {
    const long = 'z'.repeat(1000);
    const samples = await recorded({ maxLabelValueLength: off }, [long]);
    expect(samples.map(s => s.labels.value)).toEqual([long]);
  });
});

describe.each(ADAPTERS)('hostile label values in the scrape (%s)', adapter => {
  let app: INestApplication | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('quotes, backslashes, newlines, lone surrogates and control characters: valid UTF-8, strict parse, values round-trip', async () => {
    const registry = new Registry();
    app = await createLoggedApp(
      adapter,
      { imports: [prometheus(registry)], providers: [LabelsService], controllers: [] },
      new CapturingLogger(),
    );
    const service = app.get(LabelsService);
    const hostile = [
      'say "hi"',
      'back\\slash',
      '\\',
      'ends with \\',
      '\\n is not a newline',
      'line\nbreak',
      '\n',
      'cr\rlf\r\n',
      'lone high \uD800 surrogate',
      '\uD800',
      'lone low \uDC00',
      `pair \u{1F600} ok`,
      'nul\u0000 bel\u0007 esc\u001b del\u007f tab\t',
      '} # {le="1"} 5',
      '',
      `"${'\\'.repeat(200)}"`, // truncated to 128 chars: cut inside a run of backslashes
    ];
    for (const v of hostile) service.record(v);

    const exp = await scrapeOver(portOf(app));
    const got = findSamples(exp, 'card_label_values_total')
      .map(s => s.labels.value)
      .sort();
    expect(got).toEqual(hostile.map(v => wellFormed(v.slice(0, 128))).sort());
    expect(sumOf(exp, 'card_label_values_total')).toBe(hostile.length);
    // The same from the registry directly (before any UTF-8 encoding): parses strictly too.
    const direct = findSamples(await readRegistry(registry), 'card_label_values_total')
      .map(s => s.labels.value)
      .sort();
    expect(direct).toEqual(hostile.map(v => v.slice(0, 128)).sort());
  });

  it('a label value from a percent-encoded path with a newline and quotes: escaped in the scrape', async () => {
    const registry = new Registry();
    app = await createLoggedApp(
      adapter,
      { imports: [prometheus(registry)], controllers: [CardController] },
      new CapturingLogger(),
    );
    const port = portOf(app);
    const reply = await send(port, 'GET', `/card/users/${encodeURIComponent('a"b\\c\nd\u0001e')}`);
    expect(reply.status).toBe(200);
    const exp = await scrapeOver(port);
    expect(findSamples(exp, 'card_user_requests_total').map(s => [s.labels.user, s.value])).toEqual([
      ['a"b\\c\nd\u0001e', 1],
    ]);
  });
});
