import 'reflect-metadata';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type ArgumentsHost,
  Body,
  type CanActivate,
  Catch,
  ConflictException,
  Controller,
  Delete,
  type ExceptionFilter,
  Get,
  HttpCode,
  type INestApplication,
  NotFoundException,
  Param,
  ParseIntPipe,
  Post,
  Redirect,
  Res,
  StreamableFile,
  UnauthorizedException,
  UseFilters,
  UseGuards,
  VersioningType,
  type ModuleMetadata,
} from '@nestjs/common';
import { Registry } from 'prom-client';
import { of, throwError, type Observable } from 'rxjs';
import request from 'supertest';
import { DoNotTrack, PrometheusModule, UNMATCHED_ROUTE } from '../lib/index.js';
import { ADAPTERS, createApp, scrape, type AdapterName } from './utils/app.js';
import { type Exposition, findSamples, sampleValue, sumOf } from './utils/exposition.js';

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

class PaymentError extends Error {}
class MaintenanceError extends Error {}

/** What Express's `res` and Fastify's `reply` have in common. */
interface ResLike {
  status(code: number): ResLike;
  send(body?: unknown): unknown;
}

class DenyGuard implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

class UnauthorizedGuard implements CanActivate {
  canActivate(): boolean {
    throw new UnauthorizedException();
  }
}

class ExplodingGuard implements CanActivate {
  canActivate(): boolean {
    throw new PaymentError('guard failed');
  }
}

@Catch(PaymentError)
class TeapotFilter implements ExceptionFilter {
  catch(_error: PaymentError, host: ArgumentsHost): void {
    host.switchToHttp().getResponse<ResLike>().status(418).send({ teapot: true });
  }
}

@Catch(MaintenanceError)
class MaintenanceFilter implements ExceptionFilter {
  catch(_error: MaintenanceError, host: ArgumentsHost): void {
    host.switchToHttp().getResponse<ResLike>().status(503).send({ maintenance: true });
  }
}

/** A response written on Node's own response: Express's `res` is one, Fastify's reply has it as `raw`. */
type RawWritable = { raw?: http.ServerResponse } & http.ServerResponse;

@Controller('raw')
class RawResponseController {
  @Get('end')
  end(@Res() res: RawWritable): void {
    (res.raw ?? res).end('four');
  }

  @Get('chunked')
  chunked(@Res() res: RawWritable): void {
    const raw = res.raw ?? res;
    raw.write('ab');
    raw.end('cd');
  }
}

/** Lets a test hold a handler until it says so. */
class Gate {
  private markStarted!: () => void;
  private markReleased!: () => void;
  readonly started = new Promise<void>(resolve => (this.markStarted = resolve));
  readonly released = new Promise<void>(resolve => (this.markReleased = resolve));
  finished = false;
  enter(): void {
    this.markStarted();
  }
  release(): void {
    this.markReleased();
  }
}
let gate = new Gate();

@Controller('items')
class ItemsController {
  @Get(':id')
  get(@Param('id', ParseIntPipe) id: number): { id: number } {
    if (id === 0) throw new NotFoundException('no item 0');
    return { id };
  }

  @Delete(':id')
  @HttpCode(204)
  remove(@Param('id', ParseIntPipe) _id: number): void {}
}

@Controller('misc')
class MiscController {
  @Post('echo')
  @HttpCode(201)
  echo(@Body() body: unknown): unknown {
    return body;
  }

  @Get('redirect')
  @Redirect('https://example.com/', 302)
  redirect(): void {}

  @Get('passthrough')
  passthrough(@Res({ passthrough: true }) res: ResLike): { passthrough: boolean } {
    res.status(202);
    return { passthrough: true };
  }

  @Get('manual')
  manual(@Res() res: ResLike): void {
    res.status(203).send({ manual: true });
  }

  @Get('file')
  file(): StreamableFile {
    return new StreamableFile(Buffer.from('hello file'));
  }

