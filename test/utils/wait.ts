// Waiting without timing assumptions: poll with a generous deadline instead of sleeping a fixed time.
import type { INestApplication } from '@nestjs/common';
import * as net from 'node:net';
import { scrape } from './app.js';
import type { Exposition } from './exposition.js';

/**
 * Resolves after `ms`. Only for pacing a loop or holding work open, never as the wait for a result
 * (use {@link until} or {@link scrapeUntil}).
 *
 * @example await sleep(20);
 */
export const sleep = (ms: number): Promise<void> => new Promise<void>(resolve => setTimeout(resolve, ms));

/** A promise and the function that resolves it, to hold a handler open until the test lets it go. */
export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
}

/**
 * A promise the test resolves when it chooses.
 *
 * @example
 * const gate = deferred();
 * const call = service.work(gate.promise); // in progress until...
 * gate.resolve();
 */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>(r => (resolve = r));
  return { promise, resolve };
}

/**
 * A TCP port nothing listens on right now (for a microservice that must be given a port).
 *
 * @example const port = await freePort();
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  await new Promise<void>(resolve => server.listen(0, host, resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise(resolve => server.close(resolve));
  return port;
}

/**
 * Polls `condition` every 10 ms until it holds or `ms` have passed; then returns either way (the
 * caller's assertions fail when it never held).
 *
 * @example await until(() => client.frames.length === 3);
 */
export async function until(condition: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await sleep(10);
}

/**
 * Scrapes `/metrics` every 20 ms until `done` holds (transports record after the client's call
 * resolves) or `ms` have passed; returns the last scrape either way (the caller's assertions then
 * fail).
 *
 * @example const exp = await scrapeUntil(app, e => sumOf(e, 'rpc_requests_total') === 3);
 */
export async function scrapeUntil(
  app: INestApplication,
  done: (exp: Exposition) => boolean,
  ms = 20_000,
): Promise<Exposition> {
  const deadline = Date.now() + ms;
  for (;;) {
    const exp = await scrape(app);
    if (done(exp) || Date.now() > deadline) return exp;
    await sleep(20);
  }
}
