import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { acceptsGzip } from './accept-encoding.js';
import type { RenderedExposition } from './protobuf.js';

/** Gzips an exposition (off the event loop, in libuv's thread pool). */
export const gzipBody: (body: string | Buffer) => Promise<Buffer> = promisify(gzip);

export interface ScrapeResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

/** The response to a scrape: the exposition, gzipped when the scraper accepts it (Prometheus does). */
export async function scrapeResponse(
  rendered: RenderedExposition,
  acceptEncoding: string | undefined,
  gzipped: (body: string | Buffer) => Promise<Buffer> = gzipBody,
): Promise<ScrapeResponse> {
  const headers: Record<string, string> = {
    'Content-Type': rendered.contentType,
    'Cache-Control': 'no-store',
    Vary: 'Accept, Accept-Encoding',
  };
  if (acceptsGzip(acceptEncoding)) {
    headers['Content-Encoding'] = 'gzip';
    return { status: 200, headers, body: await gzipped(rendered.body) };
  }
  return { status: 200, headers, body: rendered.body };
}

/** A scrape that could not be answered: Prometheus records the target as down (`up == 0`). */
export function scrapeFailure(status: number, message: string): ScrapeResponse {
  return {
    status,
    headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' },
    body: `${message}\n`,
  };
}
