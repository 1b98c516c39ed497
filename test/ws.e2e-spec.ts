import 'reflect-metadata';
import net from 'node:net';
import { Controller, Get, type INestApplication, type ModuleMetadata } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { WsAdapter } from '@nestjs/platform-ws';
import { Test } from '@nestjs/testing';
import {
  BaseWsExceptionFilter,
  MessageBody,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  SubscribeMessage,
  WebSocketGateway,
  WsException,
  type WsResponse,
} from '@nestjs/websockets';
import { Registry } from 'prom-client';
import request from 'supertest';
import WebSocket from 'ws';
import { Counter, DoNotTrack, type PrometheusModuleOptions, PrometheusModule } from '../lib/index.js';
import { ADAPTERS, type AdapterName, scrape } from './utils/app.js';
import { type Exposition, findSamples, sampleValue, sumOf } from './utils/exposition.js';
import { freePort, scrapeUntil, sleep, until } from './utils/wait.js';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const HOST = '127.0.0.1';
const OVERFLOW = '__overflow__';
/** Clients per test. */
const N = 3;

interface Frame {
  event: string;
  data: unknown;
}

/** A real `ws` client that queues what the server sends. */
class Client {
  private readonly frames: Frame[] = [];
  private readonly waiting: ((frame: Frame) => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', raw => {
      const frame = JSON.parse((raw as Buffer).toString()) as Frame;
      const waiter = this.waiting.shift();
      if (waiter) waiter(frame);
      else this.frames.push(frame);
    });
  }

  static async connect(url: string): Promise<Client> {
    const socket = new WebSocket(url);
    openSockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return new Client(socket);
  }

  /** The next frame the server sends, failing after `ms`. */
  next(ms = 20_000): Promise<Frame> {
    const queued = this.frames.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no frame from the server')), ms);
      this.waiting.push(frame => {
        clearTimeout(timer);
        resolve(frame);
      });
    });
  }

  /** Sends `{ event, data }` and returns the server's answer. */
  async ask(event: string, data: unknown): Promise<Frame> {
    this.socket.send(JSON.stringify({ event, data }));
    return this.next();
  }

  /** Frames not read yet. */
  get unread(): number {
    return this.frames.length;
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    const closed = new Promise(resolve => this.socket.once('close', resolve));
    this.socket.close();
    await closed;
  }
}

const openSockets: WebSocket[] = [];
const openApps: INestApplication[] = [];

afterEach(async () => {
  for (const socket of openSockets.splice(0)) {
    if (socket.readyState !== WebSocket.CLOSED) {
      const closed = new Promise(resolve => socket.once('close', resolve));
      socket.terminate();
      await closed;
    }
  }
  for (const app of openApps.splice(0).reverse()) await app.close();
});

/** `{ 'gateway|event|outcome': value }` of the samples of `name` that counted something. */
function byWsKey(exp: Exposition, name: string): Record<string, number> {
  return Object.fromEntries(
    findSamples(exp, name)
      .filter(s => s.value !== 0)
      .map(s => {
        expect(Object.keys(s.labels).sort()).toEqual(['event', 'gateway', 'outcome']);
        return [`${s.labels.gateway}|${s.labels.event}|${s.labels.outcome}`, s.value];
      }),
  );
}

function families(exp: Exposition, prefix: string): string[] {
  return [...exp.families.keys()].filter(name => name.startsWith(prefix)).sort();
}

async function createWsApp(
  adapter: AdapterName,
  metadata: ModuleMetadata,
  options: Partial<PrometheusModuleOptions> = {},
): Promise<{ app: INestApplication; url: string }> {
  const registry = new Registry();
  const moduleRef = await Test.createTestingModule({
    ...metadata,
    imports: [PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false }, ...options })],
  }).compile();
  const app =
    adapter === 'express'
      ? moduleRef.createNestApplication(new ExpressAdapter(), { logger: false })
      : moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
  openApps.push(app);
  app.useWebSocketAdapter(new WsAdapter(app));
  await app.listen(0, HOST);
  const { port } = app.getHttpServer().address() as net.AddressInfo;
  return { app, url: `ws://${HOST}:${port}/` };
}

