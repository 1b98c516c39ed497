import 'reflect-metadata';
import net from 'node:net';
import { Body, Controller, Get, type INestApplication, Post } from '@nestjs/common';
import { Registry } from 'prom-client';
import { PrometheusModule } from '../../lib/index.js';
import { ADAPTERS, createApp, scrape } from '../utils/app.js';
import { sumOf } from '../utils/exposition.js';
import { countsBy, portOf, until } from './support.js';

/*
 * Issue 19, item 3: HTTP/1.1 pipelining. Node answers pipelined requests in order: the responses
 * queued behind the first have no socket yet, and when the client closes the connection they emit
 * neither `finish` nor `close` (their requests do emit `close`). They were never counted and stayed
 * in progress for good. Each must be counted once, as 499, and released.
 */

const CONNECTIONS = 20;
const PIPELINED = 10;

/** Holds every handler until released. */
let release: () => void = () => undefined;
let released = new Promise<void>(resolve => (release = resolve));

@Controller('pipe')
class PipeController {
  @Get('hold/:i')
  async hold(): Promise<string> {
    await released;
    return 'done';
  }

  @Get('fast/:i')
  fast(): string {
    return 'fast';
  }

  @Post('echo/:i')
  async echo(@Body() body: unknown): Promise<unknown> {
    // Answered after the request's body was read (and the request closed).
    await new Promise(resolve => setTimeout(resolve, 5));
    return body;
  }
}

/** Opens a connection and writes `count` pipelined GETs in one go. */
function pipeline(port: number, path: string, count: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      let text = '';
      for (let i = 0; i < count; i++) text += `GET ${path}/${i} HTTP/1.1\r\nHost: localhost\r\n\r\n`;
      socket.write(text);
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

describe.each(ADAPTERS)('pipelined requests on a connection that closes (%s)', adapter => {
  let app: INestApplication;
  beforeEach(async () => {
    released = new Promise<void>(resolve => (release = resolve));
    app = await createApp(adapter, {
      imports: [PrometheusModule.forRoot({ registry: new Registry(), defaultMetrics: { enabled: false } })],
      controllers: [PipeController],
    });
    await app.listen(0, '127.0.0.1');
  });
  afterEach(async () => {
    release();
    await app.close();
  });

  it(`${CONNECTIONS} connections x ${PIPELINED} held requests, closed: each counted 499 once, none left in progress`, async () => {
    const port = portOf(app);
    const sockets = await Promise.all(
      Array.from({ length: CONNECTIONS }, () => pipeline(port, '/pipe/hold', PIPELINED)),
    );
    const all = CONNECTIONS * PIPELINED;
    // Every handler is running: all requests are in progress.
    let exp = await until(
      () => scrape(app),
      e => sumOf(e, 'http_requests_in_progress') === all,
    );
    expect(sumOf(exp, 'http_requests_in_progress')).toBe(all);

    for (const socket of sockets) socket.destroy();
    exp = await until(
      () => scrape(app),
      e => sumOf(e, 'http_requests_total') >= all && sumOf(e, 'http_requests_in_progress') === 0,
    );
    expect(countsBy(exp, 'http_requests_total')).toEqual({ 'GET /pipe/hold/:i 499': all });
    expect(countsBy(exp, 'http_requests_in_progress')).toEqual({ 'GET /pipe/hold/:i': 0 });

    // The handlers finishing afterwards count nothing a second time.
    release();
    await new Promise(resolve => setTimeout(resolve, 100));
    exp = await scrape(app);
    expect(countsBy(exp, 'http_requests_total')).toEqual({ 'GET /pipe/hold/:i 499': all });
    expect(countsBy(exp, 'http_requests_in_progress')).toEqual({ 'GET /pipe/hold/:i': 0 });
  });

  it('pipelined requests that are all answered are each counted once with their status', async () => {
    const port = portOf(app);
    const socket = await pipeline(port, '/pipe/fast', PIPELINED);
    let received = '';
    socket.on('data', chunk => (received += String(chunk)));
    await until(
      async () => received.split('HTTP/1.1 200').length - 1,
      n => n === PIPELINED,
    );
    socket.destroy();
    const exp = await until(
      () => scrape(app),
      e => sumOf(e, 'http_requests_total') >= PIPELINED,
    );
    expect(countsBy(exp, 'http_requests_total')).toEqual({ 'GET /pipe/fast/:i 200': PIPELINED });
    expect(countsBy(exp, 'http_requests_in_progress')).toEqual({ 'GET /pipe/fast/:i': 0 });
  });

  it('pipelined POSTs, whose requests close before their responses, are counted with their status', async () => {
    const port = portOf(app);
    const body = '{"a":1}';
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => {
        let text = '';
        for (let i = 0; i < PIPELINED; i++) {
          text +=
            `POST /pipe/echo/${i} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
            `Content-Length: ${body.length}\r\n\r\n${body}`;
        }
        s.write(text);
        resolve(s);
      });
      s.on('error', reject);
    });
    let received = '';
    socket.on('data', chunk => (received += String(chunk)));
    await until(
      async () => received.split('HTTP/1.1 201').length - 1,
      n => n === PIPELINED,
    );
    const exp = await until(
      () => scrape(app),
      e => sumOf(e, 'http_requests_total') >= PIPELINED,
    );
    socket.destroy();
    expect(countsBy(exp, 'http_requests_total')).toEqual({ 'POST /pipe/echo/:i 201': PIPELINED });
    expect(countsBy(exp, 'http_requests_in_progress')).toEqual({ 'POST /pipe/echo/:i': 0 });
  });
});