  @Get('conflict')
  conflict(): never {
    throw new ConflictException();
  }

  @Get('payment')
  payment(): never {
    throw new PaymentError('declined');
  }

  @Get('teapot')
  @UseFilters(new TeapotFilter())
  teapot(): never {
    throw new PaymentError('declined');
  }

  @Get('maintenance')
  maintenance(): never {
    throw new MaintenanceError('down');
  }

  @Get('observable')
  observable(): Observable<{ observed: boolean }> {
    return of({ observed: true });
  }

  @Get('observable-error')
  observableError(): Observable<never> {
    return throwError(() => new PaymentError('observed'));
  }

  @Get('denied')
  @UseGuards(DenyGuard)
  denied(): string {
    return 'unreachable';
  }

  @Get('unauthorized')
  @UseGuards(UnauthorizedGuard)
  unauthorized(): string {
    return 'unreachable';
  }

  @Get('guard-error')
  @UseGuards(ExplodingGuard)
  guardError(): string {
    return 'unreachable';
  }

  @Get('slow')
  async slow(): Promise<{ slow: boolean }> {
    const g = gate;
    g.enter();
    await g.released;
    g.finished = true;
    return { slow: true };
  }

  @Get('untracked')
  @DoNotTrack()
  untracked(): { untracked: boolean } {
    return { untracked: true };
  }

  @Get('untracked-denied')
  @DoNotTrack()
  @UseGuards(DenyGuard)
  untrackedDenied(): string {
    return 'unreachable';
  }
}

@DoNotTrack()
@Controller('hidden')
class HiddenController {
  @Get('a')
  a(): { hidden: boolean } {
    return { hidden: true };
  }

  @Get('denied')
  @UseGuards(DenyGuard)
  denied(): string {
    return 'unreachable';
  }

  @Post('echo')
  echo(@Body() body: unknown): unknown {
    return body;
  }
}

@DoNotTrack()
@UseGuards(DenyGuard)
@Controller('locked')
class LockedController {
  @Get()
  get(): string {
    return 'unreachable';
  }
}

@Controller({ path: 'users', version: '1' })
class UsersV1Controller {
  @Get(':id')
  get(@Param('id', ParseIntPipe) id: number): { id: number } {
    return { id };
  }

  @Post()
  create(@Body() body: unknown): unknown {
    return body;
  }
}

@DoNotTrack()
@UseGuards(DenyGuard)
@Controller({ path: 'admin', version: '1' })
class AdminV1Controller {
  @Get(':id')
  get(): string {
    return 'unreachable';
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const REQUESTS = 'http_requests_total';
const DURATION = 'http_request_duration_seconds';
const IN_PROGRESS = 'http_requests_in_progress';
const EXCEPTIONS = 'http_exceptions_total';
const REQUEST_SIZE = 'http_request_size_bytes';
const RESPONSE_SIZE = 'http_response_size_bytes';

function metricsModule(): ModuleMetadata['imports'] {
  return [PrometheusModule.forRoot({ registry: new Registry(), defaultMetrics: { enabled: false } })];
}

const ALL_CONTROLLERS = [ItemsController, MiscController, HiddenController, LockedController];

/** A fresh app (own registry) listening on 127.0.0.1, so concurrent and aborted requests work. */
async function startApp(
  adapter: AdapterName,
  configure?: (app: INestApplication) => void,
  options: { bodyLimit?: number; controllers?: ModuleMetadata['controllers'] } = {},
): Promise<INestApplication> {
  const app = await createApp(
    adapter,
    { imports: metricsModule(), controllers: options.controllers ?? ALL_CONTROLLERS },
    configure,
    { bodyLimit: options.bodyLimit },
  );
  await app.listen(0, '127.0.0.1');
  return app;
}

function portOf(app: INestApplication): number {
  return ((app.getHttpServer() as http.Server).address() as AddressInfo).port;
}

/** `http_requests_total` as `{ "METHOD route status": value }`, checking the label names. */
function requestCounts(exp: Exposition): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of findSamples(exp, REQUESTS)) {
    expect(Object.keys(s.labels).sort()).toEqual(['method', 'route', 'status_code']);
    out[`${s.labels.method} ${s.labels.route} ${s.labels.status_code}`] = s.value;
  }
  return out;
}

