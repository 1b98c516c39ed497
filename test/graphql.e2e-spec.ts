import 'reflect-metadata';
import { Controller, type DynamicModule, Get, type INestApplication, type Provider } from '@nestjs/common';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import {
  Args,
  Field,
  GraphQLModule,
  Int,
  Mutation,
  ObjectType,
  Parent,
  Query,
  ResolveField,
  Resolver,
} from '@nestjs/graphql';
import type { MercuriusDriverConfig } from '@nestjs/mercurius';
import { Registry } from 'prom-client';
import request from 'supertest';
import { Counter, DoNotTrack, PrometheusModule } from '../lib/index.js';
import { type AdapterName, ADAPTERS, createApp, scrape } from './utils/app.js';
import { type Exposition, findSamples, sumOf } from './utils/exposition.js';
import { allowMercurius } from './utils/mercurius.js';

await allowMercurius();
const { MercuriusDriver } = await import('@nestjs/mercurius');

// ---------------------------------------------------------------------------------------------
// The GraphQL API under test, once code-first and once schema-first, over the same store
// ---------------------------------------------------------------------------------------------

interface User {
  id: number;
  name: string;
}

/** What a resolver throws for an unknown user: the exception label must carry this class's name. */
class UserNotFoundError extends Error {
  constructor(id: number) {
    super(`no user ${id}`);
  }
}

/** How long the `missing` resolver waits before it throws. */
const MISSING_DELAY_MS = 20;

class UserStore {
  private readonly users = new Map<number, User>([
    [1, { id: 1, name: 'Ada' }],
    [2, { id: 2, name: 'Grace' }],
  ]);

  get(id: number): User | undefined {
    return this.users.get(id);
  }

  getOrFail(id: number): User {
    const user = this.users.get(id);
    if (!user) throw new UserNotFoundError(id);
    return user;
  }

  all(): User[] {
    return [...this.users.values()];
  }

  create(name: string): User {
    const user = { id: this.users.size + 1, name };
    this.users.set(user.id, user);
    return user;
  }
}

/** One decorator value on the `user` resolver of both APIs; its label reads the resolver's argument. */
const countLookups = Counter({
  name: 'user_lookups_total',
  help: 'user lookups by id',
  labels: { id: ctx => String(ctx.args[0]) },
});

@ObjectType('User')
class UserType {
  @Field(() => Int)
  id!: number;

  // No explicit type: inferred from the design:type metadata ts-jest emits.
  @Field()
  name!: string;
}

@Resolver(() => UserType)
class CodeFirstResolver {
  private readonly store = new UserStore();

  @Query(() => UserType, { nullable: true })
  @countLookups
  user(@Args('id', { type: () => Int }) id: number): User | undefined {
    return this.store.get(id);
  }

  @Query(() => [UserType])
  users(): User[] {
    return this.store.all();
  }

  @Query(() => UserType, { nullable: true })
  async missing(@Args('id', { type: () => Int }) id: number): Promise<User> {
    await new Promise(resolve => setTimeout(resolve, MISSING_DELAY_MS));
    return this.store.getOrFail(id);
  }

  @Query(() => String)
  @DoNotTrack()
  secret(): string {
    return 'hidden';
  }

  @Mutation(() => UserType)
  createUser(@Args('name') name: string): User {
    return this.store.create(name);
  }

  @ResolveField(() => Int)
  nameLength(@Parent() user: User): number {
    return user.name.length;
  }
}

const TYPE_DEFS = /* GraphQL */ `
  type User {
    id: Int!
    name: String!
    nameLength: Int!
  }
  type Query {
    user(id: Int!): User
    users: [User!]!
    missing(id: Int!): User
    secret: String!
  }
  type Mutation {
    createUser(name: String!): User!
  }
`;

@Resolver('User')
class SchemaFirstResolver {
  private readonly store = new UserStore();

  @Query('user')
  @countLookups
  user(@Args('id') id: number): User | undefined {
    return this.store.get(id);
  }

  @Query('users')
  users(): User[] {
    return this.store.all();
  }

  @Query('missing')
  async missing(@Args('id') id: number): Promise<User> {
    await new Promise(resolve => setTimeout(resolve, MISSING_DELAY_MS));
    return this.store.getOrFail(id);
  }

