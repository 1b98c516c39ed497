/**
 * Shared helpers of the integration suite (`npm run test:integration`): real Prometheus,
 * Pushgateway and promtool binaries, the sample app as a child process, free ports, HTTP helpers.
 *
 * Every process started here is tracked: `stop()`/`close()` ends it, and a process 'exit' handler
 * kills whatever is left, so a failing test leaves no server behind.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  accessSync,
  constants as fsConstants,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInThisContext } from 'node:vm';

/** The repository's root (this file is test/integration/harness.ts). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const sleep = (ms: number): Promise<void> => new Promise(r => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Child processes

const children = new Set<ChildProcess>();
let exitHandlerInstalled = false;

/**
 * Jest hands tests a copy of `process` whose events are its own ('exit' never fires on it):
 * the real one is the global of the main context.
 */
export function realProcess(): NodeJS.Process {
  try {
    const real = runInThisContext('process') as NodeJS.Process;
    if (real && typeof real.on === 'function') return real;
  } catch {
    // not in a sandbox
  }
  return process;
}

function installExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  realProcess().on('exit', () => killAllChildren());
}

/** util-linux's setpriv, to have the kernel kill a child whose parent dies (even by SIGKILL). */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find(p => existsSync(p));

/** Kills (SIGKILL) every process this module started that is still running. */
export function killAllChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
}

export interface ManagedProcess {
  child: ChildProcess;
  /** stdout and stderr so far (the last 256 KiB), for diagnostics. */
  output(): string;
  /** Resolves when the process has exited (at once if it has). */
  exited(): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Spawns a tracked child process whose output is kept for error messages. */
export function spawnManaged(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): ManagedProcess {
  installExitHandler();
  const [file, argv] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'SIGKILL', '--', command, ...args]] : [command, args];
  const child = spawn(file, argv, {
    cwd: options.cwd ?? ROOT,
    env: options.env ?? childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  // A server left running (a test that failed before its cleanup) must not keep jest alive: once
  // jest is done, the 'exit' handler kills it.
  child.unref();
  (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  let out = '';
  const keep = (chunk: Buffer): void => {
    out += chunk.toString('utf8');
    if (out.length > 262144) out = out.slice(-262144);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', err => keep(Buffer.from(`spawn error: ${err.message}\n`)));
  const exitPromise = new Promise<void>(r => child.once('close', () => r()));
  child.once('exit', () => children.delete(child));
  const isRunning = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    child,
    output: () => out,
    exited: () => exitPromise,
    async stop(graceMs = 5000) {
      if (isRunning()) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => {
          if (isRunning()) child.kill('SIGKILL');
        }, graceMs);
        await exitPromise;
        clearTimeout(timer);
      } else {
        await exitPromise;
      }
      children.delete(child);
    },
  };
}

/** The environment for child Node processes: jest's NODE_OPTIONS (--experimental-vm-modules) left out. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  return env;
}

// ---------------------------------------------------------------------------------------------
// Ports and HTTP

/** A TCP port that was free on 127.0.0.1 a moment ago (bind to port 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const server = createServer();
    server.unref();
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        rej(new Error('no port'));
        return;
      }
      const { port } = address;
      server.close(() => res(port));
    });
  });
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * One HTTP request with node:http. `newConnection: true` opens a connection of its own and
 * closes it after the response (`Connection: close`), so that requests spread over cluster workers.
 */
export function httpRequest(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    newConnection?: boolean;
    timeoutMs?: number;
  } = {},
): Promise<HttpResponse> {
  return new Promise((res, rej) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
    if (options.newConnection) headers.connection = 'close';
    const req = http.request(
      url,
      { method: options.method ?? 'GET', headers, agent: options.newConnection ? false : keepAliveAgent },
      response => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('end', () =>
          res({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        response.on('error', rej);
      },
    );
    req.setTimeout(options.timeoutMs ?? 15000, () =>
      req.destroy(new Error(`timeout: ${options.method ?? 'GET'} ${url}`)),
    );
    req.on('error', rej);
    req.end(options.body);
  });
}

const keepAliveAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 30000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)}` : ''}`,
      );
    }
    await sleep(everyMs);
  }
}