// ---------------------------------------------------------------------------------------------
// Gateways
// ---------------------------------------------------------------------------------------------

class BoomError extends Error {}

interface Say {
  text: string;
  room: string;
}

@WebSocketGateway()
class ChatGateway implements OnGatewayConnection, OnGatewayDisconnect {
  connected = 0;
  disconnected = 0;

  handleConnection(): void {
    this.connected++;
  }

  handleDisconnect(): void {
    this.disconnected++;
  }

  @Counter({
    name: 'chat_say_calls_total',
    help: 'say calls by room',
    labels: { room: ctx => (ctx.args[0] as Say).room },
  })
  @SubscribeMessage('say')
  say(@MessageBody() body: Say): WsResponse<string> {
    return { event: 'said', data: body.text.toUpperCase() };
  }

  @SubscribeMessage('forbidden')
  forbidden(): never {
    throw new WsException('not allowed');
  }

  @SubscribeMessage('boom')
  boom(): never {
    throw new BoomError('boom');
  }

  @SubscribeMessage('later')
  async later(@MessageBody() n: number): Promise<WsResponse<number>> {
    await sleep(2);
    return { event: 'later', data: n * 2 };
  }

  @DoNotTrack()
  @SubscribeMessage('ping')
  ping(@MessageBody() n: number): WsResponse<number> {
    return { event: 'pong', data: n };
  }
}

@Controller('ping')
class PingController {
  @Get()
  ping(): string {
    return 'pong';
  }
}

/** Sends a fixed mix from one client; checks every answer. Returns what was sent per event. */
// NestJS 10 and 11 (checked on 11.0 and 11.2) hand a gateway's exceptions to
// `client.emit('exception', ...)`, which a raw `ws` socket (platform-ws) does not send: there the
// client gets no frame for them (the metrics count them all the same). NestJS 12 sends them
// (`emitMessage`).
const EXCEPTIONS_REACH_WS_CLIENTS =
  typeof (BaseWsExceptionFilter.prototype as unknown as { emitMessage?: unknown }).emitMessage === 'function';
if (!EXCEPTIONS_REACH_WS_CLIENTS) {
  console.info('ws: this NestJS line sends no frame for gateway exceptions on platform-ws; not awaited');
}

/** Sends a message whose handler throws; awaits the exception frame where the line sends one. */
async function askFailing(client: Client, event: string, data: unknown, message: string): Promise<void> {
  if (!EXCEPTIONS_REACH_WS_CLIENTS) {
    client.socket.send(JSON.stringify({ event, data }));
    return;
  }
  expect(await client.ask(event, data)).toEqual({
    event: 'exception',
    data: { status: 'error', message, cause: { pattern: event, data } },
  });
}

async function talk(client: Client, round: number): Promise<void> {
  expect(await client.ask('say', { text: `hi ${round}`, room: round % 2 ? 'odd' : 'even' })).toEqual({
    event: 'said',
    data: `HI ${round}`,
  });
  await askFailing(client, 'forbidden', { round }, 'not allowed');
  expect(await client.ask('say', { text: 'again', room: 'odd' })).toEqual({ event: 'said', data: 'AGAIN' });
  await askFailing(client, 'boom', round, 'Internal server error');
  expect(await client.ask('later', round)).toEqual({ event: 'later', data: round * 2 });
  expect(await client.ask('ping', round)).toEqual({ event: 'pong', data: round });
}

/** Per client, `talk` counts: */
const PER_CLIENT: Record<string, number> = {
  'ChatGateway|say|success': 2,
  'ChatGateway|forbidden|error': 1,
  'ChatGateway|boom|error': 1,
  'ChatGateway|later|success': 1,
};
const times = (counts: Record<string, number>, n: number) =>
  Object.fromEntries(Object.entries(counts).map(([key, value]) => [key, value * n]));

