import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Exposition, findSamples, parseExposition, sumOf } from '../utils/exposition.js';

/*
 * Soak: SOAK_REQUESTS (default 100,000) requests over as many distinct random paths and query
 * strings, against a real server in a child process (node --expose-gc), on Express and Fastify.
 * The series stay bounded (routes + 1 for http_requests_total, cap + 1 for a decorator label fed
 * from the path), no request fails, and the heap after a forced GC stays within 10% of the heap
 * after warm-up. Run with `npm run test:soak`.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const REQUESTS = Number(process.env.SOAK_REQUESTS ?? 100_000);
const CAP = Number(process.env.SOAK_CAP ?? 1000);
// Long enough for the decorator's label (1 request in 5) to pass the cap.
const WARMUP = Number(process.env.SOAK_WARMUP ?? Math.max(10_000, 6 * CAP));
const CONCURRENCY = 64;
const SCRAPE_EVERY = Math.max(1000, Math.floor(REQUESTS / 10));
const SERVER = path.join(ROOT, 'dist/soak/test/soak/server.js');
const USER_METRIC = 'soak_user_orders_total';

type Kind = 'item' | 'list' | 'user' | 'search' | 'unmatched';

interface Planned {
  kind: Kind;
  path: string;
  status: number;
}

/** Random URL-safe text. */
function rand(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

/** Request `n` (unique per run): a distinct random path, with a random query string. */
function planned(n: number): Planned {
  const query = `?q=${rand(6)}&n=${n}${Math.random() < 0.3 ? `&x=${encodeURIComponent(rand(12))}` : ''}`;
  const roll = n % 10;
  if (roll < 3) return { kind: 'item', path: `/items/${n.toString(36)}-${rand(6)}${query}`, status: 200 };
  if (roll === 3) return { kind: 'list', path: `/items${query}&page=${n}`, status: 200 };
  if (roll < 6) return { kind: 'user', path: `/users/u${n}-${rand(3)}/orders${query}`, status: 200 };
  if (roll === 6) return { kind: 'search', path: `/search${query}&q2=${rand(4)}`, status: 200 };
  const depth = 1 + (n % 4);
  const segments = Array.from({ length: depth }, () => rand(4 + (n % 9)));
  return { kind: 'unmatched', path: `/${segments.join('/')}/${n}${query}`, status: 404 };
}

interface Child {
  process: ChildProcess;
  port: number;
  routes: number;
}

function startChild(adapter: string): Promise<Child> {
  return new Promise((resolve, reject) => {
    const child = fork(SERVER, [], {
      execArgv: ['--expose-gc'],
      env: { ...process.env, NODE_OPTIONS: '', SOAK_ADAPTER: adapter, SOAK_CAP: String(CAP) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.once('error', reject);
    child.once('exit', code => reject(new Error(`soak server exited early with ${code}`)));
    child.once('message', (m: { type: string; port: number; routes: number }) => {
      if (m.type === 'ready') resolve({ process: child, port: m.port, routes: m.routes });
    });
  });
}

function heapOf(child: Child): Promise<{ heapUsed: number; rss: number }> {
  return new Promise(resolve => {
    const onMessage = (m: { type: string; heapUsed: number; rss: number }) => {
      if (m.type !== 'heap') return;
      child.process.off('message', onMessage);
      resolve({ heapUsed: m.heapUsed, rss: m.rss });
    };
    child.process.on('message', onMessage);
    child.process.send({ type: 'heap' });
  });
}

function stopChild(child: Child): Promise<void> {
  return new Promise(resolve => {
    child.process.removeAllListeners('exit');
    child.process.once('exit', () => resolve());
    child.process.send({ type: 'stop' });
    setTimeout(() => child.process.kill(), 5000).unref();
  });
}

/** GET, resolving with the status, or with the error's message if there was no response. */
function hit(port: number, agent: http.Agent, urlPath: string): Promise<number | string> {
  return new Promise(resolve => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent }, res => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 'no status'));
      res.on('error', e => resolve(e.message));
    });
    req.on('error', e => resolve(e.message));
  });
}

async function scrape(port: number, agent: http.Agent): Promise<Exposition> {
  const text = await new Promise<string>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/metrics', agent }, res => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          res.statusCode === 200
            ? resolve(Buffer.concat(chunks).toString())
            : reject(new Error(`/metrics: ${res.statusCode}`)),
        );
      })
      .on('error', reject);
  });
  return parseExposition(text);
}

interface Tally {
  sent: number;
  byKind: Record<Kind, number>;
  failed: number;
  /** The first few failures. */
  failures: string[];
}

