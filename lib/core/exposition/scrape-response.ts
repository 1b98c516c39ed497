import { Readable } from 'node:stream';

export interface ScrapeResponse {
  status: number;
  headers: Record<string, string>;
  /** A message, or the exposition's bytes: one buffer (gzip), or its slices in order. */
  body: string | Buffer | readonly Buffer[];
}

/**
 * The bytes of a body, for `Content-Length`.
 *
 * @example
 * res.setHeader('Content-Length', String(bodyLength(response.body)));
 */
export function bodyLength(body: ScrapeResponse['body']): number {
  if (typeof body === 'string' || Buffer.isBuffer(body)) return Buffer.byteLength(body);
  let length = 0;
  for (const chunk of body) length += chunk.length;
  return length;
}

/**
 * Writes a body to a Node response and ends it: slices one by one (Node queues them without
 * copying; the kernel takes what it can), so no 14 MB buffer is made on the event loop.
 *
 * @example
 * res.writeHead(200, { 'Content-Length': bodyLength(response.body) });
 * endWithBody(res, response.body);
 */
export function endWithBody(
  res: { write(chunk: Buffer): unknown; end(chunk?: string | Buffer): unknown },
  body: ScrapeResponse['body'],
): void {
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    res.end(body);
    return;
  }
  for (const chunk of body) res.write(chunk);
  res.end();
}

/**
 * A body as something a framework sends as bytes (a stream of the slices, for Fastify and StreamableFile).
 *
 * @example
 * reply.send(bodyAsBytes(response.body));
 */
export function bodyAsBytes(body: ScrapeResponse['body']): Buffer | Readable {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (Buffer.isBuffer(body)) return body;
  const chunks = body;
  return chunks.length === 1 ? chunks[0] : Readable.from(chunks, { objectMode: false });
}

/** The response to a scrape: the exposition, gzipped (`gzipped: true`) when the scraper accepts it (Prometheus does). */
export function scrapeResponse(
  contentType: string,
  body: Buffer | readonly Buffer[],
  gzipped: boolean,
): ScrapeResponse {
  const headers: Record<string, string> = {
    'Content-Type': contentType,
    'Cache-Control': 'no-store',
    Vary: 'Accept, Accept-Encoding',
  };
  if (gzipped) headers['Content-Encoding'] = 'gzip';
  return { status: 200, headers, body };
}

/** A scrape that could not be answered: Prometheus records the target as down (`up == 0`). */
export function scrapeFailure(status: number, message: string): ScrapeResponse {
  return {
    status,
    headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' },
    body: `${message}\n`,
  };
}
