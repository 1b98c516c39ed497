import { FastifyAdapter } from '@nestjs/platform-fastify';
import { FastifyReplyHeaders, type FastifyReplyHeadersLike, FastifyRouteContexts } from './fastify-server.js';

interface FastifyLike {
  get(path: string, handler: (request: object, reply: ReplyLike) => unknown): unknown;
  get(path: string, options: { config: Record<string, unknown> }, handler: (request: object) => unknown): unknown;
  addHook(name: 'onResponse', hook: (request: unknown, reply: ReplyLike, done: () => void) => void): unknown;
  addHook(name: 'onRoute', hook: (route: { url: string; config?: Record<string | symbol, unknown> }) => void): unknown;
  listen(options: { port: number; host: string }): Promise<string>;
  close(): Promise<unknown>;
}
type ReplyLike = FastifyReplyHeadersLike & {
  raw: { setHeader(name: string, value: string): void };
  header(name: string, value: string): ReplyLike;
  send(payload: unknown): ReplyLike;
};

/** The reply of one request to a route of the installed Fastify (the one Nest's adapter brings). */
async function replyOf(
  handler: (reply: ReplyLike) => unknown,
): Promise<{ reply: ReplyLike; headers: Record<string, unknown>; body: string }> {
  const fastify = new FastifyAdapter().getInstance<FastifyLike>();
  let seen: ReplyLike | undefined;
  fastify.get('/x', (_request, reply) => handler(reply));
  fastify.addHook('onResponse', (_request, reply, done) => {
    seen = reply;
    done();
  });
  try {
    // Over a real socket: `inject()` loads light-my-request lazily, which jest's ESM mode cannot.
    const address = await fastify.listen({ port: 0, host: '127.0.0.1' });
    const response = await fetch(`${address}/x`);
    const body = await response.text();
    // onResponse runs once the response is sent, which the client may see first.
    for (let i = 0; seen === undefined && i < 100; i++) await new Promise(resolve => setTimeout(resolve, 10));
    if (seen === undefined) throw new Error('no reply seen');
    return { reply: seen, headers: Object.fromEntries(response.headers), body };
  } finally {
    await fastify.close();
  }
}

describe('FastifyReplyHeaders (Fastify keeps reply headers under fastify.reply.headers)', () => {
  it("finds the installed Fastify's header store and reads the Content-Length it sent", async () => {
    const { reply, headers, body } = await replyOf(reply => reply.send({ id: 42, name: 'a name' }));
    const reader = new FastifyReplyHeaders();
    expect(reader.contentLength(reply)).toBe(String(Buffer.byteLength(body)));
    expect(String(headers['content-length'])).toBe(String(Buffer.byteLength(body)));
    // The fast path, not the fallback: this is what breaks when Fastify renames its store.
    expect(reader.found).toBe(true);
  });

  it('reads a Content-Length the handler set in any case, as reply.getHeader() does', async () => {
    const { reply } = await replyOf(reply => reply.header('Content-Length', '7').send('1234567'));
    const reader = new FastifyReplyHeaders();
    expect(reader.contentLength(reply)).toBe(reply.getHeader('content-length'));
    expect(Number(reader.contentLength(reply))).toBe(7);
  });

  it('falls back to getHeader() for a reply without the store, and keeps falling back', () => {
    const reader = new FastifyReplyHeaders();
    const reply = { getHeader: (name: string) => (name === 'content-length' ? '12' : undefined) };
    expect(reader.contentLength(reply)).toBe('12');
    expect(reader.found).toBe(false);
    expect(reader.contentLength({ getHeader: () => '3' })).toBe('3');
  });

  it('falls back to getHeader() when the store has no content-length (a header set on reply.raw)', () => {
    const store = Symbol('fastify.reply.headers');
    const reply = { [store]: { 'content-type': 'text/plain' }, getHeader: () => '99' };
    const reader = new FastifyReplyHeaders();
    expect(reader.contentLength(reply)).toBe('99');
    expect(reader.found).toBe(true);
  });
});

describe('FastifyRouteContexts (Fastify keeps the route context under fastify.context)', () => {
  const MARK = Symbol('mark');

  it('finds the config the onRoute hook left, own symbols included, on each route', async () => {
    const fastify = new FastifyAdapter().getInstance<FastifyLike>();
    const contexts = new FastifyRouteContexts();
    const seen: Record<string, unknown>[] = [];
    fastify.addHook('onRoute', route => {
      route.config = { ...route.config, [MARK]: { url: route.url } };
    });
    const handler = (request: object) => {
      const config = contexts.config(request);
      seen.push({ mark: config?.[MARK], own: config?.own });
      return 'ok';
    };
    fastify.get('/a/:id', { config: { own: 'a' } }, handler);
    fastify.get('/b', { config: { own: 'b' } }, handler);
    try {
      const address = await fastify.listen({ port: 0, host: '127.0.0.1' });
      for (const path of ['/a/1', '/b', '/a/2']) expect((await fetch(address + path)).status).toBe(200);
    } finally {
      await fastify.close();
    }
    expect(seen).toEqual([
      { mark: { url: '/a/:id' }, own: 'a' },
      { mark: { url: '/b' }, own: 'b' },
      { mark: { url: '/a/:id' }, own: 'a' },
    ]);
    // The context itself, not routeOptions: this is what breaks when Fastify renames it.
    expect(contexts.found).toBe(true);
  });

  it('falls back to routeOptions.config for a request without the context', () => {
    const contexts = new FastifyRouteContexts();
    const config = { own: 'x' };
    expect(contexts.config({ routeOptions: { url: '/x', config } })).toBe(config);
    expect(contexts.found).toBe(false);
    expect(contexts.config({})).toBeUndefined();
  });
});
