/**
 * Native histograms end to end (issue 17): the sample app with `http.nativeHistograms` on, scraped
 * over protobuf by Prometheus 2.42 with `--enable-feature=native-histograms`. What Prometheus
 * computes from the native series must agree with the requests sent: their count exactly, their
 * total duration within what the server and the client measured, and each quantile within the
 * schema's growth factor of the true one.
 */
import { join } from 'node:path';
import {
  expectStatus,
  httpRequest,
  type PrometheusServer,
  runRequests,
  type SampleApp,
  ROOT,
  startPrometheus,
  startSampleApp,
  waitFor,
} from './harness.js';
import { nativeDashboardTargets } from './native-dashboard.js';

/** Schema 3 (the default bucket factor 1.1): buckets 2^(1/8) wide. */
const GROWTH = 2 ** (1 / 8);
const ROUTE = '/api/v1/slow';

/**
 * Sleep times of the requests (ms): the 50th, 90th and 99th of 100 fall inside a group, away from
 * its edges, so rounding of q * count cannot move a quantile to another group. Long enough that
 * the overhead of a busy machine (tens of ms) stays small beside them: the true quantiles are
 * known to a few percent.
 */
const PLAN = [
  ...Array.from({ length: 55 }, () => 200),
  ...Array.from({ length: 40 }, () => 700),
  ...Array.from({ length: 5 }, () => 2000),
];

async function valueOf(prom: PrometheusServer, expr: string): Promise<number> {
  const result = await prom.query(expr);
  if (result.length !== 1) throw new Error(`${expr} returned ${result.length} series: ${JSON.stringify(result)}`);
  return Number(result[0].value[1]);
}

/** The k-th smallest (1-based) of `values`. */
function orderStatistic(values: number[], k: number): number {
  return [...values].sort((a, b) => a - b)[k - 1];
}

const ADAPTERS = ['express', 'fastify'] as const;
const apps = {} as Record<(typeof ADAPTERS)[number], SampleApp>;
let prom: PrometheusServer;

beforeAll(async () => {
  apps.express = await startSampleApp({ adapter: 'express', env: { NATIVE_HISTOGRAMS: 'true' } });
  apps.fastify = await startSampleApp({ adapter: 'fastify', env: { NATIVE_HISTOGRAMS: 'true' } });
  prom = await startPrometheus({
    targets: [apps.express.url, apps.fastify.url],
    jobName: 'native',
    features: ['native-histograms'],
    ruleFiles: [join(ROOT, 'observability', 'prometheus-rules-native.yml')],
  });
});

afterAll(async () => {
  await prom?.stop();
  await Promise.all(Object.values(apps).map(app => app.close()));
});

describe.each(ADAPTERS)('native histograms of the sample app on %s, scraped by Prometheus over protobuf', adapter => {
  it('count, sum and quantiles agree with the requests sent', async () => {
    const app = apps[adapter];
    const series = `http_request_duration_seconds{instance="${app.url.replace('http://', '')}",route="${ROUTE}"}`;
    const clientSeconds: number[] = new Array(PLAN.length);
    // 10 at once: below the harness agent's 16 sockets, so no request waits for one on the client.
    await runRequests(PLAN.length, 10, async i => {
      const started = process.hrtime.bigint();
      const res = await httpRequest(`${app.url}${ROUTE}?ms=${PLAN[i]}`);
      clientSeconds[i] = Number(process.hrtime.bigint() - started) / 1e9;
      expectStatus(res, 200, `GET ${ROUTE}?ms=${PLAN[i]}`);
    });
    await prom.waitForScrapes(2, 60000);

    // A native histogram: histogram_count/histogram_sum answer only for native series.
    expect(await valueOf(prom, `histogram_count(${series})`)).toBe(PLAN.length);
    const sum = await valueOf(prom, `histogram_sum(${series})`);
    // The server measures each request within what the client saw, and no shorter than its sleep
    // (timers may fire up to 1 ms early).
    const slept = PLAN.reduce((a, ms) => a + (ms - 1) / 1000, 0);
    const seen = clientSeconds.reduce((a, b) => a + b, 0);
    expect(sum).toBeGreaterThanOrEqual(slept);
    expect(sum).toBeLessThanOrEqual(seen);
    // The classic _bucket series of this histogram are not stored: Prometheus 2.42 takes a
    // histogram with native buckets as native only.
    expect(await prom.query(`http_request_duration_seconds_bucket{route="${ROUTE}"}`)).toEqual([]);
    // Other metrics came over protobuf as well: the counter, and a classic histogram.
    expect(
      await valueOf(prom, `sum(http_requests_total{instance="${app.url.replace('http://', '')}",route="${ROUTE}"})`),
    ).toBe(PLAN.length);
    expect(
      (
        await prom.query(
          `http_response_size_bytes_bucket{instance="${app.url.replace('http://', '')}",route="${ROUTE}"}`,
        )
      ).length,
    ).toBeGreaterThan(1);

    const report: string[] = [];
    for (const q of [0.5, 0.9, 0.99]) {
      const k = Math.ceil(q * PLAN.length);
      // The k-th smallest server-side duration lies between the k-th smallest sleep and the k-th
      // smallest client-side duration (each request's server duration lies between the two).
      const low = (orderStatistic(PLAN, k) - 1) / 1000;
      const high = orderStatistic(clientSeconds, k);
      const estimate = await valueOf(prom, `histogram_quantile(${q}, ${series})`);
      const sleptSeconds = orderStatistic(PLAN, k) / 1000;
      report.push(
        `q=${q}: estimate ${estimate.toFixed(4)} s, true in [${low.toFixed(4)}, ${high.toFixed(4)}] s, ` +
          `estimate / sleep - 1 = ${(estimate / sleptSeconds - 1).toFixed(4)} (bound ±${(GROWTH - 1).toFixed(4)})`,
      );
      expect(estimate).toBeGreaterThanOrEqual(low / GROWTH);
      expect(estimate).toBeLessThanOrEqual(high * GROWTH);
    }
    // The figures of the closing note (error bound measured), in the test's output.
    process.stdout.write(`native histograms (${adapter}):\n  ${report.join('\n  ')}\n`);
  });
});

