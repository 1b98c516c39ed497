// The app both fault suites attack (faults.e2e-spec.ts: malformed input, one case at a time;
// faults-load.e2e-spec.ts: faults under load), its HTTP client, and strict readers of its scrape.
import 'reflect-metadata';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Body,
  type CanActivate,
  Controller,
  type ExecutionContext,
  Get,
  type INestApplication,
  Param,
  Post,
  Query,
  UnauthorizedException,
  UseGuards,
} from '@nestjs/common';
import { Registry } from 'prom-client';
import { type AdapterName, createApp, isolatedPrometheus } from './app.js';
import { type Exposition, findSamples, parseExposition } from './exposition.js';

export const REQUESTS = 'http_requests_total';
export const IN_PROGRESS = 'http_requests_in_progress';
export const TOKEN = 'faults-token';
export const BODY_LIMIT = 1024;

/** Not an HttpException: Nest answers 500. */
export class FaultsBoomError extends Error {}

export class RejectAllGuard implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

/** 401 unless `Authorization: Bearer <TOKEN>`. */
export class BearerGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>();
    if (req.headers.authorization !== `Bearer ${TOKEN}`) throw new UnauthorizedException();
    return true;
  }
}

@Controller('faults')
export class FaultsController {
  @Get('ok')
  ok(): { ok: true } {
    return { ok: true };
  }

  @Post('echo')
  echo(@Body() body: unknown): unknown {
    return body;
  }

  /** What the router decoded from the path. */
  @Get('value/:value')
  value(@Param('value') value: string): { length: number; value: string } {
    return { length: value.length, value: value.slice(0, 64) };
  }

  @Get('boom')
  boom(): never {
    throw new FaultsBoomError('boom');
  }

  @Get('denied')
  @UseGuards(RejectAllGuard)
  denied(): string {
    return 'never';
  }

  @Get('private')
  @UseGuards(BearerGuard)
  private(): { secret: true } {
    return { secret: true };
  }

  @Get('slow')
  async slow(@Query('ms') ms: string): Promise<{ slept: number }> {
    await sleep(Number(ms));
    return { slept: Number(ms) };
  }
}

export interface Started {
  app: INestApplication;
  port: number;
  server: http.Server;
}

export async function start(adapter: AdapterName): Promise<Started> {
  const app = await createApp(
    adapter,
    { imports: [isolatedPrometheus(new Registry())], controllers: [FaultsController] },
    undefined,
    { bodyLimit: BODY_LIMIT },
  );
  await app.listen(0, '127.0.0.1');
  const server = app.getHttpServer() as http.Server;
  // Node closes a keep-alive socket after 5 s idle (Fastify after 72 s): on a busy machine the
  // client's agent could pick a socket just as the server closed it (ECONNRESET, not a fault of
  // the module). Longer than any test here, as Fastify has it.
  server.keepAliveTimeout = 72_000;
  return { app, server, port: (server.address() as AddressInfo).port };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function call(
  port: number,
  options: {
    method?: string;
    path: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    agent?: http.Agent;
  },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: options.headers,
        agent: options.agent ?? false,
      },
      res => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

export interface RawExchange {
  /** Status of the first response on the connection, if any came. */
  status?: number;
  text: string;
  /** The server closed the connection (rather than the client giving up). */
  closedByServer: boolean;
}

/**
 * Writes bytes on a fresh TCP connection and reads until the server closes it, or until
 * `waitMs` passes (then the client closes it). Sends what Node's client would refuse to.
 */
export function rawExchange(port: number, bytes: string | Buffer, waitMs = 3000): Promise<RawExchange> {
  return new Promise(resolve => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closedByServer = true;
    const timer = setTimeout(() => {
      closedByServer = false;
      socket.destroy();
    }, waitMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined); // a reset is a close; judged by what was read
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3}) /.exec(text);
      resolve({ status: m ? Number(m[1]) : undefined, text, closedByServer });
    });
    socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  });
}

/** A request line and headers, `Connection: close`, as raw latin1 bytes. */
export function rawRequest(requestLine: string, headerLines: string[] = [], body = ''): string {
  return [requestLine, 'Host: 127.0.0.1', ...headerLines, 'Connection: close', '', body].join('\r\n');
}

/** GETs /metrics over a socket and parses it strictly (throws on a malformed exposition). */
export async function scrapeStrict(port: number, agent?: http.Agent): Promise<Exposition> {
  const reply = await call(port, { path: '/metrics', agent });
  if (reply.status !== 200) throw new Error(`/metrics answered ${reply.status}`);
  return parseExposition(reply.body);
}

export function countsOf(exp: Exposition): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of findSamples(exp, REQUESTS))
    out.set(`${s.labels.method} ${s.labels.route} ${s.labels.status_code}`, s.value);
  return out;
}

/** What changed in `http_requests_total` between two scrapes, as `{ "METHOD route status": +n }`. */
export function countDelta(before: Exposition, after: Exposition): Record<string, number> {
  const a = countsOf(before);
  const b = countsOf(after);
  const out: Record<string, number> = {};
  for (const [key, value] of b) {
    const d = value - (a.get(key) ?? 0);
    if (d !== 0) out[key] = d;
  }
  for (const [key, value] of a) if (!b.has(key)) out[key] = -value;
  return out;
}

/** Every label value of every sample, for "the raw URL never becomes a label". */
export function allLabelValues(exp: Exposition): string[] {
  return exp.samples.flatMap(s => Object.values(s.labels));
}