async function waitUntilUp(name: string, url: string, proc: ManagedProcess, timeoutMs = 30000): Promise<void> {
  await waitFor(
    `${name} at ${url}`,
    async () => {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
        throw new ExitedEarly(
          `${name} exited (${proc.child.exitCode ?? proc.child.signalCode}) before it was ready:\n${proc.output()}`,
        );
      }
      try {
        const r = await httpRequest(url, { timeoutMs: 2000, newConnection: true });
        return r.status === 200;
      } catch {
        return false;
      }
    },
    timeoutMs,
  ).catch((err: unknown) => {
    if (err instanceof ExitedEarly) throw err;
    throw new Error(`${(err as Error).message}\n--- ${name} output ---\n${proc.output()}`);
  });
}

class ExitedEarly extends Error {}

/** Starts a server on a free port, trying another port if the one picked was taken meanwhile. */
async function startOnFreePort<T>(name: string, start: (port: number) => Promise<T>): Promise<T> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (err) {
      lastError = err;
      if (!(err instanceof ExitedEarly) || !/address already in use|EADDRINUSE/i.test(err.message)) throw err;
    }
  }
  throw new Error(`${name}: no free port after 3 attempts: ${String(lastError)}`);
}

// ---------------------------------------------------------------------------------------------
// Binaries

let binaries: { prometheus: string; promtool: string; pushgateway: string } | undefined;

function findBinary(names: string[]): string | undefined {
  const dirs = [
    ...(process.env.PATH ?? '').split(':').filter(Boolean),
    '/usr/bin',
    '/usr/local/bin',
    '/usr/sbin',
    '/bin',
  ];
  for (const name of names) {
    for (const dir of dirs) {
      const candidate = join(dir, name);
      try {
        accessSync(candidate, fsConstants.X_OK);
        if (statSync(candidate).isFile()) return candidate;
      } catch {
        // not there
      }
    }
  }
  return undefined;
}

function lookUpBinaries(): Partial<{ prometheus: string; promtool: string; pushgateway: string }> {
  return {
    prometheus: findBinary(['prometheus']),
    promtool: findBinary(['promtool']),
    // Debian names it prometheus-pushgateway.
    pushgateway: findBinary(['pushgateway', 'prometheus-pushgateway']),
  };
}

/**
 * Paths of the prometheus, promtool and pushgateway binaries. When one is missing, installs
 * Debian's `prometheus` and `prometheus-pushgateway` packages (apt-get, as root); throws with a
 * clear message if they still cannot be found.
 */
export function ensureBinaries(): { prometheus: string; promtool: string; pushgateway: string } {
  if (binaries) return binaries;
  let found = lookUpBinaries();
  if (!found.prometheus || !found.promtool || !found.pushgateway) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    try {
      execFileSync('apt-get', ['update'], { env, stdio: 'pipe', timeout: 300000 });
      execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'prometheus', 'prometheus-pushgateway'], {
        env,
        stdio: 'pipe',
        timeout: 600000,
      });
    } catch (err) {
      const e = err as { message: string; stderr?: Buffer };
      throw new Error(
        `prometheus/promtool/pushgateway are not installed and apt-get could not install them ` +
          `(apt-get install prometheus prometheus-pushgateway): ${e.message}\n${e.stderr?.toString() ?? ''}`,
        { cause: err },
      );
    }
    found = lookUpBinaries();
  }
  const missing = (['prometheus', 'promtool', 'pushgateway'] as const).filter(k => !found[k]);
  if (missing.length > 0) {
    throw new Error(`not found after apt-get install prometheus prometheus-pushgateway: ${missing.join(', ')}`);
  }
  binaries = found as { prometheus: string; promtool: string; pushgateway: string };
  return binaries;
}