describe('observability/prometheus-rules-native.yml evaluated by Prometheus 2.42', () => {
  it('records quantiles and the mean of the latency per route from the native series', async () => {
    const app = apps.express;
    const tagged = '/api/v1/slow/:tag';
    const clientSeconds: number[] = [];
    const send = (count: number) =>
      runRequests(count, 10, async () => {
        const started = process.hrtime.bigint();
        const res = await httpRequest(`${app.url}/api/v1/slow/rules?ms=300`);
        clientSeconds.push(Number(process.hrtime.bigint() - started) / 1e9);
        expectStatus(res, 200, 'GET /api/v1/slow/rules?ms=300');
      });
    // A series of its own (route /api/v1/slow/:tag), all at 300 ms; in two batches with a scrape
    // between, so that a 5-minute rate has an increase to work on whenever the series appeared.
    await send(10);
    await prom.waitForScrapes(1, 60000);
    await send(30);
    const low = 0.299 / GROWTH;
    const high = Math.max(...clientSeconds) * GROWTH;
    for (const rule of ['p50', 'p90', 'p99', 'mean']) {
      const name = `job_route:http_request_duration_seconds:${rule}_native_rate5m{job="native",route="${tagged}"}`;
      // Rules run every second: poll until one has seen the scrape after the traffic.
      // Rules run every second: poll until one has seen the scrape after the traffic (a value out
      // of bounds never ends the wait, so the test fails with the name and the bounds).
      const value = await waitFor(`${name} within [${low}, ${high}]`, async () => {
        const result = await prom.query(name);
        const v = result.length === 1 ? Number(result[0].value[1]) : NaN;
        return v >= low && v <= high ? v : undefined;
      });
      expect(value).toBeGreaterThanOrEqual(low);
    }
  });
});

describe('observability/grafana-dashboard.json: the native-histogram row against Prometheus 2.42 scraping native histograms', () => {
  it('every target of the row returns data: at least one series, every value a finite number, every legend label present', async () => {
    const targets = nativeDashboardTargets();
    expect(targets.length).toBeGreaterThanOrEqual(4);
    // Traffic of its own on both apps, in two batches with a scrape between, so that a rate over
    // the window has an increase whichever other tests ran before.
    const send = () =>
      Promise.all(
        Object.values(apps).map(app =>
          runRequests(10, 5, async () => {
            const res = await httpRequest(`${app.url}/api/v1/slow/dashboard?ms=50`);
            expectStatus(res, 200, 'GET /api/v1/slow/dashboard?ms=50');
          }),
        ),
      );
    await send();
    await prom.waitForScrapes(1, 60000);
    await send();
    await prom.waitForScrapes(2, 60000);
    // What Grafana sends with job "native", every instance and route, and a window holding both batches.
    const values: Record<string, string> = {
      '${prefix}': '',
      $job: 'native',
      $instance: '.*',
      $route: '.*',
      $__rate_interval: '5m',
    };
    const concrete = (expr: string) =>
      Object.entries(values).reduce((text, [variable, value]) => text.split(variable).join(value), expr);
    const problems: string[] = [];
    for (const target of targets) {
      const expr = concrete(target.expr);
      expect(expr).not.toContain('$');
      const result = await prom.query(expr);
      const legendLabels = [...(target.legendFormat ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map(m => m[1]);
      if (!result.some(r => r.metric.route === '/api/v1/slow/:tag'))
        problems.push(`${target.panel} [${target.refId}]: no series of /api/v1/slow/:tag for ${expr}`);
      for (const r of result) {
        if (!Number.isFinite(Number(r.value[1])))
          problems.push(`${target.panel} [${target.refId}]: ${JSON.stringify(r.metric)} = ${r.value[1]}`);
        for (const l of legendLabels)
          if (!r.metric[l]) problems.push(`${target.panel} [${target.refId}]: legend label ${l} missing`);
      }
    }
    expect(problems).toEqual([]);
  });
});
