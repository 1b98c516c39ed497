import type { INestApplication } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { register } from 'prom-client';
import request from 'supertest';
import { createSampleApp } from '../sample/create-sample-app.js';
import { ADAPTERS } from './utils/app.js';
import { allowMercurius } from './utils/mercurius.js';
import { findSamples, parseExposition, sampleValue, sumOf } from './utils/exposition.js';

// The sample app serves prom-client's global registry, as a newcomer's app would.
describe.each(ADAPTERS)('sample app on %s', adapter => {
  let app: INestApplication;

  beforeAll(async () => {
    if (adapter === 'fastify') await allowMercurius();
    // Zeroed, not cleared: the sample registers a metric of its own when its module loads.
    register.resetMetrics();
    app = await createSampleApp(adapter);
    app.useLogger(false);
    await app.init();
    if (adapter === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  });
  afterAll(async () => {
    await app.close();
  });

  it('shows default HTTP metrics, decorator metrics, injected metrics and app_info on /metrics', async () => {
    const server = app.getHttpServer();
    await request(server).get('/api/v1/users/1').expect(200);
    await request(server).get('/api/v1/users/abc').expect(400);
    await request(server).get('/health').expect(200);
    await request(server).post('/api/v1/orders').send({ amount: 10 }).expect(401);
    await request(server)
      .post('/api/v1/orders')
      .set('x-api-key', 'sample')
      .set('x-client', 'web')
      .send({ amount: 10 })
      .expect(201);
    await request(server).post('/api/v1/orders').set('x-api-key', 'sample').send({ amount: 5000 }).expect(500);
    await request(server).post('/api/v1/orders/1/refund').send({ reason: 'late' }).expect(201);

    const res = await request(server).get('/metrics').expect(200);
    const exp = parseExposition(res.text);
    const http = (route: string, status: string) =>
      sampleValue(exp, 'http_requests_total', { route, status_code: status, app: 'sample' });
    expect(http('/api/v1/users/:id', '200')).toBe(1);
    expect(http('/api/v1/users/:id', '400')).toBe(1);
    expect(http('/api/v1/orders', '401')).toBe(1);
    expect(http('/api/v1/orders', '201')).toBe(1);
    expect(http('/api/v1/orders', '500')).toBe(1);
    expect(sumOf(exp, 'http_requests_total', { route: '/health' })).toBe(0);
    expect(sampleValue(exp, 'http_exceptions_total', { exception: 'PaymentDeclinedError' })).toBe(1);
    expect(sampleValue(exp, 'orders_service_calls_total', { outcome: 'ok' })).toBe(1);
    expect(sampleValue(exp, 'orders_service_calls_total', { outcome: 'error' })).toBe(1);
    expect(sampleValue(exp, 'orders_payment_seconds_count', { currency: 'EUR' })).toBe(2);
    expect(sampleValue(exp, 'orders_payments_in_progress')).toBe(0);
    expect(sampleValue(exp, 'orders_created_by_client_total', { client: 'web' })).toBe(1);
    expect(sampleValue(exp, 'orders_refunds_total', { reason: 'late' })).toBe(1);
    expect(sampleValue(exp, 'app_info', { version: '0.1.0' })).toBe(1);
    expect(exp.families.get('process_cpu_user_seconds_total')?.type).toBe('counter');

    // The payment provider stub, called with fetch: 200 for the order, 402 for the declined one.
    const client = (status: string) =>
      sumOf(exp, 'http_client_requests_total', { method: 'POST', status_code: status });
    expect(client('200')).toBe(1);
    expect(client('402')).toBe(1);
    expect(findSamples(exp, 'http_client_requests_total').every(s => /^127\.0\.0\.1:\d+$/.test(s.labels.host))).toBe(
      true,
    );
    // The http.observe callback: response bytes per route, from the module's measurements.
    expect(sampleValue(exp, 'http_response_bytes_total', { route: '/api/v1/orders/:id/refund' })).toBe(
      Buffer.byteLength(JSON.stringify({ refunded: true })),
    );
  });
});
