import 'reflect-metadata';
import { jest } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type INestApplicationContext } from '@nestjs/common';
import { Gauge, Registry } from 'prom-client';
import { PrometheusModule, type PushgatewayOptions, PushgatewayService } from '../../lib/index.js';
import { createContext } from '../utils/app.js';
import { captureLogs, UNDESCRIBABLE_THROWS } from './support.js';

/*
 * A hostile or broken Pushgateway (issue 19): a gateway that trickles its answer (item 4), a URL
 * with a password and a huge error body (item 13), a registry whose collect throws a value that
 * cannot be described (item 1).
 */

interface Gateway {
  url: string;
  requests: number;
  close(): Promise<void>;
}

/** A real HTTP server on port 0 whose answer `respond` writes. */
async function gateway(respond: (res: http.ServerResponse) => void): Promise<Gateway> {
  const state = { requests: 0 };
  const server = http.createServer((req, res) => {
    state.requests++;
    req.resume();
    req.on('end', () => respond(res));
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise(resolve => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Answers 200 and then one byte every 100 ms, for ever: never idle long enough for a socket timeout. */
function trickle(res: http.ServerResponse): void {
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  const timer = setInterval(() => res.write('.'), 100);
  res.on('close', () => clearInterval(timer));
}

/** Settles like `promise`, or rejects with "still pending" after a generous deadline. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

describe('Pushgateway faults', () => {
  const contexts: INestApplicationContext[] = [];
  const gateways: Gateway[] = [];
  let errors: string[];

  beforeEach(() => {
    errors = captureLogs('error');
  });

  afterEach(async () => {
    for (const context of contexts.splice(0)) await within(context.close(), 20000).catch(() => undefined);
    for (const g of gateways.splice(0)) await g.close();
    jest.restoreAllMocks();
  });

  async function start(pushgateway: PushgatewayOptions, registry = new Registry()): Promise<INestApplicationContext> {
    const context = await createContext({
      imports: [PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false }, pushgateway })],
    });
    await context.init();
    contexts.push(context);
    return context;
  }

  describe('a gateway that trickles its answer (item 4)', () => {
    it('push() gives up after timeoutMs, reading the body included', async () => {
      const g = await gateway(trickle);
      gateways.push(g);
      const context = await start({ url: g.url, jobName: 'batch', timeoutMs: 500, pushOnShutdown: false });
      const started = Date.now();
      await expect(within(context.get(PushgatewayService).push(), 15000)).rejects.toThrow(
        'Pushgateway request timed out after 500 ms',
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    });

    it('app.close() returns although the final push never completes', async () => {
      const g = await gateway(trickle);
      gateways.push(g);
      const context = await start({ url: g.url, jobName: 'batch', timeoutMs: 500 });
      contexts.pop();
      await within(context.close(), 15000);
      expect(g.requests).toBe(1);
      expect(errors).toEqual([`Pushgateway final push to ${g.url} failed: Pushgateway request timed out after 500 ms`]);
    });
  });

  describe('failed pushes in the log (item 13)', () => {
    it('never show the password of the URL', async () => {
      const g = await gateway(res => res.writeHead(500).end('gateway says no'));
      gateways.push(g);
      const url = g.url.replace('http://', 'http://pusher:s3cr3t-pw@');
      const context = await start({ url, jobName: 'batch' });
      contexts.pop();
      await within(context.close(), 15000);
      expect(errors).toEqual([
        `Pushgateway final push to ${g.url} failed: push failed with status 500, gateway says no`,
      ]);
      const error = await context
        .get(PushgatewayService)
        .push()
        .then(
          () => new Error('resolved'),
          (e: unknown) => e as Error,
        );
      expect(error.message).toBe('push failed with status 500, gateway says no');
    });

    it('read a few KB of a huge error body, not all of it', async () => {
      const chunk = 'x'.repeat(64 * 1024);
      const g = await gateway(res => {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        // 8 MB, written as the client reads it: a client that stops reading stops the server too.
        let left = 128;
        const more = () => {
          while (left > 0) {
            left--;
            if (!res.write(chunk)) return void res.once('drain', more);
          }
          res.end();
        };
        more();
      });
      gateways.push(g);
      const context = await start({ url: g.url, jobName: 'batch', pushOnShutdown: false });
      const error = await within(context.get(PushgatewayService).push(), 15000).then(
        () => new Error('resolved'),
        (e: unknown) => e as Error,
      );
      expect(error.message).toMatch(/^push failed with status 500, x{100,}/);
      expect(error.message.length).toBeLessThanOrEqual(4200);
    });
  });

  describe('a registry whose collect throws what cannot be described (item 1)', () => {
    // The collect guard serves the registry without that metric: the push succeeds, the failure is
    // logged once, described without throwing.
    it.each(UNDESCRIBABLE_THROWS)(
      'the final push goes out without it, logs %s, and app.close() resolves',
      async (_what, thrown) => {
        const g = await gateway(res => res.writeHead(200).end());
        gateways.push(g);
        const registry = new Registry();
        new Gauge({
          name: 'broken_value',
          help: 'A gauge whose collect throws',
          registers: [registry],
          collect() {
            throw thrown();
          },
        });
        const context = await start({ url: g.url, jobName: 'batch' }, registry);
        contexts.pop();
        await within(context.close(), 15000);
        expect(g.requests).toBe(1);
        expect(errors).toEqual([expect.stringContaining('collecting metric "broken_value" failed (')]);
      },
    );
  });
});