/** Sends requests `from`..`from + count - 1`, `CONCURRENCY` at a time; `every` runs after each `SCRAPE_EVERY`. */
async function drive(
  port: number,
  agent: http.Agent,
  from: number,
  count: number,
  tally: Tally,
  every?: () => Promise<void>,
): Promise<void> {
  let next = from;
  const end = from + count;
  let sinceCheck = 0;
  let checking: Promise<void> = Promise.resolve();
  const lane = async () => {
    while (next < end) {
      const p = planned(next++);
      const status = await hit(port, agent, p.path);
      tally.sent++;
      tally.byKind[p.kind]++;
      if (status !== p.status) {
        tally.failed++;
        if (tally.failures.length < 20) tally.failures.push(`${p.path}: ${status}`);
      }
      if (every && ++sinceCheck >= SCRAPE_EVERY) {
        sinceCheck = 0;
        checking = checking.then(every);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  await checking;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`;

beforeAll(() => {
  // The server and the library as they are now, compiled apart from dist/esm.
  execFileSync(
    process.execPath,
    [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'test/soak/tsconfig.json')],
    {
      stdio: 'inherit',
    },
  );
}, 120_000);

describe.each(['express', 'fastify'])('soak on %s', adapter => {
  let child: Child | undefined;
  let agent: http.Agent | undefined;

  afterAll(async () => {
    agent?.destroy();
    if (child) await stopChild(child);
  });

  it(`${REQUESTS} requests over distinct random paths: bounded series, no failure, flat heap`, async () => {
    child = await startChild(adapter);
    const { port, routes } = child;
    agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY + 2 });
    const tally: Tally = {
      sent: 0,
      byKind: { item: 0, list: 0, user: 0, search: 0, unmatched: 0 },
      failed: 0,
      failures: [],
    };

    // Warm-up: every route and the decorator's cap reached, JIT and pools settled.
    const t0 = performance.now();
    await drive(port, agent, 0, WARMUP, tally);
    const warmupMs = performance.now() - t0;
    expect(tally.byKind.user).toBeGreaterThan(CAP);
    const before = await heapOf(child);

    // The soak, with a scrape every SCRAPE_EVERY requests: the series never grow past their bound.
    const seriesSeen: number[] = [];
    const userSeriesSeen: number[] = [];
    const t1 = performance.now();
    await drive(port, agent, WARMUP, REQUESTS, tally, async () => {
      const exp = await scrape(port, agent!);
      seriesSeen.push(findSamples(exp, 'http_requests_total').length);
      userSeriesSeen.push(findSamples(exp, USER_METRIC).length);
    });
    const soakMs = performance.now() - t1;
    const after = await heapOf(child);

    const exp = await scrape(port, agent);
    const series = findSamples(exp, 'http_requests_total');
    const userSeries = findSamples(exp, USER_METRIC);
    const growth = (after.heapUsed - before.heapUsed) / before.heapUsed;
    console.log(
      `[soak ${adapter}] requests=${REQUESTS} (+${WARMUP} warm-up) in ${(soakMs / 1000).toFixed(1)} s ` +
        `(${Math.round(REQUESTS / (soakMs / 1000))} req/s; warm-up ${(warmupMs / 1000).toFixed(1)} s), ` +
        `failures=${tally.failed}, http_requests_total series=${series.length} (routes ${routes} + 1; max seen ${Math.max(...seriesSeen)}), ` +
        `${USER_METRIC} series=${userSeries.length} (cap ${CAP} + 1; max seen ${Math.max(...userSeriesSeen)}), ` +
        `heap after warm-up=${mb(before.heapUsed)}, after soak=${mb(after.heapUsed)} (${(growth * 100).toFixed(1)}%), ` +
        `rss ${mb(before.rss)} -> ${mb(after.rss)}`,
    );

    // No request failed: each got a response, with the status its route gives.
    expect(tally.failures).toEqual([]);
    expect(tally.failed).toBe(0);
    expect(tally.sent).toBe(WARMUP + REQUESTS);

    // Bounded series, at every scrape: routes + 1 (the unmatched one); the decorator at cap + 1.
    expect(seriesSeen.length).toBeGreaterThanOrEqual(5);
    expect(Math.max(...seriesSeen, series.length)).toBeLessThanOrEqual(routes + 1);
    expect(series.map(s => s.labels.route).sort()).toEqual([
      '/items',
      '/items/:id',
      '/search',
      '/users/:userId/orders',
      '__unmatched__',
    ]);
    expect(Math.max(...userSeriesSeen, userSeries.length)).toBe(CAP + 1);

    // Every request counted; the decorator's series sum to its calls, the overflow holding the rest.
    expect(sumOf(exp, 'http_requests_total')).toBe(WARMUP + REQUESTS);
    expect(sumOf(exp, 'http_requests_total', { route: '__unmatched__' })).toBe(tally.byKind.unmatched);
    expect(sumOf(exp, USER_METRIC)).toBe(tally.byKind.user);
    expect(sumOf(exp, USER_METRIC, { user: '__overflow__' })).toBe(tally.byKind.user - CAP);
    expect(sumOf(exp, 'prometheus_series_overflow_total', { metric: USER_METRIC })).toBe(tally.byKind.user - CAP);
    expect(sumOf(exp, 'http_requests_in_progress')).toBe(0);

    // The heap after a forced GC: within 10% of where the warm-up left it.
    expect(Math.abs(growth)).toBeLessThanOrEqual(0.1);
  }, 300_000);
});