  @Query('secret')
  @DoNotTrack()
  secret(): string {
    return 'hidden';
  }

  @Mutation('createUser')
  createUser(@Args('name') name: string): User {
    return this.store.create(name);
  }

  @ResolveField('nameLength')
  nameLength(@Parent() user: User): number {
    return user.name.length;
  }
}

interface Setup {
  name: string;
  adapter: AdapterName;
  graphql: () => DynamicModule;
  resolver: Provider;
}

const SETUPS: Setup[] = [
  {
    name: 'Apollo on Express, code-first',
    adapter: 'express',
    graphql: () => GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, autoSchemaFile: true }),
    resolver: CodeFirstResolver,
  },
  {
    name: 'Apollo on Express, schema-first',
    adapter: 'express',
    graphql: () => GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, typeDefs: TYPE_DEFS }),
    resolver: SchemaFirstResolver,
  },
  {
    name: 'Mercurius on Fastify, schema-first',
    adapter: 'fastify',
    graphql: () => GraphQLModule.forRoot<MercuriusDriverConfig>({ driver: MercuriusDriver, typeDefs: TYPE_DEFS }),
    resolver: SchemaFirstResolver,
  },
  {
    name: 'Mercurius on Fastify, code-first',
    adapter: 'fastify',
    graphql: () => GraphQLModule.forRoot<MercuriusDriverConfig>({ driver: MercuriusDriver, autoSchemaFile: true }),
    resolver: CodeFirstResolver,
  },
];

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

interface GraphQLResponse {
  data?: Record<string, unknown> | null;
  errors?: { message: string; path?: (string | number)[] }[];
}

/** POSTs one operation to /graphql as a client would, and returns the GraphQL response. */
async function post(
  app: INestApplication,
  query: string,
  variables?: Record<string, unknown>,
): Promise<GraphQLResponse> {
  const res = await request(app.getHttpServer())
    .post('/graphql')
    .set('Content-Type', 'application/json')
    .send({ query, variables })
    .expect(200);
  return res.body as GraphQLResponse;
}

/** `operation_type field outcome` (or the given label names) → value, for every sample of `name`. */
function series(exp: Exposition, name: string, labelNames = ['operation_type', 'field', 'outcome']) {
  const out: Record<string, number> = {};
  for (const s of findSamples(exp, name)) {
    expect(Object.keys(s.labels).sort()).toEqual([...labelNames].sort());
    const key = labelNames.map(l => s.labels[l]).join(' ');
    expect(out[key]).toBeUndefined();
    out[key] = s.value;
  }
  return out;
}

/** The series that counted something (a root field's other outcome may be exposed at 0). */
function counted(values: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== 0));
}

function graphqlFamilies(exp: Exposition): string[] {
  return [...exp.families.keys()].filter(name => name.includes('graphql_'));
}

/** The `field` label values of every graphql_* sample, zeros included. */
function fieldsOf(exp: Exposition): string[] {
  const fields = graphqlFamilies(exp).flatMap(name => exp.families.get(name)!.samples.map(s => s.labels.field));
  return [...new Set(fields)].sort();
}

