// Browser test of the status page (npm run test:browser): Debian's `chromium` driven by
// playwright-core opens the page of the sample app (dist/sample, built first) on Express and on
// Fastify after known traffic, and checks what a reader sees:
//   - a row per route, with the request counts of the traffic sent (read back from /metrics);
//   - latency cells (p50/p95/p99) within the bucket of the duration histogram that holds each quantile;
//   - the six charts drawn (canvas pixels that are not transparent);
//   - the page refreshing by itself (new traffic shows up without a reload);
//   - the filter box and a sortable column;
//   - no request leaving the machine (every request but the app's is intercepted and aborted), and
//     no error in the console (a Content-Security-Policy violation is one);
// and saves a screenshot (docs/status-page.png, the README's) from the Express run.
//
//   npm run test:browser                       both adapters
//   node test/browser/status-page.browser.mjs fastify
//   SKIP_BUILD=1 ...                           reuse dist/sample
//   CHROMIUM=/path/to/chrome ...               another browser binary
//
// Each adapter runs in a child process of its own: the sample serves prom-client's global
// registry, which a second app in the same process would find already filled.
// Last line: `browser: N passed, N failed`; exits 1 when any check failed.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const CHILD = '--child';

if (process.argv[2] === CHILD) {
  await runChild(process.argv[3]);
} else {
  await runParent(process.argv.slice(2));
}

/** Finds Debian's chromium, installing it (apt-get, as root) when it is missing. */
function chromiumPath() {
  const candidates = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean);
  const found = candidates.find(path => existsSync(path));
  if (found) return found;
  if (process.getuid?.() !== 0) {
    throw new Error('chromium is not installed: apt-get install -y chromium (as root), or set CHROMIUM=/path');
  }
  console.log('browser: installing chromium (apt-get install -y chromium)');
  execFileSync('apt-get', ['update', '-q'], { stdio: 'inherit', timeout: 600_000 });
  execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'chromium'], {
    stdio: 'inherit',
    timeout: 900_000,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (!existsSync('/usr/bin/chromium')) throw new Error('apt-get install chromium left no /usr/bin/chromium');
  return '/usr/bin/chromium';
}

