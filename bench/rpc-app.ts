import 'reflect-metadata';
import { Controller, Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, type MicroserviceOptions, Payload, Transport } from '@nestjs/microservices';

/**
 * The microservice benchmark server: a NestJS TCP microservice with one message handler, bare or
 * with `PrometheusModule.forRoot({ port })` (a pure microservice has no HTTP server of its own, so
 * the metrics get a server on a port of their own).
 *
 *   node dist/bench/bench/rpc-app.js --instrumented=yes|no [--port=3911] [--metrics-port=3912] [--host=127.0.0.1]
 *
 * The same settings can come from the environment: BENCH_INSTRUMENTED, PORT, METRICS_PORT, HOST.
 * Prints a line starting with `ready` once listening; exits cleanly on SIGTERM/SIGINT.
 */

interface RpcBenchOptions {
  instrumented: boolean;
  port: number;
  metricsPort: number;
  host: string;
}

function parsePort(name: string, value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`rpc bench app: bad ${name} "${value}"`);
  return port;
}

function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): RpcBenchOptions {
  const args = new Map<string, string>();
  for (const arg of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new Error(`rpc bench app: unexpected argument "${arg}"`);
    args.set(m[1], m[2] ?? 'yes');
  }
  const instrumented = (args.get('instrumented') ?? env.BENCH_INSTRUMENTED ?? 'no').toLowerCase();
  if (!['yes', 'no', 'true', 'false', '1', '0'].includes(instrumented)) {
    throw new Error(`rpc bench app: instrumented must be yes or no, not "${instrumented}"`);
  }
  const options = {
    instrumented: ['yes', 'true', '1'].includes(instrumented),
    port: parsePort('port', args.get('port') ?? env.PORT ?? '3911'),
    metricsPort: parsePort('metrics port', args.get('metrics-port') ?? env.METRICS_PORT ?? '3912'),
    host: args.get('host') ?? env.HOST ?? '127.0.0.1',
  };
  if (options.port === options.metricsPort) throw new Error('rpc bench app: port and metrics port must differ');
  return options;
}

@Controller()
class MathController {
  /** Synchronous: the handler's own cost is next to nothing, so what is measured is the framework's. */
  @MessagePattern('sum')
  sum(@Payload() values: number[]): number {
    let total = 0;
    for (const value of values) total += value;
    return total;
  }
}

async function appModule(options: RpcBenchOptions): Promise<Type<unknown>> {
  // The bare app does not even load the library (nor prom-client): only the instrumented one imports it.
  const imports = [];
  if (options.instrumented) {
    const { PrometheusModule } = await import('../lib/index.js');
    imports.push(PrometheusModule.forRoot({ port: options.metricsPort, host: options.host }));
  }
  @Module({ imports, controllers: [MathController] })
  class AppModule {}
  return AppModule;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2), process.env);
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(await appModule(options), {
    transport: Transport.TCP,
    options: { host: options.host, port: options.port },
    logger: false,
  });
  await app.listen();

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // Exit even if a client keeps its connection open.
    setTimeout(() => process.exit(0), 5000).unref();
    app.close().then(
      () => process.exit(0),
      () => process.exit(0),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  const metrics = options.instrumented ? ` metrics=http://${options.host}:${options.metricsPort}/metrics` : '';
  process.stdout.write(
    `ready pid=${process.pid} instrumented=${options.instrumented ? 'yes' : 'no'} ` +
      `tcp=${options.host}:${options.port}${metrics}\n`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
