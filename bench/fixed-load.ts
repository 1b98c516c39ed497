import { Agent, request } from 'node:http';

/**
 * A fixed number of requests of issue 21's traffic mix (the same as bench/wrk-mix.lua: 60%
 * `GET /users/<id>`, 20% `POST /orders` with a 201-byte JSON body, 20% `GET /health`), on
 * `CONCURRENCY` keep-alive connections, in a fixed order: for bench/instructions.sh, which counts
 * the server's instructions per request (wrk runs for a time, not a number of requests).
 *
 *   node dist/bench/bench/fixed-load.js http://127.0.0.1:3903 10000 [concurrency=16] [mix|path]
 *
 * `path`: every request is `GET /users/42` (what `npm run bench` sends with TRAFFIC=path).
 *
 * Exits 1 if any response is not 200/201.
 */

const ORDER_BASE = '{"customerId":4711,"items":[{"sku":"A-1001","quantity":2},{"sku":"B-2002","quantity":1}],"note":"';
const ORDER_BODY = `${ORDER_BASE}${'x'.repeat(201 - ORDER_BASE.length - 2)}"}`;

async function main(): Promise<void> {
  const [base, countArg, concurrencyArg, traffic = 'mix'] = process.argv.slice(2);
  if (traffic !== 'mix' && traffic !== 'path')
    throw new Error(`fixed-load.js: traffic must be mix or path, not ${traffic}`);
  const count = Number(countArg);
  const concurrency = Number(concurrencyArg ?? 16);
  if (!base || !Number.isInteger(count) || count < 1)
    throw new Error('usage: fixed-load.js <base url> <requests> [concurrency]');
  const url = new URL(base);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  let next = 0;
  let failed = 0;
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      // The same 10-request cycle every time: 6 users, 2 orders, 2 health checks.
      const k = traffic === 'path' ? 0 : i % 10;
      const post = k === 3 || k === 7;
      const path =
        traffic === 'path'
          ? '/users/42'
          : post
            ? '/orders'
            : k === 5 || k === 9
              ? '/health'
              : `/users/${(i % 100) + 1}`;
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path,
          method: post ? 'POST' : 'GET',
          agent,
          headers: post ? { 'content-type': 'application/json', 'content-length': ORDER_BODY.length } : {},
        },
        res => {
          if (res.statusCode !== 200 && res.statusCode !== 201) failed++;
          res.resume();
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
      req.end(post ? ORDER_BODY : undefined);
    });
  const worker = async () => {
    while (next < count) await one(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  process.stdout.write(`sent ${count} requests, ${failed} failed\n`);
  if (failed > 0) process.exit(1);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
