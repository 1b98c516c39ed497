import 'reflect-metadata';
import net from 'node:net';
import {
  type CanActivate,
  Controller,
  type ExecutionContext,
  ForbiddenException,
  Get,
  type INestApplication,
  Injectable,
  type ModuleMetadata,
  UseGuards,
} from '@nestjs/common';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Field, GraphQLModule, Int, Mutation, ObjectType, Query, ResolveField, Resolver } from '@nestjs/graphql';
import type { MercuriusDriverConfig } from '@nestjs/mercurius';
import {
  type ClientProxy,
  ClientProxyFactory,
  EventPattern,
  MessagePattern,
  type MicroserviceOptions,
  Payload,
  Transport,
} from '@nestjs/microservices';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { WsAdapter } from '@nestjs/platform-ws';
import { Test } from '@nestjs/testing';
import { BaseWsExceptionFilter, MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { Registry } from 'prom-client';
import { firstValueFrom } from 'rxjs';
import request from 'supertest';
import WebSocket from 'ws';
import { DoNotTrack, PrometheusModule } from '../../lib/index.js';
import { ADAPTERS, type AdapterName, createApp, scrape } from '../utils/app.js';
import { type Exposition, findSamples, sampleValue } from '../utils/exposition.js';
import { allowMercurius } from '../utils/mercurius.js';
import { freePort, scrapeUntil, sleep } from '../utils/wait.js';

await allowMercurius();
const { MercuriusDriver } = await import('@nestjs/mercurius');

// Issue 19, item 9: a guard that rejects a microservice message, a gateway message or a GraphQL
// root field must be counted as an error with its exception class, as HTTP counts a 403. Nest runs
// guards before interceptors, so the transport interceptor alone never saw these calls.

const HOST = '127.0.0.1';
/** Calls per handler. */
const K = 3;

/** Throws, as most auth guards do. */
@Injectable()
class ThrowingGuard implements CanActivate {
  canActivate(): boolean {
    throw new ForbiddenException('no entry');
  }
}

/** Rejects asynchronously, after a tick. */
@Injectable()
class AsyncThrowingGuard implements CanActivate {
  async canActivate(): Promise<boolean> {
    await sleep(1);
    throw new ForbiddenException('not now');
  }
}

/** Returns false: Nest throws its own exception (RpcException, WsException, ForbiddenException). */
@Injectable()
class FalseGuard implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

/** Lets through the payloads that carry `{ token: 'ok' }`, whatever the transport. */
@Injectable()
class TokenGuard implements CanActivate {
  calls = 0;
  canActivate(context: ExecutionContext): boolean {
    this.calls++;
    const data: unknown = context.getType() === 'ws' ? context.switchToWs().getData() : context.switchToRpc().getData();
    return (data as { token?: string } | null)?.token === 'ok';
  }
}

/** `{ 'a|b|c': value }` of the samples of `name` that counted something, keyed by `labels` in order. */
function counted(exp: Exposition, name: string, labels: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of findSamples(exp, name)) {
    expect(Object.keys(s.labels).sort()).toEqual([...labels].sort());
    if (s.value !== 0) out[labels.map(l => s.labels[l]).join('|')] = s.value;
  }
  return out;
}

const openApps: INestApplication[] = [];
const openClients: ClientProxy[] = [];
const openSockets: WebSocket[] = [];

afterEach(async () => {
  for (const client of openClients.splice(0)) await client.close();
  for (const socket of openSockets.splice(0)) {
    if (socket.readyState !== WebSocket.CLOSED) {
      const closed = new Promise(resolve => socket.once('close', resolve));
      socket.terminate();
      await closed;
    }
  }
  for (const app of openApps.splice(0).reverse()) await app.close();
});

/** An app on `adapter` listening on a free port, with the module on a registry of its own. */
async function listen(
  adapter: AdapterName,
  metadata: ModuleMetadata,
  before?: (app: INestApplication) => Promise<void>,
): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    ...metadata,
    imports: [PrometheusModule.forRoot({ registry: new Registry(), defaultMetrics: { enabled: false } })],
  }).compile();
  const app =
    adapter === 'express'
      ? moduleRef.createNestApplication(new ExpressAdapter(), { logger: false })
      : moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
  openApps.push(app);
  await before?.(app);
  await app.listen(0, HOST);
  return app;
}

// ---------------------------------------------------------------------------------------------
// Microservice handlers (TCP)
// ---------------------------------------------------------------------------------------------

