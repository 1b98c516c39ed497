import net, { type AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { jest } from '@jest/globals';
import { type INestApplication, Logger } from '@nestjs/common';
import { type Exposition, findSamples } from '../utils/exposition.js';

/** Polls `probe` until `done` holds or `timeoutMs` passed (generous: the machine may be busy); returns the last value. */
export async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise(resolve => setTimeout(resolve, 10));
  }
}

/** The port an app listening on port 0 got. */
export function portOf(app: INestApplication): number {
  return ((app.getHttpServer() as Server).address() as AddressInfo).port;
}

/** A metric's samples as `{ "METHOD route status": value }` (or `"METHOD route"` for in-progress). */
export function countsBy(exp: Exposition, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of findSamples(exp, name)) {
    const key = [s.labels.method, s.labels.route, s.labels.status_code].filter(v => v !== undefined).join(' ');
    out[key] = (out[key] ?? 0) + s.value;
  }
  return out;
}

/**
 * Writes raw bytes on a new connection; resolves with the status the server answered (if any)
 * once the server closes the connection or `waitMs` passed (then the client closes it).
 */
export function rawExchange(port: number, bytes: string, waitMs = 2000): Promise<{ status?: number }> {
  return new Promise(resolve => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', () => undefined); // a reset is a close
    socket.on('close', () => {
      clearTimeout(timer);
      const m = /^HTTP\/1\.[01] (\d{3}) /.exec(text);
      resolve({ status: m ? Number(m[1]) : undefined });
    });
    socket.write(Buffer.from(bytes, 'latin1'));
  });
}

/**
 * Values a `collect()` may throw that give no message to read (no prototype; a `message` getter
 * that throws): describing them must not throw. For `it.each`.
 *
 * @example it.each(UNDESCRIBABLE_THROWS)('logs it, for %s', async (_what, thrown) => { ... });
 */
export const UNDESCRIBABLE_THROWS: [string, () => unknown][] = [
  ['Object.create(null)', () => Object.create(null)],
  [
    'an object whose message getter throws',
    () => ({
      get message(): string {
        throw new Error('getter');
      },
    }),
  ],
];

/**
 * Collects, and silences, what Nest's Logger instances write at `level` (the module's loggers log
 * through the prototype). Undone by `jest.restoreAllMocks()`.
 *
 * @example const errors = captureLogs('error'); ...; expect(errors).toHaveLength(1);
 */
export function captureLogs(level: 'log' | 'warn' | 'error'): string[] {
  const lines: string[] = [];
  jest.spyOn(Logger.prototype, level).mockImplementation((message: unknown) => {
    lines.push(String(message));
  });
  return lines;
}