async function runParent(adapters) {
  const chromium = chromiumPath();
  if (process.env.SKIP_BUILD !== '1') execFileSync('npm', ['run', 'build:sample'], { cwd: root, stdio: 'inherit' });
  let passed = 0;
  let failed = 0;
  for (const adapter of adapters.length ? adapters : ['express', 'fastify']) {
    const { code, output } = await new Promise(resolve => {
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url), CHILD, adapter], {
        cwd: root,
        env: { ...process.env, CHROMIUM: chromium },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', chunk => (output += chunk));
      child.stderr.on('data', chunk => (output += chunk));
      child.on('close', code => resolve({ code, output }));
    });
    // The child prints one line per check ("ok ..." / "not ok ..."); Nest's own logs are left out.
    const checks = output.split('\n').filter(line => /^(not )?ok /.test(line));
    for (const line of checks) console.log(`${adapter}: ${line}`);
    passed += checks.filter(line => line.startsWith('ok ')).length;
    failed += checks.filter(line => line.startsWith('not ok ')).length;
    if (code !== 0) {
      failed += checks.some(line => line.startsWith('not ok ')) ? 0 : 1;
      console.log(`${adapter}: exited ${code}\n${output.split('\n').slice(-40).join('\n')}`);
    }
  }
  console.log(`browser: ${passed} passed, ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
}

async function runChild(adapter) {
  const { chromium } = await import('playwright-core');
  const { createSampleApp } = await import(pathToFileURL(join(root, 'dist/sample/sample/create-sample-app.js')).href);
  const failures = [];
  const check = (name, ok, detail = '') => {
    console.log(`${ok ? 'ok' : 'not ok'} ${name}${ok || !detail ? '' : `: ${detail}`}`);
    if (!ok) failures.push(name);
  };

  const app = await createSampleApp(adapter);
  app.useLogger(false);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address();
  const base = `http://127.0.0.1:${port}`;
  // Requests come from a process of their own: the sample measures this process's outbound
  // requests (httpClient), where the test's own would show up as the app's.
  const send = (requests, concurrent = false) => sendFromAnotherProcess(base, requests, concurrent);

  // Known traffic: 10 slow requests (150 ms) on one route, 6 × 200 and 3 × 404 on another.
  const SLOW_MS = 150;
  await send(Array(10).fill(`/api/v1/users?delayMs=${SLOW_MS}`), true);
  await send([...Array(6).fill('/api/v1/users/1'), ...Array(3).fill('/api/v1/users/99')]);
  const exposition = await (await fetch(`${base}/metrics`)).text();
  const counts = requestCounts(exposition);
  check(
    'the traffic is in /metrics',
    counts.get('GET /api/v1/users') === 10 && counts.get('GET /api/v1/users/:id') === 9,
  );

  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM, args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const leaving = [];
  const consoleErrors = [];
  // Every request is intercepted: the app's go through, anything else is recorded and aborted.
  await page.route('**/*', route => {
    const url = new URL(route.request().url());
    if (url.origin === base) return route.continue();
    leaving.push(url.href);
    return route.abort();
  });
  page.on('console', message => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', error => consoleErrors.push(error.message));

  try {
    const response = await page.goto(`${base}/api/metrics/status`);
    check('the page answers 200', response?.status() === 200, String(response?.status()));
    await page.waitForFunction(() => Number(document.body.dataset.refreshes) >= 1, null, { timeout: 30_000 });

    const rows = await readRows(page);
    const routes = new Map(rows.map(row => [`${row.method} ${row.route}`, row]));
    check(
      'a row per route, with the counts of /metrics',
      rows.length === counts.size && [...counts].every(([key, count]) => routes.get(key)?.requests === String(count)),
      JSON.stringify(rows.map(r => [r.method, r.route, r.requests])),
    );
    const byId = routes.get('GET /api/v1/users/:id');
    check('the 404 share of /api/v1/users/:id', byId?.ratio4xx === '33 %', byId?.ratio4xx);
    check('no route of the page itself in its table', !rows.some(row => row.route.includes('status')));

    const slow = routes.get('GET /api/v1/users');
    for (const q of ['p50', 'p95', 'p99']) {
      const [lower, upper] = quantileBucket(exposition, '/api/v1/users', { p50: 0.5, p95: 0.95, p99: 0.99 }[q]);
      const value = Number(slow?.[q]);
      check(
        `${q} of the slow route within its histogram bucket (${lower}, ${upper}] s`,
        value >= lower && value <= upper && upper >= SLOW_MS / 1000,
        String(slow?.[q]),
      );
    }

    // Charts: every canvas holds drawn pixels.
    const canvases = await page.$$eval('.chart canvas', list =>
      list.map(canvas => {
        const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
        let drawn = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) drawn++;
        return drawn;
      }),
    );
    check('six charts drawn', canvases.length === 6 && canvases.every(n => n > 0), JSON.stringify(canvases));

    // The filter box and a sortable column.
    await page.fill('#filter', 'users/:id');
    const filtered = await readRows(page);
    check('the filter box keeps matching rows', filtered.length === 1 && filtered[0].route === '/api/v1/users/:id');
    await page.fill('#filter', '');
    await page.click('#routes th[data-sort="p99"]');
    const sorted = await readRows(page);
    check('sorting by p99 puts the slow route first', sorted[0]?.route === '/api/v1/users', sorted[0]?.route);

    // Refreshing: more traffic shows up without a reload.
    const before = await page.evaluate(() => Number(document.body.dataset.refreshes));
    await send(Array(4).fill('/api/v1/users/1'));
    await page.waitForFunction(n => Number(document.body.dataset.refreshes) > n, before, { timeout: 30_000 });
    await page.waitForFunction(
      () =>
        document.querySelector('#routes tr[data-route="/api/v1/users/:id"] [data-col="requests"]')?.textContent ===
        '13',
      null,
      { timeout: 30_000 },
    );
    check('the page refreshes by itself and shows new traffic', true);

    const cardinality = await page.$$eval('#cardinality tbody tr', list => list.map(tr => tr.dataset.metric));
    check('the cardinality panel lists http_requests_total', cardinality.includes('http_requests_total'));
    const sections = await page.$$eval('#sections table', list => list.map(t => t.id));
    // A section per family of request metrics that /metrics has (outbound HTTP, rpc, ws, GraphQL).
    const families = {
      outbound: 'http_client_requests_total',
      rpc: 'rpc_requests_total',
      ws: 'ws_messages_total',
      graphql: 'graphql_requests_total',
    };
    const expected = Object.keys(families).filter(name => exposition.includes(`# TYPE ${families[name]} `));
    check(
      'a section per family of request metrics the app has',
      expected.length > 0 && JSON.stringify(sections) === JSON.stringify(expected.map(name => `section-${name}`)),
      `${JSON.stringify(sections)} vs ${JSON.stringify(expected)}`,
    );

    if (adapter === 'express' && process.env.NO_SCREENSHOT !== '1') {
      // A few ticks of steady traffic, so the charts of the screenshot have lines.
      // Orders call the sample's payment provider: its outbound section gets rows too.
      const order = amount => ({
        method: 'POST',
        path: '/api/v1/orders',
        headers: { 'x-api-key': 'sample', 'content-type': 'application/json' },
        body: JSON.stringify({ amount }),
      });
      const until = Date.now() + 22_000;
      while (Date.now() < until) {
        await send(['/api/v1/users/1', '/api/v1/users?delayMs=40', '/api/v1/users/abc', order(10), order(5000)], true);
        await new Promise(resolve => setTimeout(resolve, 150));
      }
      const refreshes = await page.evaluate(() => Number(document.body.dataset.refreshes));
      await page.waitForFunction(n => Number(document.body.dataset.refreshes) > n, refreshes, { timeout: 30_000 });
      mkdirSync(join(root, 'docs'), { recursive: true });
      await page.screenshot({ path: join(root, 'docs/status-page.png'), fullPage: true });
      check('screenshot saved to docs/status-page.png', existsSync(join(root, 'docs/status-page.png')));
    }

    check('no request left the machine', leaving.length === 0, leaving.join(', '));
    check('no error in the console (CSP violations included)', consoleErrors.length === 0, consoleErrors.join(' | '));
  } catch (error) {
    check('the page test ran to the end', false, error?.stack ?? String(error));
  } finally {
    await browser.close();
    await app.close();
  }
  process.exit(failures.length > 0 ? 1 : 0);
}