// ---------------------------------------------------------------------------------------------
// Suites
// ---------------------------------------------------------------------------------------------

describe.each(ADAPTERS)('WebSocket gateway on the app server (%s, platform-ws)', adapter => {
  it('counts messages per event and outcome, and connections open and opened', async () => {
    const { app, url } = await createWsApp(adapter, { controllers: [PingController], providers: [ChatGateway] });
    const gateway = app.get(ChatGateway);
    await request(app.getHttpServer()).get('/ping').expect(200, 'pong');

    const clients = await Promise.all(Array.from({ length: N }, () => Client.connect(url)));
    await until(() => gateway.connected === N);
    expect(gateway.connected).toBe(N);
    const open = await scrape(app);
    expect(sampleValue(open, 'ws_connections', { gateway: 'ChatGateway' })).toBe(N);
    expect(sampleValue(open, 'ws_connections_opened_total', { gateway: 'ChatGateway' })).toBe(N);

    await Promise.all(clients.map((client, i) => talk(client, i + 1)));
    for (const client of clients) expect(client.unread).toBe(0);

    const exp = await scrape(app);
    expect(families(exp, 'ws_')).toEqual([
      'ws_connections',
      'ws_connections_opened_total',
      'ws_message_duration_seconds',
      'ws_messages_total',
    ]);
    expect(exp.families.get('ws_messages_total')?.type).toBe('counter');
    expect(exp.families.get('ws_message_duration_seconds')?.type).toBe('histogram');
    expect(exp.families.get('ws_connections')?.type).toBe('gauge');
    expect(exp.families.get('ws_connections_opened_total')?.type).toBe('counter');

    const expected = times(PER_CLIENT, N);
    expect(byWsKey(exp, 'ws_messages_total')).toEqual(expected);
    expect(byWsKey(exp, 'ws_message_duration_seconds_count')).toEqual(expected);
    for (const s of findSamples(exp, 'ws_message_duration_seconds_sum').filter(x => x.value !== 0)) {
      expect(s.value).toBeLessThan(10);
    }
    // @DoNotTrack(): no series of its own anywhere.
    expect(exp.samples.filter(s => s.labels.event === 'ping')).toEqual([]);
    // The HTTP metrics count the one HTTP request; the upgrades and frames are not HTTP requests.
    expect(findSamples(exp, 'http_requests_total').map(s => [s.labels.route, s.labels.status_code, s.value])).toEqual([
      ['/ping', '200', 1],
    ]);

    await Promise.all(clients.map(client => client.close()));
    const closed = await scrapeUntil(app, e => sampleValue(e, 'ws_connections', { gateway: 'ChatGateway' }) === 0);
    expect(sampleValue(closed, 'ws_connections', { gateway: 'ChatGateway' })).toBe(0);
    expect(sampleValue(closed, 'ws_connections_opened_total', { gateway: 'ChatGateway' })).toBe(N);
    // The gateway's own hooks still ran, once per client.
    await until(() => gateway.disconnected === N);
    expect({ connected: gateway.connected, disconnected: gateway.disconnected }).toEqual({
      connected: N,
      disconnected: N,
    });
    // Reconnecting counts a new connection.
    const again = await Client.connect(url);
    expect(await again.ask('say', { text: 'back', room: 'even' })).toEqual({ event: 'said', data: 'BACK' });
    const reopened = await scrapeUntil(app, e => sampleValue(e, 'ws_connections', { gateway: 'ChatGateway' }) === 1);
    expect(sampleValue(reopened, 'ws_connections', { gateway: 'ChatGateway' })).toBe(1);
    expect(sampleValue(reopened, 'ws_connections_opened_total', { gateway: 'ChatGateway' })).toBe(N + 1);
    expect(sampleValue(reopened, 'ws_messages_total', { event: 'say', outcome: 'success' })).toBe(2 * N + 1);
    await again.close();
  });

  it('counts @Counter on a gateway handler exactly, with a label function of ctx.args[0]', async () => {
    const { app, url } = await createWsApp(adapter, { providers: [ChatGateway] });
    const client = await Client.connect(url);
    const rooms = ['a', 'b', 'a', 'a', 'c', 'b'];
    for (const room of rooms) {
      expect(await client.ask('say', { text: room, room })).toEqual({ event: 'said', data: room.toUpperCase() });
    }
    const exp = await scrape(app);
    expect(
      Object.fromEntries(findSamples(exp, 'chat_say_calls_total').map(s => [JSON.stringify(s.labels), s.value])),
    ).toEqual({
      [JSON.stringify({ room: 'a' })]: 3,
      [JSON.stringify({ room: 'b' })]: 2,
      [JSON.stringify({ room: 'c' })]: 1,
    });
    expect(byWsKey(exp, 'ws_messages_total')).toEqual({ 'ChatGateway|say|success': rooms.length });
    await client.close();
  });

  it('ws: false leaves every ws_* family out; the gateway works as before', async () => {
    const { app, url } = await createWsApp(adapter, { providers: [ChatGateway] }, { ws: false });
    const gateway = app.get(ChatGateway);
    const clients = await Promise.all(Array.from({ length: N }, () => Client.connect(url)));
    await Promise.all(clients.map((client, i) => talk(client, i + 1)));
    await Promise.all(clients.map(client => client.close()));
    await until(() => gateway.disconnected === N);
    expect({ connected: gateway.connected, disconnected: gateway.disconnected }).toEqual({
      connected: N,
      disconnected: N,
    });
    const exp = await scrape(app);
    expect(families(exp, 'ws_')).toEqual([]);
    expect(exp.samples.filter(s => s.labels.gateway !== undefined)).toEqual([]);
    // Method decorators do not depend on it.
    expect(sumOf(exp, 'chat_say_calls_total')).toBe(2 * N);
  });

  it('takes prefix, buckets and exclude (by event name)', async () => {
    const { app, url } = await createWsApp(
      adapter,
      { providers: [ChatGateway] },
      { ws: { prefix: 'chat_', buckets: [0.05, 0.5], exclude: ['boom', /^forb/, 'sa'] } },
    );
    const client = await Client.connect(url);
    await talk(client, 1);
    const exp = await scrape(app);
    expect(families(exp, 'ws_')).toEqual([]);
    expect(families(exp, 'chat_ws_')).toEqual([
      'chat_ws_connections',
      'chat_ws_connections_opened_total',
      'chat_ws_message_duration_seconds',
      'chat_ws_messages_total',
    ]);
    // 'sa' is not an event: an exact string excludes only the event it equals.
    expect(byWsKey(exp, 'chat_ws_messages_total')).toEqual({
      'ChatGateway|say|success': 2,
      'ChatGateway|later|success': 1,
    });
    expect(
      findSamples(exp, 'chat_ws_message_duration_seconds_bucket', { event: 'later', outcome: 'success' }).map(
        s => s.labels.le,
      ),
    ).toEqual(['0.05', '0.5', '+Inf']);
    expect(sampleValue(exp, 'chat_ws_connections', { gateway: 'ChatGateway' })).toBe(1);
    await client.close();
  });

  it('keeps ws_* series under maxSeriesPerMetric: admitted series count exactly, the rest go to __overflow__', async () => {
    const CAP = 2;
    const { app, url } = await createWsApp(adapter, { providers: [ChatGateway] }, { maxSeriesPerMetric: CAP });
    const client = await Client.connect(url);
    // One client, sequential: label sets appear in a known order. 4 label sets, 6 messages.
    await talk(client, 1);
    const exp = await scrape(app);
    const overflowKey = `${OVERFLOW}|${OVERFLOW}|${OVERFLOW}`;
    const counted = byWsKey(exp, 'ws_messages_total');
    expect(findSamples(exp, 'ws_messages_total').length).toBeLessThanOrEqual(CAP + 1);
    expect(counted['ChatGateway|say|success']).toBe(2);
    for (const [key, value] of Object.entries(counted).filter(([k]) => k !== overflowKey)) {
      expect({ key, value }).toEqual({ key, value: PER_CLIENT[key] });
    }
    const diverted = Object.entries(PER_CLIENT)
      .filter(([key]) => counted[key] === undefined)
      .reduce((a, [, n]) => a + n, 0);
    expect(diverted).toBeGreaterThanOrEqual(2);
    expect(counted[overflowKey]).toBe(diverted);
    expect(sampleValue(exp, 'prometheus_series_overflow_total', { metric: 'ws_messages_total' })).toBe(diverted);
    expect(byWsKey(exp, 'ws_message_duration_seconds_count')).toEqual(counted);
    await client.close();
  });

  it('an app without gateways has no ws_* family', async () => {
    const { app } = await createWsApp(adapter, { controllers: [PingController] });
    await request(app.getHttpServer()).get('/ping').expect(200);
    const exp = await scrape(app);
    expect(sampleValue(exp, 'http_requests_total', { route: '/ping', status_code: '200' })).toBe(1);
    expect(families(exp, 'ws_')).toEqual([]);
  });
});

