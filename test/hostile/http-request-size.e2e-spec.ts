import 'reflect-metadata';
import { Body, Controller, Get, type INestApplication, Post } from '@nestjs/common';
import { Registry } from 'prom-client';
import request from 'supertest';
import { PrometheusModule } from '../../lib/index.js';
import { ADAPTERS, createApp, scrape } from '../utils/app.js';
import { sampleValue, sumOf } from '../utils/exposition.js';
import { portOf, rawExchange, until } from './support.js';

/*
 * Issue 19, item 7: http_request_size_bytes recorded the declared Content-Length even when no
 * body arrived: one GET declaring 18446744073709551615 set the sum to 1.8e19 for the life of the
 * process. What is recorded can never be more than the bytes the connection actually carried.
 */

const HUGE = '18446744073709551615';

@Controller('size')
class SizeController {
  @Get('get')
  get(): string {
    return 'ok';
  }

  @Post('echo')
  echo(@Body() body: unknown): unknown {
    return body;
  }
}

describe.each(ADAPTERS)('request size from a declared Content-Length (%s)', adapter => {
  let app: INestApplication;
  beforeEach(async () => {
    app = await createApp(adapter, {
      imports: [PrometheusModule.forRoot({ registry: new Registry(), defaultMetrics: { enabled: false } })],
      controllers: [SizeController],
    });
    await app.listen(0, '127.0.0.1');
  });
  afterEach(() => app.close());

  /** The request's count and sum in http_request_size_bytes, once it was counted. */
  async function recordedSize(method: string, route: string): Promise<{ count?: number; sum?: number }> {
    const labels = { method, route };
    const exp = await until(
      () => scrape(app),
      e => sumOf(e, 'http_requests_total', labels) > 0,
    );
    return {
      count: sampleValue(exp, 'http_request_size_bytes_count', labels),
      sum: sampleValue(exp, 'http_request_size_bytes_sum', labels),
    };
  }

  it(`a GET declaring Content-Length ${HUGE} with no body records at most the bytes sent`, async () => {
    const bytes = `GET /size/get HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${HUGE}\r\n\r\n`;
    await rawExchange(portOf(app), bytes, 500);
    const { count, sum } = await recordedSize('GET', '/size/get');
    expect(count).toBe(1);
    expect(sum).toBeLessThanOrEqual(bytes.length);
  });

  it('a POST declaring 1 MB that sends 5 bytes and gives up records at most the bytes sent', async () => {
    const bytes =
      'POST /size/echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
      'Content-Length: 1000000\r\n\r\n{"a":';
    await rawExchange(portOf(app), bytes, 500);
    const { count, sum } = await recordedSize('POST', '/size/echo');
    expect(count).toBe(1);
    expect(sum).toBeLessThanOrEqual(bytes.length);
  });

  it('a body received whole records its length', async () => {
    const body = JSON.stringify({ pad: 'x'.repeat(1000) });
    await request(app.getHttpServer())
      .post('/size/echo')
      .set('content-type', 'application/json')
      .send(body)
      .expect(201);
    const { count, sum } = await recordedSize('POST', '/size/echo');
    expect(count).toBe(1);
    expect(sum).toBe(Buffer.byteLength(body));
  });

  // The size is read from the raw header lines (issue 21: Node builds req.headers only on demand).
  it('a body framed by an upper-case CONTENT-LENGTH among other headers records its length', async () => {
    const body = '{"a":1}';
    const bytes =
      'POST /size/echo HTTP/1.1\r\nHost: localhost\r\nX-Padding: content-length\r\n' +
      `Content-Type: application/json\r\nCONTENT-LENGTH: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
    const reply = await rawExchange(portOf(app), bytes);
    expect(reply.status).toBe(201);
    const { count, sum } = await recordedSize('POST', '/size/echo');
    expect(count).toBe(1);
    expect(sum).toBe(body.length);
  });

  it('a GET without Content-Length records 0', async () => {
    await request(app.getHttpServer()).get('/size/get').set('x-content-length', '99').expect(200);
    const { count, sum } = await recordedSize('GET', '/size/get');
    expect(count).toBe(1);
    expect(sum).toBe(0);
  });
});