/** `http_exceptions_total` as `{ "METHOD route ErrorClass": value }`, checking the label names. */
function exceptionCounts(exp: Exposition): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of findSamples(exp, EXCEPTIONS)) {
    expect(Object.keys(s.labels).sort()).toEqual(['exception', 'method', 'route']);
    out[`${s.labels.method} ${s.labels.route} ${s.labels.exception}`] = s.value;
  }
  return out;
}

/** `http_requests_in_progress` as `{ "METHOD route": value }`. */
function inProgress(exp: Exposition): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of findSamples(exp, IN_PROGRESS)) {
    expect(Object.keys(s.labels).sort()).toEqual(['method', 'route']);
    out[`${s.labels.method} ${s.labels.route}`] = s.value;
  }
  return out;
}

/**
 * For every `http_requests_total` series: the duration histogram has the same count (and +Inf
 * bucket) and a positive sum; and no request is left in progress unless `allowInProgress`.
 */
function expectConsistent(exp: Exposition, allowInProgress = false): void {
  const requests = findSamples(exp, REQUESTS);
  expect(findSamples(exp, `${DURATION}_count`)).toHaveLength(requests.length);
  for (const s of requests) {
    const labels = s.labels;
    expect({ labels, count: sampleValue(exp, `${DURATION}_count`, labels) }).toEqual({ labels, count: s.value });
    expect({ labels, inf: sampleValue(exp, `${DURATION}_bucket`, { ...labels, le: '+Inf' }) }).toEqual({
      labels,
      inf: s.value,
    });
    expect(sampleValue(exp, `${DURATION}_sum`, labels)).toBeGreaterThan(0);
  }
  if (!allowInProgress) {
    for (const [series, value] of Object.entries(inProgress(exp)))
      expect({ series, value }).toEqual({ series, value: 0 });
  }
}

/** No sample of any HTTP metric mentions one of these routes. */
function expectNoRoute(exp: Exposition, routes: string[]): void {
  const offending = exp.samples
    .filter(s => s.name.startsWith('http_') && routes.includes(s.labels.route))
    .map(s => `${s.name}${JSON.stringify(s.labels)}`);
  expect(offending).toEqual([]);
}