/** Runs promtool synchronously; `stdin` is written to its standard input. */
export function promtool(args: string[], stdin?: string): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(ensureBinaries().promtool, args, {
    input: stdin ?? '',
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 60000,
  });
  if (result.error) throw result.error;
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

// ---------------------------------------------------------------------------------------------
// Prometheus

export interface PrometheusServer {
  url: string;
  /** Instant query at the current time; the vector result (throws on any other result type). */
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  /** Instant query at the current time; the API's `data` as it is. */
  queryRaw(expr: string): Promise<unknown>;
  /**
   * Resolves once every target has been scraped successfully `n` times by scrapes that started
   * after this call (so their samples include everything that happened before it).
   */
  waitForScrapes(n: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
  /** The temporary directory holding the config and the TSDB. */
  dir: string;
  jobName: string;
  /** Prometheus's log so far. */
  output(): string;
}

interface ApiResponse {
  status: 'success' | 'error';
  data?: { resultType: string; result: unknown };
  error?: string;
  errorType?: string;
}

function stripScheme(target: string): string {
  return target.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
}

/**
 * Starts Prometheus on 127.0.0.1:<free port>, scraping `targets` (`host:port` or `http://host:port`)
 * every `scrapeIntervalSeconds` (default 1) under job `jobName` (default `integration`), with its
 * config and TSDB in a temporary directory; resolves once `/-/ready` answers.
 */
export async function startPrometheus(opts: {
  targets: string[];
  scrapeIntervalSeconds?: number;
  jobName?: string;
  metricsPath?: string;
  ruleFiles?: string[];
  /** `--enable-feature=` values, e.g. `native-histograms` (which also makes Prometheus ask for protobuf). */
  features?: string[];
}): Promise<PrometheusServer> {
  const bin = ensureBinaries().prometheus;
  const interval = opts.scrapeIntervalSeconds ?? 1;
  const jobName = opts.jobName ?? 'integration';
  const dir = mkdtempSync(join(tmpdir(), 'prom-int-'));
  const config = [
    'global:',
    `  scrape_interval: ${interval}s`,
    `  scrape_timeout: ${interval}s`,
    `  evaluation_interval: ${interval}s`,
    ...(opts.ruleFiles?.length ? ['rule_files:', ...opts.ruleFiles.map(f => `  - ${JSON.stringify(resolve(f))}`)] : []),
    'scrape_configs:',
    `  - job_name: ${JSON.stringify(jobName)}`,
    `    metrics_path: ${JSON.stringify(opts.metricsPath ?? '/metrics')}`,
    '    static_configs:',
    `      - targets: [${opts.targets.map(t => JSON.stringify(stripScheme(t))).join(', ')}]`,
    '',
  ].join('\n');
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, config);

