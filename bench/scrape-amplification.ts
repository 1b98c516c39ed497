import 'reflect-metadata';
import { fork } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Controller, Get, Module, Param, ParseIntPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Counter, Registry } from 'prom-client';

/**
 * Scrape amplification (issue 19, item 8): the app's throughput while two clients loop on an open
 * `/metrics` holding ~24k series, against the same app without scrapers.
 *
 *   node dist/bench/bench/scrape-amplification.js [--adapter=express|fastify] [--seconds=5] [--mixed]
 *
 * Forks the app (a child process), then loads `GET /users/42` with 16 keep-alive connections for
 * `seconds` without scrapers and `seconds` with two scrapers looping on `/metrics` (both Prometheus
 * text, as two Prometheus servers of an HA pair would ask; `--mixed`: one asks for OpenMetrics).
 * Prints one JSON line: requests per second in each phase and the scrapes answered (200 / other).
 * The numbers are only comparable with runs on the same machine in the same minutes: alternate
 * the variants you compare.
 */

const SERIES_PER_COUNTER = 8000;
const COUNTERS = 3;
const CONNECTIONS = 16;

@Controller('users')
class UsersController {
  @Get(':id')
  get(@Param('id', ParseIntPipe) id: number) {
    return { id, name: `user-${id}` };
  }
}

async function serve(adapterName: string): Promise<void> {
  const { PrometheusModule } = await import('../lib/index.js');
  const registry = new Registry();
  for (let c = 0; c < COUNTERS; c++) {
    const counter = new Counter({
      name: `bench_items_${c}_total`,
      help: 'Many series',
      labelNames: ['item', 'shard'],
      registers: [registry],
    });
    for (let i = 0; i < SERIES_PER_COUNTER; i++) counter.inc({ item: `item-${i}`, shard: String(i % 7) }, i);
  }
  @Module({
    imports: [PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false } })],
    controllers: [UsersController],
  })
  class AppModule {}
  const adapter =
    adapterName === 'fastify'
      ? new (await import('@nestjs/platform-fastify')).FastifyAdapter()
      : new (await import('@nestjs/platform-express')).ExpressAdapter();
  const app = await NestFactory.create(AppModule, adapter, { logger: false });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  process.send?.({ port });
}

function get(agent: http.Agent, port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent, headers }, res => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

async function load(port: number, ms: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const end = Date.now() + ms;
  let done = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < end) {
        await get(agent, port, '/users/42');
        done++;
      }
    }),
  );
  agent.destroy();
  return done / (ms / 1000);
}

async function main(): Promise<void> {
  const args = new Map(process.argv.slice(2).map(a => [a.replace(/^--/, '').split('=')[0], a.split('=')[1] ?? 'yes']));
  const adapter = args.get('adapter') ?? 'express';
  if (args.get('serve') === 'yes') return serve(adapter);
  const ms = Number(args.get('seconds') ?? 5) * 1000;
  const mixed = args.get('mixed') === 'yes';
  const child = fork(process.argv[1], [`--adapter=${adapter}`, '--serve']);
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m: { port: number }) => resolve(m.port));
      child.once('exit', code => reject(new Error(`server exited with ${code}`)));
    });
    await load(port, 1000); // warm-up
    const quiet = await load(port, ms);
    const scrapes = { ok: 0, other: 0 };
    let scraping = true;
    const scraper = async (accept: string) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      while (scraping) {
        const status = await get(agent, port, '/metrics', { Accept: accept });
        if (status === 200) scrapes.ok++;
        else scrapes.other++;
      }
      agent.destroy();
    };
    const scrapers = [
      scraper('text/plain'),
      scraper(mixed ? 'application/openmetrics-text; version=1.0.0' : 'text/plain'),
    ];
    const busy = await load(port, ms);
    scraping = false;
    await Promise.all(scrapers);
    console.log(
      JSON.stringify({
        adapter,
        mixed,
        quietRps: Math.round(quiet),
        scrapedRps: Math.round(busy),
        scrapesOk: scrapes.ok,
        scrapesOther: scrapes.other,
      }),
    );
  } finally {
    child.kill();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
