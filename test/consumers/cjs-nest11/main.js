// A NestJS 11 app ("type": "commonjs", as Nest 11 is) that uses the packed nestjs-prom-metrics
// the way an application would. Plain JavaScript: the decorators are called as functions, as
// compiled TypeScript does. ../run.sh installs the tarball, runs this file and expects exit 0.
// tsconfig.json type-checks this file against the package's typings (checkJs).
require('reflect-metadata');
const { Controller, Get, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { PrometheusModule } = require('nestjs-prom-metrics');
const { getMetricValue } = require('nestjs-prom-metrics/testing');

const NAME = 'cjs-nest11';
const EXPECTED = 'http_requests_total{method="GET",route="/hello",status_code="200"} 2';
// Under the "require" condition the package must resolve to its CommonJS build.
const EXPECTED_ENTRY = '/node_modules/nestjs-prom-metrics/dist/cjs/index.js';

/** @param {string} message @returns {never} */
function fail(message) {
  console.error(`FAIL ${NAME}: ${message}`);
  process.exit(1);
}

setTimeout(() => fail('timed out after 30 s'), 30_000).unref();

class HelloController {
  hello() {
    return 'hello';
  }
}
Get('hello')(
  HelloController.prototype,
  'hello',
  /** @type {PropertyDescriptor} */ (Object.getOwnPropertyDescriptor(HelloController.prototype, 'hello')),
);
Controller()(HelloController);

class AppModule {}
Module({ imports: [PrometheusModule.forRoot({ statusPage: true })], controllers: [HelloController] })(AppModule);

/** Never called: proves to the type check that the typings resolved (with `any` the expect-error is unused). */
function typingsResolved() {
  // @ts-expect-error `path` is a string or false
  PrometheusModule.forRoot({ path: 42 });
}

async function main() {
  const entry = require.resolve('nestjs-prom-metrics');
  if (!entry.endsWith(EXPECTED_ENTRY)) fail(`nestjs-prom-metrics resolved to ${entry}, expected …${EXPECTED_ENTRY}`);
  const nestVersion = require('@nestjs/core/package.json').version;
  if (!nestVersion.startsWith('11.')) fail(`expected @nestjs/core 11, got ${nestVersion}`);

  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${app.getHttpServer().address().port}`;

  for (let i = 0; i < 2; i++) {
    const res = await fetch(`${base}/hello`);
    const text = await res.text();
    if (res.status !== 200 || text !== 'hello') fail(`GET /hello: ${res.status} ${JSON.stringify(text)}`);
  }
  // The status page's files ship in the package (copied at build), uPlot from its own package;
  // read before /metrics, whose count of /hello must not include them.
  for (const [path, type] of [
    ['/metrics/status', 'text/html'],
    ['/metrics/status/status-page.js', 'text/javascript'],
    ['/metrics/status/status-page.css', 'text/css'],
    ['/metrics/status/uplot.js', 'text/javascript'],
    ['/metrics/status.json', 'application/json'],
  ]) {
    const page = await fetch(`${base}${path}`);
    const text = await page.text();
    const pageType = page.headers.get('content-type') ?? '';
    if (page.status !== 200 || !pageType.startsWith(type) || text.length < 100) {
      fail(`GET ${path}: ${page.status} ${pageType} ${text.slice(0, 200)}`);
    }
  }
  const res = await fetch(`${base}/metrics`);
  const body = await res.text();
  if (res.status !== 200) fail(`GET /metrics: ${res.status} ${body.slice(0, 500)}`);
  const contentType = res.headers.get('content-type') ?? '';
  if (!contentType.startsWith('text/plain')) fail(`GET /metrics: content-type ${contentType}`);
  if (!body.split('\n').includes(EXPECTED)) {
    const found = body.split('\n').filter(line => line.startsWith('http_requests_total'));
    fail(`/metrics lacks the line\n  ${EXPECTED}\nhttp_requests_total lines:\n  ${found.join('\n  ') || '(none)'}`);
  }
  // The testing entry point resolves under this module system too.
  const counted = await getMetricValue(app, 'http_requests_total', { route: '/hello' });
  if (counted !== 2) fail(`getMetricValue from nestjs-prom-metrics/testing gave ${counted}, expected 2`);
  await app.close();
  console.log(`OK ${NAME}: @nestjs/core ${nestVersion}, ${entry.slice(entry.indexOf('/node_modules/') + 1)}`);
}

main().then(
  () => process.exit(0),
  error => fail(error instanceof Error ? (error.stack ?? error.message) : String(error)),
);
