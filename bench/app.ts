import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import {
  Body,
  Controller,
  Get,
  Module,
  Param,
  ParseIntPipe,
  Post,
  type INestApplication,
  type Type,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

/**
 * The benchmark server: a small NestJS app, bare or with `PrometheusModule.forRoot()` (defaults).
 *
 *   node dist/bench/bench/app.js --adapter=express|fastify --instrumented=yes|no [--port=3901] [--host=127.0.0.1]
 *
 * The same settings can come from the environment: BENCH_ADAPTER, BENCH_INSTRUMENTED, PORT, HOST.
 * BENCH_DEFAULT_METRICS=no: the instrumented app without prom-client's process metrics
 * (`defaultMetrics: { enabled: false }`), to tell their cost from the HTTP metrics' (bench/instructions.sh).
 * Prints a line starting with `ready` once listening; exits cleanly on SIGTERM/SIGINT (so that
 * `node --cpu-prof` writes its profile).
 *
 * With BENCH_CPU_PROFILE=<file> (used by bench/profile.sh), SIGUSR2 starts V8's sampling profiler
 * (prints `profiling`), and SIGTERM stops it and writes the .cpuprofile before exiting: a profile of
 * the measured load only, without startup and warm-up. BENCH_CPU_PROFILE_INTERVAL: sampling
 * interval in µs (default 200).
 *
 * On exit it prints `eventloop p50_ms=… p99_ms=… max_ms=…`: the event loop's delay over the whole
 * run (warm-up included), sampled every 10 ms by `monitorEventLoopDelay` (bench/run.sh reports it as
 * the run's event-loop stalls).
 */

type AdapterName = 'express' | 'fastify';

interface BenchOptions {
  adapter: AdapterName;
  instrumented: boolean;
  port: number;
  host: string;
}

function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions {
  const args = new Map<string, string>();
  for (const arg of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new Error(`bench app: unexpected argument "${arg}"`);
    args.set(m[1], m[2] ?? 'yes');
  }
  const adapter = args.get('adapter') ?? env.BENCH_ADAPTER ?? 'express';
  if (adapter !== 'express' && adapter !== 'fastify') {
    throw new Error(`bench app: adapter must be express or fastify, not "${adapter}"`);
  }
  const instrumented = (args.get('instrumented') ?? env.BENCH_INSTRUMENTED ?? 'no').toLowerCase();
  if (!['yes', 'no', 'true', 'false', '1', '0'].includes(instrumented)) {
    throw new Error(`bench app: instrumented must be yes or no, not "${instrumented}"`);
  }
  const port = Number(args.get('port') ?? env.PORT ?? 3901);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`bench app: bad port "${port}"`);
  return {
    adapter,
    instrumented: ['yes', 'true', '1'].includes(instrumented),
    port,
    host: args.get('host') ?? env.HOST ?? '127.0.0.1',
  };
}

@Controller('users')
class UsersController {
  @Get(':id')
  get(@Param('id', ParseIntPipe) id: number) {
    return { id, name: `user-${id}`, email: `user${id}@example.com`, active: true };
  }
}

interface OrderBody {
  customerId?: number;
  items?: unknown[];
}

/** `POST /orders` with a JSON body (bench/wrk-mix.lua sends 201 bytes): body parsing and its size metric. */
@Controller('orders')
class OrdersController {
  private next = 1;

  @Post()
  create(@Body() body: OrderBody) {
    return { id: this.next++, customerId: body.customerId, items: Array.isArray(body.items) ? body.items.length : 0 };
  }
}

@Controller()
class HealthController {
  @Get('health')
  health() {
    return { status: 'ok' };
  }
}

async function appModule(instrumented: boolean): Promise<Type<unknown>> {
  // The bare app does not even load the library (nor prom-client): only the instrumented one imports it.
  const imports = [];
  if (instrumented) {
    const { PrometheusModule } = await import('../lib/index.js');
    const defaultMetrics = process.env.BENCH_DEFAULT_METRICS !== 'no';
    imports.push(PrometheusModule.forRoot(defaultMetrics ? {} : { defaultMetrics: { enabled: false } }));
  }
  @Module({ imports, controllers: [UsersController, OrdersController, HealthController] })
  class AppModule {}
  return AppModule;
}

async function createApp(options: BenchOptions): Promise<INestApplication> {
  const module = await appModule(options.instrumented);
  if (options.adapter === 'express') {
    const { ExpressAdapter } = await import('@nestjs/platform-express');
    return NestFactory.create(module, new ExpressAdapter(), { logger: false });
  }
  const { FastifyAdapter } = await import('@nestjs/platform-fastify');
  return NestFactory.create(module, new FastifyAdapter(), { logger: false });
}

/** Starts the in-process sampling profiler; the returned function stops it and writes the profile. */
async function startProfiler(file: string, intervalUs: number): Promise<() => Promise<void>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: intervalUs });
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2), process.env);
  const app = await createApp(options);
  await app.listen(options.port, options.host);
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();

  const profileFile = process.env.BENCH_CPU_PROFILE;
  let stopProfiler: Promise<() => Promise<void>> | undefined;
  if (profileFile) {
    process.on('SIGUSR2', () => {
      stopProfiler ??= startProfiler(profileFile, Number(process.env.BENCH_CPU_PROFILE_INTERVAL ?? 200));
      stopProfiler.then(
        () => process.stdout.write('profiling\n'),
        (error: unknown) => console.error('bench app: could not start the profiler', error),
      );
    });
  }

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    loopDelay.disable();
    const ms = (ns: number) => (ns / 1e6).toFixed(2);
    process.stdout.write(
      `eventloop p50_ms=${ms(loopDelay.percentile(50))} p99_ms=${ms(loopDelay.percentile(99))} max_ms=${ms(loopDelay.max)}\n`,
    );
    // Exit even if a client keeps a connection open; process.exit() still writes --cpu-prof profiles.
    setTimeout(() => process.exit(0), 5000).unref();
    (stopProfiler ?? Promise.resolve(async () => {}))
      .then(write => write())
      .catch((error: unknown) => console.error('bench app: could not write the profile', error))
      .then(() => app.close())
      .then(
        () => process.exit(0),
        () => process.exit(0),
      );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  process.stdout.write(
    `ready pid=${process.pid} adapter=${options.adapter} instrumented=${options.instrumented ? 'yes' : 'no'} ` +
      `url=http://${options.host}:${options.port}\n`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
