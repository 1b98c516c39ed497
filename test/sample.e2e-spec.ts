import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { type ClientProxy, ClientProxyFactory, Transport } from '@nestjs/microservices';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { register } from 'prom-client';
import { firstValueFrom } from 'rxjs';
import request from 'supertest';
import WebSocket from 'ws';
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

// `npm start` shows all four families: HTTP, microservice (TCP), WebSocket and GraphQL.
describe.each(ADAPTERS)('sample app on %s, every transport', adapter => {
  let app: INestApplication;
  let client: ClientProxy;
  let base: string;

  beforeAll(async () => {
    if (adapter === 'fastify') await allowMercurius();
    register.resetMetrics();
    const rpcPort = await freePort();
    app = await createSampleApp(adapter, { rpcPort });
    app.useLogger(false);
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
    base = `127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port: rpcPort } });
  });
  afterAll(async () => {
    await client.close();
    await app.close();
  });

  it('counts a microservice message and event, a WebSocket message and GraphQL root fields', async () => {
    expect(await firstValueFrom(client.send({ cmd: 'orders.total' }, [1, 2, 3]))).toBe(6);
    await firstValueFrom(client.emit('orders.shipped', { carrier: 'dhl' }));

    const ws = new WebSocket(`ws://${base}/ws`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const pong = new Promise<string>(resolve => ws.once('message', data => resolve((data as Buffer).toString())));
    ws.send(JSON.stringify({ event: 'ping', data: null }));
    expect(JSON.parse(await pong)).toMatchObject({ event: 'pong' });
    ws.close();

    const gql = await request(`http://${base}`)
      .post('/graphql')
      .send({ query: 'mutation { addProduct(name: "Mouse") { id } } ' })
      .expect(200);
    expect(gql.body.data.addProduct.id).toBeGreaterThan(0);
    await request(`http://${base}`).post('/graphql').send({ query: '{ products { name } }' }).expect(200);

    // The event and the disconnect arrive on their own time.
    let exp = parseExposition((await request(`http://${base}`).get('/metrics').expect(200)).text);
    // A deadline, not a number of tries: on a busy machine each try takes longer.
    const deadline = Date.now() + 20_000;
    while (
      Date.now() < deadline &&
      (sampleValue(exp, 'orders_shipped_total', { carrier: 'dhl' }) !== 1 || sumOf(exp, 'ws_connections') !== 0)
    ) {
      await new Promise(resolve => setTimeout(resolve, 20));
      exp = parseExposition((await request(`http://${base}`).get('/metrics').expect(200)).text);
    }
    const rpc = (pattern: string, kind: string) =>
      sampleValue(exp, 'rpc_requests_total', { pattern, kind, outcome: 'success' });
    expect(rpc('{"cmd":"orders.total"}', 'message')).toBe(1);
    expect(rpc('orders.shipped', 'event')).toBe(1);
    expect(sampleValue(exp, 'orders_shipped_total', { carrier: 'dhl' })).toBe(1);
    expect(
      sampleValue(exp, 'ws_messages_total', { gateway: 'NotificationsGateway', event: 'ping', outcome: 'success' }),
    ).toBe(1);
    expect(sampleValue(exp, 'ws_connections_opened_total', { gateway: 'NotificationsGateway' })).toBe(1);
    expect(sampleValue(exp, 'ws_connections', { gateway: 'NotificationsGateway' })).toBe(0);
    const gqlCount = (type: string, field: string) =>
      sampleValue(exp, 'graphql_requests_total', { operation_type: type, field, outcome: 'success' });
    expect(gqlCount('mutation', 'addProduct')).toBe(1);
    expect(gqlCount('query', 'products')).toBe(1);
    expect(sumOf(exp, 'http_requests_total', { method: 'POST', route: '/graphql' })).toBe(2);

    // OpenMetrics names a counter's family without `_total`: no family name may clash.
    const om = await request(`http://${base}`)
      .get('/metrics')
      .set('Accept', 'application/openmetrics-text; version=1.0.0')
      .expect(200);
    const families = parseExposition(om.text, 'openmetrics').families;
    expect(families.get('ws_connections')?.type).toBe('gauge');
    expect(families.get('ws_connections_opened')?.type).toBe('counter');
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
