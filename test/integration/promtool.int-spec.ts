/**
 * The sample app's /metrics, after traffic on every route, checked by Prometheus's own tools:
 * - Prometheus text format (0.0.4): `promtool check metrics` (the linter reads this format only).
 * - OpenMetrics 1.0: `promtool check metrics` is a text-format linter (it parses OpenMetrics with the
 *   text parser and flags every counter, whose OpenMetrics family name has no `_total`, as "no help
 *   text"), so OpenMetrics goes through the strict parser of test/utils/exposition.ts and through
 *   `promtool tsdb create-blocks-from openmetrics`, which reads it with Prometheus's OpenMetrics parser.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { parseExposition, sampleValue, sumOf } from '../utils/exposition.js';
import {
  addOpenMetricsTimestamps,
  expectStatus,
  httpRequest,
  promtool,
  type SampleApp,
  startSampleApp,
} from './harness.js';

const OPENMETRICS = 'application/openmetrics-text; version=1.0.0';

/** Traffic on every route of the sample, with every outcome; returns the number of counted requests. */
async function traffic(app: SampleApp): Promise<number> {
  const json = { 'content-type': 'application/json' };
  const key = { ...json, 'x-api-key': 'sample' };
  const calls: Array<[string, string, number, Record<string, string>?, unknown?]> = [
    ['GET', '/api/v1/users', 200],
    ['GET', '/api/v1/users/1', 200],
    ['GET', '/api/v1/users/42', 404],
    ['GET', '/api/v1/users/abc', 400],
    ['POST', '/api/v1/users', 201, json, { name: 'Linus' }],
    ['GET', '/api/v1/orders/7', 200],
    ['POST', '/api/v1/orders', 201, key, { amount: 10 }],
    // A label value with a quote and a backslash (the client label comes from this header).
    ['POST', '/api/v1/orders', 201, { ...key, 'x-client': 'web "beta" \\ v2' }, { amount: 20 }],
    ['POST', '/api/v1/orders', 500, key, { amount: 5000 }],
    ['POST', '/api/v1/orders', 401, json, { amount: 10 }],
    ['POST', '/api/v1/orders/3/refund', 201, json, { reason: 'late' }],
    ['POST', '/api/v1/orders/4/refund', 201, json, { reason: 'damaged' }],
    ['GET', '/api/v1/nowhere', 404],
  ];
  for (const [method, path, status, headers, body] of calls) {
    const res = await httpRequest(app.url + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    expectStatus(res, status, `${method} ${path}`);
  }
  return calls.length;
}

/** Names of the families prom-client's collectDefaultMetrics() creates (read from prom-client itself). */
async function defaultMetricFamilies(): Promise<Set<string>> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const names = (await registry.getMetricsAsJSON()).map(m => m.name);
  registry.clear();
  return new Set(names);
}

/** The text exposition without the families in `exclude` (prom-client writes HELP, TYPE, then the samples of a family). */
function withoutFamilies(text: string, exclude: Set<string>): string {
  let dropping = false;
  return text
    .split('\n')
    .filter(line => {
      const meta = /^# (?:HELP|TYPE) (\S+)/.exec(line);
      if (meta) dropping = exclude.has(meta[1]);
      return !dropping;
    })
    .join('\n');
}

function lint(text: string): { code: number; output: string } {
  const result = promtool(['check', 'metrics'], text);
  return { code: result.code, output: (result.stdout + result.stderr).trim() };
}

describe.each(['express', 'fastify'] as const)('promtool on the sample app on %s', adapter => {
  let app: SampleApp;
  let sent: number;
  let text: string;
  let openMetrics: string;

  beforeAll(async () => {
    app = await startSampleApp({ adapter });
    sent = await traffic(app);
    const textRes = await httpRequest(`${app.url}/metrics`);
    expectStatus(textRes, 200, 'GET /metrics');
    expect(textRes.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    text = textRes.body;
    const omRes = await httpRequest(`${app.url}/metrics`, { headers: { accept: OPENMETRICS } });
    expectStatus(omRes, 200, 'GET /metrics (OpenMetrics)');
    expect(omRes.headers['content-type']).toMatch(/^application\/openmetrics-text; version=1\.0\.0/);
    openMetrics = omRes.body;
  });

  afterAll(async () => {
    await app?.close();
  });

  it('the text exposition parses strictly and holds the traffic', () => {
    const exp = parseExposition(text);
    expect(sumOf(exp, 'http_requests_total')).toBe(sent);
    expect(sampleValue(exp, 'orders_created_by_client_total', { client: 'web "beta" \\ v2' })).toBe(1);
    expect(sampleValue(exp, 'http_exceptions_total', { exception: 'PaymentDeclinedError' })).toBe(1);
  });

  // prom-client's collectDefaultMetrics names three gauges `_total`; dashboards use those names, so
  // the module leaves them as they are. Anything else promtool finds fails this test.
  it("promtool check metrics finds nothing in the whole text exposition but prom-client's three `_total` gauges", () => {
    const result = lint(text);
    expect(result.code).toBe(3);
    expect(result.output.split('\n').sort()).toEqual([
      'nodejs_active_handles_total non-counter metrics should not have "_total" suffix',
      'nodejs_active_requests_total non-counter metrics should not have "_total" suffix',
      'nodejs_active_resources_total non-counter metrics should not have "_total" suffix',
    ]);
  });

  it("promtool check metrics passes the module's own metrics (all but prom-client's default metrics) with no warning", async () => {
    const defaults = await defaultMetricFamilies();
    const own = withoutFamilies(text, defaults);
    // What is left: the HTTP metrics, the decorator and injected metrics, app_info.
    const families = [...parseExposition(own).families.keys()];
    expect(families).toEqual(
      expect.arrayContaining([
        'http_requests_total',
        'http_request_duration_seconds',
        'http_requests_in_progress',
        'orders_payment_seconds',
        'orders_lookup_seconds',
        'app_info',
      ]),
    );
    expect(families.filter(f => defaults.has(f))).toEqual([]);
    expect(lint(own)).toEqual({ code: 0, output: '' });
  });

  it('the OpenMetrics exposition parses strictly and holds the same requests as the text one', () => {
    const exp = parseExposition(openMetrics, 'openmetrics');
    expect(exp.families.get('http_requests')?.type).toBe('counter');
    expect(sumOf(exp, 'http_requests_total')).toBe(sent);
    expect(sampleValue(exp, 'orders_created_by_client_total', { client: 'web "beta" \\ v2' })).toBe(1);
    expect(exp.families.get('http_request_duration_seconds')?.type).toBe('histogram');
  });

  it("Prometheus's OpenMetrics parser (promtool tsdb create-blocks-from openmetrics) reads every sample", () => {
    const samples = parseExposition(openMetrics, 'openmetrics').samples.length;
    const dir = mkdtempSync(join(tmpdir(), 'promtool-om-'));
    try {
      const input = join(dir, 'metrics.om');
      writeFileSync(input, addOpenMetricsTimestamps(openMetrics, Math.floor(Date.now() / 1000)));
      const result = promtool(['tsdb', 'create-blocks-from', 'openmetrics', input, join(dir, 'blocks')]);
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
      // One block; its row: ULID, min time, max time, duration, samples, chunks, series, size.
      const rows = result.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map(l => l.trim().split(/\s+/));
      expect(rows).toHaveLength(1);
      expect(Number(rows[0][4])).toBe(samples);
      expect(Number(rows[0][6])).toBe(samples);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
