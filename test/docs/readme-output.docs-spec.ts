// The README's output blocks: the sample app (`npm start`), sent exactly the requests the README
// names, must show every line the README shows.
import type { INestApplication } from '@nestjs/common';
import { type ClientProxy, ClientProxyFactory, Transport } from '@nestjs/microservices';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createServer, type AddressInfo } from 'node:net';
import { register } from 'prom-client';
import { firstValueFrom } from 'rxjs';
import request from 'supertest';
import WebSocket from 'ws';
import { createSampleApp } from '../../sample/create-sample-app.js';
import { ADAPTERS } from '../utils/app.js';
import { allowMercurius } from '../utils/mercurius.js';
import { expectScrapeToShow } from './readme-utils.js';

describe.each(ADAPTERS)('README output blocks, from the sample app on %s', adapter => {
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
    if (adapter === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port: rpcPort } });
  });
  afterAll(async () => {
    await client.close();
    await app.close();
  });

  it('Default HTTP metrics, method decorators and injectable metrics show what the README shows', async () => {
    await request(base).get('/api/v1/users/1').expect(200);
    await request(base).get('/api/v1/users/abc').expect(400);
    const order = (amount: number, headers: Record<string, string>) =>
      request(base).post('/api/v1/orders').set('x-api-key', 'sample').set(headers).send({ amount });
    await order(10, { 'x-client': 'web' }).expect(201);
    await order(5000, {}).expect(500);
    await request(base).get('/api/v1/orders/1').expect(200);
    await request(base).post('/api/v1/orders/3/refund').send({ reason: 'late' }).expect(201);

    const text = (await request(base).get('/metrics').expect(200)).text;
    expectScrapeToShow(text, 'sample-http-output');
    expectScrapeToShow(text, 'sample-decorators-output');
    expectScrapeToShow(text, 'sample-refunds-output');
  });

  it('Microservices, WebSockets, GraphQL show what the README shows', async () => {
    expect(await firstValueFrom(client.send({ cmd: 'orders.total' }, [1, 2, 3]))).toBe(6);
    await firstValueFrom(client.emit('orders.shipped', { carrier: 'dhl' }));
    const ws = new WebSocket(`${base.replace('http', 'ws')}/ws`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const answered = new Promise(resolve => ws.once('message', resolve));
    ws.send(JSON.stringify({ event: 'ping', data: null }));
    await answered;
    ws.close();
    const gql = await request(base)
      .post('/graphql')
      .send({ query: 'mutation { addProduct(name: "") { id } }' })
      .expect(200);
    expect(gql.body.errors).toHaveLength(1);

    // The event and the disconnect arrive on their own time: read until they have.
    const deadline = Date.now() + 10_000;
    let text: string;
    do {
      text = (await request(base).get('/metrics').expect(200)).text;
      if (
        text.includes('pattern="orders.shipped"') &&
        text.includes('ws_connections{gateway="NotificationsGateway",app="sample"} 0')
      )
        break;
      await new Promise(resolve => setTimeout(resolve, 20));
    } while (Date.now() < deadline);
    expectScrapeToShow(text, 'sample-transports-output');
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
