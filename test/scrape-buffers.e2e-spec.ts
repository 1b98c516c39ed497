import 'reflect-metadata';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';
import { ADAPTERS, createApp, isolatedPrometheus } from './utils/app.js';

// Bodies are encoded into buffers reused from scrape to scrape (lib/core/exposition/body-buffer-pool.ts).
// A body larger than what loopback sockets buffer (a few MB), so that a client that stops reading
// holds its response open while the next scrapes run.
const SERIES = 40_000;
const PADDING = 'x'.repeat(100);

interface Scraped {
  status: number;
  values: Map<string, number>;
}

function parseValues(body: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of body.split('\n')) {
    const m = /^items_total\{item="(\d+)",pad="x+"\} (\S+)$/.exec(line);
    if (m) values.set(m[1], Number(m[2]));
  }
  return values;
}

function get(port: number, onResponse?: (res: http.IncomingMessage) => void): Promise<Scraped> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, res => {
        onResponse?.(res);
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, values: parseValues(Buffer.concat(chunks).toString('utf8')) }),
        );
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** Every series has `value`: no byte of another scrape's body in this one. */
function expectAll(scraped: Scraped, value: number): void {
  expect(scraped.status).toBe(200);
  expect(scraped.values.size).toBe(SERIES);
  const wrong = [...scraped.values].filter(([, v]) => v !== value);
  expect(wrong.slice(0, 3)).toEqual([]);
}

describe.each(ADAPTERS)('scrape bodies in reused buffers (%s)', adapter => {
  let app: INestApplication;
  let port: number;
  let items: Counter;
  const incAll = () => {
    for (let i = 0; i < SERIES; i++) items.inc({ item: String(i), pad: PADDING });
  };

  beforeAll(async () => {
    const registry = new Registry();
    items = new Counter({ name: 'items_total', help: 'Items', labelNames: ['item', 'pad'], registers: [registry] });
    incAll();
    app = await createApp(adapter, { imports: [isolatedPrometheus(registry)] });
    await app.listen(0, '127.0.0.1');
    port = ((app.getHttpServer() as http.Server).address() as AddressInfo).port;
  }, 60_000);

  afterAll(async () => {
    await app?.close();
  });

  it('serves each scrape its own values across reuse, a client that stops reading and one that goes away', async () => {
    expectAll(await get(port), 1);
    incAll();
    // Two scrapes sharing one rendering, then one more: every body whole and of its moment.
    const [a, b] = await Promise.all([get(port), get(port)]);
    expectAll(a, 2);
    expectAll(b, 2);
    expectAll(await get(port), 2);

    // A client that goes away after the first bytes: its response closes unfinished.
    await new Promise<void>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, res => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? resolve() : reject(error)));
    });

    // A client that stops reading holds its body's buffers: later scrapes must not write into them.
    // Its headers come once its rendering is done: renderings are spaced by the last one's
    // duration, seconds on a loaded machine, so the test waits for them rather than a fixed time.
    let paused!: http.IncomingMessage;
    let onPaused!: () => void;
    const pausedNow = new Promise<void>(resolve => (onPaused = resolve));
    const slow = get(port, res => {
      paused = res;
      res.pause();
      onPaused();
    });
    await pausedNow;
    try {
      incAll();
      expectAll(await get(port), 3);
      incAll();
      expectAll(await get(port), 4);
    } finally {
      // Never left paused: the app could not close with its connection open.
      paused.resume();
    }
    expectAll(await slow, 2);
    expectAll(await get(port), 4);
  }, 120_000);
});