/** The HTTP POSTs to /graphql, as the default HTTP metrics counted them: every request of these apps. */
function httpRequests(exp: Exposition): Record<string, number> {
  return series(exp, 'http_requests_total', ['method', 'route', 'status_code']);
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe.each(SETUPS)('GraphQL metrics: $name', ({ adapter, graphql, resolver }) => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  const start = async (options?: Parameters<typeof PrometheusModule.forRoot>[0]) => {
    app = await createApp(adapter, {
      imports: [
        PrometheusModule.forRoot({ registry: new Registry(), defaultMetrics: { enabled: false }, ...options }),
        graphql(),
      ],
      providers: [resolver],
    });
    return app;
  };

  it('counts each root field by operation type and outcome; the responses are unchanged', async () => {
    const a = await start();

    // Two root fields in one operation, one of them under an alias.
    const first = await post(a, '{ first: user(id: 1) { id name nameLength } users { id nameLength } }');
    expect(first).toEqual({
      data: {
        first: { id: 1, name: 'Ada', nameLength: 3 },
        users: [
          { id: 1, nameLength: 3 },
          { id: 2, nameLength: 5 },
        ],
      },
    });
    // The same root field twice in one operation, with other arguments.
    const twice = await post(a, 'query Twice { user(id: 2) { name } again: user(id: 1) { name } }');
    expect(twice).toEqual({ data: { user: { name: 'Grace' }, again: { name: 'Ada' } } });

    const created = await post(a, 'mutation { createUser(name: "Edsger") { id name nameLength } }');
    expect(created).toEqual({ data: { createUser: { id: 3, name: 'Edsger', nameLength: 6 } } });

    // A resolver that throws: the error is in the response, its sibling field resolves.
    const failed = await post(a, '{ missing(id: 7) { id } user(id: 3) { name } }');
    expect(failed.data).toEqual({ missing: null, user: { name: 'Edsger' } });
    expect(failed.errors).toHaveLength(1);
    expect(failed.errors![0]).toMatchObject({ message: 'no user 7', path: ['missing'] });
    const failedAgain = await post(a, 'query Missing($id: Int!) { missing(id: $id) { id } }', { id: 8 });
    expect(failedAgain.data).toEqual({ missing: null });
    expect(failedAgain.errors![0]).toMatchObject({ message: 'no user 8', path: ['missing'] });

    const exp = await scrape(a);
    expect(exp.families.get('graphql_requests_total')?.type).toBe('counter');
    expect(exp.families.get('graphql_request_duration_seconds')?.type).toBe('histogram');
    expect(exp.families.get('graphql_errors_total')?.type).toBe('counter');

    const requests = series(exp, 'graphql_requests_total');
    expect(counted(requests)).toEqual({
      'query user success': 4,
      'query users success': 1,
      'mutation createUser success': 1,
      'query missing error': 2,
    });
    // One observation per counted root field, nothing else.
    expect(series(exp, 'graphql_request_duration_seconds_count')).toEqual(requests);
    for (const s of findSamples(exp, 'graphql_request_duration_seconds_count')) {
      const buckets = findSamples(exp, 'graphql_request_duration_seconds_bucket', s.labels);
      expect(buckets.at(-1)).toMatchObject({ labels: { le: '+Inf' }, value: s.value });
      buckets.slice(1).forEach((b, i) => expect(b.value).toBeGreaterThanOrEqual(buckets[i].value));
      const [sum] = findSamples(exp, 'graphql_request_duration_seconds_sum', s.labels);
      expect(sum.value > 0).toBe(s.value > 0);
    }
    // The failing resolver awaits a timer before it throws: its duration runs until the rejection.
    const [missingSum] = findSamples(exp, 'graphql_request_duration_seconds_sum', {
      field: 'missing',
      outcome: 'error',
    });
    expect(missingSum.value).toBeGreaterThanOrEqual((2 * (MISSING_DELAY_MS - 1)) / 1000);
    expect(counted(series(exp, 'graphql_errors_total', ['operation_type', 'field', 'exception']))).toEqual({
      [`query missing ${UserNotFoundError.name}`]: 2,
    });

    // Field resolvers, aliases and arguments never become label values.
    expect(fieldsOf(exp)).toEqual(['createUser', 'missing', 'user', 'users']);

    // Each HTTP request that carried an operation counted once, under the GraphQL module's path.
    expect(httpRequests(exp)).toEqual({ 'POST /graphql 200': 5 });
  });

  it('an operation that fails validation resolves no root field: nothing counted but its HTTP request', async () => {
    const a = await start();
    const res = await request(a.getHttpServer())
      .post('/graphql')
      .set('Content-Type', 'application/json')
      .send({ query: '{ user(id: 1) { id } nope }' });
    const body = res.body as GraphQLResponse;
    expect(body.data ?? null).toBeNull();
    expect(body.errors![0].message).toContain('nope');

    const exp = await scrape(a);
    expect(findSamples(exp, 'graphql_requests_total')).toEqual([]);
    expect(findSamples(exp, 'graphql_errors_total')).toEqual([]);
    expect(httpRequests(exp)).toEqual({ [`POST /graphql ${res.status}`]: 1 });
  });

  it('graphql: false leaves out every graphql_* family; the API and the HTTP metrics work as before', async () => {
    const a = await start({ graphql: false });
    expect(await post(a, '{ user(id: 1) { name } users { id } }')).toEqual({
      data: { user: { name: 'Ada' }, users: [{ id: 1 }, { id: 2 }] },
    });
    const failed = await post(a, '{ missing(id: 9) { id } }');
    expect(failed.errors![0]).toMatchObject({ message: 'no user 9', path: ['missing'] });
    await post(a, 'mutation { createUser(name: "Barbara") { id } }');

    const exp = await scrape(a);
    expect(graphqlFamilies(exp)).toEqual([]);
    expect(sumOf(exp, 'http_requests_total', { method: 'POST' })).toBe(3);
    expect(sumOf(exp, 'http_requests_total')).toBe(3);
  });

  it('@DoNotTrack() on a resolver method leaves that root field out, not its operation’s other fields', async () => {
    const a = await start();
    expect(await post(a, '{ secret }')).toEqual({ data: { secret: 'hidden' } });
    expect(await post(a, '{ secret users { id } }')).toEqual({
      data: { secret: 'hidden', users: [{ id: 1 }, { id: 2 }] },
    });

    const exp = await scrape(a);
    const requests = series(exp, 'graphql_requests_total');
    expect(counted(requests)).toEqual({ 'query users success': 1 });
    expect(series(exp, 'graphql_request_duration_seconds_count')).toEqual(requests);
    expect(sumOf(exp, 'graphql_errors_total')).toBe(0);
    expect(fieldsOf(exp)).toEqual(['users']);
    expect(httpRequests(exp)).toEqual({ 'POST /graphql 200': 2 });
  });

  it('a @Counter on a resolver method counts each call, its label function reading the resolver arguments', async () => {
    const a = await start();
    await post(a, '{ user(id: 1) { id } }');
    await post(a, '{ one: user(id: 1) { id } two: user(id: 2) { id } }');
    await post(a, 'query Lookup($id: Int!) { user(id: $id) { id } }', { id: 5 });

    const exp = await scrape(a);
    expect(series(exp, 'user_lookups_total', ['id'])).toEqual({ '1': 2, '2': 1, '5': 1 });
    expect(counted(series(exp, 'graphql_requests_total'))).toEqual({ 'query user success': 4 });
  });

  it('graphql options: prefix, buckets and exclude (a name or a RegExp against the root field name)', async () => {
    const a = await start({ graphql: { prefix: 'shop_', buckets: [0.5, 5], exclude: ['users', /^miss/] } });
    await post(a, '{ user(id: 1) { id } users { id } }');
    await post(a, '{ missing(id: 4) { id } }');
    await post(a, 'mutation { createUser(name: "Alan") { id } }');

    const exp = await scrape(a);
    const families = graphqlFamilies(exp);
    expect(families.every(name => name.startsWith('shop_graphql_'))).toBe(true);
    const requests = series(exp, 'shop_graphql_requests_total');
    expect(counted(requests)).toEqual({ 'query user success': 1, 'mutation createUser success': 1 });
    expect(series(exp, 'shop_graphql_request_duration_seconds_count')).toEqual(requests);
    expect(sumOf(exp, 'shop_graphql_errors_total')).toBe(0);
    expect(fieldsOf(exp)).toEqual(['createUser', 'user']);
    const les = findSamples(exp, 'shop_graphql_request_duration_seconds_bucket', {
      field: 'user',
      outcome: 'success',
    }).map(s => s.labels.le);
    expect(les).toEqual(['0.5', '5', '+Inf']);
    expect(httpRequests(exp)).toEqual({ 'POST /graphql 200': 3 });
  });
});

@Controller('rest')
class RestController {
  @Get()
  get(): string {
    return 'ok';
  }
}

describe.each(ADAPTERS)('an app without GraphQL (%s)', adapter => {
  it('has no graphql_* family', async () => {
    const app = await createApp(adapter, {
      imports: [PrometheusModule.forRoot({ registry: new Registry(), defaultMetrics: { enabled: false } })],
      controllers: [RestController],
    });
    try {
      await request(app.getHttpServer()).get('/rest').expect(200);
      const exp = await scrape(app);
      expect(graphqlFamilies(exp)).toEqual([]);
      expect(sumOf(exp, 'http_requests_total', { route: '/rest' })).toBe(1);
    } finally {
      await app.close();
    }
  });
});
