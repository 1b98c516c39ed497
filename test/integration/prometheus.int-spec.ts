/**
 * The sample app (its own process) scraped every second by a real Prometheus: what Prometheus
 * stores and computes (PromQL through its HTTP API) must match the traffic sent, exactly.
 */
import { findSamples, parseExposition } from '../utils/exposition.js';
import {
  expectStatus,
  httpRequest,
  runRequests,
  type PrometheusServer,
  type SampleApp,
  startPrometheus,
  startSampleApp,
} from './harness.js';

const ORDER_HEADERS = { 'content-type': 'application/json', 'x-api-key': 'sample' };

/** The one value of an instant query, or undefined when it returns no series. */
async function valueOf(prom: PrometheusServer, expr: string): Promise<number | undefined> {
  const result = await prom.query(expr);
  if (result.length > 1) throw new Error(`${expr} returned ${result.length} series: ${JSON.stringify(result)}`);
  return result.length === 0 ? undefined : Number(result[0].value[1]);
}

async function placeOrder(app: SampleApp, amount = 10): Promise<void> {
  const res = await httpRequest(`${app.url}/api/v1/orders`, {
    method: 'POST',
    headers: ORDER_HEADERS,
    body: JSON.stringify({ amount }),
  });
  expectStatus(res, 201, 'POST /api/v1/orders');
}

const ADAPTERS = ['express', 'fastify'] as const;
const apps = {} as Record<(typeof ADAPTERS)[number], SampleApp>;
let prom: PrometheusServer;

// One Prometheus scrapes both apps (one job, two targets): its first scrape comes ~5 s after it
// starts (service discovery updates are throttled), so it is started once.
beforeAll(async () => {
  apps.express = await startSampleApp({ adapter: 'express' });
  apps.fastify = await startSampleApp({ adapter: 'fastify' });
  prom = await startPrometheus({
    targets: [apps.express.url, apps.fastify.url],
    scrapeIntervalSeconds: 1,
    jobName: 'sample',
  });
});

afterAll(async () => {
  await prom?.stop();
  await Promise.all(Object.values(apps).map(app => app.close()));
});

