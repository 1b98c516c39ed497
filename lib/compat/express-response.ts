/**
 * The body to hand `res.send()` so that Express sends the Content-Type header as it was set.
 *
 * Relies on: Express's `res.send(string)` re-formatting the Content-Type through `setCharset`
 * (parameters sorted: `text/plain; charset=utf-8; version=0.0.4`) on Express 4 and 5.0 to 5.1,
 * and leaving it alone for a Buffer (Express 4 and 5). Fastify sends either as it is. Breaks:
 * test/metrics-endpoint and test/endpoint-guards (the exact `text/plain; version=0.0.4;
 * charset=utf-8` that prom-client and Prometheus's documentation give) on NestJS 10 and 11.0.
 */
export function bodyKeepingContentType(body: string | Buffer): Buffer {
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
}