@Controller()
class GuardedHandlers {
  calls = 0;

  @UseGuards(ThrowingGuard)
  @MessagePattern('throwing')
  throwing(): string {
    this.calls++;
    return 'never';
  }

  @UseGuards(AsyncThrowingGuard)
  @MessagePattern('async')
  async(): string {
    this.calls++;
    return 'never';
  }

  @UseGuards(FalseGuard)
  @MessagePattern('refused')
  refused(): string {
    this.calls++;
    return 'never';
  }

  @UseGuards(TokenGuard)
  @MessagePattern('token')
  token(@Payload() body: { n: number }): number {
    this.calls++;
    return body.n;
  }

  @UseGuards(ThrowingGuard)
  @EventPattern('event')
  event(@Payload() _id: number): void {
    this.calls++;
  }

  @DoNotTrack()
  @UseGuards(ThrowingGuard)
  @MessagePattern('untracked')
  untracked(): string {
    this.calls++;
    return 'never';
  }
}

@Controller('ping')
class PingController {
  @Get()
  ping(): string {
    return 'pong';
  }

  /** HTTP guard rejections stay the HTTP metrics' business. */
  @UseGuards(FalseGuard)
  @Get('denied')
  denied(): string {
    return 'never';
  }
}

/** The error a `send` rejects with. */
async function sendError(client: ClientProxy, pattern: string, data: unknown): Promise<unknown> {
  try {
    await firstValueFrom(client.send(pattern, data));
  } catch (error) {
    return error;
  }
  throw new Error(`${pattern} succeeded`);
}

describe.each(ADAPTERS)('guard rejections on microservice handlers (%s, TCP)', adapter => {
  it('counts each rejected message and event as an error, with the exception class', async () => {
    const port = await freePort();
    const app = await listen(adapter, { controllers: [GuardedHandlers, PingController] }, async a => {
      a.connectMicroservice<MicroserviceOptions>({ transport: Transport.TCP, options: { host: HOST, port } });
      await a.startAllMicroservices();
    });
    const client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: HOST, port } });
    openClients.push(client);
    await client.connect();

    for (let i = 0; i < K; i++) {
      // Not RpcExceptions: the client is told no more than that.
      expect(await sendError(client, 'throwing', i)).toEqual({ status: 'error', message: 'Internal server error' });
      expect(await sendError(client, 'async', i)).toEqual({ status: 'error', message: 'Internal server error' });
      expect(await sendError(client, 'refused', i)).toEqual({ status: 'error', message: 'Forbidden resource' });
      expect(await sendError(client, 'token', { n: i })).toEqual({ status: 'error', message: 'Forbidden resource' });
      expect(await firstValueFrom(client.send('token', { n: i, token: 'ok' }))).toBe(i);
      expect(await sendError(client, 'untracked', i)).toEqual({ status: 'error', message: 'Internal server error' });
      await firstValueFrom(client.emit('event', i), { defaultValue: undefined });
    }
    // Only the guarded-through calls ran.
    expect(app.get(GuardedHandlers).calls).toBe(K);
    await request(app.getHttpServer()).get('/ping').expect(200, 'pong');
    await request(app.getHttpServer()).get('/ping/denied').expect(403);

    // Events are handled after `emit` resolves.
    const exp = await scrapeUntil(
      app,
      e => sampleValue(e, 'rpc_requests_total', { pattern: 'event', kind: 'event', outcome: 'error' }) === K,
    );
    const labels = ['pattern', 'kind', 'outcome'];
    expect(counted(exp, 'rpc_requests_total', labels)).toEqual({
      'throwing|message|error': K,
      'async|message|error': K,
      'refused|message|error': K,
      'token|message|error': K,
      'token|message|success': K,
      'event|event|error': K,
    });
    // Every counted call has its duration.
    expect(counted(exp, 'rpc_request_duration_seconds_count', labels)).toEqual(
      counted(exp, 'rpc_requests_total', labels),
    );
    expect(counted(exp, 'rpc_exceptions_total', ['pattern', 'exception'])).toEqual({
      'throwing|ForbiddenException': K,
      'async|ForbiddenException': K,
      // What Nest throws when a guard returns false on a microservice handler.
      'refused|RpcException': K,
      'token|RpcException': K,
      'event|ForbiddenException': K,
    });
    // Nothing is left in progress; nothing is recorded for the untracked handler.
    expect(findSamples(exp, 'rpc_requests_in_progress').map(s => s.value)).toEqual(
      findSamples(exp, 'rpc_requests_in_progress').map(() => 0),
    );
    expect(findSamples(exp, 'rpc_requests_total', { pattern: 'untracked' })).toEqual([]);
    // HTTP is still counted as before, once; its guard rejection too, and only there.
    expect(counted(exp, 'http_requests_total', ['method', 'route', 'status_code'])).toEqual({
      'GET|/ping|200': 1,
      'GET|/ping/denied|403': 1,
    });
  });
});

