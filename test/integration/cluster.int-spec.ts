/**
 * The sample app on a Node cluster (sample/cluster.ts, compiled to dist/sample/sample/cluster.js):
 * workers share the app port and use `forRoot({ cluster: true })`, so `/metrics` on any worker
 * answers with every worker's metrics, aggregated by the primary (`PrometheusCluster.setupPrimary()`),
 * which also serves them on METRICS_PORT.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { StatusView } from '../../lib/status-page/status-merge.js';
import { parseExposition, sumOf } from '../utils/exposition.js';
import {
  expectStatus,
  freePort,
  httpRequest,
  type ManagedProcess,
  runRequests,
  spawnSampleScript,
  waitFor,
} from './harness.js';

const WORKERS = 2;

/** Live (not zombie) child processes of `ppid`, from /proc. */
function childPids(ppid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, parent] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(parent) === ppid && state !== 'Z') pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids.sort((a, b) => a - b);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the sample app on a Node cluster', () => {
  let cluster: ManagedProcess;
  let url: string;
  let primaryMetricsUrl: string;
  const seenWorkers = new Set<number>();

  /** Worker pids that logged "worker <pid> serving" and are live children of the primary. */
  function servingWorkers(): number[] {
    const logged = new Set([...cluster.output().matchAll(/worker (\d+) serving/g)].map(m => Number(m[1])));
    return childPids(cluster.child.pid ?? -1).filter(pid => logged.has(pid));
  }

  /** GET /metrics on the app port, on a new connection (so on any worker), parsed strictly. */
  async function scrape(
    format: 'prometheus' | 'openmetrics' = 'prometheus',
    base = url,
  ): Promise<ReturnType<typeof parseExposition>> {
    const headers: Record<string, string> =
      format === 'openmetrics' ? { accept: 'application/openmetrics-text; version=1.0.0' } : {};
    const res = await httpRequest(`${base}/metrics`, { headers, newConnection: true });
    expectStatus(res, 200, `GET ${base}/metrics`);
    return parseExposition(res.body, format);
  }

  async function sendUsers(count: number): Promise<void> {
    await runRequests(count, 4, async () => {
      const res = await httpRequest(`${url}/api/v1/users`, { newConnection: true });
      expectStatus(res, 200, 'GET /api/v1/users');
    });
  }

  beforeAll(async () => {
    const port = await freePort();
    const metricsPort = await freePort();
    url = `http://127.0.0.1:${port}`;
    primaryMetricsUrl = `http://127.0.0.1:${metricsPort}`;
    cluster = spawnSampleScript('cluster.js', {
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
      HOST: '127.0.0.1',
      WORKERS: String(WORKERS),
    });
    try {
      await waitFor(`${WORKERS} cluster workers serving ${url}`, async () => {
        if (cluster.child.exitCode !== null) throw new Error(`the cluster exited (${cluster.child.exitCode})`);
        return servingWorkers().length === WORKERS;
      });
      const health = await httpRequest(`${url}/health`, { newConnection: true });
      expectStatus(health, 200, 'GET /health');
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- cluster output ---\n${cluster.output()}`, { cause: err });
    }
    for (const pid of servingWorkers()) seenWorkers.add(pid);
  });

  afterAll(async () => {
    await cluster?.stop();
    // Workers leave with their primary; make sure of it.
    for (const pid of seenWorkers) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  });

  it(`runs ${WORKERS} distinct worker processes under the primary`, () => {
    const workers = servingWorkers();
    expect(new Set(workers).size).toBe(WORKERS);
    expect(workers).not.toContain(cluster.child.pid);
  });

  it('counts K requests spread over the workers exactly, whichever worker (or the primary) is scraped', async () => {
    const k = 40;
    await sendUsers(k);
    // Several scrapes on new connections: the cluster round-robins them over the workers.
    for (let i = 0; i < 4; i++) {
      const exp = await scrape();
      expect(sumOf(exp, 'http_requests_total')).toBe(k);
      expect(sumOf(exp, 'http_requests_total', { route: '/api/v1/users', status_code: '200' })).toBe(k);
      expect(sumOf(exp, 'http_request_duration_seconds_count', { route: '/api/v1/users' })).toBe(k);
      expect(sumOf(exp, 'http_requests_in_progress')).toBe(0);
    }
    expect(sumOf(await scrape('openmetrics'), 'http_requests_total')).toBe(k);
    expect(sumOf(await scrape('prometheus', primaryMetricsUrl), 'http_requests_total')).toBe(k);
  });

  it("the status page's JSON, from any worker, shows the whole cluster: route counts summed, every worker answered", async () => {
    const users = { method: 'GET', route: '/api/v1/users' };
    const before = sumOf(await scrape(), 'http_requests_total', { route: users.route });
    const k = 30;
    await sendUsers(k);
    const expected = sumOf(await scrape(), 'http_requests_total');
    // New connections: the cluster round-robins them, so more than one worker serves the page.
    for (let i = 0; i < 4; i++) {
      const res = await httpRequest(`${url}/api/metrics/status.json`, { newConnection: true });
      expectStatus(res, 200, 'GET /api/metrics/status.json');
      const view = JSON.parse(res.body) as StatusView;
      expect(view.workers).toEqual({ answered: WORKERS, expected: WORKERS });
      const http = view.sections.find(section => section.name === 'http');
      const row = http?.rows.find(r => r.labels.method === users.method && r.labels.route === users.route);
      expect(row?.requests).toBe(before + k);
      expect(http?.total.requests).toBe(expected);
      expect(row?.inFlight).toBe(0);
      // Over the last minute, across the workers: every one of them 2xx, so no error share.
      expect(row?.ratio5xx).toBe(0);
      expect(row?.p50).toBeGreaterThan(0);
      expect(view.cardinality.metrics.find(m => m.name === 'http_requests_total')?.series).toBeGreaterThan(0);
    }
  });

  it("a worker that does not answer (stopped) is left out of the page's view, which says so, and is never an error", async () => {
    const [stopped] = servingWorkers();
    process.kill(stopped, 'SIGSTOP');
    try {
      let view: StatusView | undefined;
      // The stopped worker is handed some of the connections and never answers them: try again.
      for (let attempt = 0; attempt < 6 && !view; attempt++) {
        const res = await httpRequest(`${url}/api/metrics/status.json`, { newConnection: true, timeoutMs: 8000 }).catch(
          () => undefined,
        );
        if (!res) continue;
        expectStatus(res, 200, 'GET /api/metrics/status.json with a worker stopped');
        view = JSON.parse(res.body) as StatusView;
      }
      expect(view?.workers).toEqual({ answered: 1, expected: WORKERS });
      expect(view?.sections.find(section => section.name === 'http')?.total.requests).toBeGreaterThan(0);
    } finally {
      process.kill(stopped, 'SIGCONT');
    }
  });

  it('app_info stays 1 in the aggregated exposition (README: `app_info{version="0.1.0"} 1`), not one per worker', async () => {
    for (const base of [url, primaryMetricsUrl]) {
      const exp = await scrape('prometheus', base);
      expect(sumOf(exp, 'app_info', { version: '0.1.0' })).toBe(1);
    }
  });

  it('a killed worker: scrapes still answer and parse; its counts leave with it, and its replacement counts from 0', async () => {
    const before = sumOf(await scrape(), 'http_requests_total');
    expect(before).toBeGreaterThan(0);
    const [victim, survivor] = servingWorkers();
    process.kill(victim);
    await waitFor(
      `worker ${victim} to exit`,
      async () => !isAlive(victim) || !childPids(cluster.child.pid ?? -1).includes(victim),
      15000,
    );

    // Right after the kill (the replacement may still be booting): the survivor's counts only.
    // Connections were round-robined over both workers, so each served some of them.
    const afterKill = await scrape();
    const survivorCount = sumOf(afterKill, 'http_requests_total');
    expect(survivorCount).toBeGreaterThan(0);
    expect(survivorCount).toBeLessThan(before);
    expect(sumOf(await scrape('prometheus', primaryMetricsUrl), 'http_requests_total')).toBe(survivorCount);

    // The primary forks a replacement; once it serves, new requests are counted on top.
    await waitFor('a replacement worker', async () => {
      const workers = servingWorkers();
      return workers.length === WORKERS && !workers.includes(victim);
    });
    const workers = servingWorkers();
    for (const pid of workers) seenWorkers.add(pid);
    expect(workers).toContain(survivor);
    const k2 = 20;
    await sendUsers(k2);
    for (let i = 0; i < 2; i++) {
      expect(sumOf(await scrape(), 'http_requests_total')).toBe(survivorCount + k2);
    }
  });
});
