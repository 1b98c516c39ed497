import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';

/**
 * A stand-in for a remote payment provider: a small HTTP server of its own on 127.0.0.1, called
 * with `fetch`, so that the outbound metrics (`httpClient`) have a dependency to measure.
 * It declines (402) amounts over 1000.
 */
@Injectable()
export class PaymentProvider implements OnModuleInit, OnApplicationShutdown {
  private server?: Server;
  private url = '';

  async onModuleInit(): Promise<void> {
    this.server = createServer((req, res) => {
      const amount = Number(new URL(req.url ?? '/', 'http://stub').searchParams.get('amount'));
      setTimeout(() => res.writeHead(amount > 1000 ? 402 : 200).end(), 5 + Math.random() * 20);
    });
    await new Promise<void>(resolve =>
      this.server?.listen(Number(process.env.PAYMENTS_PORT ?? 0), '127.0.0.1', resolve),
    );
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async onApplicationShutdown(): Promise<void> {
    await new Promise(resolve => this.server?.close(resolve));
  }

  /** Whether the provider accepted the charge. */
  async charge(amount: number): Promise<boolean> {
    const res = await fetch(`${this.url}/charge?amount=${amount}`, { method: 'POST' });
    return res.ok;
  }
}