/** Sends requests (paths, or `{ method, path, headers, body }`) from a child process; resolves once all are answered. */
function sendFromAnotherProcess(base, requests, concurrent) {
  const script = `
    const [base, requests, concurrent] = JSON.parse(process.argv[1]);
    const one = r => { const o = typeof r === 'string' ? { path: r } : r;
      return fetch(base + o.path, { method: o.method, headers: o.headers, body: o.body }).then(res => res.arrayBuffer()); };
    (concurrent ? Promise.all(requests.map(one)) : requests.reduce((p, r) => p.then(() => one(r)), Promise.resolve()))
      .then(() => process.exit(0), e => { console.error(e); process.exit(1); });`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script, JSON.stringify([base, requests, concurrent])], {
      stdio: 'inherit',
    });
    child.on('close', code => (code === 0 ? resolve() : reject(new Error(`the traffic process exited ${code}`))));
  });
}

/** The route table as the page shows it. */
function readRows(page) {
  return page.$$eval('#routes tbody tr', list =>
    list.map(tr => {
      const cell = col => tr.querySelector(`[data-col="${col}"]`);
      return {
        method: tr.dataset.method,
        route: tr.dataset.route,
        requests: cell('requests')?.textContent,
        ratio4xx: cell('ratio4xx')?.textContent,
        p50: cell('p50')?.dataset.seconds,
        p95: cell('p95')?.dataset.seconds,
        p99: cell('p99')?.dataset.seconds,
      };
    }),
  );
}

/** `http_requests_total` per method and route, summed over status codes. */
function requestCounts(exposition) {
  const counts = new Map();
  for (const match of exposition.matchAll(/^http_requests_total\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries([...match[1].matchAll(/(\w+)="([^"]*)"/g)].map(m => [m[1], m[2]]));
    const key = `${labels.method} ${labels.route}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(match[2]));
  }
  return counts;
}

/** The bounds of the duration histogram's bucket that holds the `q` quantile of a GET route. */
function quantileBucket(exposition, route, q) {
  const buckets = new Map();
  for (const match of exposition.matchAll(/^http_request_duration_seconds_bucket\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries([...match[1].matchAll(/(\w+)="([^"]*)"/g)].map(m => [m[1], m[2]]));
    if (labels.route !== route || labels.method !== 'GET') continue;
    const le = labels.le === '+Inf' ? Infinity : Number(labels.le);
    buckets.set(le, (buckets.get(le) ?? 0) + Number(match[2]));
  }
  const total = buckets.get(Infinity) ?? 0;
  let lower = 0;
  for (const bound of [...buckets.keys()].sort((a, b) => a - b)) {
    if (buckets.get(bound) >= q * total) return [lower, bound];
    lower = bound;
  }
  return [NaN, NaN];
}