  let proc: ManagedProcess;
  let url: string;
  try {
    ({ proc, url } = await startOnFreePort('prometheus', async port => {
      const p = spawnManaged(bin, [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=info',
        ...(opts.features ?? []).map(f => `--enable-feature=${f}`),
      ]);
      const u = `http://127.0.0.1:${port}`;
      try {
        await waitUntilUp('prometheus', `${u}/-/ready`, p);
      } catch (err) {
        await p.stop();
        throw err;
      }
      return { proc: p, url: u };
    }));
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  async function api(expr: string): Promise<NonNullable<ApiResponse['data']>> {
    const params = new URLSearchParams({ query: expr, time: (Date.now() / 1000).toFixed(3) });
    const res = await httpRequest(`${url}/api/v1/query?${params.toString()}`);
    let body: ApiResponse;
    try {
      body = JSON.parse(res.body) as ApiResponse;
    } catch {
      throw new Error(`Prometheus answered ${res.status} to ${expr}: ${res.body}`);
    }
    if (body.status !== 'success' || !body.data)
      throw new Error(`query ${expr} failed: ${body.errorType}: ${body.error}`);
    return body.data;
  }

  const server: PrometheusServer = {
    url,
    dir,
    jobName,
    output: () => proc.output(),
    async queryRaw(expr) {
      return api(expr);
    },
    async query(expr) {
      const data = await api(expr);
      if (data.resultType !== 'vector')
        throw new Error(`query ${expr} gave a ${data.resultType}, not a vector (use queryRaw)`);
      return data.result as Array<{ metric: Record<string, string>; value: [number, string] }>;
    },
    async waitForScrapes(n, timeoutMs = Math.max(30000, n * interval * 1000 * 5)) {
      // Counts the successful scrapes (up == 1) whose timestamp, the start of the scrape, is after t0.
      const t0 = Date.now();
      const targets = opts.targets.length;
      await sleep(50);
      try {
        await waitFor(
          `${n} scrape(s) of ${targets} target(s) by job ${jobName}`,
          async () => {
            const windowMs = Date.now() - t0 - 1;
            const result = await server.query(`sum_over_time(up{job=${JSON.stringify(jobName)}}[${windowMs}ms])`);
            return result.length === targets && result.every(r => Number(r.value[1]) >= n);
          },
          timeoutMs,
          100,
        );
      } catch (err) {
        // Say why: the targets' health and last scrape error.
        const targetsInfo = await httpRequest(`${url}/api/v1/targets`).then(
          r => r.body,
          (e: unknown) => (e instanceof Error ? e.message : JSON.stringify(e)),
        );
        throw new Error(`${(err as Error).message}\ntargets: ${targetsInfo}`, { cause: err });
      }
    },
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

// ---------------------------------------------------------------------------------------------
// Pushgateway

/**
 * Starts a Pushgateway (no persistence, admin API on) on 127.0.0.1:<free port>; resolves once
 * `/-/ready` answers. `wipe()` deletes every group.
 */
export async function startPushgateway(): Promise<{
  url: string;
  stop(): Promise<void>;
  wipe(): Promise<void>;
  output(): string;
}> {
  const bin = ensureBinaries().pushgateway;
  return startOnFreePort('pushgateway', async port => {
    const proc = spawnManaged(bin, [
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-admin-api',
      '--log.level=info',
    ]);
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitUntilUp('pushgateway', `${url}/-/ready`, proc);
    } catch (err) {
      await proc.stop();
      throw err;
    }
    const wipe = async (): Promise<void> => {
      const res = await httpRequest(`${url}/api/v1/admin/wipe`, { method: 'PUT' });
      if (res.status !== 202) throw new Error(`pushgateway wipe: ${res.status} ${res.body}`);
    };
    return { url, stop: () => proc.stop(), wipe, output: () => proc.output() };
  });
}

// ---------------------------------------------------------------------------------------------
// The sample app

function newestMtime(dir: string, filter: (name: string) => boolean): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path, filter));
    else if (filter(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * Compiles the sample app and the library it imports (`tsc -p sample/tsconfig.json`, into
 * dist/sample) unless the output is newer than every source. Throws with tsc's output on errors.
 */
export function buildSample(): void {
  const isTs = (name: string): boolean => name.endsWith('.ts') && !name.endsWith('.d.ts');
  const sources = Math.max(
    newestMtime(join(ROOT, 'lib'), isTs),
    newestMtime(join(ROOT, 'sample'), n => isTs(n) || n === 'tsconfig.json'),
    statSync(join(ROOT, 'tsconfig.json')).mtimeMs,
  );
  const outDir = join(ROOT, 'dist', 'sample', 'sample');
  const sampleFiles = readdirSync(join(ROOT, 'sample')).filter(isTs);
  const fresh = sampleFiles.every(f => {
    const out = join(outDir, f.replace(/\.ts$/, '.js'));
    return existsSync(out) && statSync(out).mtimeMs >= sources;
  });
  if (fresh) return;
  const tsc = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'sample', 'tsconfig.json')],
    {
      cwd: ROOT,
      encoding: 'utf8',
      env: childEnv(),
      timeout: 180000,
    },
  );
  // Exit 2: type errors, JavaScript emitted all the same. Type errors are `npm run typecheck`'s
  // business (and may be a work in progress in lib/): say so, and test the emitted code.
  if (tsc.status === 2) {
    console.warn(`tsc -p sample/tsconfig.json reported type errors (JavaScript emitted):\n${tsc.stdout}${tsc.stderr}`);
  } else if (tsc.status !== 0) {
    throw new Error(`tsc -p sample/tsconfig.json failed (${tsc.status ?? tsc.signal}):\n${tsc.stdout}${tsc.stderr}`);
  }
}

