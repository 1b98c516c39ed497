// The sample app's scrape with native histograms off and on (issue 17's closing note): the series
// Prometheus stores and the bytes of one scrape, in text and in protobuf, after the same traffic.
// Run: npm run bench:native-sample   (after `tsc -p sample/tsconfig.json`, which the integration
// suite's harness does; ADAPTER=fastify for Fastify)
//
// Series stored: every text sample is one series, except that a histogram with native buckets,
// scraped over protobuf by Prometheus 2.42 with --enable-feature=native-histograms, is stored as one
// native series per label set instead of its _bucket, _sum and _count series.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

// Compiled to dist/bench/bench/: the repository is three levels up.
const ROOT = join(import.meta.dirname, '..', '..', '..');
const SAMPLE = join(ROOT, 'dist', 'sample', 'sample', 'main.js');
const ADAPTER = process.env.ADAPTER ?? 'express';
const PROTOBUF_ACCEPT =
  'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,' +
  'application/openmetrics-text;version=1.0.0;q=0.8,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const NATIVE_METRIC = 'http_request_duration_seconds';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilUp(url: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`${url}/health did not answer within 60 s`);
    await new Promise(r => setTimeout(r, 200));
  }
}

/** The observability suite's traffic: every kind of answer of the sample app, three rounds. */
async function traffic(url: string): Promise<void> {
  const json = { 'content-type': 'application/json' };
  const key = { ...json, 'x-api-key': 'sample' };
  const calls: [string, string, Record<string, string>?, unknown?][] = [
    ['GET', '/api/v1/users'],
    ['GET', '/api/v1/users/1'],
    ['GET', '/api/v1/users/abc'],
    ['GET', '/api/v1/users/99'],
    ['POST', '/api/v1/users', json, { name: 'Linus' }],
    ['POST', '/api/v1/orders', key, { amount: 10 }],
    ['POST', '/api/v1/orders', key, { amount: 5000 }],
    ['POST', '/api/v1/orders', json, { amount: 10 }],
    ['GET', '/api/v1/no-such-route'],
    ['GET', '/api/v1/slow?ms=5'],
  ];
  for (let round = 0; round < 3; round++) {
    for (const [method, path, headers, body] of calls) {
      const res = await fetch(url + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      await res.arrayBuffer();
    }
  }
}

async function measure(native: boolean): Promise<string> {
  const port = await freePort();
  const child = spawn(process.execPath, [SAMPLE], {
    env: {
      ...process.env,
      PORT: String(port),
      RPC_PORT: String(await freePort()),
      HOST: '127.0.0.1',
      ADAPTER,
      NATIVE_HISTOGRAMS: String(native),
    },
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilUp(url);
    await traffic(url);
    const text = await (await fetch(`${url}/metrics`)).text();
    const protobuf = Buffer.from(
      await (await fetch(`${url}/metrics`, { headers: { accept: PROTOBUF_ACCEPT } })).arrayBuffer(),
    );
    const samples = text.split('\n').filter(l => l !== '' && !l.startsWith('#'));
    const durationLines = samples.filter(l => l.startsWith(`${NATIVE_METRIC}_`));
    const durationSets = samples.filter(l => l.startsWith(`${NATIVE_METRIC}_count`)).length;
    const stored = native ? samples.length - durationLines.length + durationSets : samples.length;
    return (
      `  native ${native ? 'on ' : 'off'}: ${stored} series stored (${samples.length} text samples; ` +
      `${NATIVE_METRIC}: ${durationSets} label sets, ${durationLines.length} text samples` +
      `${native ? `, ${durationSets} native series` : ''}); ` +
      `text ${Buffer.byteLength(text)} B, protobuf ${protobuf.length} B`
    );
  } finally {
    child.kill();
  }
}

console.log(`the sample app (${ADAPTER}), one scrape after the same traffic:`);
for (const native of [false, true]) console.log(await measure(native));