describe.each(ADAPTERS)('sample app on %s scraped by Prometheus', adapter => {
  let app: SampleApp;
  let instance: string;
  /** A label matcher `{instance="<this app>",...}`. */
  let on: (labels?: string) => string;

  beforeAll(() => {
    app = apps[adapter];
    instance = app.url.replace('http://', '');
    on = (labels = '') => `{instance="${instance}"${labels ? `,${labels}` : ''}}`;
  });

  it('is up, and neither its own /metrics scrapes nor /health probes are counted', async () => {
    await prom.waitForScrapes(3);
    expect(await valueOf(prom, `up${on('job="sample"')}`)).toBe(1);
    expect(await valueOf(prom, `app_info${on('job="sample",app="sample",version="0.1.0"')}`)).toBe(1);
    // The harness polled /health (@DoNotTrack) until the app answered, and Prometheus has
    // scraped /metrics at least 3 times: no request series at all.
    expect(await prom.query(`http_requests_total${on()}`)).toEqual([]);
    expect(await prom.query(`http_request_duration_seconds_count${on()}`)).toEqual([]);
    expect(await prom.query(`http_requests_in_progress${on()}`)).toEqual([]);
  });

  it('stores exactly the number of requests sent, per route and status code', async () => {
    const before = (await valueOf(prom, `sum(http_requests_total${on()})`)) ?? 0;
    const plan: Array<{ path: string; status: number; count: number }> = [
      { path: '/api/v1/users', status: 200, count: 30 },
      { path: '/api/v1/users/1', status: 200, count: 20 },
      { path: '/api/v1/users/99', status: 404, count: 6 },
      { path: '/api/v1/users/abc', status: 400, count: 3 },
      { path: '/api/v1/no-such-route', status: 404, count: 4 },
      { path: '/health', status: 200, count: 10 },
    ];
    const calls = plan.flatMap(p => Array.from({ length: p.count }, () => p));
    await runRequests(calls.length, 4, async i => {
      const res = await httpRequest(app.url + calls[i].path);
      expectStatus(res, calls[i].status, `GET ${calls[i].path}`);
    });

    await prom.waitForScrapes(2);
    expect(await valueOf(prom, `sum(http_requests_total${on('method="GET",route="/api/v1/users"')})`)).toBe(30);
    const byStatus = await prom.query(
      `sum by (status_code) (http_requests_total${on('method="GET",route="/api/v1/users/:id"')})`,
    );
    expect(Object.fromEntries(byStatus.map(r => [r.metric.status_code, Number(r.value[1])]))).toEqual({
      '200': 20,
      '404': 6,
      '400': 3,
    });
    expect(await valueOf(prom, `sum(http_requests_total${on('route="__unmatched__",status_code="404"')})`)).toBe(4);
    expect(await prom.query(`http_requests_total${on('route=~"/metrics|/health"')}`)).toEqual([]);
    // Everything counted is what was sent (health probes excluded), after more scrapes too:
    // Prometheus's own requests to /metrics never add to it.
    expect(await valueOf(prom, `sum(http_requests_total${on()})`)).toBe(before + 63);
    await prom.waitForScrapes(2);
    expect(await valueOf(prom, `sum(http_requests_total${on()})`)).toBe(before + 63);
    // The histogram's count agrees with the counter, series by series.
    expect(
      await prom.query(
        `http_requests_total${on()} - on (method, route, status_code) http_request_duration_seconds_count${on()} != 0`,
      ),
    ).toEqual([]);
    // The series carry the scrape's target labels and the app's default label.
    const series = await prom.query(`http_requests_total${on('route="/api/v1/users"')}`);
    expect(series).toHaveLength(1);
    expect(series[0].metric).toMatchObject({
      job: 'sample',
      instance,
      app: 'sample',
      method: 'GET',
      status_code: '200',
    });
  });

  it('histogram_quantile over the duration buckets matches the observed durations (POST /api/v1/orders sleeps 5-25 ms)', async () => {
    const n = 40;
    await runRequests(n, 2, () => placeOrder(app));
    await prom.waitForScrapes(2);

    const selector = `http_request_duration_seconds_bucket${on('method="POST",route="/api/v1/orders"')}`;
    const promBuckets = await prom.query(`sum by (le) (${selector})`);
    // The same buckets read straight from the app (no traffic to this route since the scrapes).
    const direct = parseExposition((await httpRequest(`${app.url}/metrics`)).body);
    const directBuckets = findSamples(direct, 'http_request_duration_seconds_bucket', {
      method: 'POST',
      route: '/api/v1/orders',
    });
    expect(directBuckets.length).toBeGreaterThan(0);
    const cumulative = new Map<number, number>();
    for (const s of directBuckets) {
      const le = Number(s.labels.le === '+Inf' ? Infinity : s.labels.le);
      cumulative.set(le, (cumulative.get(le) ?? 0) + s.value);
    }
    expect(Object.fromEntries(promBuckets.map(r => [r.metric.le, Number(r.value[1])]))).toEqual(
      Object.fromEntries([...cumulative].map(([le, v]) => [le === Infinity ? '+Inf' : String(le), v])),
    );
    expect(cumulative.get(Infinity)).toBe(n);
    expect(await valueOf(prom, `sum(${selector.replace('_bucket', '_count')})`)).toBe(n);

    // The bucket that holds the median observation, from the raw counts.
    const bounds = [...cumulative.keys()].sort((a, b) => a - b);
    const rank = 0.5 * n;
    const upperIndex = bounds.findIndex(le => (cumulative.get(le) ?? 0) >= rank);
    const upper = bounds[upperIndex];
    const lower = upperIndex === 0 ? 0 : bounds[upperIndex - 1];

    const median = await valueOf(prom, `histogram_quantile(0.5, sum by (le) (${selector}))`);
    expect(median).toBeDefined();
    expect(median!).toBeGreaterThanOrEqual(lower);
    expect(median!).toBeLessThanOrEqual(upper);
    // The handler sleeps at least 5 ms, so the median request cannot sit in the first bucket (<= 5 ms).
    expect(median!).toBeGreaterThanOrEqual(0.005);
    const mean = await valueOf(
      prom,
      `sum(http_request_duration_seconds_sum${on('method="POST",route="/api/v1/orders"')}) / sum(http_request_duration_seconds_count${on('method="POST",route="/api/v1/orders"')})`,
    );
    expect(mean!).toBeGreaterThanOrEqual(0.005);
    expect(mean!).toBeLessThan(5);
  });

  it('http_requests_in_progress is 0 when idle, between 1 and the client concurrency under load, and 0 again after', async () => {
    const inProgress = `http_requests_in_progress${on('method="POST",route="/api/v1/orders"')}`;
    await prom.waitForScrapes(2);
    // Idle: every in-progress series is 0 (the scrapes themselves are not in progress).
    const idle = await prom.query(`http_requests_in_progress${on()}`);
    expect(idle.length).toBeGreaterThan(0);
    expect(idle.filter(r => Number(r.value[1]) !== 0)).toEqual([]);
    const countBefore =
      (await valueOf(prom, `sum(http_requests_total${on('method="POST",route="/api/v1/orders"')})`)) ?? 0;

    // Load: `concurrency` clients each keep one order request (5-25 ms of sleep in the handler)
    // in flight, back to back, until Prometheus has scraped 3 times during the load.
    const concurrency = 4;
    const loadStart = Date.now();
    let stop = false;
    let sent = 0;
    const clients = Array.from({ length: concurrency }, async () => {
      while (!stop) {
        sent++;
        await placeOrder(app);
      }
    });
    try {
      await prom.waitForScrapes(3);
    } finally {
      stop = true;
      await Promise.all(clients);
    }

    await prom.waitForScrapes(2);
    const peak = await valueOf(prom, `max_over_time(${inProgress}[${Date.now() - loadStart}ms])`);
    expect(peak).toBeGreaterThanOrEqual(1);
    expect(peak).toBeLessThanOrEqual(concurrency);
    expect(await valueOf(prom, inProgress)).toBe(0);
    expect(await valueOf(prom, `sum(http_requests_in_progress${on()})`)).toBe(0);
    expect(await valueOf(prom, `sum(http_requests_total${on('method="POST",route="/api/v1/orders"')})`)).toBe(
      countBefore + sent,
    );
  });
});