// ---------------------------------------------------------------------------------------------
// WebSocket gateways
// ---------------------------------------------------------------------------------------------

@WebSocketGateway()
class GuardedGateway {
  @UseGuards(ThrowingGuard)
  @SubscribeMessage('throwing')
  throwing(): string {
    return 'never';
  }

  @UseGuards(FalseGuard)
  @SubscribeMessage('refused')
  refused(): string {
    return 'never';
  }

  @DoNotTrack()
  @UseGuards(ThrowingGuard)
  @SubscribeMessage('untracked')
  untracked(): string {
    return 'never';
  }
}

/** A guard on the class: every message of the gateway goes through it. */
@WebSocketGateway()
@UseGuards(TokenGuard)
class TokenGateway {
  @SubscribeMessage('echo')
  echo(@MessageBody() body: { n: number }): { event: string; data: number } {
    return { event: 'echoed', data: body.n };
  }
}

interface Frame {
  event: string;
  data: { status?: string; message?: string } | number;
}

// NestJS 10 and 11 hand a gateway's exceptions to `client.emit('exception', ...)`, which a raw `ws`
// socket (platform-ws) does not send: there the client gets no frame for them, and the test waits
// for the counts instead. NestJS 12 sends them (`emitMessage`). test/ws.e2e-spec.ts states the same.
const EXCEPTIONS_REACH_WS_CLIENTS =
  typeof (BaseWsExceptionFilter.prototype as unknown as { emitMessage?: unknown }).emitMessage === 'function';