describe.each(ADAPTERS)('WebSocket gateway on a port of its own (%s, platform-ws)', adapter => {
  it('counts its messages and connections, served on the app’s /metrics', async () => {
    const port = await freePort();

    @WebSocketGateway(port)
    class TickerGateway {
      @SubscribeMessage('tick')
      tick(@MessageBody() n: number): WsResponse<number> {
        return { event: 'tock', data: n + 1 };
      }

      @SubscribeMessage('halt')
      halt(): never {
        throw new WsException('halted');
      }
    }

    const { app } = await createWsApp(adapter, { controllers: [PingController], providers: [TickerGateway] });
    const clients = await Promise.all(Array.from({ length: N }, () => Client.connect(`ws://${HOST}:${port}/`)));
    for (const [i, client] of clients.entries()) {
      expect(await client.ask('tick', i)).toEqual({ event: 'tock', data: i + 1 });
      expect(await client.ask('tick', i * 10)).toEqual({ event: 'tock', data: i * 10 + 1 });
      if (EXCEPTIONS_REACH_WS_CLIENTS) {
        expect((await client.ask('halt', i)).data).toMatchObject({ status: 'error', message: 'halted' });
      } else {
        client.socket.send(JSON.stringify({ event: 'halt', data: i }));
      }
    }
    // Without an exception frame to wait for (NestJS 10, 11.0), the last halts may still be on their way.
    const exp = await scrapeUntil(app, e => byWsKey(e, 'ws_messages_total')['TickerGateway|halt|error'] === N);
    expect(byWsKey(exp, 'ws_messages_total')).toEqual({
      'TickerGateway|tick|success': 2 * N,
      'TickerGateway|halt|error': N,
    });
    expect(byWsKey(exp, 'ws_message_duration_seconds_count')).toEqual(byWsKey(exp, 'ws_messages_total'));
    expect(sampleValue(exp, 'ws_connections', { gateway: 'TickerGateway' })).toBe(N);

    await Promise.all(clients.map(client => client.close()));
    const closed = await scrapeUntil(app, e => sampleValue(e, 'ws_connections', { gateway: 'TickerGateway' }) === 0);
    expect(sampleValue(closed, 'ws_connections', { gateway: 'TickerGateway' })).toBe(0);
    expect(sampleValue(closed, 'ws_connections_opened_total', { gateway: 'TickerGateway' })).toBe(N);
  });
});