/** Starts a compiled sample script (dist/sample/sample/<script>.js) with `env`; building the sample first if needed. */
export function spawnSampleScript(script: string, env: Record<string, string>): ManagedProcess {
  buildSample();
  const file = join(ROOT, 'dist', 'sample', 'sample', script);
  if (!existsSync(file))
    throw new Error(`${file} does not exist (is sample/${script.replace(/\.js$/, '.ts')} written?)`);
  return spawnManaged(process.execPath, [file], { env: childEnv(env) });
}

export interface SampleApp {
  url: string;
  pid: number;
  close(): Promise<void>;
  output(): string;
}

/**
 * The sample app (sample/main.ts → sample/create-sample-app.ts) in a process of its own,
 * listening on 127.0.0.1:<free port>; resolves once `/health` answers 200.
 */
export async function startSampleApp(
  opts: { adapter?: 'express' | 'fastify'; env?: Record<string, string> } = {},
): Promise<SampleApp> {
  const adapter = opts.adapter ?? 'express';
  return startOnFreePort(`sample app (${adapter})`, async port => {
    // The sample's microservice listens too: on a free port of its own, not PORT + 1.
    const rpcPort = await freePort();
    const proc = spawnSampleScript('main.js', {
      PORT: String(port),
      RPC_PORT: String(rpcPort),
      HOST: '127.0.0.1',
      ADAPTER: adapter,
      ...opts.env,
    });
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitUntilUp(`sample app (${adapter})`, `${url}/health`, proc);
    } catch (err) {
      await proc.stop();
      throw err;
    }
    return { url, pid: proc.child.pid ?? -1, close: () => proc.stop(), output: () => proc.output() };
  });
}

// ---------------------------------------------------------------------------------------------
// Traffic

/** Runs `fn(i)` for i in [0, count) with at most `concurrency` calls in flight; resolves when all are done. */
export async function runRequests(
  count: number,
  concurrency: number,
  fn: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) {
      const i = next++;
      await fn(i);
    }
  });
  await Promise.all(workers);
}

/** Asserts the status of a response (with its body in the error message). */
export function expectStatus(res: HttpResponse, status: number, what: string): void {
  if (res.status !== status)
    throw new Error(`${what}: expected ${status}, got ${res.status}: ${res.body.slice(0, 500)}`);
}

// ---------------------------------------------------------------------------------------------
// Exposition helpers

/**
 * Gives every sample line of an OpenMetrics exposition the timestamp `seconds` (after its value,
 * before any exemplar): `promtool tsdb create-blocks-from openmetrics`, the one promtool command
 * that reads OpenMetrics with Prometheus's own OpenMetrics parser, requires timestamps.
 */
export function addOpenMetricsTimestamps(text: string, seconds: number): string {
  return text
    .split('\n')
    .map(line => {
      if (line === '' || line.startsWith('#')) return line;
      const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
      if (!name) throw new Error(`bad sample line: ${line}`);
      let i = name[0].length;
      if (line[i] === '{') {
        let quoted = false;
        for (i++; i < line.length; i++) {
          const c = line[i];
          if (quoted) {
            if (c === '\\') i++;
            else if (c === '"') quoted = false;
          } else if (c === '"') quoted = true;
          else if (c === '}') break;
        }
        i++;
      }
      const rest = /^ (\S+)(.*)$/.exec(line.slice(i));
      if (!rest) throw new Error(`bad sample line: ${line}`);
      return `${line.slice(0, i)} ${rest[1]} ${seconds}${rest[2]}`;
    })
    .join('\n');
}
