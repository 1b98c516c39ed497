import 'reflect-metadata';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Controller, Get, Inject, Injectable, type INestApplication, Param, Query } from '@nestjs/common';
import { HttpModule, HttpService } from '@nestjs/axios';
import { Registry } from 'prom-client';
import { firstValueFrom } from 'rxjs';
import request from 'supertest';
import { PrometheusModule, type PrometheusModuleOptions, PushgatewayService } from '../lib/index.js';
import { ADAPTERS, createApp, readRegistry, scrape } from './utils/app.js';
import { type Exposition, findSamples, sampleValue, sumOf } from './utils/exposition.js';

/*
 * Outbound HTTP client metrics (`forRoot({ httpClient: { enabled: true } })`): requests the app
 * makes with fetch, @nestjs/axios and node:http, counted from Node's diagnostics channels.
 */

const REQUESTS = 'http_client_requests_total';
const DURATION = 'http_client_request_duration_seconds';
const ERRORS = 'http_client_errors_total';
const SLOW_MS = 150;

type ClientKind = 'fetch' | 'axios' | 'http';
const CLIENTS: ClientKind[] = ['fetch', 'axios', 'http'];

/** What a client call gave: the status received, or the error code of a request that got no response. */
type Outcome = number | string;

interface Upstream {
  host: string;
  url: string;
  close(): Promise<void>;
}

/** A local upstream: `/ok` 200, `/fail` 500, `/slow` 200 after SLOW_MS (headers included), anything else 404. */
async function startUpstream(): Promise<Upstream> {
  const server = http.createServer((req, res) => {
    req.resume();
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/ok') res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
    else if (path === '/fail') res.writeHead(500, { 'Content-Type': 'text/plain' }).end('fail');
    else if (path === '/slow')
      setTimeout(() => res.writeHead(200, { 'Content-Type': 'text/plain' }).end('slow'), SLOW_MS);
    else res.writeHead(404).end();
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>(resolve => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A port nothing listens on (a server's, just closed). */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise(resolve => server.close(resolve));
  return port;
}

interface Received {
  method: string;
  url: string;
}

/** A stand-in for the Pushgateway that records what it gets. */
async function fakeGateway(): Promise<{ host: string; url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '' });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>(resolve => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The app's outbound calls, one method per client library. */
@Injectable()
class OutboundClient {
  constructor(private readonly axios: HttpService) {}

  async fetch(url: string, method = 'GET'): Promise<Outcome> {
    try {
      const res = await fetch(url, { method });
      await res.text();
      return res.status;
    } catch (error) {
      return String((error as { cause?: { code?: string } }).cause?.code ?? error);
    }
  }

  async axiosCall(url: string, method = 'GET'): Promise<Outcome> {
    try {
      const res = await firstValueFrom(this.axios.request({ url, method, validateStatus: () => true }));
      return res.status;
    } catch (error) {
      return String((error as { code?: string }).code ?? error);
    }
  }

  nodeHttp(url: string, method = 'GET'): Promise<Outcome> {
    return new Promise(resolve => {
      const req = http.request(url, { method }, res => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? String(error)));
      req.end();
    });
  }

  call(kind: ClientKind, url: string, method = 'GET'): Promise<Outcome> {
    if (kind === 'fetch') return this.fetch(url, method);
    if (kind === 'axios') return this.axiosCall(url, method);
    return this.nodeHttp(url, method);
  }
}

/** `GET /proxy/:client?url=...&method=...`: the app calls `url` with that client and says what it got. */
@Controller('proxy')
class ProxyController {
  constructor(@Inject(OutboundClient) private readonly client: OutboundClient) {}

  @Get(':client')
  async proxy(
    @Param('client') client: ClientKind,
    @Query('url') url: string,
    @Query('method') method = 'GET',
  ): Promise<{ outcome: Outcome }> {
    return { outcome: await this.client.call(client, url, method) };
  }
}

function clientModule(registry: Registry, options: PrometheusModuleOptions = {}) {
  return PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false }, ...options });
}

const appMetadata = (registry: Registry, options: PrometheusModuleOptions = {}) => ({
  imports: [HttpModule, clientModule(registry, options)],
  controllers: [ProxyController],
  providers: [OutboundClient],
});

function outboundFamilies(exp: Exposition): string[] {
  return [...exp.families.keys()].filter(name => name.includes('http_client_')).sort();
}