async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise(resolve => setTimeout(resolve, 10));
  }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe.each(ADAPTERS)('HTTP metrics on %s', adapter => {
  let app: INestApplication | undefined;
  let server: http.Server;

  async function start(
    configure?: (app: INestApplication) => void,
    options?: { bodyLimit?: number; controllers?: ModuleMetadata['controllers'] },
  ): Promise<void> {
    app = await startApp(adapter, configure, options);
    server = app.getHttpServer() as http.Server;
  }

  beforeEach(() => {
    gate = new Gate();
  });

  afterEach(async () => {
    gate.release();
    await app?.close();
    app = undefined;
  });

  it('exports UNMATCHED_ROUTE as "__unmatched__"', () => {
    expect(UNMATCHED_ROUTE).toBe('__unmatched__');
  });

  it('counts handler successes with their true status (200, 201, 204, 302, passthrough, @Res(), StreamableFile, Observable)', async () => {
    await start();
    await request(server).get('/items/7').expect(200, { id: 7 });
    await request(server).get('/items/8').expect(200);
    await request(server).post('/misc/echo').send({ a: 1 }).expect(201, { a: 1 });
    await request(server).delete('/items/3').expect(204);
    await request(server).get('/misc/redirect').expect(302).expect('location', 'https://example.com/');
    await request(server).get('/misc/passthrough').expect(202, { passthrough: true });
    await request(server).get('/misc/manual').expect(203, { manual: true });
    const file = await request(server).get('/misc/file').buffer(true).expect(200);
    expect(Buffer.from(file.body as Buffer).toString()).toBe('hello file');
    await request(server).get('/misc/observable').expect(200, { observed: true });

    const exp = await scrape(app!);
    expect(requestCounts(exp)).toEqual({
      'GET /items/:id 200': 2,
      'POST /misc/echo 201': 1,
      'DELETE /items/:id 204': 1,
      'GET /misc/redirect 302': 1,
      'GET /misc/passthrough 202': 1,
      'GET /misc/manual 203': 1,
      'GET /misc/file 200': 1,
      'GET /misc/observable 200': 1,
    });
    expect(exceptionCounts(exp)).toEqual({});
    expectConsistent(exp);
  });

  it('counts HttpExceptions thrown by a handler under the route, not as unmatched', async () => {
    await start();
    await request(server).get('/items/0').expect(404);
    await request(server).get('/misc/conflict').expect(409);
    await request(server).get('/items/abc').expect(400); // ParseIntPipe
    await request(server).delete('/items/abc').expect(400);

    const exp = await scrape(app!);
    expect(requestCounts(exp)).toEqual({
      'GET /items/:id 404': 1,
      'GET /items/:id 400': 1,
      'GET /misc/conflict 409': 1,
      'DELETE /items/:id 400': 1,
    });
    // HttpExceptions below 500 are not unhandled errors.
    expect(exceptionCounts(exp)).toEqual({});
    expectConsistent(exp);
  });

  it('counts HEAD requests on a GET route under that route, with method HEAD', async () => {
    await start();
    await request(server).head('/items/5').expect(200);
    await request(server).head('/items/5').expect(200);
    await request(server).get('/items/5').expect(200);

    const exp = await scrape(app!);
    expect(requestCounts(exp)).toEqual({ 'HEAD /items/:id 200': 2, 'GET /items/:id 200': 1 });
    expectConsistent(exp);
  });

  it('counts unknown errors as 500 with the error class in http_exceptions_total', async () => {
    await start();
    await request(server).get('/misc/payment').expect(500);
    await request(server).get('/misc/payment').expect(500);
    await request(server).get('/misc/observable-error').expect(500);

    const exp = await scrape(app!);
    expect(requestCounts(exp)).toEqual({
      'GET /misc/payment 500': 2,
      'GET /misc/observable-error 500': 1,
    });
    expect(exceptionCounts(exp)).toEqual({
      'GET /misc/payment PaymentError': 2,
      'GET /misc/observable-error PaymentError': 1,
    });
    expectConsistent(exp);
  });

  it('counts the status an exception filter sets (@UseFilters 418, global filter 503)', async () => {
    await start(app => app.useGlobalFilters(new MaintenanceFilter()));
    await request(server).get('/misc/teapot').expect(418, { teapot: true });
    await request(server).get('/misc/maintenance').expect(503, { maintenance: true });
    await request(server).get('/misc/maintenance').expect(503);

    const exp = await scrape(app!);
    expect(requestCounts(exp)).toEqual({
      'GET /misc/teapot 418': 1,
      'GET /misc/maintenance 503': 2,
    });
    expect(exceptionCounts(exp)).toEqual({ 'GET /misc/maintenance MaintenanceError': 2 });
    expectConsistent(exp);
  });

  it('counts guard rejections under the route (false -> 403, UnauthorizedException -> 401)', async () => {
    await start();
    await request(server).get('/misc/denied').expect(403);
    await request(server).get('/misc/denied').expect(403);
    await request(server).get('/misc/unauthorized').expect(401);

    const exp = await scrape(app!);
    expect(requestCounts(exp)).toEqual({
      'GET /misc/denied 403': 2,
      'GET /misc/unauthorized 401': 1,
    });
    expect(exceptionCounts(exp)).toEqual({});
    expectConsistent(exp);
  });

  it('counts an unknown error thrown by a guard as 500 with its class in http_exceptions_total', async () => {
    await start();
    await request(server).get('/misc/guard-error').expect(500);

    const exp = await scrape(app!);
    expect(requestCounts(exp)).toEqual({ 'GET /misc/guard-error 500': 1 });
    expect(exceptionCounts(exp)).toEqual({ 'GET /misc/guard-error PaymentError': 1 });
    expectConsistent(exp);
  });

  it('counts a malformed JSON body as 400 under the route template the POST was for', async () => {
    await start();
    await request(server).post('/misc/echo').set('content-type', 'application/json').send('{"bad').expect(400);
    await request(server).post('/misc/echo').send({ ok: true }).expect(201);

    const exp = await scrape(app!);
    expect(requestCounts(exp)).toEqual({
      'POST /misc/echo 400': 1,
      'POST /misc/echo 201': 1,
    });
    expectConsistent(exp);
  });

  it('counts a body over the limit as 413 under the route template', async () => {
    await start(undefined, { bodyLimit: 100 });
    const big = { data: 'x'.repeat(300) };
    await request(server).post('/misc/echo').send(big).expect(413);
    await request(server).post('/misc/echo').send({ small: 1 }).expect(201);

    const exp = await scrape(app!);
    expect(requestCounts(exp)).toEqual({
      'POST /misc/echo 413': 1,
      'POST /misc/echo 201': 1,
    });
    expectConsistent(exp);
  });

  it('counts requests that match no route as 404 under __unmatched__', async () => {
    await start();
    await request(server).get('/nope').expect(404);
    await request(server).get('/nope/deeper/1?x=1').expect(404);
    await request(server).post('/nope').send({ a: 1 }).expect(404);

    const exp = await scrape(app!);
    expect(requestCounts(exp)).toEqual({
      [`GET ${UNMATCHED_ROUTE} 404`]: 2,
      [`POST ${UNMATCHED_ROUTE} 404`]: 1,
    });
    expectConsistent(exp);
  });

  it('never counts the metrics endpoint', async () => {
    await start();
    await scrape(app!);
    await scrape(app!);
    await request(server).get('/items/1').expect(200);
    const exp = await scrape(app!);
    expect(requestCounts(exp)).toEqual({ 'GET /items/:id 200': 1 });
    expectNoRoute(exp, ['/metrics']);
    expectConsistent(exp);
  });

  it('leaves @DoNotTrack() methods uncounted, also when their guard rejects', async () => {
    await start();
    await request(server).get('/misc/untracked').expect(200, { untracked: true });
    await request(server).get('/misc/untracked-denied').expect(403);
    await request(server).get('/items/1').expect(200);

    const exp = await scrape(app!);
    expect(requestCounts(exp)).toEqual({ 'GET /items/:id 200': 1 });
    expectNoRoute(exp, ['/misc/untracked', '/misc/untracked-denied']);
    expectConsistent(exp);
  });

  it('leaves every route of a @DoNotTrack() controller uncounted, including guard rejections and bad bodies', async () => {
    await start();
    await request(server).get('/hidden/a').expect(200, { hidden: true });
    await request(server).get('/hidden/denied').expect(403);
    await request(server).get('/locked').expect(403);
    await request(server).post('/hidden/echo').set('content-type', 'application/json').send('{"bad').expect(400);
    await request(server).get('/items/1').expect(200);

    const exp = await scrape(app!);
    expect(requestCounts(exp)).toEqual({ 'GET /items/:id 200': 1 });
    expectNoRoute(exp, ['/hidden/a', '/hidden/denied', '/locked', '/hidden/echo']);
    expectConsistent(exp);
  });

  it('records request and response sizes from Content-Length', async () => {
    await start();
    const body = JSON.stringify({ hello: 'world', n: 12345 });
    const res = await request(server).post('/misc/echo').set('content-type', 'application/json').send(body).expect(201);
    const responseLength = Number(res.headers['content-length']);
    expect(responseLength).toBe(Buffer.byteLength(body));

    const exp = await scrape(app!);
    const labels = { method: 'POST', route: '/misc/echo' };
    expect(sampleValue(exp, `${REQUEST_SIZE}_count`, labels)).toBe(1);
    expect(sampleValue(exp, `${REQUEST_SIZE}_sum`, labels)).toBe(Buffer.byteLength(body));
    expect(sampleValue(exp, `${RESPONSE_SIZE}_count`, labels)).toBe(1);
    expect(sampleValue(exp, `${RESPONSE_SIZE}_sum`, labels)).toBe(responseLength);
  });

  it('records the Content-Length Node adds to a body sent whole on the raw response, and 0 for a chunked one', async () => {
    await start(undefined, { controllers: [RawResponseController] });
    const whole = await request(server).get('/raw/end').expect(200);
    expect(whole.text).toBe('four');
    expect(whole.headers['content-length']).toBe('4');
    const chunked = await request(server).get('/raw/chunked').expect(200);
    expect(chunked.text).toBe('abcd');
    expect(chunked.headers['content-length']).toBeUndefined();

    const exp = await scrape(app!);
    expect(sampleValue(exp, `${RESPONSE_SIZE}_count`, { method: 'GET', route: '/raw/end' })).toBe(1);
    expect(sampleValue(exp, `${RESPONSE_SIZE}_sum`, { method: 'GET', route: '/raw/end' })).toBe(4);
    expect(sampleValue(exp, `${RESPONSE_SIZE}_count`, { method: 'GET', route: '/raw/chunked' })).toBe(1);
    expect(sampleValue(exp, `${RESPONSE_SIZE}_sum`, { method: 'GET', route: '/raw/chunked' })).toBe(0);
  });

  it('shows a running handler in http_requests_in_progress, and 0 once it answered', async () => {
    await start();
    const pending = request(server)
      .get('/misc/slow')
      .then(res => res);
    await gate.started;

    let exp = await scrape(app!);
    expect(inProgress(exp)).toEqual({ 'GET /misc/slow': 1 });
    expect(requestCounts(exp)).toEqual({});

    gate.release();
    const res = await pending;
    expect(res.status).toBe(200);
    exp = await scrape(app!);
    expect(inProgress(exp)).toEqual({ 'GET /misc/slow': 0 });
    expect(requestCounts(exp)).toEqual({ 'GET /misc/slow 200': 1 });
    expectConsistent(exp);
  });

  it('counts a client that disconnects before the response as 499 and brings in-progress back to 0', async () => {
    await start();
    const req = http.request({ host: '127.0.0.1', port: portOf(app!), path: '/misc/slow', method: 'GET' });
    const clientError = new Promise<Error>(resolve => req.on('error', resolve));
    req.end();
    await gate.started;

    expect(inProgress(await scrape(app!))).toEqual({ 'GET /misc/slow': 1 });

    req.destroy();
    await clientError;
    let exp = await until(
      () => scrape(app!),
      e => sumOf(e, REQUESTS) > 0,
    );
    expect(requestCounts(exp)).toEqual({ 'GET /misc/slow 499': 1 });
    expect(inProgress(exp)).toEqual({ 'GET /misc/slow': 0 });
    expectConsistent(exp);

    // The handler finishing later must not count the request a second time.
    gate.release();
    await until(
      async () => gate.finished,
      finished => finished,
    );
    await new Promise(resolve => setTimeout(resolve, 20));
    exp = await scrape(app!);
    expect(requestCounts(exp)).toEqual({ 'GET /misc/slow 499': 1 });
    expect(inProgress(exp)).toEqual({ 'GET /misc/slow': 0 });
  });

  it('labels routes with global prefix and URI version; serves metrics at /api/metrics', async () => {
    await start(
      app => {
        app.setGlobalPrefix('api');
        app.enableVersioning({ type: VersioningType.URI });
      },
      { controllers: [UsersV1Controller, AdminV1Controller] },
    );
    await request(server).get('/api/v1/admin/1').expect(403); // @DoNotTrack() controller
    await request(server).get('/api/v1/users/7').expect(200, { id: 7 });
    await request(server).get('/api/v1/users/8').expect(200);
    await request(server).get('/api/v1/users/abc').expect(400);
    await request(server).post('/api/v1/users').send({ name: 'ada' }).expect(201);
    await request(server).post('/api/v1/users').set('content-type', 'application/json').send('{"bad').expect(400);
    await request(server).get('/metrics').expect(404); // outside the prefix: no route there

    const exp = await scrape(app!, '/api/metrics');
    expect(requestCounts(exp)).toEqual({
      'GET /api/v1/users/:id 200': 2,
      'GET /api/v1/users/:id 400': 1,
      'POST /api/v1/users 201': 1,
      'POST /api/v1/users 400': 1,
      [`GET ${UNMATCHED_ROUTE} 404`]: 1,
    });
    expectNoRoute(exp, ['/api/metrics', '/metrics', '/api/v1/admin/:id']);
    expectConsistent(exp);
  });

  it('counts requests under the global prefix that match no route as 404 under __unmatched__', async () => {
    await start(
      app => {
        app.setGlobalPrefix('api');
        app.enableVersioning({ type: VersioningType.URI });
      },
      { controllers: [UsersV1Controller] },
    );
    await request(server).get('/api/v2/users/7').expect(404); // unknown version
    await request(server).get('/api/nope').expect(404);
    await request(server).post('/api/v1/users/7').send({ a: 1 }).expect(404); // no POST route there
    await request(server).get('/outside').expect(404);
    await request(server).get('/api/v1/users/1').expect(200);

    const exp = await scrape(app!, '/api/metrics');
    expect(requestCounts(exp)).toEqual({
      'GET /api/v1/users/:id 200': 1,
      [`GET ${UNMATCHED_ROUTE} 404`]: 3,
      [`POST ${UNMATCHED_ROUTE} 404`]: 1,
    });
    expectConsistent(exp);
  });

  it('counts 200 concurrent requests exactly, per route and status', async () => {
    await start();
    const plan: [path: string, status: number, times: number][] = [
      ['/items/1', 200, 60],
      ['/items/abc', 400, 30],
      ['/items/0', 404, 20],
      ['/nope', 404, 25],
      ['/misc/payment', 500, 25],
      ['/misc/denied', 403, 20],
      ['/misc/observable', 200, 20],
    ];
    const jobs: Promise<void>[] = [];
    for (const [path, status, times] of plan) {
      for (let i = 0; i < times; i++) {
        jobs.push(
          request(server)
            .get(path)
            .then(res => expect(`${path} ${res.status}`).toBe(`${path} ${status}`)),
        );
      }
    }
    expect(jobs).toHaveLength(200);
    await Promise.all(jobs);

    const exp = await scrape(app!);
    expect(sumOf(exp, REQUESTS)).toBe(200);
    expect(requestCounts(exp)).toEqual({
      'GET /items/:id 200': 60,
      'GET /items/:id 400': 30,
      'GET /items/:id 404': 20,
      [`GET ${UNMATCHED_ROUTE} 404`]: 25,
      'GET /misc/payment 500': 25,
      'GET /misc/denied 403': 20,
      'GET /misc/observable 200': 20,
    });
    expect(sumOf(exp, REQUESTS, { status_code: '200' })).toBe(80);
    expect(sumOf(exp, REQUESTS, { status_code: '404' })).toBe(45);
    expect(exceptionCounts(exp)).toEqual({ 'GET /misc/payment PaymentError': 25 });
    expect(sumOf(exp, `${DURATION}_count`)).toBe(200);
    expectConsistent(exp);
  });
});