/** Opens a `ws` client; `ask` sends one message and resolves with the server's next frame. */
async function connect(url: string): Promise<{
  ask: (event: string, data: unknown) => Promise<Frame>;
  send: (event: string, data: unknown) => void;
}> {
  const socket = new WebSocket(url);
  openSockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const send = (event: string, data: unknown) => socket.send(JSON.stringify({ event, data }));
  const ask = (event: string, data: unknown) =>
    new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${event}`)), 10_000);
      socket.once('message', raw => {
        clearTimeout(timer);
        resolve(JSON.parse((raw as Buffer).toString()) as Frame);
      });
      send(event, data);
    });
  return { ask, send };
}

describe.each(ADAPTERS)('guard rejections on WebSocket gateways (%s, platform-ws)', adapter => {
  it('counts each rejected message as an error of its gateway and event', async () => {
    const app = await listen(adapter, { providers: [GuardedGateway, TokenGateway] }, async a => {
      a.useWebSocketAdapter(new WsAdapter(a));
    });
    const { port } = app.getHttpServer().address() as net.AddressInfo;
    const { ask, send } = await connect(`ws://${HOST}:${port}/`);
    /** A message its guard refuses: the exception frame where the line sends one (see above). */
    const refusedWith = async (event: string, data: unknown, frame: object) => {
      if (EXCEPTIONS_REACH_WS_CLIENTS) expect(await ask(event, data)).toMatchObject(frame);
      else send(event, data);
    };

    for (let i = 0; i < K; i++) {
      await refusedWith('throwing', i, {
        event: 'exception',
        data: { status: 'error', message: 'Internal server error' },
      });
      await refusedWith('refused', i, { event: 'exception', data: { status: 'error', message: 'Forbidden resource' } });
      await refusedWith('untracked', i, { event: 'exception' });
      await refusedWith('echo', { n: i }, { event: 'exception', data: { message: 'Forbidden resource' } });
      expect(await ask('echo', { n: i, token: 'ok' })).toEqual({ event: 'echoed', data: i });
    }

    const labels = ['gateway', 'event', 'outcome'];
    const expected = {
      'GuardedGateway|throwing|error': K,
      'GuardedGateway|refused|error': K,
      'TokenGateway|echo|error': K,
      'TokenGateway|echo|success': K,
    };
    // Without exception frames to wait for, the last refusals may still be on their way.
    const exp = await scrapeUntil(app, e => {
      const got = counted(e, 'ws_messages_total', labels);
      return Object.entries(expected).every(([key, value]) => got[key] === value);
    });
    expect(counted(exp, 'ws_messages_total', labels)).toEqual(expected);
    expect(counted(exp, 'ws_message_duration_seconds_count', labels)).toEqual(
      counted(exp, 'ws_messages_total', labels),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// GraphQL root fields
// ---------------------------------------------------------------------------------------------

@ObjectType()
class Box {
  @Field(() => Int)
  id!: number;
}

@Resolver(() => Box)
class GuardedResolver {
  @UseGuards(ThrowingGuard)
  @Query(() => String, { nullable: true })
  throwing(): string {
    return 'never';
  }

  @UseGuards(AsyncThrowingGuard)
  @Query(() => String, { nullable: true })
  later(): string {
    return 'never';
  }

  @UseGuards(FalseGuard)
  @Query(() => String, { nullable: true })
  refused(): string {
    return 'never';
  }

  @Query(() => Box)
  box(): Box {
    return { id: 1 };
  }

  @DoNotTrack()
  @UseGuards(ThrowingGuard)
  @Query(() => String, { nullable: true })
  untracked(): string {
    return 'never';
  }

  @UseGuards(ThrowingGuard)
  @Mutation(() => String, { nullable: true })
  change(): string {
    return 'never';
  }

  /** Not a root field: a rejection here is no root field's outcome. */
  @UseGuards(ThrowingGuard)
  @ResolveField(() => String, { nullable: true })
  secret(): string {
    return 'never';
  }
}

const GRAPHQL_SETUPS = [
  {
    name: 'Apollo on Express',
    adapter: 'express' as const,
    graphql: () =>
      GraphQLModule.forRoot<ApolloDriverConfig>({
        driver: ApolloDriver,
        autoSchemaFile: true,
        fieldResolverEnhancers: ['guards'],
      }),
  },
  {
    name: 'Mercurius on Fastify',
    adapter: 'fastify' as const,
    graphql: () =>
      GraphQLModule.forRoot<MercuriusDriverConfig>({
        driver: MercuriusDriver,
        autoSchemaFile: true,
        fieldResolverEnhancers: ['guards'],
      }),
  },
];

interface GraphQLResponse {
  data?: Record<string, unknown> | null;
  errors?: { message: string; path?: (string | number)[] }[];
}

async function post(app: INestApplication, query: string): Promise<GraphQLResponse> {
  const res = await request(app.getHttpServer())
    .post('/graphql')
    .set('Content-Type', 'application/json')
    .send({ query })
    .expect(200);
  return res.body as GraphQLResponse;
}

describe.each(GRAPHQL_SETUPS)('guard rejections on GraphQL root fields ($name)', ({ adapter, graphql }) => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('counts each rejected root field as an error, with the exception class', async () => {
    app = await createApp(adapter, {
      imports: [PrometheusModule.forRoot({ registry: new Registry(), defaultMetrics: { enabled: false } }), graphql()],
      providers: [GuardedResolver],
    });

    for (let i = 0; i < K; i++) {
      const res = await post(app, '{ throwing later refused untracked box { id secret } }');
      expect(res.data).toEqual({
        throwing: null,
        later: null,
        refused: null,
        untracked: null,
        box: { id: 1, secret: null },
      });
      expect(res.errors?.map(e => e.message).sort()).toEqual(
        ['Forbidden resource', 'no entry', 'no entry', 'no entry', 'not now'].sort(),
      );
      const changed = await post(app, 'mutation { change }');
      expect(changed.data).toEqual({ change: null });
      expect(changed.errors?.map(e => e.message)).toEqual(['no entry']);
    }

    const exp = await scrape(app);
    const labels = ['operation_type', 'field', 'outcome'];
    expect(counted(exp, 'graphql_requests_total', labels)).toEqual({
      'query|throwing|error': K,
      'query|later|error': K,
      'query|refused|error': K,
      'query|box|success': K,
      'mutation|change|error': K,
    });
    expect(counted(exp, 'graphql_request_duration_seconds_count', labels)).toEqual(
      counted(exp, 'graphql_requests_total', labels),
    );
    expect(counted(exp, 'graphql_errors_total', ['operation_type', 'field', 'exception'])).toEqual({
      'query|throwing|ForbiddenException': K,
      'query|later|ForbiddenException': K,
      // What Nest throws when a guard returns false on a resolver.
      'query|refused|ForbiddenException': K,
      'mutation|change|ForbiddenException': K,
    });
  });
});