describe.each(ADAPTERS)('outbound HTTP client metrics (%s)', adapter => {
  let upstream: Upstream;
  let slowUpstream: Upstream;
  let refusedHost: string;
  let app: INestApplication | undefined;

  beforeAll(async () => {
    upstream = await startUpstream();
    // The slow calls go to a host of their own, so their series holds them alone.
    slowUpstream = await startUpstream();
    refusedHost = `127.0.0.1:${await closedPort()}`;
  });
  afterAll(async () => {
    await upstream.close();
    await slowUpstream.close();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it.each(CLIENTS)('counts %s requests by method, host and status, never by path', async kind => {
    const registry = new Registry();
    app = await createApp(adapter, appMetadata(registry, { httpClient: { enabled: true, buckets: [0.1, 5] } }));
    const server = app.getHttpServer();
    const via = (url: string, method = 'GET') =>
      request(server)
        .get(`/proxy/${kind}`)
        .query({ url, method })
        .expect(200)
        .then(res => (res.body as { outcome: Outcome }).outcome);

    expect(await via(`${upstream.url}/ok?id=1`)).toBe(200);
    expect(await via(`${upstream.url}/ok?id=2`)).toBe(200);
    expect(await via(`${upstream.url}/fail`)).toBe(500);
    expect(await via(`${upstream.url}/ok`, 'POST')).toBe(200);
    expect(await via(`${slowUpstream.url}/slow`)).toBe(200);
    expect(await via(`http://${refusedHost}/ok`)).toBe('ECONNREFUSED');

    const exp = await scrape(app);
    const host = upstream.host;
    expect(findSamples(exp, REQUESTS, { host })).toHaveLength(3);
    expect(sampleValue(exp, REQUESTS, { method: 'GET', host, status_code: '200' })).toBe(2);
    expect(sampleValue(exp, REQUESTS, { method: 'GET', host, status_code: '500' })).toBe(1);
    expect(sampleValue(exp, REQUESTS, { method: 'POST', host, status_code: '200' })).toBe(1);
    expect(sampleValue(exp, REQUESTS, { method: 'GET', host: slowUpstream.host, status_code: '200' })).toBe(1);
    // A request that never got a response: status "error", and an error counted by its code.
    expect(sampleValue(exp, REQUESTS, { method: 'GET', host: refusedHost, status_code: 'error' })).toBe(1);
    expect(sampleValue(exp, ERRORS, { method: 'GET', host: refusedHost, error: 'ECONNREFUSED' })).toBe(1);
    expect(findSamples(exp, ERRORS, { host })).toEqual([]);
    expect(findSamples(exp, ERRORS, { host: slowUpstream.host })).toEqual([]);

    // One duration observation per request, in the same series.
    expect(sampleValue(exp, `${DURATION}_count`, { method: 'GET', host, status_code: '200' })).toBe(2);
    expect(sampleValue(exp, `${DURATION}_count`, { method: 'GET', host, status_code: '500' })).toBe(1);
    expect(sampleValue(exp, `${DURATION}_count`, { method: 'GET', host: refusedHost, status_code: 'error' })).toBe(1);

    // The slow answer lands above 0.1 s and below 5 s (the `buckets` given).
    const slow = { method: 'GET', host: slowUpstream.host, status_code: '200' };
    expect(findSamples(exp, `${DURATION}_bucket`, slow).map(s => s.labels.le)).toEqual(['0.1', '5', '+Inf']);
    expect(sampleValue(exp, `${DURATION}_bucket`, { ...slow, le: '0.1' })).toBe(0);
    expect(sampleValue(exp, `${DURATION}_bucket`, { ...slow, le: '5' })).toBe(1);
    expect(sampleValue(exp, `${DURATION}_sum`, slow)).toBeGreaterThanOrEqual((SLOW_MS - 5) / 1000);

    // The path and query are never labels.
    for (const s of [...findSamples(exp, REQUESTS), ...findSamples(exp, `${DURATION}_count`)]) {
      expect(Object.keys(s.labels).sort()).toEqual(['host', 'method', 'status_code']);
    }
    for (const s of findSamples(exp, ERRORS)) expect(Object.keys(s.labels).sort()).toEqual(['error', 'host', 'method']);
    const values = exp.samples.filter(s => s.name.startsWith('http_client_')).flatMap(s => Object.values(s.labels));
    expect(values.filter(v => v.includes('/'))).toEqual([]);
  });

  it('labels hosts the `hosts` list does not name as "other"', async () => {
    const other = slowUpstream;
    // [what, hosts, label of upstream, label of the other server, label of the refused host]
    const cases: [string, (string | RegExp)[], string, string, string][] = [
      ['host:port', [upstream.host], upstream.host, 'other', 'other'],
      ['RegExp', [new RegExp(`^${upstream.host.replace(/\./g, '\\.')}$`)], upstream.host, 'other', 'other'],
      ['hostname', ['127.0.0.1'], upstream.host, other.host, refusedHost],
    ];
    for (const [what, hosts, named, otherLabel, refusedLabel] of cases) {
      const registry = new Registry();
      app = await createApp(adapter, appMetadata(registry, { httpClient: { enabled: true, hosts } }));
      const client = app.get(OutboundClient);
      for (const kind of CLIENTS) {
        expect(await client.call(kind, `${upstream.url}/ok`)).toBe(200);
        expect(await client.call(kind, `${other.url}/ok`)).toBe(200);
      }
      expect(await client.call('http', `http://${refusedHost}/ok`)).toBe('ECONNREFUSED');
      const exp = await readRegistry(registry);
      const seen = (metric: string) =>
        findSamples(exp, metric)
          .map(s => `${s.labels.host} ${s.labels.status_code ?? s.labels.error} ${s.value}`)
          .sort();
      const expected =
        otherLabel === 'other'
          ? [`${named} 200 3`, 'other 200 3', 'other error 1']
          : [`${named} 200 3`, `${otherLabel} 200 3`, `${refusedLabel} error 1`];
      expect({ what, requests: seen(REQUESTS) }).toEqual({ what, requests: expected.sort() });
      expect({ what, errors: seen(ERRORS) }).toEqual({ what, errors: [`${refusedLabel} ECONNREFUSED 1`] });
      await app.close();
      app = undefined;
    }
  });

  it('records no outbound metric unless httpClient.enabled is true', async () => {
    for (const options of [
      {},
      { httpClient: { hosts: [upstream.host] } },
      { httpClient: { enabled: false } },
    ] as PrometheusModuleOptions[]) {
      const registry = new Registry();
      app = await createApp(adapter, appMetadata(registry, options));
      const client = app.get(OutboundClient);
      for (const kind of CLIENTS) expect(await client.call(kind, `${upstream.url}/ok`)).toBe(200);
      expect(await client.call('fetch', `http://${refusedHost}/`)).toBe('ECONNREFUSED');
      const exp = await scrape(app);
      expect(exp.families.has('http_requests_total')).toBe(true);
      expect(outboundFamilies(exp)).toEqual([]);
      await app.close();
      app = undefined;
    }
  });

  it('names the metrics with `prefix`', async () => {
    const registry = new Registry();
    app = await createApp(adapter, appMetadata(registry, { httpClient: { enabled: true, prefix: 'svc_' } }));
    const client = app.get(OutboundClient);
    expect(await client.call('fetch', `${upstream.url}/ok`)).toBe(200);
    expect(await client.call('http', `http://${refusedHost}/`)).toBe('ECONNREFUSED');
    const exp = await readRegistry(registry);
    expect(outboundFamilies(exp)).toEqual([`svc_${ERRORS}`, `svc_${DURATION}`, `svc_${REQUESTS}`].sort());
    expect(sampleValue(exp, `svc_${REQUESTS}`, { host: upstream.host, status_code: '200' })).toBe(1);
    expect(sampleValue(exp, `svc_${DURATION}_count`, { host: upstream.host })).toBe(1);
    expect(sampleValue(exp, `svc_${ERRORS}`, { host: refusedHost })).toBe(1);
  });

  it('stops counting when the app closes', async () => {
    const registry = new Registry();
    app = await createApp(adapter, appMetadata(registry, { httpClient: { enabled: true } }));
    const client = app.get(OutboundClient);
    for (const kind of CLIENTS) expect(await client.call(kind, `${upstream.url}/ok`)).toBe(200);
    expect(sumOf(await readRegistry(registry), REQUESTS, { host: upstream.host })).toBe(3);

    await app.close();
    app = undefined;
    for (const kind of CLIENTS) {
      expect(await client.call(kind, `${upstream.url}/ok`)).toBe(200);
      expect(await client.call(kind, `http://${refusedHost}/`)).toBe('ECONNREFUSED');
    }
    const after = await readRegistry(registry);
    expect(sumOf(after, REQUESTS)).toBe(3);
    expect(sumOf(after, `${DURATION}_count`)).toBe(3);
    expect(sumOf(after, ERRORS)).toBe(0);
  });

  it('two apps with registries of their own each count; closing one leaves the other counting', async () => {
    const registryA = new Registry();
    const registryB = new Registry();
    app = await createApp(adapter, appMetadata(registryA, { httpClient: { enabled: true } }));
    const other = await createApp(adapter, appMetadata(registryB, { httpClient: { enabled: true } }));
    try {
      const client = other.get(OutboundClient);
      for (const kind of CLIENTS) expect(await client.call(kind, `${upstream.url}/ok`)).toBe(200);
      expect(sumOf(await readRegistry(registryA), REQUESTS, { host: upstream.host })).toBe(3);
      expect(sumOf(await readRegistry(registryB), REQUESTS, { host: upstream.host })).toBe(3);

      await app.close();
      app = undefined;
      for (const kind of CLIENTS) expect(await client.call(kind, `${upstream.url}/ok`)).toBe(200);
      expect(sumOf(await readRegistry(registryA), REQUESTS, { host: upstream.host })).toBe(3);
      expect(sumOf(await readRegistry(registryB), REQUESTS, { host: upstream.host })).toBe(6);
    } finally {
      await other.close();
    }
  });

  it('two apps on one registry (e.g. the global one) count each outgoing request once', async () => {
    const registry = new Registry();
    app = await createApp(adapter, appMetadata(registry, { httpClient: { enabled: true } }));
    const other = await createApp(adapter, appMetadata(registry, { httpClient: { enabled: true } }));
    try {
      const client = app.get(OutboundClient);
      for (const kind of CLIENTS) expect(await client.call(kind, `${upstream.url}/ok`)).toBe(200);
      const exp = await readRegistry(registry);
      expect(sampleValue(exp, REQUESTS, { method: 'GET', host: upstream.host, status_code: '200' })).toBe(3);
      expect(sampleValue(exp, `${DURATION}_count`, { method: 'GET', host: upstream.host, status_code: '200' })).toBe(3);

      // Closing one of them leaves the other counting, still once.
      await other.close();
      for (const kind of CLIENTS) expect(await client.call(kind, `${upstream.url}/ok`)).toBe(200);
      expect(sampleValue(await readRegistry(registry), REQUESTS, { host: upstream.host, status_code: '200' })).toBe(6);
    } finally {
      await other.close();
    }
  });

  it("leaves the module's own Pushgateway pushes out, and counts the app's requests", async () => {
    const gateway = await fakeGateway();
    try {
      const registry = new Registry();
      app = await createApp(
        adapter,
        appMetadata(registry, { httpClient: { enabled: true }, pushgateway: { url: gateway.url, jobName: 'job' } }),
      );
      const pushgateway = app.get(PushgatewayService);
      await pushgateway.push();
      await pushgateway.pushAdd();
      const client = app.get(OutboundClient);
      expect(await client.call('axios', `${upstream.url}/ok`)).toBe(200);
      // The app's own request to the gateway's host is counted: only the module's pushes are left out.
      expect(await client.call('http', `${gateway.url}/metrics/job/by-hand`, 'PUT')).toBe(200);
      expect(gateway.received.map(r => r.method)).toEqual(['PUT', 'POST', 'PUT']);

      const exp = await readRegistry(registry);
      expect(sampleValue(exp, REQUESTS, { method: 'GET', host: upstream.host, status_code: '200' })).toBe(1);
      expect(findSamples(exp, REQUESTS, { host: gateway.host }).map(s => [s.labels.method, s.value])).toEqual([
        ['PUT', 1],
      ]);
      expect(sumOf(exp, REQUESTS)).toBe(2);

      // The final push at shutdown goes out, uncounted.
      await app.close();
      app = undefined;
      expect(gateway.received).toHaveLength(4);
      expect(sumOf(await readRegistry(registry), REQUESTS)).toBe(2);
    } finally {
      await gateway.close();
    }
  });
});
